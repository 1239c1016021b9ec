// S3's XML answers read with libexpat (see s3_xml.hpp for what is accepted).
//
// How it works
//   Reader streams one document through an expat parser created with
//   namespace processing, so every element name arrives as "<uri>\n<local>"
//   and only the local part is kept. It tracks the path of local names from
//   the root and, for each element, the character data directly inside it;
//   when an element closes, the subclass for that document type (ListReader,
//   UploadIdReader, ...) gets its path and text and keeps what it needs. No
//   tree is built, so memory stays at about the document's size whatever its
//   shape. Expat's handlers are C callbacks: an exception must not cross
//   them, so the first one is stored, the parser is stopped, and it is
//   rethrown once XML_Parse returns. Limits (size, depth) and the refusal of
//   a DTD are checked before or while parsing, never after a large effort.
#include "offsite/s3_xml.hpp"

#include <expat.h>

#include <exception>
#include <memory>

#include "common/error.hpp"
#include "policy/text.hpp"

namespace wb::offsite {

namespace {

constexpr char kNamespaceSeparator = '\n';
constexpr size_t kMaxQuotedBytes = 200;

constexpr size_t kMaxCodeBytes = 200;
constexpr size_t kMaxMessageBytes = 1000;

// Remote text fit for a message: valid UTF-8, and at most `max` bytes of it.
std::string clipped(const std::string& text, size_t max) {
    if (text.size() <= max) return printable_utf8(text);
    return printable_utf8(text.substr(0, max)) + "...";
}

std::string quoted(const std::string& text) {
    return "'" + clipped(text, kMaxQuotedBytes) + "'";
}

std::string trim_space(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    const size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

struct ParserDeleter {
    void operator()(XML_ParserStruct* p) const { XML_ParserFree(p); }
};

// Reads one document; subclasses pick out their elements in on_close().
class Reader {
  public:
    explicit Reader(const char* operation) : operation_(operation) {}
    virtual ~Reader() = default;
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // Parses `xml` whole; throws Error(remote) if it is not well-formed, too
    // large or too deep, or if a subclass refuses what it finds.
    void read(const std::string& xml) {
        if (xml.size() > kMaxXmlBytes)
            fail("the answer is larger than " + std::to_string(kMaxXmlBytes >> 20) + " MiB");
        // S3 may send spaces to keep a slow CompleteMultipartUpload alive; an
        // XML declaration must come first, so they go.
        const size_t start = xml.find_first_not_of(" \t\r\n");
        if (start == std::string::npos) fail("the answer is empty, expected an XML document");
        std::unique_ptr<XML_ParserStruct, ParserDeleter> parser(
            XML_ParserCreateNS(nullptr, kNamespaceSeparator));
        if (!parser) throw std::bad_alloc();
        parser_ = parser.get();
        XML_SetUserData(parser_, this);
        XML_SetElementHandler(parser_, on_start_element, on_end_element);
        XML_SetCharacterDataHandler(parser_, on_text);
        XML_SetStartDoctypeDeclHandler(parser_, on_doctype);
        const XML_Status status =
            XML_Parse(parser_, xml.data() + start, static_cast<int>(xml.size() - start), XML_TRUE);
        if (failure_) std::rethrow_exception(failure_);
        if (status != XML_STATUS_OK) {
            const XML_Error code = XML_GetErrorCode(parser_);
            fail("the answer is not well-formed XML (" + std::string(XML_ErrorString(code)) + " at line " +
                 std::to_string(XML_GetCurrentLineNumber(parser_)) + ", column " +
                 std::to_string(XML_GetCurrentColumnNumber(parser_)) + ")");
        }
        parser_ = nullptr;
    }

    // The local name of the root element.
    const std::string& root() const { return root_; }

    // After read(): an answer whose root is not `expected` is an error; an
    // <Error> root reports S3's Code and Message.
    void expect_root(const char* expected) const {
        if (root_ == expected) return;
        if (root_ == "Error")
            fail("S3 answered with an error: " +
                 (error_.code.empty() ? std::string("(no code)") : error_.code) +
                 (error_.message.empty() ? "" : ": " + error_.message));
        fail("the answer is <" + clipped(root_, kMaxQuotedBytes) + ">, expected <" + expected + ">");
    }

    const S3ErrorBody& error_body() const { return error_; }

    [[noreturn]] void fail(const std::string& problem) const {
        throw Error(std::string(operation_) + ": " + problem, ErrorKind::remote);
    }

  protected:
    virtual void on_open(const std::string& path) { (void)path; }
    // `text` is the character data directly inside the element.
    virtual void on_close(const std::string& path, const std::string& text) = 0;

    // The text of a value element (one that holds no elements).
    const std::string& value(const std::string& element, const std::string& text) const {
        if (!frames_.back().leaf) fail("<" + element + "> holds elements where a value was expected");
        return text;
    }

  private:
    struct Frame {
        size_t path_size; // path_ before this element was entered
        std::string text;
        bool leaf = true;
    };

    static Reader& self(void* user) { return *static_cast<Reader*>(user); }

    // Runs a step of a handler; the first exception stops the parser.
    template <typename Step> void guarded(Step step) {
        if (failure_) return;
        try {
            step();
        } catch (...) {
            failure_ = std::current_exception();
            XML_StopParser(parser_, XML_FALSE);
        }
    }

    static void XMLCALL on_start_element(void* user, const XML_Char* name, const XML_Char** attributes) {
        (void)attributes;
        Reader& r = self(user);
        r.guarded([&] { r.enter(name); });
    }
    static void XMLCALL on_end_element(void* user, const XML_Char* name) {
        (void)name;
        Reader& r = self(user);
        r.guarded([&] { r.leave(); });
    }
    static void XMLCALL on_text(void* user, const XML_Char* text, int size) {
        Reader& r = self(user);
        r.guarded([&] {
            if (!r.frames_.empty()) r.frames_.back().text.append(text, static_cast<size_t>(size));
        });
    }
    static void XMLCALL on_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        Reader& r = self(user);
        r.guarded([&] { r.fail("the answer has a DOCTYPE, which S3 never sends"); });
    }

    void enter(const char* qualified) {
        if (frames_.size() >= static_cast<size_t>(kMaxXmlDepth))
            fail("the answer is nested deeper than " + std::to_string(kMaxXmlDepth) + " elements");
        std::string local(qualified);
        const size_t sep = local.rfind(kNamespaceSeparator);
        if (sep != std::string::npos) local.erase(0, sep + 1);
        if (frames_.empty())
            root_ = local;
        else
            frames_.back().leaf = false;
        frames_.push_back(Frame{path_.size(), std::string(), true});
        if (!path_.empty()) path_ += '/';
        path_ += local;
        on_open(path_);
    }

    void leave() {
        const std::string& text = frames_.back().text;
        // The fields of an error document, whatever the caller expects: an
        // <Error> root is reported with them.
        if (root_ == "Error" && frames_.back().leaf) {
            if (path_ == "Error/Code" && error_.code.empty()) error_.code = clipped(text, kMaxCodeBytes);
            if (path_ == "Error/Message" && error_.message.empty())
                error_.message = clipped(text, kMaxMessageBytes);
        }
        on_close(path_, text);
        path_.resize(frames_.back().path_size);
        frames_.pop_back();
    }

    const char* operation_;
    XML_Parser parser_ = nullptr;
    std::string path_; // local names from the root, '/'-separated
    std::vector<Frame> frames_;
    std::string root_;
    S3ErrorBody error_;
    std::exception_ptr failure_;
};

// A value that must appear at most once.
void set_once(std::optional<std::string>& slot, const std::string& text, const Reader& reader,
              const char* element) {
    if (slot) reader.fail("more than one <" + std::string(element) + "> where one was expected");
    slot = text;
}

// 'YYYY-MM-DDTHH:MM:SS', optionally '.fff', optionally 'Z': S3 gives UTC.
std::optional<std::string> utc_timestamp(const std::string& text) {
    static const char kShape[] = "dddd-dd-ddTdd:dd:dd";
    const size_t n = sizeof kShape - 1;
    if (text.size() < n) return std::nullopt;
    for (size_t i = 0; i < n; ++i) {
        const bool digit = text[i] >= '0' && text[i] <= '9';
        if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
    }
    size_t i = n;
    if (i < text.size() && text[i] == '.') {
        ++i;
        const size_t digits = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9')
            ++i;
        if (i == digits) return std::nullopt;
    }
    if (i < text.size() && text[i] == 'Z') ++i;
    if (i != text.size()) return std::nullopt;
    return text.substr(0, n) + "Z";
}

class ListReader : public Reader {
  public:
    ListReader() : Reader("s3 list_objects") {}

