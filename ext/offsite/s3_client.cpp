// The S3 client and target (see s3_client.hpp).
#include "offsite/s3_client.hpp"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "offsite/s3_xml.hpp"
#include "policy/text.hpp"
#include "store/dir.hpp"

namespace wb::offsite {

namespace {

constexpr size_t kMinPartSize = size_t{5} * 1024 * 1024;
constexpr size_t kMaxPartSize = size_t{512} * 1024 * 1024;
constexpr int kMaxParts = 10000;
constexpr size_t kMaxErrorBody = size_t{64} * 1024;
constexpr size_t kMaxCredentialsBytes = size_t{1} << 20;

void ensure_curl() {
    static const CURLcode ready = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ready != CURLE_OK) throw Error("cannot initialise libcurl", ErrorKind::config);
    static const int sodium_ready = sodium_init();
    if (sodium_ready < 0) throw Error("cannot initialise libsodium", ErrorKind::config);
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// RFC 3986 percent-encoding as SigV4 wants it; '/' kept when keep_slash.
std::string uri_encode(const std::string& s, bool keep_slash) {
    if (keep_slash) return percent_encode(s, [](unsigned char c) { return is_unreserved(c) || c == '/'; });
    return percent_encode(s, is_unreserved);
}

std::string sha256_hex(const uint8_t* data, size_t size) {
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, size);
    return hex_lower(digest, sizeof digest);
}

// What an HTTP status means, so that no message ends in a bare number
// (a HEAD answer has no body to explain it).
std::string status_meaning(long status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized; check the credentials";
    case 403:
        return "Forbidden; check the credentials and the bucket's permissions";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status >= 500 ? "a server error" : status >= 400 ? "a client error" : "an unexpected answer";
    }
}

// "HTTP 403 AccessDenied: Access Denied", or without S3's error document (a
// HEAD answer, a proxy's HTML page, a cut-off answer) the status's meaning:
// "HTTP 403 Forbidden; check the credentials ...".
std::string http_problem(long status, const std::string& body) {
    S3ErrorBody error;
    try {
        error = parse_error(body);
    } catch (const Error&) {
        // the status alone says what happened
    }
    if (error.code.empty()) return "HTTP " + std::to_string(status) + " " + status_meaning(status);
    return "HTTP " + std::to_string(status) + " " + error.code +
           (error.message.empty() ? "" : ": " + error.message);
}

// The result of parse(); a refused answer's message is redacted like every other.
template <typename Parse> auto read_answer(const S3Client& client, Parse parse) -> decltype(parse()) {
    try {
        return parse();
    } catch (const Error& e) {
        throw Error(client.redact(e.what()), e.kind());
    }
}

bool transient_curl_error(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

bool transient_status(long status) {
    return status == 408 || status == 429 || status >= 500;
}

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

} // namespace

// ---------------------------------------------------------------- credentials

