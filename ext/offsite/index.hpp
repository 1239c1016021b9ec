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
//   object_format=2    the object lines are objects that authenticated under
//                      the key (stream format 2) at the last sync; absent in
//                      an index written by 1.0.0, whose object lines are then
//                      1.0.0 objects (read_index in sync.hpp treats them as legacy)
//   foreign=<n>        objects named like this database's backups that did not
//                      authenticate at the last sync (never counted, never deleted)
//   object=<backup name> <object bytes> <original bytes> <created_ns> <kind> <checksum> <uploaded_at>
//   [<base>] legacy=<the same fields>   a 1.0.0 (format 1) object this machine sent:
//                      it cannot prove its name, but its recorded checksum lets
//                      verify and fetch check what it decodes to
// with "-" for an unknown text field and 0 for an unknown number. <base>, the
// backup an incremental backup builds on (as its authenticated header says),
// is written only for increments: a line without it is a full backup's.
// Unknown keys, and fields after the seventh, are ignored (1.0.0 reads this
// index and ignores object_format, foreign, legacy and the base).
//
// The timeline's segments off-site have an index of their own,
// `.wecare_offsite_segments_<prefix>`, written by the segment syncs
// (segments.hpp) under their own lock, so shipping segments never waits for
// a backup's upload. Format: a first line `wecare_offsite_segments 1`, then
//   target=, last_success_at=, last_error=, last_error_at=, foreign=<n>  as above
//   segment=<segment name> <object bytes> <original bytes> <created_ns> <base>
//           <checksum> <last point ns> <modified> <uploaded_at>
// for each segment object that authenticated (the base: its generation's
// base backup; the last point: the capture time of its newest restore point,
// 0 when not known; modified: the target's last-modified stamp when it
// authenticated, which lets a sync trust it again without reading it).
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
    std::string base;           // an increment: the backup it builds on; "" = a full backup
};

struct OffsiteIndex {
    std::string target;
    std::optional<int64_t> last_success_at;
    std::string last_error;
    std::optional<int64_t> last_error_at;
    int64_t object_format = 0; // 2: `objects` authenticated; 0: written by 1.0.0
    int64_t foreign = 0;
    std::vector<OffsiteObject> objects; // authenticated: these count
    std::vector<OffsiteObject> legacy;  // 1.0.0 objects this machine sent: never count

    const OffsiteObject* find(const std::string& name) const;
    const OffsiteObject* find_legacy(const std::string& name) const;
};

// A segment of continuous capture off-site: `<segment name>.wcbk`.
struct SegmentObject {
    std::string name;           // the segment file's name
    int64_t object_bytes = 0;   // compressed and encrypted size
    int64_t original_bytes = 0; // the segment file's size
    int64_t created_ns = 0;     // the segment header's creation time
    std::string base;           // its generation's base backup
    std::string checksum;       // xxh3t of the segment file
    int64_t last_point_ns = 0;  // capture time of its newest restore point; 0 = not known
    std::string modified;       // the target's last-modified stamp; "" = not known
    int64_t uploaded_at = 0;    // UTC seconds; 0 = not known
};

struct SegmentIndex {
    std::string target;
    std::optional<int64_t> last_success_at;
    std::string last_error;
    std::optional<int64_t> last_error_at;
    int64_t foreign = 0;
    std::vector<SegmentObject> segments; // authenticated: these count

    const SegmentObject* find(const std::string& name) const;
};

std::string offsite_index_file_name(const std::string& prefix);
std::string segment_index_file_name(const std::string& prefix);
std::string serialize_segment_index(const SegmentIndex& index);
// Throws Error when `text` is not a segment index this version can read.
SegmentIndex parse_segment_index(std::string_view text);
std::string serialize_offsite_index(const OffsiteIndex& index);
// Throws Error when `text` is not an index this version can read.
OffsiteIndex parse_offsite_index(std::string_view text);

} // namespace wb::offsite
