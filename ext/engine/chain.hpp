// A chain of backups: a full backup and the increments built on it, opened
// from a backup directory as one thing that can be checked, read and
// restored.
//
//   Chain chain = Chain::open(dir, prefix, "app_backup_2026-11-27_02-15-00.incr");
//   auto problems = chain.check();        // contiguity and checksums, no page read
//   auto image = chain.image();           // the database it materialises, every page checked
//
// How it works: from the named backup, each record names the backup it builds
// on (`base`), back to a full backup. Every file is opened once (a regular
// file, no link) and used only through that descriptor. A full backup's page
// hashes come from its manifest; an increment's from its own page map, read
// and checked against its header (policy/increment_format.hpp). The image
// merges them by page number: each page is read from the newest backup that
// holds it, so a restore writes each page once.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/image.hpp"
#include "policy/increment_format.hpp"
#include "policy/record.hpp"
#include "store/dir.hpp"

namespace wb {

struct ChainLink {
    std::string name;
    BackupRecord record; // its tables filled from its manifest
    std::shared_ptr<Fd> file;
    int64_t size_bytes = 0;
    bool full = true;
    std::vector<uint64_t> full_hashes; // a full backup's page hashes (may be empty: 1.0.0)
    IncrementHeader header;            // an increment's
    std::vector<IncrementEntry> entries;
};

class Chain {
  public:
    // Opens `name` and every backup it builds on. Throws Error naming the
    // first link that is missing, unreadable or not what its record says.
    // `first`, when given, is `name` opened already (and checked) by the caller.
    static Chain open(const Dir& dir, const std::string& prefix, const std::string& name,
                      std::optional<Fd> first = std::nullopt);
    // Adds a new increment (not yet in the directory) on top of the chain:
    // its header and map are read back from `file`. Throws Error.
    void append(const std::string& name, BackupRecord record, std::shared_ptr<Fd> file);

    // Oldest (the full backup) first.
    const std::vector<ChainLink>& links() const { return links_; }
    const ChainLink& last() const { return links_.back(); }
    bool incremental() const { return links_.size() > 1; }
    uint32_t page_size() const;
    uint32_t page_count() const;

    // Contiguity and database checksums, from the page maps alone: each file
    // has its recorded size, each increment names its parent, has its page
    // size, carries every page its parent lacks, starts from its parent's
    // checksum, and ends at the checksum its entries give. Returns the
    // problems (empty: none).
    std::vector<std::string> check() const;
    // The page hashes of the database the chain materialises (empty when the
    // full backup has none). Only for a chain check() found sound.
    std::vector<uint64_t> page_hashes() const;
    // The database the chain materialises, each page checked on reading. Only
    // for a chain check() found sound.
    std::unique_ptr<Image> image() const;
    // Its files as an image's layers, oldest first (to add more on top).
    std::vector<Image::Layer> layers() const;

  private:
    std::vector<ChainLink> links_;
};

// The page map and header of the increment open at `fd`; throws Error.
void read_increment(int fd, int64_t size_bytes, IncrementHeader& header,
                    std::vector<IncrementEntry>& entries);

} // namespace wb