S3Credentials resolve_credentials(const S3Options& options) {
    if (options.credentials) {
        if (options.credentials->access_key_id.empty() || options.credentials->secret_access_key.empty())
            throw Error("S3 credentials need an access key id and a secret key", ErrorKind::config);
        return *options.credentials;
    }
    if (!options.credentials_file.empty()) {
        std::string text;
        try {
            text = read_regular_file(options.credentials_file, kMaxCredentialsBytes);
        } catch (const Error& e) {
            throw Error("cannot read the credentials file: " + std::string(e.what()), ErrorKind::config);
        }
        std::istringstream in(text);
        S3Credentials c;
        bool in_profile = false;
        bool found = false;
        std::string line;
        while (std::getline(in, line)) {
            line = trim(line);
            if (line.empty() || line[0] == '#' || line[0] == ';') continue;
            if (line.front() == '[' && line.back() == ']') {
                in_profile = trim(line.substr(1, line.size() - 2)) == options.profile;
                found = found || in_profile;
                continue;
            }
            if (!in_profile) continue;
            size_t eq = line.find('=');
            if (eq == std::string::npos) continue;
            std::string name = lower(trim(line.substr(0, eq)));
            std::string value = trim(line.substr(eq + 1));
            if (name == "aws_access_key_id")
                c.access_key_id = value;
            else if (name == "aws_secret_access_key")
                c.secret_access_key = value;
            else if (name == "aws_session_token")
                c.session_token = value;
        }
        if (!found)
            throw Error("credentials file '" + options.credentials_file + "' has no [" + options.profile +
                            "] profile",
                        ErrorKind::config);
        if (c.access_key_id.empty() || c.secret_access_key.empty())
            throw Error("profile [" + options.profile + "] in '" + options.credentials_file +
                            "' needs aws_access_key_id and aws_secret_access_key",
                        ErrorKind::config);
        return c;
    }
    S3Credentials c{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
    if (c.access_key_id.empty() || c.secret_access_key.empty())
        throw Error("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or "
                    "give a credentials file",
                    ErrorKind::config);
    return c;
}

// ---------------------------------------------------------------- transport

struct S3Client::Curl {
    CURL* handle = nullptr;
    ~Curl() {
        if (handle) curl_easy_cleanup(handle);
    }
};

struct S3Client::Request {
    std::string method; // GET HEAD PUT POST DELETE
    std::string key;    // full object key, "" for the bucket
    std::string query;  // canonical query string, without '?'
    const uint8_t* body = nullptr;
    size_t body_size = 0;
    std::string content_type;
    std::vector<std::string> headers;
    const Sink* sink = nullptr; // receives a successful response body
    std::string operation;      // "put_object", "upload_part 3", ...
    size_t max_body = 0;        // > 0: keep at most this much of a successful body, then stop
};

struct S3Client::Response {
    long status = 0;
    std::string body;                           // error bodies, or whole body when no sink
    std::map<std::string, std::string> headers; // lower-case names
};

struct S3Client::Transfer {
    explicit Transfer(const Request& request)
        : sink(request.sink), max_body(request.max_body),
          payload_hash(sha256_hex(request.body ? request.body : reinterpret_cast<const uint8_t*>(""),
                                  request.body_size)) {}

    // Clears what one attempt learns; a download resumes after what the sink has.
    void begin_attempt() {
        status = 0;
        headers.clear();
        body.clear();
        body_full = false;
        skip = 0;
        resume_from = sink ? delivered : 0;
        resuming = sink && delivered > 0;
        error_buffer[0] = '\0';
    }

    // The ETag of the first answer to a download, so that a resumed one can
    // insist on the same object (If-Match).
    void remember_etag() {
        if (!sink || !etag.empty()) return;
        auto it = headers.find("etag");
        if (it != headers.end()) etag = it->second;
    }

    const Sink* sink = nullptr;
    const size_t max_body = 0;
    const std::string payload_hash; // x-amz-content-sha256 of the request body
    std::string etag;
    std::string last_problem; // why the last attempt failed, for the next message
    uint64_t delivered = 0;   // bytes given to the sink (across attempts)

    // Per attempt:
    std::unique_ptr<curl_slist, SlistDeleter> header_list;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    bool resuming = false;    // a Range request after a broken download
    uint64_t resume_from = 0; // Range start of this attempt
    uint64_t skip = 0;        // bytes to drop (server ignored our Range)
    CURLcode result = CURLE_OK;
    long status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;
    bool body_full = false; // max_body reached: the transfer was stopped on purpose
    std::exception_ptr sink_error;
};

size_t S3Client::on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * count);
    if (line.compare(0, 5, "HTTP/") == 0) {
        size_t sp = line.find(' ');
        t->status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
        // A 200 to a Range request repeats the start: drop what we already have.
        t->skip = t->status == 200 ? t->resume_from : 0;
        t->headers.clear();
    } else {
        size_t colon = line.find(':');
        if (colon != std::string::npos)
            t->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
    return size * count;
}

