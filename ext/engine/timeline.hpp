// Continuous capture's timeline as it is on disk: the segment files of a
// backup directory, opened once each, read into the pure model of
// policy/timeline.hpp; and what a restore point materialises.
//
//   Timeline t = Timeline::open(dir, prefix);
//   auto rows = timeline_rows(t.generations());       // ranges and gaps
//   RestoreTarget target = resolve_time(t.generations(), at_ns);
//   auto image = t.image(dir, prefix, target);          // base chain + points, every page checked
//   auto problems = t.check(dir, prefix, observer);     // every checksum, contiguity
//
// How it works: every file named like a segment of `prefix` is opened (a
// regular file, no link) and its header read; its points are read header by
// header (their page maps when needed). A point that does not parse ends its
// file: only a crash tears a point, and only the last one of a file. Files
// are grouped by generation and ordered by sequence; generations by start.
// The image of a restore point is the base backup's chain
// (engine/chain.hpp) with each point applied as one more layer: each page is
// read once, from the newest point that holds it, and checked against its
// hash.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/observer.hpp"
#include "engine/chain.hpp"
#include "engine/image.hpp"
#include "policy/segment_format.hpp"
#include "policy/timeline.hpp"
#include "store/dir.hpp"
#include "store/fd.hpp"

namespace wb {

class Timeline {
  public:
    static Timeline open(const Dir& dir, const std::string& prefix);

    const std::vector<TimelineGeneration>& generations() const { return generations_; }
    bool empty() const { return generations_.empty(); }
    // Problems met while reading (a file that is not a segment, a sequence
    // that skips a number); each also in its generation's problems.
    const std::vector<std::string>& problems() const { return problems_; }

    // A point's page map (checked for order and bounds).
    std::vector<IncrementEntry> point_map(size_t generation, size_t point) const;
    // The page hashes after applying the first `points` points of a
    // generation to its base (whose hashes are `base`). Throws Error
    // (format) at a point that claims more pages than it carries: nothing is
    // ever sized by a page count the file does not hold.
    std::vector<uint64_t> hashes_after(size_t generation, size_t points, std::vector<uint64_t> base) const;
    // The database a restore target materialises. Throws Error when the base
    // backup or its chain cannot be read.
    std::unique_ptr<Image> image(const Dir& dir, const std::string& prefix,
                                 const RestoreTarget& target) const;
    // Checks every point of every generation: its header, its payload's
    // checksum, that it continues from the one before (database checksums),
    // and that its base chain checks out. Returns the problems (empty: none).
    std::vector<std::string> check(const Dir& dir, const std::string& prefix, Observer& observer) const;
    // The same for what a restore to `target` reads (its generation's points
    // up to it), and the base chain's files against their recorded checksums.
    std::vector<std::string> check_target(const Dir& dir, const std::string& prefix,
                                          const RestoreTarget& target, Observer& observer) const;

  private:
    void check_generation(const Dir& dir, const std::string& prefix, size_t generation, size_t points,
                          bool base_files, Observer& observer, std::vector<std::string>& problems) const;
    std::vector<TimelineGeneration> generations_;
    std::vector<std::vector<std::shared_ptr<Fd>>> files_; // [generation][file]
    std::vector<std::string> problems_;
};

// Whether generation `g` was captured from the backup `base` (the chain its
// segments name, opened): its record's creation time is the one they carry.
// Name and database checksum alone do not tell two databases created alike
// apart (policy/segment_format.hpp).
bool of_this_timeline(const TimelineGeneration& g, const Chain& base);
// The problem reported for a generation that is not.
std::string foreign_generation(const TimelineGeneration& g);

// Checks one segment file on its own, as a fetch does before it publishes
// one: its header, and every whole point (its header, its page map, its
// payload's checksum). A torn end is no problem (a crash tears only the last
// point, which no reader uses). Returns the header; throws Error (format)
// naming the first problem.
SegmentHeader check_segment_file(int fd, uint64_t size, const std::string& name, Observer& observer);

// Reads the points of the segment open at `fd` (of `size` bytes, header
// `header`) into `points`, from its first point on; returns the offset just
// past the last whole point (where a torn one starts, if any).
uint64_t read_points(int fd, uint64_t size, const SegmentHeader& header, size_t file_index,
                     std::vector<TimelinePoint>& points);

} // namespace wb
