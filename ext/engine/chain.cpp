// Chains of backups (see chain.hpp).
#include "engine/chain.hpp"

#include <algorithm>
#include <cerrno>
#include <set>
#include <sys/stat.h>
#include <utility>

#include "policy/naming.hpp"
#include "store/catalog.hpp"

namespace wb {

namespace {

Error broken(const std::string& name, const std::string& why) {
    return Error("the chain of backups is broken at '" + name + "': " + why);
}

// An increment's header and map, checked against its name and record.
void read_link_increment(ChainLink& link) {
    read_increment(link.file->get(), link.size_bytes, link.header, link.entries);
    if (link.header.name != link.name) throw broken(link.name, "the file is another increment renamed");
    if (link.header.base != link.record.base)
        throw broken(link.name, "its file and its record name other parents");
}

ChainLink open_link(const Dir& dir, const std::string& prefix, const std::string& name,
                    std::optional<Fd> opened) {
    const auto parsed = parse_backup_name(prefix, name);
    if (!parsed) throw broken(name, "not a backup name of this database");
    ChainLink link;
    link.name = name;
    struct stat st {};
    try {
        if (opened) {
            if (::fstat(opened->get(), &st) != 0) throw system_error("cannot examine it", errno);
            link.file = std::make_shared<Fd>(std::move(*opened));
        } else {
            link.file = std::make_shared<Fd>(dir.open_regular(name, &st));
        }
    } catch (const Error& e) {
        throw broken(name, e.kind() == ErrorKind::not_found ? "it is missing" : e.what());
    }
    link.size_bytes = st.st_size;
    bool damaged = false;
    auto record = read_record(dir, name, &damaged);
    if (!record) throw broken(name, damaged ? "its record is damaged" : "it has no record");
    link.record = std::move(*record);
    auto manifest = read_manifest(dir, link.record);
    if (manifest) link.record.tables = std::move(manifest->tables);
    link.full = !parsed->incremental;
    if ((link.record.type == "incremental") == link.full) throw broken(name, "its record says another type");
    if (link.full) {
        if (manifest && manifest->page_count == static_cast<uint64_t>(link.record.page_count))
            link.full_hashes = std::move(manifest->page_hashes);
        return link;
    }
    read_link_increment(link);
    return link;
}

} // namespace

void read_increment(int fd, int64_t size_bytes, IncrementHeader& header,
                    std::vector<IncrementEntry>& entries) {
    std::string head(kIncrementHeaderBytes, '\0');
    if (read_at(fd, reinterpret_cast<uint8_t*>(head.data()), head.size(), 0, "reading an increment failed") !=
        head.size())
        throw Error("increment: shorter than its header");
    header = parse_increment_header(head);
    const uint64_t map_bytes = static_cast<uint64_t>(header.entries) * kIncrementEntryBytes;
    if (static_cast<uint64_t>(size_bytes) != header.map_offset + map_bytes)
        throw Error("increment: its size is not what its header says");
    std::string map(static_cast<size_t>(map_bytes), '\0');
    if (read_at(fd, reinterpret_cast<uint8_t*>(map.data()), map.size(), header.map_offset,
                "reading an increment failed") != map.size())
        throw Error("increment: a truncated page map");
    entries = parse_increment_map(map, header);
}

Chain Chain::open(const Dir& dir, const std::string& prefix, const std::string& name,
                  std::optional<Fd> first) {
    Chain chain;
    std::set<std::string> seen;
    std::string next = name;
    for (;;) {
        if (!seen.insert(next).second || seen.size() > kMaxChainLinks)
            throw broken(next, seen.size() > kMaxChainLinks ? "it is longer than any chain can be"
                                                            : "its parents form a loop");
        std::optional<Fd> opened = std::exchange(first, std::nullopt); // the caller's file, once
        ChainLink link = open_link(dir, prefix, next, std::move(opened));
        const bool full = link.full;
        next = link.record.base;
        chain.links_.push_back(std::move(link));
        if (full) break;
        if (next.empty()) throw broken(chain.links_.back().name, "it names no parent");
    }
    std::reverse(chain.links_.begin(), chain.links_.end());
    return chain;
}

void Chain::append(const std::string& name, BackupRecord record, std::shared_ptr<Fd> file) {
    ChainLink link;
    link.name = name;
    link.record = std::move(record);
    link.file = std::move(file);
    struct stat st {};
    if (::fstat(link.file->get(), &st) != 0) throw system_error("cannot examine the new increment", errno);
    link.size_bytes = st.st_size;
    link.full = false;
    read_link_increment(link);
    links_.push_back(std::move(link));
}

uint32_t Chain::page_size() const {
    return static_cast<uint32_t>(links_.front().record.page_size);
}

uint32_t Chain::page_count() const {
    const ChainLink& l = last();
    return l.full ? static_cast<uint32_t>(l.record.page_count) : l.header.page_count;
}

std::vector<std::string> Chain::check() const {
    std::vector<std::string> problems;
    const ChainLink& full = links_.front();
    std::vector<uint64_t> hashes = full.full_hashes;
    uint64_t sum = 0;
    for (uint64_t h : hashes)
        sum ^= h;
    if (!hashes.empty() && full.record.db_checksum && *full.record.db_checksum != sum)
        problems.push_back("'" + full.name + "': its page hashes do not give its recorded database checksum");
    for (const auto& link : links_)
        if (link.record.size_bytes != 0 && link.record.size_bytes != link.size_bytes)
            problems.push_back("'" + link.name + "' has " + std::to_string(link.size_bytes) + " bytes, " +
                               std::to_string(link.record.size_bytes) + " were recorded");
    if (hashes.empty() && incremental())
        problems.push_back("'" + full.name + "' has no page hashes; an increment cannot build on it");
    for (size_t i = 1; i < links_.size() && problems.empty(); ++i) {
        const ChainLink& link = links_[i];
        const ChainLink& parent = links_[i - 1];
        if (link.header.base != parent.name)
            problems.push_back("'" + link.name + "' builds on '" + link.header.base + "', not on '" +
                               parent.name + "'");
        else if (link.header.page_size != page_size())
            problems.push_back("'" + link.name + "' has another page size than its chain");
        else if (!carries_growth(hashes.size(), link.header.page_count, link.entries))
            problems.push_back("'" + link.name + "' lacks pages its parent does not have");
        else if (link.header.before != sum)
            problems.push_back("'" + link.name + "' does not start where '" + parent.name +
                               "' ends (its database checksums differ)");
        else if (checksum_after(sum, hashes, link.header.page_count, link.entries) != link.header.after)
            problems.push_back("'" + link.name + "': its pages do not give its recorded database checksum");
        if (!problems.empty()) break;
        sum = link.header.after;
        hashes = apply_increment_hashes(std::move(hashes), link.header.page_count, link.entries);
    }
    return problems;
}

std::vector<uint64_t> Chain::page_hashes() const {
    std::vector<uint64_t> hashes = links_.front().full_hashes;
    if (hashes.empty()) return hashes;
    for (size_t i = 1; i < links_.size(); ++i)
        hashes = apply_increment_hashes(std::move(hashes), links_[i].header.page_count, links_[i].entries);
    return hashes;
}

std::unique_ptr<Image> Chain::image() const {
    return std::make_unique<Image>(page_size(), page_count(), layers());
}

std::vector<Image::Layer> Chain::layers() const {
    std::vector<Image::Layer> layers;
    for (const auto& link : links_) {
        Image::Layer layer;
        layer.file = link.file;
        layer.name = link.name;
        layer.full = link.full;
        if (link.full) {
            layer.hashes = link.full_hashes;
        } else {
            layer.data_offset = kIncrementHeaderBytes;
            layer.pages.reserve(link.entries.size());
            layer.hashes.reserve(link.entries.size());
            for (const auto& e : link.entries) {
                layer.pages.push_back(e.page);
                layer.hashes.push_back(e.hash);
            }
        }
        layers.push_back(std::move(layer));
    }
    return layers;
}

} // namespace wb
