// The shared steps of off-site transfers (see transfer.hpp).
#include "offsite/transfer.hpp"

#include "common/sqlite_api.hpp"
#include "offsite/key.hpp"
#include "offsite/s3_client.hpp"
#include "offsite/sync.hpp"
#include "policy/setting_values.hpp"
#include "store/checksum.hpp"

namespace wb::offsite {

std::string object_name(const std::string& backup) {
    return backup + kObjectSuffix;
}

bool is_s3(const Settings& s) {
    return s.offsite.compare(0, 5, "s3://") == 0;
}

std::optional<Key> load_key(const Settings& s) {
    require_encryption(s);
    if (s.encrypt_key_file.empty()) return std::nullopt; // offsite_plaintext = 1
    try {
        return load_key_file(s.encrypt_key_file).key;
    } catch (const Error& e) {
        throw Error(std::string("encrypt_key_file: ") + e.what() +
                        "; off-site copies are never sent unencrypted while encrypt_key_file is set",
                    ErrorKind::cantopen);
    }
}

std::unique_ptr<Target> open_offsite_target(const Settings& s) {
    TargetOptions options;
    if (is_s3(s)) {
        auto s3 = std::make_shared<S3Options>();
        s3->endpoint = s.s3_endpoint;
        s3->region = s.s3_region;
        s3->credentials_file = s.s3_credentials_file;
        // Retry notices, already redacted by the client.
        s3->log = [](const std::string& line) {
            sqlite3_log(SQLITE_NOTICE, "wecare_backup: off-site: %s", line.c_str());
        };
        options.s3 = s3;
    }
    try {
        return open_target(s.offsite, options);
    } catch (const Error& e) {
        throw Error("off-site target " + describe_target(s) + ": " + e.what(), ErrorKind::cantopen);
    }
}

// What the object of backup `name` must say it is; created_ns and base when known.
Expected identity(const Settings& s, const std::string& name, int64_t created_ns,
                  std::optional<std::string> base) {
    Expected e;
    e.name = name;
    e.prefix = s.prefix;
    if (created_ns) e.created_ns = created_ns;
    e.base = std::move(base);
    return e;
}

EncodeOptions encode_options(const Settings& s, const std::optional<Key>& key) {
    EncodeOptions opt;
    const int level = zstd_level_of(s.compress);
    opt.compression = level > 0 ? Compression::zstd : Compression::none;
    opt.level = level;
    opt.key = key;
    opt.require_encryption = key.has_value();
    return opt;
}

// Streams an object through the decoder; `also` sees the plaintext (a
// download writes it to a file; check and read-back only hash it). Errors of
// the decoder come out with a data kind (is_data_problem).
Decoded decode_remote(Target& target, const std::string& object, const std::optional<Key>& key,
                      const Expected& expected, Observer& observer,
                      const std::function<void(const uint8_t*, size_t, uint64_t)>& also) {
    BlockHasher hasher;
    uint64_t offset = 0;
    Decoder decoder(
        key,
        [&](const uint8_t* p, size_t n) {
            if (also) also(p, n, offset);
            hasher.update(offset, p, n);
            offset += n;
        },
        expected);
    // The decoder's own complaints are about the data; a key that does not fit
    // the stream (config) too. Anything else (writing the plaintext) passes.
    // Called only inside the catch handlers below, so `throw;` has an
    // exception to rethrow (cppcheck cannot see that).
    auto rethrow_as_data_problem = [](const Error& e) {
        if (e.kind() == ErrorKind::config) throw Error(e.what(), ErrorKind::tampered);
        // cppcheck-suppress rethrowNoCurrentException
        throw;
    };
    target.get_stream(object, [&](const uint8_t* p, size_t n) {
        observer.check();
        try {
            decoder.feed(p, n);
        } catch (const Error& e) {
            rethrow_as_data_problem(e);
        }
    });
    Decoded d;
    try {
        d.header = decoder.finish().header;
    } catch (const Error& e) {
        rethrow_as_data_problem(e);
    }
    d.bytes = offset;
    d.checksum = hasher.finish(-1, offset);
    return d;
}

// Checks a copy just sent: its size, then the whole stream decoded and its
// checksum compared with the backup's.
void read_back(Target& target, const std::string& object, uint64_t encoded_size, uint64_t size,
               const std::string& expected, const std::optional<Key>& key, const Expected& identity_sent,
               Observer& observer) {
    const auto stored = target.size(object);
    if (!stored || *stored != encoded_size)
        throw Error("the off-site copy '" + object + "' has " + (stored ? std::to_string(*stored) : "no") +
                    " bytes, " + std::to_string(encoded_size) + " were sent");
    observer.phase("offsite-check");
    const Decoded back = decode_remote(target, object, key, identity_sent, observer);
    if (back.checksum != expected || back.bytes != size)
        throw Error("the off-site copy '" + object +
                    "' reads back differently from the file it was made from");
}

uint64_t send_checked(Target& target, const Settings& s, int fd, uint64_t size, const EncodeOptions& options,
                      const std::optional<Key>& key, const std::string& changed, Observer& observer) {
    const std::string& name = options.name;
    BlockHasher source_hash;
    uint64_t offset = 0;
    observer.phase("offsite");
    const Source source = [&](uint8_t* buffer, size_t capacity) -> size_t {
        observer.check();
        const size_t got = read_at(fd, buffer, capacity, offset, "reading '" + name + "' failed");
        source_hash.update(offset, buffer, got);
        offset += got;
        observer.progress(static_cast<int64_t>(offset), static_cast<int64_t>(size));
        return got;
    };
    const std::string object = object_name(name);
    EncodeResult encoded;
    target.put_stream(object, [&](const Sink& out) { encoded = encode_stream(source, size, options, out); });
    // The object exists now: it is deleted unless it checks out.
    try {
        if (source_hash.finish(fd, size) != options.original_checksum) throw Error(changed);
        read_back(target, object, encoded.encoded_size, size, options.original_checksum, key,
                  identity(s, name, options.created_ns, options.base), observer);
    } catch (...) {
        try {
            target.remove(object);
        } catch (const std::exception&) {
            // Not in the index: the next sync checks it, and sends it again.
        }
        throw;
    }
    return encoded.encoded_size;
}

std::string message_of(const std::exception& e) {
    const auto* error = dynamic_cast<const Error*>(&e);
    if (error && is_data_problem(error->kind()))
        return std::string("the copy read back is damaged: ") + e.what();
    return e.what();
}

// Checks one object's header (one small read). Returns the header, or throws
// Error with a data kind when the object is not the backup its name says.
Header probe(Target& target, const std::string& object, const std::optional<Key>& key, Expected expected) {
    const std::vector<uint8_t> head = target.read_head(object, kHeaderProbeBytes);
    expected.accept_version1 = true; // recognised here, and never counted
    try {
        return read_header(head.data(), head.size(), key, expected);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::config) throw Error(e.what(), ErrorKind::tampered); // key vs plaintext
        throw;
    }
}

std::string reason_of(const Error& e) {
    switch (e.kind()) {
    case ErrorKind::wrong_key:
        return std::string("written under another key (") + e.what() + ")";
    case ErrorKind::truncated:
        return "too short to be an off-site copy";
    default:
        return e.what();
    }
}

// Whether an error means every later send would fail the same way.
bool target_problem(const std::exception& e) {
    const auto* error = dynamic_cast<const Error*>(&e);
    return error && (error->kind() == ErrorKind::network || error->kind() == ErrorKind::remote ||
                     error->kind() == ErrorKind::config || error->kind() == ErrorKind::interrupted);
}

} // namespace wb::offsite
