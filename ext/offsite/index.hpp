// What the backup directory knows about its off-site copies: the file
// `.wecare_offsite_index_<prefix>` beside the backups, rewritten atomically
// after every off-site sync (sync.cpp). Listing and stats read it, so
// they never touch the network. Pure serialisation and parsing here.
//
// Format: a first line `wecare_offsite_index 1`, then `key=value` lines
// (values escaped as in policy/record.hpp):
//   target=<offsite setting the objects were listed from>
//   last_success_at=<UTC seconds>     last sync that sent and checked everything
//   last_error=<text>  last_error_at=<UTC seconds>   last failed sync ("" once one succeeds)
//   object=<backup name> <object bytes> <original bytes> <created_ns> <kind> <checksum> <uploaded_at>
// with "-" for an unknown text field and 0 for an unknown number. Unknown keys
// are ignored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wb::offsite {

struct OffsiteObject {
    std::string name;           // the backup name (the object is <name>.wcbk)
    int64_t object_bytes = 0;   // compressed and encrypted size
    int64_t original_bytes = 0; // 0 = unknown
    int64_t created_ns = 0;     // 0 = unknown
    std::string kind;           // manual, auto; "" = unknown
    std::string checksum;       // xxh3t of the original; "" = unknown
    int64_t uploaded_at = 0;    // UTC seconds; 0 = unknown
};

struct OffsiteIndex {
    std::string target;
    std::optional<int64_t> last_success_at;
    std::string last_error;
    std::optional<int64_t> last_error_at;
    std::vector<OffsiteObject> objects;

    const OffsiteObject* find(const std::string& name) const;
};

std::string offsite_index_file_name(const std::string& prefix);
std::string serialize_offsite_index(const OffsiteIndex& index);
// Throws Error when `text` is not an index this version can read.
OffsiteIndex parse_offsite_index(std::string_view text);

} // namespace wb::offsite