    ListPage finish() {
        expect_root("ListBucketResult");
        if (!truncated_) fail("the listing has no <IsTruncated>");
        const std::string flag = trim_space(*truncated_);
        if (flag != "true" && flag != "false")
            fail("<IsTruncated> is " + quoted(flag) + ", not true or false");
        page_.truncated = flag == "true";
        if (page_.truncated) {
            if (!token_ || token_->empty()) fail("truncated listing without a continuation token");
            page_.next_token = *token_;
        }
        return std::move(page_);
    }

  private:
    struct Entry {
        std::optional<std::string> key, size, last_modified;
    };

    void on_open(const std::string& path) override {
        if (path == "ListBucketResult/Contents") entry_ = Entry();
    }

    void on_close(const std::string& path, const std::string& text) override {
        if (path == "ListBucketResult/Contents/Key") {
            set_once(entry_.key, value("Key", text), *this, "Key");
        } else if (path == "ListBucketResult/Contents/Size") {
            set_once(entry_.size, value("Size", text), *this, "Size");
        } else if (path == "ListBucketResult/Contents/LastModified") {
            set_once(entry_.last_modified, value("LastModified", text), *this, "LastModified");
        } else if (path == "ListBucketResult/Contents") {
            page_.objects.push_back(object_of(entry_));
        } else if (path == "ListBucketResult/IsTruncated") {
            set_once(truncated_, value("IsTruncated", text), *this, "IsTruncated");
        } else if (path == "ListBucketResult/NextContinuationToken") {
            set_once(token_, value("NextContinuationToken", text), *this, "NextContinuationToken");
        }
    }

