// The XML documents S3 answers with, read by a real XML parser (libexpat).
// Pure functions: text in, values out; no network, no files.
//
// Usage
//   ListPage page = parse_list_objects(body);        // ListObjectsV2
//   std::string id = parse_upload_id(body);          // CreateMultipartUpload
//   auto err = parse_complete_multipart_upload(body); // nullopt = completed
//   S3ErrorBody e = parse_error(body);                // an error answer's Code, Message
//
// Elements are matched by their path from the root (ListBucketResult/
// Contents/Key), by local name: a namespace prefix and the namespace itself
// do not matter (S3 and moto declare xmlns="http://s3.amazonaws.com/doc/
// 2006-03-01/", error documents declare none). A <Key> anywhere else, an
// element nested inside a lookalike, attributes and unknown elements are
// ignored. Entities and character references are decoded by expat; a DTD is
// refused (S3 never sends one), so no entity can be declared or expanded.
//
// Everything that is not the expected document is an Error(ErrorKind::remote)
// whose message starts with the operation ("s3 list_objects: ..."): malformed
// XML, another root element (an <Error> root reports its Code and Message), a
// missing or repeated required element, a Size that is not a plausible
// object size, a document larger than kMaxXmlBytes or nested deeper than
// kMaxXmlDepth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "offsite/target.hpp" // ObjectInfo

namespace wb::offsite {

// A listing page of 1000 keys of 1024 bytes is about 1.5 MiB.
constexpr size_t kMaxXmlBytes = size_t{16} * 1024 * 1024;
// S3's documents are at most 4 levels deep.
constexpr int kMaxXmlDepth = 32;
// Larger than any store allows for one object (S3: 5 TiB, MinIO: 50 TiB),
// and still an int64 everywhere the size goes.
constexpr uint64_t kMaxObjectSize = uint64_t{1} << 50;

// One page of a ListObjectsV2 answer.
struct ListPage {
    // In the answer's order; ObjectInfo::name is the full key,
    // last_modified is 'YYYY-MM-DDTHH:MM:SSZ' (S3's fraction dropped).
    std::vector<ObjectInfo> objects;
    bool truncated = false;
    std::string next_token; // NextContinuationToken; never empty when truncated
};

// The <Error> document of a failed request.
// Both are valid UTF-8, cut to 200 and 1000 bytes: they end up in messages.
struct S3ErrorBody {
    std::string code;    // "NoSuchKey", "AccessDenied", ...; may be empty
    std::string message; // may be empty
};

ListPage parse_list_objects(const std::string& xml);
// The UploadId of an InitiateMultipartUploadResult; never empty.
std::string parse_upload_id(const std::string& xml);
// S3 may answer a CompleteMultipartUpload with 200 and an <Error> document:
// that error, or nullopt for a CompleteMultipartUploadResult (moto names it
// CompleteMultipartUploadResponse).
std::optional<S3ErrorBody> parse_complete_multipart_upload(const std::string& xml);
// Code and Message of an <Error> document; both empty for an empty body (a
// HEAD answer has none).
S3ErrorBody parse_error(const std::string& xml);

} // namespace wb::offsite
