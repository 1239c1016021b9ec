// Backup names: parse_backup_name, name_problem, default_prefix, prefix_problem.
// Input: first byte = prefix length, then prefix, then the candidate name.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "policy/naming.hpp"
#include "policy/text.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
bool plain(const std::string& s) {
    if (s.empty() || s.size() > kMaxNameBytes || s[0] == '.') return false;
    if (s.find('/') != std::string::npos || s.find('\\') != std::string::npos) return false;
    if (s.find("..") != std::string::npos) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return is_valid_utf8(s);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string all(reinterpret_cast<const char*>(data), size);

    // name_problem: accepts exactly the plain names.
    check(name_problem(all.data(), all.size()).empty() == plain(all));

    // default_prefix: whatever the path, the prefix it gives is usable.
    check(prefix_problem(default_prefix(all)).empty());

    if (size == 0) return 0;
    const size_t plen = std::min<size_t>(data[0], size - 1);
    const std::string prefix = all.substr(1, plen);
    const std::string name = all.substr(1 + plen);
    const auto parsed = parse_backup_name(prefix, name);
    if (parsed) {
        // One spelling per backup: the parse re-spells exactly.
        check(backup_name(prefix, parsed->safety, parsed->epoch_seconds, parsed->sequence) == name);
        check(parsed->sequence >= 1 && parsed->sequence <= 99999);
        check(name.size() <= kMaxNameBytes);
        // A name that parses for a usable prefix is a plain name.
        if (prefix_problem(prefix).empty()) check(name_problem(name.data(), name.size()).empty());
        check(iso_utc(parsed->epoch_seconds).size() == 20);
    }
    return 0;
}
