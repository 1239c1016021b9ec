// The xxh3t block checksum (see checksum.hpp).
#include "store/checksum.hpp"

#include <algorithm>
#include <array>
#include <fcntl.h>
#include <memory>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.hpp"
#include "common/observer.hpp"
#include "policy/text.hpp"
#include "store/fd.hpp"

namespace wb {

namespace {

void digest_of(const uint8_t* data, size_t length, uint8_t out[16]) {
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(data, length));
    std::copy(canon.digest, canon.digest + 16, out);
}

std::string combine(const std::vector<std::array<uint8_t, 16>>& digests) {
    XXH3_state_t* state = XXH3_createState();
    if (!state) throw std::bad_alloc();
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> owner(state, XXH3_freeState);
    XXH3_128bits_reset(state);
    for (const auto& d : digests)
        XXH3_128bits_update(state, d.data(), d.size());
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state));
    return std::string(kChecksumAlgorithm) + ":" + hex_lower(canon.digest, 16);
}

} // namespace

BlockHasher::BlockHasher() {
    stream_state_ = XXH3_createState();
    if (!stream_state_) throw std::bad_alloc();
}

BlockHasher::~BlockHasher() {
    XXH3_freeState(static_cast<XXH3_state_t*>(stream_state_));
}

BlockHasher::Block& BlockHasher::block(uint64_t index) {
    if (index >= blocks_.size()) blocks_.resize(index + 1);
    return blocks_[index];
}

void BlockHasher::invalidate(uint64_t from, uint64_t to) {
    if (to <= from) return;
    const uint64_t first = from / kHashBlock;
    const uint64_t last = (to - 1) / kHashBlock;
    for (uint64_t b = first; b <= last; ++b)
        block(b).valid = false;
    if (streaming_ && stream_block_ >= first && stream_block_ <= last) streaming_ = false;
}

void BlockHasher::close_stream() {
    auto* state = static_cast<XXH3_state_t*>(stream_state_);
    Block& b = block(stream_block_);
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state));
    std::copy(canon.digest, canon.digest + 16, b.digest);
    b.length = stream_pos_ - stream_block_ * kHashBlock;
    b.valid = true;
    streaming_ = false;
}

void BlockHasher::update(uint64_t offset, const uint8_t* data, size_t length) {
    if (length == 0) return;
    if (!(streaming_ && offset == stream_pos_)) {
        invalidate(offset, offset + length);
        // Out of order: the blocks it touches are hashed again from the file at the end.
        if (streaming_ || offset % kHashBlock != 0) return;
        streaming_ = true;
        stream_block_ = offset / kHashBlock;
        stream_pos_ = offset;
        XXH3_128bits_reset(static_cast<XXH3_state_t*>(stream_state_));
    }
    auto* state = static_cast<XXH3_state_t*>(stream_state_);
    while (length > 0) {
        const uint64_t block_end = (stream_block_ + 1) * kHashBlock;
        const size_t take = static_cast<size_t>(std::min<uint64_t>(length, block_end - stream_pos_));
        XXH3_128bits_update(state, data, take);
        data += take;
        length -= take;
        stream_pos_ += take;
        if (stream_pos_ == block_end) {
            close_stream();
            streaming_ = true;
            stream_block_ += 1;
            XXH3_128bits_reset(state);
        }
    }
}

std::string BlockHasher::finish(int fd, uint64_t size) {
    if (streaming_ && stream_pos_ > stream_block_ * kHashBlock) close_stream();
    streaming_ = false;
    const uint64_t count = (size + kHashBlock - 1) / kHashBlock;
    std::vector<std::array<uint8_t, 16>> digests(count);
    std::vector<uint8_t> buf;
    for (uint64_t i = 0; i < count; ++i) {
        const uint64_t want = std::min<uint64_t>(kHashBlock, size - i * kHashBlock);
        const Block* b = i < blocks_.size() ? &blocks_[i] : nullptr;
        if (b && b->valid && b->length == want) {
            std::copy(b->digest, b->digest + 16, digests[i].begin());
            continue;
        }
        buf.resize(kHashBlock);
        const size_t got = read_at(fd, buf.data(), want, i * kHashBlock, "reading the backup failed");
        if (got != want) throw Error("the backup file is shorter than expected", ErrorKind::io);
        digest_of(buf.data(), got, digests[i].data());
    }
    return combine(digests);
}

uint64_t page_hash(uint32_t page_number, const uint8_t* data, size_t size) {
    return XXH3_64bits_withSeed(data, size, page_number);
}

std::string checksum_fd(int fd, uint64_t size, Observer* observer) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    const uint64_t count = (size + kHashBlock - 1) / kHashBlock;
    std::vector<std::array<uint8_t, 16>> digests(count);
    std::vector<uint8_t> buf(kHashBlock);
    for (uint64_t i = 0; i < count; ++i) {
        if (observer) observer->check();
        const uint64_t want = std::min<uint64_t>(kHashBlock, size - i * kHashBlock);
        const size_t got = read_at(fd, buf.data(), want, i * kHashBlock, "reading the backup failed");
        if (got != want) throw Error("the file is shorter than its recorded size", ErrorKind::io);
        digest_of(buf.data(), got, digests[i].data());
        if (observer)
            observer->progress(static_cast<int64_t>(std::min(size, (i + 1) * kHashBlock)),
                               static_cast<int64_t>(size));
    }
    return combine(digests);
}

uint64_t xxh3_64_of(const uint8_t* data, size_t length) {
    return XXH3_64bits(data, length);
}

Xxh3Stream::Xxh3Stream() : state_(XXH3_createState()) {
    if (!state_) throw Error("out of memory", ErrorKind::full);
    XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

Xxh3Stream::~Xxh3Stream() {
    XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}

void Xxh3Stream::update(const uint8_t* data, size_t length) {
    XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data, length);
}

uint64_t Xxh3Stream::digest() const {
    return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

uint64_t xxh3_64_of_range(int fd, uint64_t offset, uint64_t length, Observer* observer) {
    Xxh3Stream stream;
    std::vector<uint8_t> buf(
        static_cast<size_t>(std::min<uint64_t>(kHashBlock, std::max<uint64_t>(length, 1))));
    for (uint64_t done = 0; done < length;) {
        if (observer) observer->check();
        const auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
        if (read_at(fd, buf.data(), want, offset + done, "reading failed") != want)
            throw Error("the file is shorter than it says", ErrorKind::io);
        stream.update(buf.data(), want);
        done += want;
    }
    return stream.digest();
}

} // namespace wb
