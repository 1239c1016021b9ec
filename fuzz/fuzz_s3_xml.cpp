// S3's XML answers (offsite/s3_xml.hpp): every parser on any bytes. Each
// either returns what it promises or throws Error(remote) whose message
// names the operation and is valid UTF-8. A listing it accepts, written back
// as XML, parses to the same page.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "offsite/s3_xml.hpp"
#include "policy/text.hpp"

using namespace wb;
using namespace wb::offsite;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}

void check_refusal(const Error& e) {
    check(e.kind() == ErrorKind::remote);
    const std::string m = e.what();
    check(m.rfind("s3 ", 0) == 0);
    check(is_valid_utf8(m));
}

// Text as XML character data; \t \n \r as references, or the parser would
// normalise them.
std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '\t':
            out += "&#9;";
            break;
        case '\n':
            out += "&#10;";
            break;
        case '\r':
            out += "&#13;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string listing_xml(const ListPage& page) {
    std::string xml = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsTruncated>" +
                      std::string(page.truncated ? "true" : "false") + "</IsTruncated>";
    for (const ObjectInfo& o : page.objects)
        xml += "<Contents><Key>" + escaped(o.name) + "</Key><LastModified>" + o.last_modified +
               "</LastModified><Size>" + std::to_string(o.size) + "</Size></Contents>";
    if (page.truncated)
        xml += "<NextContinuationToken>" + escaped(page.next_token) + "</NextContinuationToken>";
    return xml + "</ListBucketResult>";
}

bool same(const ListPage& a, const ListPage& b) {
    if (a.truncated != b.truncated || a.next_token != b.next_token || a.objects.size() != b.objects.size())
        return false;
    for (size_t i = 0; i < a.objects.size(); ++i)
        if (a.objects[i].name != b.objects[i].name || a.objects[i].size != b.objects[i].size ||
            a.objects[i].last_modified != b.objects[i].last_modified)
            return false;
    return true;
}

void check_error_body(const S3ErrorBody& e) {
    check(e.code.size() <= 203 && e.message.size() <= 1003);
    check(is_valid_utf8(e.code) && is_valid_utf8(e.message));
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string xml(reinterpret_cast<const char*>(data), size);

    try {
        const ListPage page = parse_list_objects(xml);
        check(!page.truncated || !page.next_token.empty());
        for (const ObjectInfo& o : page.objects) {
            check(!o.name.empty());
            check(o.size <= kMaxObjectSize);
            check(o.last_modified.size() == 20 && o.last_modified.back() == 'Z');
        }
        check(same(parse_list_objects(listing_xml(page)), page));
    } catch (const Error& e) {
        check_refusal(e);
    }

    try {
        const std::string id = parse_upload_id(xml);
        check(!id.empty());
        check(parse_upload_id("<InitiateMultipartUploadResult><UploadId>" + escaped(id) +
                              "</UploadId></InitiateMultipartUploadResult>") == id);
    } catch (const Error& e) {
        check_refusal(e);
    }

    try {
        const auto error = parse_complete_multipart_upload(xml);
        if (error) check_error_body(*error);
    } catch (const Error& e) {
        check_refusal(e);
    }

    try {
        check_error_body(parse_error(xml));
    } catch (const Error& e) {
        check_refusal(e);
    }
    return 0;
}
