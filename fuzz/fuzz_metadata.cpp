// The sidecar record: parse_record, then the serialize/parse round trip.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "policy/record.hpp"

using namespace wb;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
bool same(const BackupRecord& a, const BackupRecord& b) {
    return a.name == b.name && a.kind == b.kind && a.label == b.label && a.created_ns == b.created_ns &&
           a.size_bytes == b.size_bytes && a.checksum == b.checksum && a.page_count == b.page_count &&
           a.page_size == b.page_size && a.source == b.source && a.journal_mode == b.journal_mode &&
           a.tables == b.tables && a.verified_at == b.verified_at && a.verify_ok == b.verify_ok &&
           a.verify_error == b.verify_error && a.offsite_at == b.offsite_at && a.offsite_ok == b.offsite_ok &&
           a.offsite_error == b.offsite_error;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    BackupRecord r;
    try {
        r = parse_record(text);
    } catch (const Error&) {
        return 0;
    }
    const std::string once = serialize_record(r);
    BackupRecord back;
    try {
        back = parse_record(once);
    } catch (const Error&) {
        check(false); // what we wrote, we must read
    }
    check(same(r, back));
    check(serialize_record(back) == once);
    // unescape is the inverse of escape on any bytes.
    check(unescape_value(escape_value(text.substr(0, 512))) == text.substr(0, 512));
    return 0;
}