    ObjectInfo object_of(const Entry& e) const {
        if (!e.key) fail("a <Contents> without a <Key>");
        if (e.key->empty()) fail("a <Contents> with an empty <Key>");
        const std::string what = "object " + quoted(*e.key);
        if (!e.size) fail(what + " has no <Size>");
        if (!e.last_modified) fail(what + " has no <LastModified>");
        const std::string size_text = trim_space(*e.size);
        const auto size = parse_decimal(size_text, 0, static_cast<int64_t>(kMaxObjectSize));
        if (!size)
            fail(what + " has <Size> " + quoted(size_text) + ", not a size in bytes up to " +
                 std::to_string(kMaxObjectSize));
        const auto stamp = utc_timestamp(trim_space(*e.last_modified));
        if (!stamp)
            fail(what + " has <LastModified> " + quoted(*e.last_modified) +
                 ", not a UTC time like 2024-01-02T03:04:05.000Z");
        ObjectInfo info;
        info.name = *e.key;
        info.size = static_cast<uint64_t>(*size);
        info.last_modified = *stamp;
        return info;
    }

    ListPage page_;
    Entry entry_;
    std::optional<std::string> truncated_, token_;
};

class UploadIdReader : public Reader {
  public:
    UploadIdReader() : Reader("s3 create_multipart_upload") {}

    std::string finish() {
        expect_root("InitiateMultipartUploadResult");
        if (!id_ || id_->empty()) fail("no UploadId in the answer");
        return *id_;
    }

  private:
    void on_close(const std::string& path, const std::string& text) override {
        if (path == "InitiateMultipartUploadResult/UploadId")
            set_once(id_, value("UploadId", text), *this, "UploadId");
    }
    std::optional<std::string> id_;
};

// Only the root matters: the error fields are collected by Reader itself.
class RootReader : public Reader {
  public:
    explicit RootReader(const char* operation) : Reader(operation) {}

  private:
    void on_close(const std::string&, const std::string&) override {}
};

} // namespace

ListPage parse_list_objects(const std::string& xml) {
    ListReader reader;
    reader.read(xml);
    return reader.finish();
}

std::string parse_upload_id(const std::string& xml) {
    UploadIdReader reader;
    reader.read(xml);
    return reader.finish();
}

std::optional<S3ErrorBody> parse_complete_multipart_upload(const std::string& xml) {
    RootReader reader("s3 complete_multipart_upload");
    reader.read(xml);
    if (reader.root() == "Error") return reader.error_body();
    // AWS says ...Result; moto 5 says ...Response.
    if (reader.root() == "CompleteMultipartUploadResponse") return std::nullopt;
    reader.expect_root("CompleteMultipartUploadResult");
    return std::nullopt;
}

S3ErrorBody parse_error(const std::string& xml) {
    if (xml.find_first_not_of(" \t\r\n") == std::string::npos) return S3ErrorBody();
    RootReader reader("s3 error answer");
    reader.read(xml);
    reader.expect_root("Error");
    return reader.error_body();
}

} // namespace wb::offsite