size_t S3Client::on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * count;
    bool success = t->status >= 200 && t->status < 300;
    if (!success || !t->sink) {
        // An error answer is only quoted; a successful one is a whole XML
        // document (a listing page of 1000 keys is 250 KiB to 1.5 MiB). One
        // byte over s3_xml's limit is kept, so that a larger answer is refused
        // as too large rather than read cut off.
        const size_t limit = !success ? kMaxErrorBody : t->max_body ? t->max_body : kMaxXmlBytes + 1;
        if (t->body.size() < limit) t->body.append(data, std::min(n, limit - t->body.size()));
        if (success && t->max_body && t->body.size() >= t->max_body) {
            t->body_full = true; // a server that ignored the Range: read no further
            return 0;
        }
        return n;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(data);
    size_t len = n;
    if (t->skip > 0) {
        size_t drop = static_cast<size_t>(std::min<uint64_t>(t->skip, len));
        t->skip -= drop;
        p += drop;
        len -= drop;
    }
    if (len == 0) return n;
    try {
        (*t->sink)(p, len);
        t->delivered += len;
    } catch (...) {
        t->sink_error = std::current_exception();
        return 0; // makes curl stop with CURLE_WRITE_ERROR
    }
    return n;
}

S3Client::S3Client(S3Options options) : options_(std::move(options)), curl_(std::make_unique<Curl>()) {
    ensure_curl();
    if (options_.bucket.empty()) throw Error("S3 bucket name is empty", ErrorKind::config);
    for (char c : options_.bucket)
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
              c == '.' || c == '-'))
            throw Error("invalid S3 bucket name '" + options_.bucket + "'", ErrorKind::config);
    if (options_.region.empty()) options_.region = env("AWS_REGION");
    if (options_.region.empty()) options_.region = env("AWS_DEFAULT_REGION");
    if (options_.region.empty()) options_.region = "us-east-1";
    for (char c : options_.region)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
            throw Error("invalid S3 region '" + options_.region + "'", ErrorKind::config);
    if (options_.part_size < kMinPartSize || options_.part_size > kMaxPartSize)
        throw Error("S3 part size must be between 5 MiB and 512 MiB", ErrorKind::config);
    if (options_.retry.max_attempts < 1) options_.retry.max_attempts = 1;
    credentials_ = resolve_credentials(options_);
    if (!options_.endpoint.empty()) {
        endpoint_ = options_.endpoint;
        while (!endpoint_.empty() && endpoint_.back() == '/')
            endpoint_.pop_back();
        if (endpoint_.compare(0, 7, "http://") != 0 && endpoint_.compare(0, 8, "https://") != 0)
            throw Error("S3 endpoint '" + endpoint_ + "' must start with http:// or https://",
                        ErrorKind::config);
        path_style_ = true;
    } else if (options_.bucket.find('.') != std::string::npos) {
        // Dotted bucket names do not match the *.s3 wildcard certificate.
        endpoint_ = "https://s3." + options_.region + ".amazonaws.com";
        path_style_ = true;
    } else {
        endpoint_ = "https://" + options_.bucket + ".s3." + options_.region + ".amazonaws.com";
        path_style_ = false;
    }
    curl_->handle = curl_easy_init();
    if (!curl_->handle) throw Error("cannot create a curl handle", ErrorKind::config);
}

S3Client::~S3Client() {
    if (!credentials_.secret_access_key.empty())
        sodium_memzero(&credentials_.secret_access_key[0], credentials_.secret_access_key.size());
}

std::string S3Client::describe() const {
    return "s3://" + options_.bucket;
}

std::string S3Client::redact(std::string text) const {
    // Also the percent-encoded forms, in case a server echoes a URL.
    for (const std::string* raw : {&credentials_.secret_access_key, &credentials_.session_token}) {
        if (raw->empty()) continue;
        for (const std::string& secret : {*raw, uri_encode(*raw, false), uri_encode(*raw, true)}) {
            size_t at = 0;
            while ((at = text.find(secret, at)) != std::string::npos) {
                text.replace(at, secret.size(), "[redacted]");
                at += 10;
            }
        }
    }
    return text;
}

void S3Client::fail(ErrorKind kind, const std::string& message) const {
    throw Error(redact(message), kind);
}

