// S3's XML answers (ext/offsite/s3_xml.cpp): real answers from moto 5 and in
// the shape AWS documents, then hostile ones. Every refusal must be an
// Error of kind remote that says what is wrong, never a crash or a guess.
#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"
#include "offsite/s3_xml.hpp"

using namespace wb;
using namespace wb::offsite;

namespace {

const std::string kDecl = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
const std::string kNs = " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

// Captured from moto 5.2 (ListObjectsV2, max-keys=2, then the next page).
const std::string kMotoPage1 =
    kDecl + "<ListBucketResult" + kNs +
    "><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b</Key><LastModified>2026-12-01T14:14:45.000Z"
    "</LastModified><ETag>\"5d41402abc4b2a76b9719d911017c592\"</ETag><Size>5</Size><StorageClass>STANDARD"
    "</StorageClass></Contents><Contents><Key>b&lt;c&gt;</Key><LastModified>2026-12-01T14:14:45.000Z"
    "</LastModified><ETag>\"5d41402abc4b2a76b9719d911017c592\"</ETag><Size>5</Size><StorageClass>STANDARD"
    "</StorageClass></Contents><Name>sample</Name><Prefix/><MaxKeys>2</MaxKeys><KeyCount>2</KeyCount>"
    "<NextContinuationToken>45d93dda4566445d4f13a51606523bc9</NextContinuationToken></ListBucketResult>";
const std::string kMotoPage2 =
    kDecl + "<ListBucketResult" + kNs +
    "><IsTruncated>false</IsTruncated><Contents><Key>dir/x.wcbk</Key><LastModified>2026-12-01T14:14:45.000Z"
    "</LastModified><ETag>\"5d41402abc4b2a76b9719d911017c592\"</ETag><Size>5</Size><StorageClass>STANDARD"
    "</StorageClass></Contents><Name>sample</Name><Prefix/><MaxKeys>2</MaxKeys><KeyCount>1</KeyCount>"
    "</ListBucketResult>";

// The layout AWS documents: pretty-printed, Owner with its own fields, the
// continuation fields after the contents.
const std::string kAwsPage =
    kDecl + "<ListBucketResult" + kNs +
    ">\n"
    "  <Name>clinic-backups</Name>\n"
    "  <Prefix>wecare/</Prefix>\n"
    "  <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>\n"
    "  <KeyCount>2</KeyCount>\n"
    "  <MaxKeys>2</MaxKeys>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <Contents>\n"
    "    <Key>wecare/app_backup_2026-11-26_02-15-00.db.wcbk</Key>\n"
    "    <LastModified>2026-11-26T02:15:07.000Z</LastModified>\n"
    "    <ETag>&quot;599bab3ed2c697f1d26842727561fd94-3&quot;</ETag>\n"
    "    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\n"
    "    <Size>21495808</Size>\n"
    "    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
    "<DisplayName>clinic</DisplayName></Owner>\n"
    "    <StorageClass>STANDARD</StorageClass>\n"
    "  </Contents>\n"
    "  <Contents>\n"
    "    <Key>wecare/app_backup_2026-11-27_02-15-00.db.wcbk</Key>\n"
    "    <LastModified>2026-11-27T02:15:05.000Z</LastModified>\n"
    "    <Size>21500000</Size>\n"
    "  </Contents>\n"
    "  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
    "  <StartAfter>wecare/</StartAfter>\n"
    "</ListBucketResult>\n";

const std::string kMotoInitiate = kDecl + "<InitiateMultipartUploadResult" + kNs +
                                  "><Bucket>sample</Bucket><Key>big</"
                                  "Key><UploadId>4XPT9t3cvO30AyMsskuBw2xc9dqweFAhzxKqqOFegRGnKLyO6ulb0LVyw"
                                  "</UploadId></InitiateMultipartUploadResult>";

const std::string kMotoNoSuchKey =
    kDecl +
    "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>missing</Key>"
    "<RequestId>pKkdEkeiIbConyneRV5FnCurRIqr9uVjj5O02h3gs2ujrNhXDEtL</RequestId><HostId>9Gjjt1m+cjU4OPvX9O9/"
    "8RuvnG41MRb/18Oux2o5H5MY7ISNTlXN+Dz9IG62/ILVxhAGI0qyPfg=</HostId></Error>";

const std::string kMotoCompleted =
    kDecl + "<CompleteMultipartUploadResponse" + kNs +
    "><Location>http://sample.s3.amazonaws.com/big2</Location><Bucket>sample</Bucket><Key>big2</Key><ETag>"
    "\"0847caa7de0c25bb912adf12463d2100-1\"</ETag></CompleteMultipartUploadResponse>";

// AWS may answer 200, keep the connection alive with spaces, then report an
// error in the body.
const std::string kAwsCompleteFailed =
    kDecl + "\n     \n     \n" +
    "<Error><Code>InternalError</Code><Message>We encountered an internal "
    "error. Please try again.</Message><RequestId>656c76696e6727732072657175"
    "</RequestId></Error>";

std::string list_of(const std::string& contents, const std::string& tail = "") {
    return "<ListBucketResult" + kNs + "><IsTruncated>false</IsTruncated>" + contents + tail +
           "</ListBucketResult>";
}

std::string contents(const std::string& key, const std::string& size = "5") {
    return "<Contents><Key>" + key + "</Key><LastModified>2026-12-01T14:14:45.000Z</LastModified><Size>" +
           size + "</Size></Contents>";
}

// The message of the remote Error `f` throws ("" if it throws none).
template <typename F> std::string remote_error(F f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::remote) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

std::string list_error(const std::string& xml) {
    return remote_error([&] { parse_list_objects(xml); });
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

} // namespace

// ---------------------------------------------------------------- real answers

TEST(S3Xml, moto_listing_with_a_continuation_token_and_entities_in_keys) {
    const ListPage page = parse_list_objects(kMotoPage1);
    ASSERT_EQ(page.objects.size(), 2u);
    EXPECT_EQ(page.objects[0].name, "a&b");
    EXPECT_EQ(page.objects[0].size, 5u);
    EXPECT_EQ(page.objects[0].last_modified, "2026-12-01T14:14:45Z");
    EXPECT_EQ(page.objects[1].name, "b<c>");
    EXPECT_TRUE(page.truncated);
    EXPECT_EQ(page.next_token, "45d93dda4566445d4f13a51606523bc9");
}

TEST(S3Xml, moto_last_page_has_no_token) {
    const ListPage page = parse_list_objects(kMotoPage2);
    ASSERT_EQ(page.objects.size(), 1u);
    EXPECT_EQ(page.objects[0].name, "dir/x.wcbk");
    EXPECT_FALSE(page.truncated);
    EXPECT_EQ(page.next_token, "");
}

TEST(S3Xml, aws_listing_ignores_owner_checksum_and_the_request_token) {
    const ListPage page = parse_list_objects(kAwsPage);
    ASSERT_EQ(page.objects.size(), 2u);
    EXPECT_EQ(page.objects[0].name, "wecare/app_backup_2026-11-26_02-15-00.db.wcbk");
    EXPECT_EQ(page.objects[0].size, 21495808u);
    EXPECT_EQ(page.objects[0].last_modified, "2026-11-26T02:15:07Z");
    EXPECT_EQ(page.objects[1].size, 21500000u);
    EXPECT_TRUE(page.truncated);
    EXPECT_EQ(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Xml, empty_listing_and_namespace_prefixes) {
    EXPECT_TRUE(parse_list_objects(list_of("")).objects.empty());
    // Without a namespace, or with one bound to a prefix: the local names count.
    const ListPage bare = parse_list_objects("<ListBucketResult><IsTruncated>false</IsTruncated>" +
                                             contents("k") + "</ListBucketResult>");
    ASSERT_EQ(bare.objects.size(), 1u);
    const ListPage prefixed = parse_list_objects(
        "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<s3:IsTruncated>false</s3:IsTruncated><s3:Contents><s3:Key>k2</s3:Key>"
        "<s3:LastModified>2026-12-01T14:14:45Z</s3:LastModified><s3:Size>7</s3:Size></s3:Contents>"
        "</s3:ListBucketResult>");
    ASSERT_EQ(prefixed.objects.size(), 1u);
    EXPECT_EQ(prefixed.objects[0].name, "k2");
    EXPECT_EQ(prefixed.objects[0].size, 7u);
    // A prefix that was never declared is not XML.
    EXPECT_HAS(list_error("<s3:ListBucketResult/>"), "not well-formed");
}

TEST(S3Xml, keys_keep_their_spaces_and_decode_every_reference) {
    const ListPage page = parse_list_objects(
        list_of(contents(" a b ") + contents("x&#38;y&#x263A;&apos;&quot;") + contents("<![CDATA[c<d]]>")));
    ASSERT_EQ(page.objects.size(), 3u);
    EXPECT_EQ(page.objects[0].name, " a b ");
    EXPECT_EQ(page.objects[1].name, "x&y\xE2\x98\xBA'\"");
    EXPECT_EQ(page.objects[2].name, "c<d");
}

TEST(S3Xml, initiate_multipart_upload_gives_the_upload_id) {
    EXPECT_EQ(parse_upload_id(kMotoInitiate), "4XPT9t3cvO30AyMsskuBw2xc9dqweFAhzxKqqOFegRGnKLyO6ulb0LVyw");
    EXPECT_HAS(remote_error([] {
                   parse_upload_id("<InitiateMultipartUploadResult" + kNs +
                                   "><Bucket>b</Bucket></InitiateMultipartUploadResult>");
               }),
               "s3 create_multipart_upload: no UploadId");
    EXPECT_HAS(remote_error([] {
                   parse_upload_id("<InitiateMultipartUploadResult><UploadId/>"
                                   "</InitiateMultipartUploadResult>");
               }),
               "no UploadId");
}

TEST(S3Xml, error_bodies_give_code_and_message) {
    const S3ErrorBody e = parse_error(kMotoNoSuchKey);
    EXPECT_EQ(e.code, "NoSuchKey");
    EXPECT_EQ(e.message, "The specified key does not exist.");
    // A HEAD answer has no body.
    EXPECT_EQ(parse_error("").code, "");
    EXPECT_EQ(parse_error(" \r\n").message, "");
    const S3ErrorBody only_code = parse_error("<Error><Code>SlowDown</Code></Error>");
    EXPECT_EQ(only_code.code, "SlowDown");
    EXPECT_EQ(only_code.message, "");
    // A proxy's HTML page is not S3's error document.
    EXPECT_HAS(remote_error([] { parse_error("<html><body>Bad Gateway</body></html>"); }),
               "s3 error answer: the answer is <html>, expected <Error>");
}

TEST(S3Xml, complete_multipart_upload_result_or_an_error_inside_a_200) {
    EXPECT_EQ(parse_complete_multipart_upload(kMotoCompleted), std::nullopt);
    EXPECT_EQ(parse_complete_multipart_upload("<CompleteMultipartUploadResult" + kNs +
                                              "><Location>https://b.s3.amazonaws.com/k</Location>"
                                              "</CompleteMultipartUploadResult>"),
              std::nullopt);
    const auto failed = parse_complete_multipart_upload(kAwsCompleteFailed);
    ASSERT_TRUE(failed.has_value());
    EXPECT_EQ(failed->code, "InternalError");
    EXPECT_EQ(failed->message, "We encountered an internal error. Please try again.");
    // The keep-alive spaces may also come before the declaration.
    EXPECT_TRUE(parse_complete_multipart_upload("   \n" + kAwsCompleteFailed).has_value());
    EXPECT_HAS(remote_error([] { parse_complete_multipart_upload(""); }), "empty");
    EXPECT_HAS(
        remote_error([] { parse_complete_multipart_upload("<Other/>"); }),
        "s3 complete_multipart_upload: the answer is <Other>, expected <CompleteMultipartUploadResult>");
}

TEST(S3Xml, an_error_document_where_a_listing_was_expected_reports_it) {
    EXPECT_HAS(list_error(kMotoNoSuchKey),
               "s3 list_objects: S3 answered with an error: NoSuchKey: The specified key does not exist.");
    EXPECT_HAS(remote_error([] { parse_upload_id("<Error><Code>AccessDenied</Code></Error>"); }),
               "S3 answered with an error: AccessDenied");
}

// ---------------------------------------------------------------- hostile answers

TEST(S3Xml, a_key_outside_contents_is_ignored) {
    const ListPage page = parse_list_objects(
        list_of(contents("real"), "<Key>stray</Key><CommonPrefixes><Prefix>p/</Prefix><Key>cp</Key>"
                                  "</CommonPrefixes><Owner><Key>owner</Key></Owner>"));
    ASSERT_EQ(page.objects.size(), 1u);
    EXPECT_EQ(page.objects[0].name, "real");
    // <Key> in another element inside Contents does not count either.
    const ListPage inner = parse_list_objects(
        list_of("<Contents><Owner><Key>owner</Key><Size>1</Size></Owner><Key>k</Key><Size>9</Size>"
                "<LastModified>2026-12-01T14:14:45Z</LastModified></Contents>"));
    ASSERT_EQ(inner.objects.size(), 1u);
    EXPECT_EQ(inner.objects[0].name, "k");
    EXPECT_EQ(inner.objects[0].size, 9u);
}

TEST(S3Xml, nested_lookalikes_are_not_objects) {
    // Contents inside Contents: the outer one has no Key of its own.
    EXPECT_HAS(list_error(list_of("<Contents>" + contents("inner") + "</Contents>")),
               "a <Contents> without a <Key>");
    // A ListBucketResult inside another root is not a listing.
    EXPECT_HAS(list_error("<Wrapper>" + list_of(contents("k")) + "</Wrapper>"),
               "the answer is <Wrapper>, expected <ListBucketResult>");
    // A Key that holds markup instead of text.
    EXPECT_HAS(list_error(list_of(contents("<b>k</b>"))), "<Key> holds elements");
}

TEST(S3Xml, missing_or_repeated_required_elements) {
    EXPECT_HAS(list_error(list_of("<Contents><Key>k</Key><LastModified>2026-12-01T14:14:45Z</LastModified>"
                                  "</Contents>")),
               "object 'k' has no <Size>");
    EXPECT_HAS(list_error(list_of("<Contents><Key>k</Key><Size>1</Size></Contents>")),
               "object 'k' has no <LastModified>");
    EXPECT_HAS(list_error(list_of(contents(""))), "empty <Key>");
    EXPECT_HAS(list_error(list_of("<Contents><Key>a</Key><Key>b</Key><Size>1</Size>"
                                  "<LastModified>2026-12-01T14:14:45Z</LastModified></Contents>")),
               "more than one <Key>");
    EXPECT_HAS(list_error("<ListBucketResult>" + contents("k") + "</ListBucketResult>"), "no <IsTruncated>");
    EXPECT_HAS(list_error("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>"),
               "<IsTruncated> is 'yes'");
    EXPECT_HAS(list_error("<ListBucketResult><IsTruncated>true</IsTruncated>" + contents("k") +
                          "</ListBucketResult>"),
               "truncated listing without a continuation token");
    EXPECT_HAS(list_error("<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken/>"
                          "</ListBucketResult>"),
               "truncated listing without a continuation token");
    EXPECT_HAS(list_error(list_of("<Contents><Key>k</Key><Size>1</Size><LastModified>yesterday"
                                  "</LastModified></Contents>")),
               "not a UTC time");
    EXPECT_HAS(list_error(list_of("<Contents><Key>k</Key><Size>1</Size><LastModified>2026-12-01T14:14:45"
                                  "+02:00</LastModified></Contents>")),
               "not a UTC time");
}

TEST(S3Xml, absurd_sizes_are_refused) {
    for (const char* size : {"-1", "1e9", "0x10", "", "12 34", "99999999999999999999999", "1125899906842625"})
        EXPECT_HAS(list_error(list_of(contents("k", size))), "not a size in bytes") << size;
    // 2^50 is the largest size taken; surrounding spaces are fine.
    EXPECT_EQ(parse_list_objects(list_of(contents("k", " 1125899906842624 "))).objects[0].size,
              uint64_t{1} << 50);
    EXPECT_EQ(parse_list_objects(list_of(contents("k", "0"))).objects[0].size, 0u);
}

TEST(S3Xml, malformed_and_truncated_xml_is_an_error_with_a_position) {
    const std::string cut = kMotoPage1.substr(0, kMotoPage1.size() / 2);
    EXPECT_HAS(list_error(cut), "s3 list_objects: the answer is not well-formed XML (");
    EXPECT_HAS(list_error(cut), "line 2");
    for (size_t n = 0; n < kMotoPage1.size(); n += 7)
        (void)list_error(kMotoPage1.substr(0, n)); // every prefix is refused
    EXPECT_HAS(list_error(list_of(contents("a&b"))), "not well-formed");
    EXPECT_HAS(list_error(list_of(contents("a&nbsp;b"))), "undefined entity");
    EXPECT_HAS(list_error(list_of(contents("k")) + "<junk/>"), "not well-formed");
    EXPECT_HAS(list_error("<ListBucketResult><IsTruncated>false</Is></ListBucketResult>"), "mismatched tag");
    EXPECT_HAS(list_error(std::string("<ListBucketResult>\0</ListBucketResult>", 37)), "not well-formed");
    EXPECT_HAS(list_error(list_of(contents("\xff\xfe"))), "not well-formed"); // not UTF-8
    EXPECT_HAS(list_error(list_of(contents("&#0;"))), "not well-formed");
    EXPECT_HAS(list_error("not xml at all"), "not well-formed");
    EXPECT_HAS(list_error(""), "empty");
}

TEST(S3Xml, doctype_and_entity_expansion_are_refused) {
    const std::string laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
                               "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
                               "<ListBucketResult><IsTruncated>false</IsTruncated>" +
                               contents("&b;") + "</ListBucketResult>";
    EXPECT_HAS(list_error(laughs), "DOCTYPE");
    const std::string external = "<!DOCTYPE l SYSTEM \"file:///etc/passwd\"><ListBucketResult>"
                                 "<IsTruncated>false</IsTruncated></ListBucketResult>";
    EXPECT_HAS(list_error(external), "DOCTYPE");
}

TEST(S3Xml, deep_nesting_and_huge_documents_are_refused) {
    std::string deep;
    for (int i = 0; i < kMaxXmlDepth + 1; ++i)
        deep += "<a>";
    EXPECT_HAS(list_error(deep), "nested deeper than 32 elements");
    // Far deeper than any stack would survive: still a plain error.
    std::string very_deep;
    for (int i = 0; i < 200000; ++i)
        very_deep += "<Contents>";
    EXPECT_HAS(list_error("<ListBucketResult>" + very_deep), "nested deeper");
    // Exactly the limit is fine.
    std::string ok = "<ListBucketResult><IsTruncated>false</IsTruncated>";
    for (int i = 1; i < kMaxXmlDepth; ++i)
        ok += "<x>";
    for (int i = 1; i < kMaxXmlDepth; ++i)
        ok += "</x>";
    EXPECT_TRUE(parse_list_objects(ok + "</ListBucketResult>").objects.empty());

    std::string huge = list_of(contents("k"));
    huge.insert(huge.size() - std::string("</ListBucketResult>").size(), std::string(kMaxXmlBytes, ' '));
    EXPECT_HAS(list_error(huge), "larger than 16 MiB");
}

TEST(S3Xml, a_listing_of_a_thousand_long_keys_is_read_whole) {
    std::string body;
    for (int i = 0; i < 1000; ++i)
        body += contents(std::string(1000, 'k') + std::to_string(i), std::to_string(i));
    const ListPage page = parse_list_objects(list_of(body));
    ASSERT_EQ(page.objects.size(), 1000u);
    EXPECT_EQ(page.objects[999].size, 999u);
}

TEST(S3Xml, messages_quote_hostile_text_shortly_and_as_valid_utf8) {
    const std::string m = list_error(list_of(contents(std::string(5000, 'k'), "x")));
    EXPECT_HAS(m, "...'");
    EXPECT_LT(m.size(), 600u);
    const std::string latin = list_error("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><ListBucketResult>"
                                         "<IsTruncated>false</IsTruncated>" +
                                         contents("caf\xe9", "big") + "</ListBucketResult>");
    EXPECT_HAS(latin, "object 'caf\xc3\xa9' has <Size> 'big'");
}

TEST(S3Xml, error_fields_are_cut_to_a_sane_length) {
    const S3ErrorBody big = parse_error("<Error><Code>" + std::string(5000, 'C') + "</Code><Message>" +
                                        std::string(50000, 'm') + "</Message></Error>");
    EXPECT_EQ(big.code, std::string(200, 'C') + "...");
    EXPECT_EQ(big.message, std::string(1000, 'm') + "...");
    // Cut inside a character: the text stays valid UTF-8.
    EXPECT_EQ(parse_error("<Error><Code>" + std::string(199, 'C') + "\xc3\xa9</Code></Error>").code,
              std::string(199, 'C') + "\\xC3...");
}
