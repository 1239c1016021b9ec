// A minimal S3 client (libcurl + SigV4) and the S3 Target.
//
// Usage
//   S3Options o;
//   o.bucket = "backups";
//   o.endpoint = "http://127.0.0.1:9000";     // empty = AWS (virtual-host URLs)
//   o.region = "eu-west-1";                   // empty = $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1
//   S3Client s3(o);                           // credentials: see resolve_credentials
//   s3.put_object("a/b", data, n);
//   auto up = s3.start_upload("big");         // multipart when > part_size
//   up->write(p, n); ...; up->commit();       // destroyed uncommitted = aborted
//   s3.get_object("big", sink);
//
// How it works
//   Each request is one libcurl easy transfer signed by curl itself
//   (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"). Every body is in memory (a
//   small object, one part of at most part_size bytes, an XML document), so
//   its SHA-256 goes in x-amz-content-sha256 and S3 checks the payload too.
//   Query strings are built already in SigV4 canonical form (sorted keys,
//   RFC 3986 encoding, "uploads=") because curl 7.88 signs them as given.
//   Transient failures (connection errors, timeouts, HTTP 408/429/5xx) are
//   retried with exponential back-off and jitter, up to max_attempts; a
//   download that breaks midway resumes with a Range request pinned to the
//   first response's ETag (If-Match), so the sink never sees a byte twice.
//   Other HTTP errors fail at once with S3's <Code> and <Message>. Every XML
//   answer is read by s3_xml.hpp (libexpat); one it cannot read is an error.
//   Secrets: every message and log line passes through redact(), which
//   removes the secret key and session token, so neither can leak through
//   an error text even if a server echoes them.
//   A client holds one curl handle (connection reuse): use one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "offsite/target.hpp"

namespace wb::offsite {

struct S3Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token; // optional
};

struct RetryPolicy {
    int max_attempts = 5; // total tries per request, >= 1
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{8000};
    // Waits between attempts; default sleeps. Tests replace it.
    std::function<void(std::chrono::milliseconds)> sleep;
    // Test hook: called before each attempt with e.g. "upload_part 2" and the
    // attempt number (1-based); returning true makes that attempt fail like a
    // 503 answer, without sending it.
    std::function<bool(const std::string& operation, int attempt)> inject_failure;
};

struct S3Options {
    std::string bucket;
    std::string prefix;   // key prefix used by S3Target (e.g. "db1/"); not by S3Client
    std::string endpoint; // "" = AWS; "http(s)://host[:port]" = path-style URLs
    std::string region;
    std::optional<S3Credentials> credentials; // explicit, wins over the rest
    std::string credentials_file;             // INI like ~/.aws/credentials
    std::string profile = "default";
    size_t part_size = size_t{8} * 1024 * 1024; // multipart part size, >= 5 MiB
    long connect_timeout_ms = 10000;
    long low_speed_seconds = 60; // abort a transfer slower than 1 byte/s for this long
    RetryPolicy retry;
    std::function<void(const std::string&)> log; // retry notices (redacted)
};

// Explicit credentials, else credentials_file [profile], else the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
S3Credentials resolve_credentials(const S3Options& options);

class S3Client {
  public:
    explicit S3Client(S3Options options);
    ~S3Client();
    S3Client(const S3Client&) = delete;
    S3Client& operator=(const S3Client&) = delete;

    void put_object(const std::string& key, const uint8_t* data, size_t size);
    void get_object(const std::string& key, const Sink& sink);
    // The first bytes of an object (at most max_bytes): one ranged GET.
    std::vector<uint8_t> get_object_head(const std::string& key, size_t max_bytes);
    std::optional<uint64_t> head_object(const std::string& key); // nullopt on 404
    // All objects under `prefix` (follows continuation tokens), sorted by key;
    // ObjectInfo::name is the full key. max_keys sets the page size.
    std::vector<ObjectInfo> list_objects(const std::string& prefix, int max_keys = 1000);
    void delete_object(const std::string& key);

    std::string create_multipart_upload(const std::string& key);
    std::string upload_part(const std::string& key, const std::string& upload_id, int part_number,
                            const uint8_t* data, size_t size); // returns the ETag
    void complete_multipart_upload(const std::string& key, const std::string& upload_id,
                                   const std::vector<std::string>& etags, uint64_t total_size);
    void abort_multipart_upload(const std::string& key, const std::string& upload_id);

    // Push-style upload: one PUT if the data fits in one part, otherwise a
    // multipart upload. Destroying it without commit() aborts the upload.
    class Upload {
      public:
        ~Upload();
        Upload(const Upload&) = delete;
        Upload& operator=(const Upload&) = delete;
        void write(const uint8_t* data, size_t size);
        void commit();

      private:
        friend class S3Client;
        Upload(S3Client& client, std::string key);
        void send_part();
        void abort_quietly();
        S3Client& client_;
        std::string key_;
        std::string upload_id_;
        std::vector<std::string> etags_;
        std::vector<uint8_t> buffer_;
        uint64_t total_ = 0;
        bool finished_ = false;
    };
    std::unique_ptr<Upload> start_upload(const std::string& key);

    // "s3://bucket"; never contains credentials.
    std::string describe() const;
    // Removes the secret key and session token from `text`.
    std::string redact(std::string text) const;

  private:
    struct Request;
    struct Response;
    struct Transfer; // one request's state across its attempts, shared with curl's callbacks
    enum class Verdict { answered, retry };
    // One request, retried as RetryPolicy says; its steps below.
    Response perform(Request& request);
    void wait_before_retry(const std::string& what, const std::string& problem, int attempt) const;
    void build_headers(const Request& request, Transfer& transfer) const;
    void configure_handle(const Request& request, Transfer& transfer);
    Verdict classify_answer(Transfer& transfer, const std::string& what) const;
    static size_t on_header(char* data, size_t size, size_t count, void* transfer);
    static size_t on_body(char* data, size_t size, size_t count, void* transfer);
    std::string url_for(const std::string& key, const std::string& query) const;
    [[noreturn]] void fail(ErrorKind kind, const std::string& message) const;

    S3Options options_;
    S3Credentials credentials_;
    std::string endpoint_; // scheme://host[:port] incl. bucket host for virtual-host
    bool path_style_ = true;
    struct Curl;
    std::unique_ptr<Curl> curl_;
};

// Target over an S3 bucket and key prefix.
class S3Target : public Target {
  public:
    explicit S3Target(S3Options options); // uses options.bucket and options.prefix
    void put_stream(const std::string& name, const WriteFn& write) override;
    void get_stream(const std::string& name, const Sink& sink) override;
    std::vector<uint8_t> read_head(const std::string& name, size_t max_bytes) override;
    std::vector<ObjectInfo> list(const std::string& name_prefix) override;
    void remove(const std::string& name) override;
    std::optional<uint64_t> size(const std::string& name) override;
    std::string describe() const override;

  private:
    std::string key_of(const std::string& name) const;
    std::string prefix_;
    S3Client client_;
};

} // namespace wb::offsite