std::string S3Client::url_for(const std::string& key, const std::string& query) const {
    std::string path = path_style_ ? "/" + options_.bucket : "";
    if (!key.empty() || !path_style_) path += "/" + uri_encode(key, true);
    return endpoint_ + path + (query.empty() ? "" : "?" + query);
}

S3Client::Response S3Client::perform(Request& request) {
    const RetryPolicy& policy = options_.retry;
    const std::string what =
        "s3 " + request.operation + " 's3://" + options_.bucket + "/" + request.key + "'";
    Transfer transfer(request);
    for (int attempt = 1; attempt <= policy.max_attempts; ++attempt) {
        if (attempt > 1) wait_before_retry(what, transfer.last_problem, attempt);
        if (policy.inject_failure && policy.inject_failure(request.operation, attempt)) {
            transfer.last_problem = "HTTP 503 (injected failure)";
            continue;
        }
        transfer.begin_attempt();
        build_headers(request, transfer);
        configure_handle(request, transfer);
        transfer.result = curl_easy_perform(curl_->handle);
        if (transfer.sink_error) std::rethrow_exception(transfer.sink_error);
        if (transfer.result == CURLE_WRITE_ERROR && transfer.body_full) transfer.result = CURLE_OK;
        if (classify_answer(transfer, what) == Verdict::retry) continue;
        Response response;
        response.status = transfer.status;
        response.body = std::move(transfer.body);
        response.headers = std::move(transfer.headers);
        return response;
    }
    fail(ErrorKind::network, what + ": " + transfer.last_problem + " (gave up after " +
                                 std::to_string(policy.max_attempts) + " attempts)");
}

// Exponential back-off with jitter; the notice is logged (redacted) first.
void S3Client::wait_before_retry(const std::string& what, const std::string& problem, int attempt) const {
    const RetryPolicy& policy = options_.retry;
    long long base = policy.base_delay.count() << std::min(attempt - 2, 20);
    long long capped = std::min<long long>(base, policy.max_delay.count());
    // Full jitter in [capped/2, capped]: spreads out clients that failed together.
    long long delay =
        capped / 2 + (capped > 1 ? randombytes_uniform(static_cast<uint32_t>(capped / 2 + 1)) : 0);
    if (options_.log)
        options_.log(redact(what + ": " + problem + "; retrying in " + std::to_string(delay) +
                            " ms (attempt " + std::to_string(attempt) + " of " +
                            std::to_string(policy.max_attempts) + ")"));
    if (policy.sleep)
        policy.sleep(std::chrono::milliseconds(delay));
    else
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
}

void S3Client::build_headers(const Request& request, Transfer& transfer) const {
    std::vector<std::string> headers = request.headers;
    headers.push_back("x-amz-content-sha256: " + transfer.payload_hash);
    if (!credentials_.session_token.empty())
        headers.push_back("x-amz-security-token: " + credentials_.session_token);
    // Always name the type of a body: curl would otherwise say it is a form,
    // and some servers (moto) then parse it as one.
    if (request.method == "PUT" || request.method == "POST")
        headers.push_back("Content-Type: " + (request.content_type.empty()
                                                  ? std::string("application/octet-stream")
                                                  : request.content_type));
    // No "Expect:" override here: curl 7.88 would sign the empty header it
    // then does not send. Expect: 100-continue for large parts is harmless.
    if (transfer.resuming) {
        headers.push_back("Range: bytes=" + std::to_string(transfer.delivered) + "-");
        if (!transfer.etag.empty()) headers.push_back("If-Match: " + transfer.etag);
    }
    transfer.header_list.reset();
    for (const std::string& h : headers) {
        // On success the list grows in place; on failure the old list stays owned.
        curl_slist* grown = curl_slist_append(transfer.header_list.get(), h.c_str());
        if (!grown) throw std::bad_alloc();
        if (grown != transfer.header_list.get()) {
            (void)transfer.header_list.release(); // `grown` is the same list, now non-empty
            transfer.header_list.reset(grown);
        }
    }
}

