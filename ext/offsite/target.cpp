// open_target: picks the Target implementation from a spec.
#include "offsite/target.hpp"

#include "offsite/dir_target.hpp"
#include "offsite/s3_client.hpp"

namespace wb::offsite {

std::unique_ptr<Target> open_target(const std::string& spec, const TargetOptions& options) {
    if (spec.compare(0, 5, "s3://") == 0) {
        std::string rest = spec.substr(5);
        size_t slash = rest.find('/');
        S3Options s3 = options.s3 ? *options.s3 : S3Options{};
        s3.bucket = rest.substr(0, slash);
        s3.prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
        if (s3.bucket.empty()) throw Error("'" + spec + "' has no bucket name", ErrorKind::config);
        return std::make_unique<S3Target>(std::move(s3));
    }
    if (!spec.empty() && spec[0] == '/') return std::make_unique<DirTarget>(spec);
    throw Error("off-site target '" + spec + "' must be an absolute directory or s3://bucket/prefix",
                ErrorKind::config);
}

} // namespace wb::offsite
