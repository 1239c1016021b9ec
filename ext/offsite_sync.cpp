#include "offsite_sync.hpp"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

#include "checksum.hpp"
#include "fsutil.hpp"
#include "offsite/codec.hpp"
#include "offsite/s3_client.hpp"
#include "offsite/target.hpp"
#include "offsite_index.hpp"
#include "offsite_settings.hpp"
#include "retention.hpp"
#include "sqlite_api.hpp"

namespace wb {

namespace os = wecare::offsite;

namespace {

constexpr const char* kObjectSuffix = ".wcbk";
constexpr const char* kOffsiteLockName = ".wecare_offsite.lock";
constexpr size_t kMaxIndexBytes = 16 << 20;

std::string object_name(const std::string& backup) {
    return backup + kObjectSuffix;
}

bool is_s3(const Settings& s) {
    return s.offsite.compare(0, 5, "s3://") == 0;
}

// The target as shown in stats and messages: the setting, and the endpoint of
// an S3-compatible store. Neither can hold a secret (offsite_settings.hpp).
std::string describe_target(const Settings& s) {
    if (is_s3(s) && !s.s3_endpoint.empty()) return s.offsite + " at " + s.s3_endpoint;
    return s.offsite;
}

// A problem with the data of an off-site copy (wrong key, tampered, truncated,
// not our format), as opposed to a problem reaching it.
class DataProblem : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

std::optional<os::Key> load_key(const Settings& s) {
    if (s.encrypt_key_file.empty()) return std::nullopt;
    try {
        os::LoadedKey loaded = os::load_key_file(s.encrypt_key_file);
        if (!loaded.warning.empty())
            sqlite3_log(SQLITE_WARNING, "wecare_backup: encrypt_key_file: %s", loaded.warning.c_str());
        return loaded.key;
    } catch (const os::OffsiteError& e) {
        throw Error(std::string("encrypt_key_file: ") + e.what() +
                        "; off-site copies are never sent unencrypted while encrypt_key_file is set",
                    kErrCantOpen);
    }
}

std::unique_ptr<os::Target> open_offsite_target(const Settings& s) {
    os::TargetOptions options;
    if (is_s3(s)) {
        auto s3 = std::make_shared<os::S3Options>();
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
        return os::open_target(s.offsite, options);
    } catch (const os::OffsiteError& e) {
        throw Error("off-site target " + describe_target(s) + ": " + e.what(), kErrCantOpen);
    }
}

os::EncodeOptions encode_options(const Settings& s, const std::optional<os::Key>& key) {
    os::EncodeOptions opt;
    const int level = zstd_level_of(s.compress);
    opt.compression = level > 0 ? os::Compression::zstd : os::Compression::none;
    opt.level = level;
    opt.key = key;
    opt.require_encryption = key.has_value();
    return opt;
}

// Serialises off-site syncs of one backup directory, across threads and
// processes. Waits as long as the other sync runs (it is making progress or
// will time out on the network), unless the caller is cancelled.
class OffsiteLock {
  public:
    OffsiteLock(int dir_fd, const std::atomic<bool>* cancel) {
        const int raw = ::openat(dir_fd, kOffsiteLockName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (raw < 0) throw system_error("cannot open the off-site lock file in the backup directory", errno);
        fd_ = Fd(raw);
        for (;;) {
            if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) return;
            if (errno != EWOULDBLOCK && errno != EINTR)
                throw system_error("cannot lock the off-site copies", errno);
            if (cancel && cancel->load()) throw Error("cancelled: the connection is closing");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

  private:
    Fd fd_;
};

OffsiteIndex read_index(int dir_fd, const Settings& s) {
    const auto text = read_small_file_at(dir_fd, offsite_index_file_name(s.prefix), kMaxIndexBytes);
    if (!text) return {};
    try {
        OffsiteIndex index = parse_offsite_index(*text);
        // Written for another target: nothing in it describes this one.
        if (index.target != s.offsite) return {};
        return index;
    } catch (const Error&) {
        return {}; // rewritten by the next sync
    }
}

void write_index(int dir_fd, const Settings& s, const OffsiteIndex& index) {
    write_file_atomic(dir_fd, offsite_index_file_name(s.prefix), serialize_offsite_index(index));
    fsync_fd(dir_fd, "cannot record the off-site index in the backup directory");
}

// Records the outcome of one copy in the backup's sidecar, unless the backup
// was deleted meanwhile or its sidecar cannot be read (never overwritten).
void record_offsite_result(const OperationContext& ctx, int dir_fd, const std::string& name, bool ok,
                           const std::string& error) {
    DirLock lock(dir_fd, ctx.settings.busy_timeout_ms, ctx.cancel);
    if (!exists_at(dir_fd, name)) return;
    bool damaged = false;
    const auto existing = read_record(dir_fd, name, &damaged);
    if (damaged) return;
    BackupRecord record = existing.value_or(BackupRecord{});
    if (record.name.empty()) {
        record.name = name;
        record.kind = "manual";
    }
    record.offsite_at = now_seconds();
    record.offsite_ok = ok;
    record.offsite_error = ok ? "" : error;
    write_record(dir_fd, record);
    fsync_fd(dir_fd, "cannot record the off-site copy");
}

struct Decoded {
    os::Header header;
    uint64_t bytes = 0;
    std::string checksum; // xxh3t of the decoded bytes
};

// Streams an object through the decoder; `also` sees the plaintext (fetch
// writes it to a file; verify and the read-back check only hash it).
// Transport problems throw os::OffsiteError, data problems DataProblem.
Decoded decode_remote(const OperationContext& ctx, os::Target& target, const std::string& object,
                      const std::optional<os::Key>& key,
                      const std::function<void(const uint8_t*, size_t, uint64_t)>& also = {}) {
    BlockHasher hasher;
    uint64_t offset = 0;
    os::Decoder decoder(key, [&](const uint8_t* p, size_t n) {
        if (also) also(p, n, offset);
        hasher.update(offset, p, n);
        offset += n;
    });
    target.get_stream(object, [&](const uint8_t* p, size_t n) {
        if (ctx.cancel && ctx.cancel->load()) throw Error("cancelled: the connection is closing");
        try {
            decoder.feed(p, n);
        } catch (const os::OffsiteError& e) {
            throw DataProblem(e.what());
        }
    });
    Decoded d;
    try {
        d.header = decoder.finish().header;
    } catch (const os::OffsiteError& e) {
        throw DataProblem(e.what());
    }
    d.bytes = offset;
    d.checksum = hasher.finish(-1, offset);
    return d;
}

// Sends one local backup and reads it back; returns what the index records.
OffsiteObject send_one(const OperationContext& ctx, os::Target& target, int dir_fd, const CatalogEntry& entry,
                       const os::EncodeOptions& base, const std::optional<os::Key>& key, Progress& progress) {
    const std::string& name = entry.name;
    struct stat st {};
    Fd fd = open_regular_at(dir_fd, name, &st);
    const auto size = static_cast<uint64_t>(st.st_size);
    std::string expected = entry.record ? entry.record->checksum : "";
    if (expected.empty()) expected = checksum_fd(fd.get(), size, {}, ctx.cancel); // a backup placed by hand

    os::EncodeOptions options = base;
    options.original_checksum = expected;
    BlockHasher source_hash;
    uint64_t offset = 0;
    progress.phase("offsite");
    const os::Source source = [&](uint8_t* buffer, size_t capacity) -> size_t {
        if (ctx.cancel && ctx.cancel->load()) throw Error("cancelled: the connection is closing");
        ssize_t got;
        do {
            got = ::pread(fd.get(), buffer, capacity, static_cast<off_t>(offset));
        } while (got < 0 && errno == EINTR);
        if (got < 0) throw system_error("reading the backup '" + name + "' failed", errno);
        source_hash.update(offset, buffer, static_cast<size_t>(got));
        offset += static_cast<uint64_t>(got);
        progress.update(static_cast<int64_t>(offset), static_cast<int64_t>(size));
        return static_cast<size_t>(got);
    };
    const std::string object = object_name(name);
    os::EncodeResult encoded;
    target.put_stream(object,
                      [&](const os::Sink& out) { encoded = os::encode_stream(source, size, options, out); });

    // The object exists now: it is deleted unless it checks out.
    try {
        if (source_hash.finish(fd.get(), size) != expected)
            throw Error("the local backup '" + name +
                        "' does not match its recorded checksum, so it was not sent; check it with "
                        "wecare_backup_verify");
        const auto stored = target.size(object);
        if (!stored || *stored != encoded.encoded_size)
            throw Error("the off-site copy '" + object + "' has " +
                        (stored ? std::to_string(*stored) : "no") + " bytes, " +
                        std::to_string(encoded.encoded_size) + " were sent");
        progress.phase("offsite-check");
        const Decoded back = decode_remote(ctx, target, object, key);
        if (back.checksum != expected || back.bytes != size)
            throw Error("the off-site copy '" + object + "' reads back differently from the backup");
    } catch (...) {
        try {
            target.remove(object);
        } catch (const std::exception&) {
            // The next sync sees it as present but unchecked is not possible:
            // it is listed, so it is not sent again; verify finds it.
        }
        throw;
    }
    OffsiteObject o;
    o.name = name;
    o.object_bytes = static_cast<int64_t>(encoded.encoded_size);
    o.original_bytes = static_cast<int64_t>(size);
    o.created_ns = entry.record ? entry.record->created_ns : 0;
    o.kind = entry.kind();
    o.checksum = expected;
    o.uploaded_at = now_seconds();
    return o;
}

std::string message_of(const std::exception& e) {
    if (dynamic_cast<const DataProblem*>(&e))
        return std::string("the copy read back is damaged: ") + e.what();
    return e.what();
}

// One candidate of the off-site set: a local regular backup, an object, or both.
struct Candidate {
    std::string name;
    ParsedName parsed;
    int64_t created_ns = 0;
    std::optional<bool> verify_ok;
    const CatalogEntry* local = nullptr;
    std::optional<OffsiteObject> remote;
};

bool newer(const Candidate& a, const Candidate& b) {
    if (a.parsed.epoch_seconds != b.parsed.epoch_seconds)
        return a.parsed.epoch_seconds > b.parsed.epoch_seconds;
    if (a.created_ns != b.created_ns) return a.created_ns > b.created_ns;
    if (a.parsed.sequence != b.parsed.sequence) return a.parsed.sequence > b.parsed.sequence;
    return a.name > b.name;
}

RetentionPolicy offsite_policy(const Settings& s) {
    return {s.offsite_keep_last, s.offsite_keep_daily, s.offsite_keep_weekly, s.offsite_keep_monthly, 0};
}

OffsiteSyncResult run_sync(const OperationContext& ctx, int dir_fd, OffsiteIndex& index) {
    const Settings& s = ctx.settings;
    const std::optional<os::Key> key = load_key(s);
    const os::EncodeOptions base = encode_options(s, key);
    auto target = open_offsite_target(s);
    const std::string where = describe_target(s);

    // What is there now.
    std::vector<os::ObjectInfo> listed;
    try {
        listed = target->list(s.prefix + "_backup_");
    } catch (const os::OffsiteError& e) {
        throw Error("cannot list the off-site copies in " + where + ": " + e.what(), kErrIo);
    }
    std::unordered_map<std::string, OffsiteObject> known;
    for (auto& o : index.objects)
        known.emplace(o.name, o);

    std::vector<Candidate> candidates;
    std::unordered_map<std::string, size_t> position;
    for (const auto& info : listed) {
        if (info.name.size() <= 5 || info.name.compare(info.name.size() - 5, 5, kObjectSuffix) != 0) continue;
        const std::string name = info.name.substr(0, info.name.size() - 5);
        const auto parsed = parse_backup_name(s.prefix, name);
        if (!parsed || parsed->safety) continue; // not ours: never touched
        OffsiteObject o;
        if (auto it = known.find(name); it != known.end()) o = it->second;
        o.name = name;
        o.object_bytes = static_cast<int64_t>(info.size);
        Candidate c;
        c.name = name;
        c.parsed = *parsed;
        c.created_ns = o.created_ns;
        c.remote = o;
        position[name] = candidates.size();
        candidates.push_back(std::move(c));
    }
    const auto local = scan_catalog(dir_fd, s.prefix);
    for (const auto& entry : local) {
        if (entry.parsed.safety) continue;
        auto it = position.find(entry.name);
        if (it == position.end()) {
            if (entry.verify_ok() == std::optional<bool>(false)) continue; // a failed backup is never sent
            Candidate c;
            c.name = entry.name;
            c.parsed = entry.parsed;
            position[entry.name] = candidates.size();
            candidates.push_back(std::move(c));
            it = position.find(entry.name);
        }
        Candidate& c = candidates[it->second];
        c.local = &entry;
        c.verify_ok = entry.verify_ok();
        if (entry.record && entry.record->created_ns) c.created_ns = entry.record->created_ns;
    }
    std::sort(candidates.begin(), candidates.end(), newer);

    // The off-site policy over the union: what it would delete is never sent.
    std::vector<RetentionItem> items;
    items.reserve(candidates.size());
    for (const auto& c : candidates)
        items.push_back({false, c.parsed.epoch_seconds, c.verify_ok});
    const auto reasons = retention_reasons(items, offsite_policy(s));

    OffsiteSyncResult result;
    Progress progress(s.dir, "offsite", ctx.interactive);
    for (size_t i = 0; i < candidates.size(); ++i) {
        Candidate& c = candidates[i];
        if (reasons[i].empty() || c.remote || !c.local) continue;
        try {
            c.remote = send_one(ctx, *target, dir_fd, *c.local, base, key, progress);
            ++result.sent;
            record_offsite_result(ctx, dir_fd, c.name, true, "");
            sqlite3_log(SQLITE_NOTICE, "wecare_backup: sent %s to %s", c.name.c_str(), where.c_str());
        } catch (const std::exception& e) {
            const std::string message = "sending '" + c.name + "' to " + where + " failed: " + message_of(e);
            if (result.error.empty()) result.error = message;
            try {
                record_offsite_result(ctx, dir_fd, c.name, false, message);
            } catch (const std::exception&) {
                // The sync's own error is the one to report.
            }
            const auto* offsite = dynamic_cast<const os::OffsiteError*>(&e);
            const bool target_problem = offsite && (offsite->kind() == os::ErrorKind::network ||
                                                    offsite->kind() == os::ErrorKind::remote ||
                                                    offsite->kind() == os::ErrorKind::config);
            if (target_problem || (ctx.cancel && ctx.cancel->load()))
                break; // the rest would fail the same way
        }
    }

    // Retention, only once everything the policy keeps is there.
    if (result.error.empty()) {
        for (size_t i = 0; i < candidates.size(); ++i) {
            Candidate& c = candidates[i];
            if (!reasons[i].empty() || !c.remote) continue;
            try {
                target->remove(object_name(c.name));
                c.remote.reset();
                ++result.deleted;
            } catch (const os::OffsiteError& e) {
                result.error =
                    "deleting the old off-site copy '" + object_name(c.name) + "' failed: " + e.what();
                break;
            }
        }
    }

    index.objects.clear();
    for (const auto& c : candidates)
        if (c.remote) index.objects.push_back(*c.remote);
    result.objects = static_cast<int64_t>(index.objects.size());
    return result;
}

void add_offsite_row(const OffsiteObject& o, const ParsedName& parsed, const std::string& reason,
                     std::vector<ListedBackup>& rows) {
    ListedBackup row;
    row.entry.name = o.name;
    row.entry.parsed = parsed;
    row.entry.size_bytes = o.original_bytes ? o.original_bytes : o.object_bytes;
    BackupRecord r;
    r.name = o.name;
    r.kind = o.kind.empty() ? "manual" : o.kind;
    r.created_ns = o.created_ns;
    r.size_bytes = row.entry.size_bytes;
    r.checksum = o.checksum;
    if (o.uploaded_at) r.offsite_at = o.uploaded_at;
    r.offsite_ok = true;
    row.entry.record = std::move(r);
    row.retain_reason = reason;
    row.location = "offsite";
    rows.push_back(std::move(row));
}

// SQLite's page size from a database header (bytes 16-17; 1 means 65536).
int64_t page_size_of(int fd) {
    unsigned char b[2] = {};
    if (::pread(fd, b, 2, 16) != 2) return 0;
    const int64_t v = b[0] << 8 | b[1];
    return v == 1 ? 65536 : v;
}

} // namespace

OffsiteSyncResult sync_offsite(const OperationContext& ctx) noexcept {
    OffsiteSyncResult result;
    if (ctx.settings.offsite.empty()) return result;
    try {
        Fd dir = open_backup_dir(ctx.settings.dir, false);
        OffsiteLock lock(dir.get(), ctx.cancel);
        OffsiteIndex index = read_index(dir.get(), ctx.settings);
        index.target = ctx.settings.offsite;
        try {
            result = run_sync(ctx, dir.get(), index);
        } catch (const std::bad_alloc&) {
            result.error = "out of memory";
        } catch (const std::exception& e) {
            result.error = e.what();
        }
        const bool cancelled = ctx.cancel && ctx.cancel->load();
        if (result.error.empty()) {
            index.last_success_at = now_seconds();
            index.last_error.clear();
            index.last_error_at.reset();
        } else if (cancelled) {
            return result; // the connection is closing: not a failure to report; the next run sends it
        } else {
            index.last_error = result.error;
            index.last_error_at = now_seconds();
        }
        write_index(dir.get(), ctx.settings, index);
    } catch (const std::exception& e) {
        if (result.error.empty()) result.error = e.what();
    } catch (...) {
        if (result.error.empty()) result.error = "internal error";
    }
    if (!result.error.empty())
        sqlite3_log(SQLITE_WARNING, "wecare_backup: the off-site copy failed (the local backup is fine): %s",
                    result.error.c_str());
    return result;
}

std::string fetch_backup(const OperationContext& ctx, const std::string& name) {
    const Settings& s = ctx.settings;
    if (ctx.db_path.empty())
        throw Error("the main database is in memory or temporary; open a database file to fetch its backups",
                    kErrMisuse);
    if (s.offsite.empty())
        throw Error("no off-site target is set; set it first with wecare_backup_config('offsite', ...)",
                    kErrMisuse);
    const std::optional<os::Key> key = load_key(s);
    auto target = open_offsite_target(s);
    const std::string where = describe_target(s);

    Fd dir = open_backup_dir(s.dir, true);
    DirLock lock(dir.get(), s.busy_timeout_ms, ctx.cancel);
    if (exists_at(dir.get(), name))
        throw Error("a backup named '" + name +
                        "' is already in the backup directory; verify or restore it directly",
                    kErrCantOpen);
    const OffsiteIndex index = read_index(dir.get(), s);
    const OffsiteObject* known = index.find(name);

    const std::string temp = temp_name_for(name);
    const std::string sidecar = name + std::string(kSidecarSuffix);
    ::unlinkat(dir.get(), temp.c_str(), 0);
    bool sidecar_written = false;
    Progress progress(s.dir, "fetch", ctx.interactive);
    try {
        Fd out = create_exclusive_at(dir.get(), temp);
        Decoded got;
        try {
            got = decode_remote(ctx, *target, object_name(name), key,
                                [&](const uint8_t* p, size_t n, uint64_t at) {
                                    write_all_at(out.get(), p, n, at, "writing the fetched backup failed");
                                    progress.update(static_cast<int64_t>(at + n), 0);
                                });
        } catch (const DataProblem& e) {
            throw Error("the off-site copy of '" + name + "' cannot be used: " + e.what() +
                        "; nothing was fetched");
        } catch (const os::OffsiteError& e) {
            if (e.kind() == os::ErrorKind::not_found)
                throw Error("there is no off-site copy of '" + name + "' in " + where, kErrNotFound);
            throw Error("fetching '" + name + "' from " + where + " failed: " + e.what(), kErrIo);
        }
        if (got.header.original_checksum.empty())
            throw Error("the off-site copy of '" + name + "' carries no checksum; nothing was fetched");
        if (got.checksum != got.header.original_checksum || got.bytes != got.header.original_size)
            throw Error("the off-site copy of '" + name +
                        "' does not match the checksum in its header (damaged); nothing was fetched");
        if (known && !known->checksum.empty() && known->checksum != got.checksum)
            throw Error("the off-site copy of '" + name +
                        "' is not the backup that was sent (its checksum differs); nothing was fetched");
        fsync_fd(out.get(), "writing the fetched backup to disk failed");

        BackupRecord record;
        record.name = name;
        record.kind = known && (known->kind == "manual" || known->kind == "auto") ? known->kind : "manual";
        record.label = "fetched from off-site";
        record.created_ns = known && known->created_ns
                                ? known->created_ns
                                : parse_backup_name(s.prefix, name)->epoch_seconds * 1000000000;
        record.size_bytes = static_cast<int64_t>(got.bytes);
        record.checksum = got.checksum;
        record.page_size = page_size_of(out.get());
        record.source = where;
        progress.phase("verify");
        const VerifyOutcome outcome = verify_file(out.get(), s.dir + "/" + temp, &record, s.critical_tables,
                                                  &progress, ctx.cancel, true);
        if (!outcome.ok)
            throw Error("the fetched backup '" + name + "' failed verification (" +
                        join(outcome.errors, "; ") + "); it was not kept");
        record.page_count = outcome.page_count;
        record.tables = outcome.tables;
        record.verified_at = now_seconds();
        record.verify_ok = true;
        if (known && known->uploaded_at) record.offsite_at = known->uploaded_at;
        record.offsite_ok = true;
        write_record(dir.get(), record);
        sidecar_written = true;
        rename_noreplace(dir.get(), temp, name);
        fsync_fd(dir.get(), "cannot record the fetched backup in the backup directory");
    } catch (...) {
        ::unlinkat(dir.get(), temp.c_str(), 0);
        if (sidecar_written && !exists_at(dir.get(), name)) ::unlinkat(dir.get(), sidecar.c_str(), 0);
        throw;
    }
    return name;
}

std::optional<VerifyOutcome> verify_offsite_copy(const OperationContext& ctx, const std::string& name) {
    const Settings& s = ctx.settings;
    if (s.offsite.empty()) return std::nullopt;
    const std::optional<os::Key> key = load_key(s);
    auto target = open_offsite_target(s);
    std::optional<OffsiteObject> known;
    {
        struct stat st {};
        if (::lstat(s.dir.c_str(), &st) == 0) {
            Fd dir = open_backup_dir(s.dir, false);
            const OffsiteIndex index = read_index(dir.get(), s);
            if (const OffsiteObject* o = index.find(name)) known = *o;
        }
    }
    Progress progress(s.dir, "verify", ctx.interactive);
    VerifyOutcome out;
    out.integrity =
        "not checked: the backup is only off-site (fetch it with wecare_backup_fetch to run integrity_check)";
    try {
        const Decoded got =
            decode_remote(ctx, *target, object_name(name), key, [&](const uint8_t*, size_t n, uint64_t at) {
                progress.update(static_cast<int64_t>(at + n), 0);
            });
        out.size_bytes = static_cast<int64_t>(got.bytes);
        out.checksum = got.checksum;
        std::string expected = got.header.original_checksum;
        if (known && !known->checksum.empty()) {
            if (!expected.empty() && expected != known->checksum)
                out.errors.push_back(
                    "the checksum in the off-site copy's header is not the one recorded when it was sent");
            expected = known->checksum;
        }
        if (expected.empty()) {
            out.checksum_status = "none";
        } else if (expected == got.checksum && got.bytes == got.header.original_size) {
            out.checksum_status = "match";
        } else {
            out.checksum_status = "mismatch";
            out.errors.push_back("checksum mismatch: the off-site copy is not the backup that was sent");
        }
    } catch (const DataProblem& e) {
        out.checksum_status = "mismatch";
        out.errors.push_back(std::string("off-site copy: ") + e.what());
    } catch (const os::OffsiteError& e) {
        if (e.kind() == os::ErrorKind::not_found) return std::nullopt;
        throw Error("reading the off-site copy of '" + name + "' from " + describe_target(s) +
                        " failed: " + e.what(),
                    kErrIo);
    }
    out.ok = out.errors.empty();
    return out;
}

bool known_offsite(const OperationContext& ctx, int dir_fd, const std::string& name) {
    if (ctx.settings.offsite.empty()) return false;
    return read_index(dir_fd, ctx.settings).find(name) != nullptr;
}

void merge_offsite_rows(const OperationContext& ctx, int dir_fd, std::vector<ListedBackup>& rows) {
    const Settings& s = ctx.settings;
    if (s.offsite.empty()) return;
    const OffsiteIndex index = read_index(dir_fd, s);
    if (index.objects.empty()) return;
    std::unordered_set<std::string> local;
    for (auto& row : rows)
        local.insert(row.entry.name);
    std::unordered_set<std::string> remote;
    // Off-site-only rows show the off-site rule that keeps them.
    std::vector<std::pair<const OffsiteObject*, ParsedName>> objects;
    for (const auto& o : index.objects) {
        const auto parsed = parse_backup_name(s.prefix, o.name);
        if (!parsed) continue;
        remote.insert(o.name);
        objects.emplace_back(&o, *parsed);
    }
    for (auto& row : rows)
        if (remote.count(row.entry.name)) row.location = "both";
    std::sort(objects.begin(), objects.end(), [](const auto& a, const auto& b) {
        if (a.second.epoch_seconds != b.second.epoch_seconds)
            return a.second.epoch_seconds > b.second.epoch_seconds;
        if (a.first->created_ns != b.first->created_ns) return a.first->created_ns > b.first->created_ns;
        return a.second.sequence > b.second.sequence;
    });
    std::vector<RetentionItem> items;
    items.reserve(objects.size());
    for (const auto& [o, parsed] : objects)
        items.push_back({false, parsed.epoch_seconds, std::nullopt});
    const auto reasons = retention_reasons(items, offsite_policy(s));
    bool added = false;
    for (size_t i = 0; i < objects.size(); ++i) {
        if (local.count(objects[i].first->name)) continue;
        add_offsite_row(*objects[i].first, objects[i].second, reasons[i], rows);
        added = true;
    }
    if (!added) return;
    std::stable_sort(rows.begin(), rows.end(), [](const ListedBackup& a, const ListedBackup& b) {
        return newer_first(a.entry, b.entry);
    });
}

OffsiteStatus offsite_status(const OperationContext& ctx) {
    OffsiteStatus status;
    const Settings& s = ctx.settings;
    if (s.offsite.empty()) return status;
    status.target = describe_target(s);
    struct stat st {};
    if (ctx.db_path.empty() || ::lstat(s.dir.c_str(), &st) != 0) return status;
    Fd dir = open_backup_dir(s.dir, false);
    const OffsiteIndex index = read_index(dir.get(), s);
    status.last_success_at = index.last_success_at;
    status.last_error = index.last_error;
    status.last_error_at = index.last_error_at;
    status.objects = static_cast<int64_t>(index.objects.size());
    return status;
}

} // namespace wb