// One easy transfer: signed by curl (SigV4), the body from memory, the
// answer into `transfer` through on_header and on_body.
void S3Client::configure_handle(const Request& request, Transfer& transfer) {
    CURL* curl = curl_->handle;
    const std::string url = url_for(request.key, request.query);
    const std::string sigv4 = "aws:amz:" + options_.region + ":s3";
    curl_easy_reset(curl);
    // curl copies string options, so the locals may go.
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, transfer.error_buffer);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, credentials_.access_key_id.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, transfer.header_list.get());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.low_speed_seconds);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    if (request.method == "GET") {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
        // PUT/POST/DELETE: the body (possibly empty) is in memory.
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        if (request.method != "DELETE") {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body_size));
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                             request.body ? static_cast<const void*>(request.body) : "");
        }
    }
}

// What one attempt's outcome means: an answer for the caller (2xx, and 404,
// 412, 416, which callers interpret), a transient failure to retry, or an
// error thrown here.
S3Client::Verdict S3Client::classify_answer(Transfer& transfer, const std::string& what) const {
    if (transfer.result != CURLE_OK) {
        transfer.last_problem =
            std::string(curl_easy_strerror(transfer.result)) +
            (transfer.error_buffer[0] ? std::string(" (") + transfer.error_buffer + ")" : "");
        if (!transient_curl_error(transfer.result))
            fail(ErrorKind::network, what + ": " + transfer.last_problem);
        transfer.remember_etag();
        return Verdict::retry;
    }
    const long status = transfer.status;
    if (status >= 200 && status < 300) {
        transfer.remember_etag();
        return Verdict::answered;
    }
    transfer.last_problem = http_problem(status, transfer.body);
    if (transient_status(status)) return Verdict::retry;
    if (status == 404 || status == 412 || status == 416) {
        if (transfer.resuming && status != 404)
            fail(ErrorKind::remote, what + ": the object changed while it was being downloaded");
        return Verdict::answered; // callers decide what a missing object means
    }
    fail(ErrorKind::remote, what + ": " + transfer.last_problem);
}

// ---------------------------------------------------------------- operations

void S3Client::put_object(const std::string& key, const uint8_t* data, size_t size) {
    Request r{"PUT", key, "", data, size, "application/octet-stream", {}, nullptr, "put_object"};
    Response response = perform(r);
    if (response.status == 404)
        fail(ErrorKind::not_found, "s3 put_object: bucket '" + options_.bucket + "' does not exist");
}

void S3Client::get_object(const std::string& key, const Sink& sink) {
    Request r{"GET", key, "", nullptr, 0, "", {}, &sink, "get_object"};
    Response response = perform(r);
    if (response.status == 404)
        fail(ErrorKind::not_found, "no object 's3://" + options_.bucket + "/" + key + "'");
}

std::vector<uint8_t> S3Client::get_object_head(const std::string& key, size_t max_bytes) {
    if (max_bytes == 0) return {};
    Request r{"GET", key, "", nullptr, 0, "", {}, nullptr, "get_object (first bytes)"};
    r.headers.push_back("Range: bytes=0-" + std::to_string(max_bytes - 1));
    r.max_body = max_bytes;
    Response response = perform(r);
    if (response.status == 404)
        fail(ErrorKind::not_found, "no object 's3://" + options_.bucket + "/" + key + "'");
    if (response.status == 416) return {}; // an empty object has no byte 0
    if (response.body.size() > max_bytes) response.body.resize(max_bytes);
    return std::vector<uint8_t>(response.body.begin(), response.body.end());
}

std::optional<uint64_t> S3Client::head_object(const std::string& key) {
    Request r{"HEAD", key, "", nullptr, 0, "", {}, nullptr, "head_object"};
    Response response = perform(r);
    if (response.status == 404) return std::nullopt;
    auto it = response.headers.find("content-length");
    if (it == response.headers.end())
        fail(ErrorKind::remote, "s3 head_object: no Content-Length in the answer");
    // Digits only, and no more than 19 of them: a hostile or broken peer's
    // "-1", "12abc" or 30 digits is an error, never a wrapped size.
    const std::string& text = it->second;
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
        fail(ErrorKind::remote, "s3 head_object: Content-Length '" + text.substr(0, 40) + "' is not a size");
    return std::stoull(text);
}

void S3Client::delete_object(const std::string& key) {
    Request r{"DELETE", key, "", nullptr, 0, "", {}, nullptr, "delete_object"};
    perform(r); // 404 (no bucket/key) and 204 both leave no object behind
}

std::vector<ObjectInfo> S3Client::list_objects(const std::string& prefix, int max_keys) {
    std::vector<ObjectInfo> objects;
    std::string token;
    for (int page = 1;; ++page) {
        // Parameters in SigV4 canonical (sorted) order.
        std::string query;
        if (!token.empty()) query += "continuation-token=" + uri_encode(token, false) + "&";
        query += "list-type=2&max-keys=" + std::to_string(max_keys) + "&prefix=" + uri_encode(prefix, false);
        Request r{"GET", "", query, nullptr, 0, "", {}, nullptr, "list_objects page " + std::to_string(page)};
        Response response = perform(r);
        if (response.status == 404)
            fail(ErrorKind::not_found, "s3 list_objects: bucket '" + options_.bucket + "' does not exist");
        ListPage listing = read_answer(*this, [&] { return parse_list_objects(response.body); });
        objects.insert(objects.end(), std::make_move_iterator(listing.objects.begin()),
                       std::make_move_iterator(listing.objects.end()));
        if (!listing.truncated) break;
        token = listing.next_token; // never empty when truncated
    }
    std::sort(objects.begin(), objects.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
    return objects;
}

std::string S3Client::create_multipart_upload(const std::string& key) {
    Request r{"POST",  key,     "uploads=",
              nullptr, 0,       "application/octet-stream",
              {},      nullptr, "create_multipart_upload"};
    Response response = perform(r);
    if (response.status == 404)
        fail(ErrorKind::not_found,
             "s3 create_multipart_upload: bucket '" + options_.bucket + "' does not exist");
    return read_answer(*this, [&] { return parse_upload_id(response.body); });
}

std::string S3Client::upload_part(const std::string& key, const std::string& upload_id, int part_number,
                                  const uint8_t* data, size_t size) {
    std::string query =
        "partNumber=" + std::to_string(part_number) + "&uploadId=" + uri_encode(upload_id, false);
    Request r{"PUT", key, query, data, size, "", {}, nullptr, "upload_part " + std::to_string(part_number)};
    Response response = perform(r);
    if (response.status == 404)
        fail(ErrorKind::not_found, "s3 upload_part: the multipart upload no longer exists");
    auto it = response.headers.find("etag");
    if (it == response.headers.end() || it->second.empty())
        fail(ErrorKind::remote, "s3 upload_part: no ETag in the answer");
    return it->second;
}

void S3Client::complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                         const std::vector<std::string>& etags, uint64_t total_size) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags.size(); ++i)
        xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
               "</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    Request r{"POST",
              key,
              "uploadId=" + uri_encode(upload_id, false),
              reinterpret_cast<const uint8_t*>(xml.data()),
              xml.size(),
              "application/xml",
              {},
              nullptr,
              "complete_multipart_upload"};
    Response response = perform(r);
    if (response.status == 404) {
        // A retried complete whose first answer was lost finds no upload: the
        // object is there if the first one succeeded.
        auto size = head_object(key);
        if (size && *size == total_size) return;
        fail(ErrorKind::remote, "s3 complete_multipart_upload: the upload no longer exists");
    }
    // S3 may answer 200 and still report an error in the body.
    const auto error = read_answer(*this, [&] { return parse_complete_multipart_upload(response.body); });
    if (error)
        fail(ErrorKind::remote, "s3 complete_multipart_upload 's3://" + options_.bucket + "/" + key + "': " +
                                    error->code + (error->message.empty() ? "" : ": " + error->message));
}

void S3Client::abort_multipart_upload(const std::string& key, const std::string& upload_id) {
    Request r{"DELETE", key,     "uploadId=" + uri_encode(upload_id, false),
              nullptr,  0,       "",
              {},       nullptr, "abort_multipart_upload"};
    perform(r);
}

// ---------------------------------------------------------------- uploads

S3Client::Upload::Upload(S3Client& client, std::string key) : client_(client), key_(std::move(key)) {
    buffer_.reserve(client_.options_.part_size);
}

S3Client::Upload::~Upload() {
    if (!finished_) abort_quietly();
}

void S3Client::Upload::abort_quietly() {
    finished_ = true;
    if (upload_id_.empty()) return;
    try {
        client_.abort_multipart_upload(key_, upload_id_);
    } catch (...) {
        // Best effort: a bucket lifecycle rule should expire stale uploads.
    }
}

void S3Client::Upload::send_part() {
    if (static_cast<int>(etags_.size()) >= kMaxParts)
        client_.fail(ErrorKind::config, "s3 upload: more than 10000 parts; raise the part size");
    if (upload_id_.empty()) upload_id_ = client_.create_multipart_upload(key_);
    etags_.push_back(client_.upload_part(key_, upload_id_, static_cast<int>(etags_.size()) + 1,
                                         buffer_.data(), buffer_.size()));
    buffer_.clear();
}

void S3Client::Upload::write(const uint8_t* data, size_t size) {
    if (finished_) client_.fail(ErrorKind::config, "s3 upload: write after commit or failure");
    try {
        size_t part = client_.options_.part_size;
        while (size > 0) {
            size_t take = std::min(size, part - buffer_.size());
            buffer_.insert(buffer_.end(), data, data + take);
            data += take;
            size -= take;
            total_ += take;
            if (buffer_.size() == part) send_part();
        }
    } catch (...) {
        abort_quietly();
        throw;
    }
}

void S3Client::Upload::commit() {
    if (finished_) client_.fail(ErrorKind::config, "s3 upload: commit after commit or failure");
    try {
        if (upload_id_.empty()) {
            client_.put_object(key_, buffer_.data(), buffer_.size());
        } else {
            if (!buffer_.empty()) send_part();
            client_.complete_multipart_upload(key_, upload_id_, etags_, total_);
        }
    } catch (...) {
        abort_quietly();
        throw;
    }
    finished_ = true;
    std::vector<uint8_t>().swap(buffer_);
}

std::unique_ptr<S3Client::Upload> S3Client::start_upload(const std::string& key) {
    return std::unique_ptr<Upload>(new Upload(*this, key));
}

// ---------------------------------------------------------------- target

namespace {
std::string normalise_prefix(std::string prefix) {
    while (!prefix.empty() && prefix.front() == '/')
        prefix.erase(0, 1);
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    return prefix;
}
} // namespace

S3Target::S3Target(S3Options options)
    : prefix_(normalise_prefix(options.prefix)), client_(std::move(options)) {}

std::string S3Target::key_of(const std::string& name) const {
    validate_object_name(name);
    return prefix_ + name;
}

void S3Target::put_stream(const std::string& name, const WriteFn& write) {
    auto upload = client_.start_upload(key_of(name));
    write([&upload](const uint8_t* p, size_t n) { upload->write(p, n); });
    upload->commit();
}

void S3Target::get_stream(const std::string& name, const Sink& sink) {
    client_.get_object(key_of(name), sink);
}

std::vector<ObjectInfo> S3Target::list(const std::string& name_prefix) {
    std::vector<ObjectInfo> objects;
    for (ObjectInfo& info : client_.list_objects(prefix_ + name_prefix)) {
        std::string name = info.name.substr(prefix_.size());
        if (name.empty() || name.find('/') != std::string::npos) continue; // "sub-folders"
        info.name = name;
        objects.push_back(std::move(info));
    }
    return objects;
}

void S3Target::remove(const std::string& name) {
    client_.delete_object(key_of(name));
}

std::vector<uint8_t> S3Target::read_head(const std::string& name, size_t max_bytes) {
    return client_.get_object_head(key_of(name), max_bytes);
}

std::optional<uint64_t> S3Target::size(const std::string& name) {
    return client_.head_object(key_of(name));
}

std::string S3Target::describe() const {
    return client_.describe() + "/" + prefix_;
}

} // namespace wb::offsite
