#include "s3/s3_xml.h"

#include <gtest/gtest.h>

namespace ferry::s3 {
namespace {

// The shape of AWS's documented ListObjectsV2 response, with entities and a truncated page.
constexpr const char* kPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix>in/</Prefix>
    <KeyCount>2</KeyCount>
    <MaxKeys>2</MaxKeys>
    <IsTruncated>true</IsTruncated>
    <Contents>
        <Key>in/a &amp; b.csv</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents><Key>in/&lt;caf&#xE9;&#233;&gt;&apos;.csv</Key><LastModified>2009-10-12T17:50:31.000Z</LastModified><ETag>"3d5a-2"</ETag><Size>0</Size></Contents>
    <!-- a comment -->
    <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";

TEST(S3ListObjectsV2, ParsesKeysEtagsSizesAndTheToken) {
  auto page = parse_list_objects_v2(kPage);
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "in/a & b.csv");
  EXPECT_EQ(page->objects[0].etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(page->objects[0].size, 434234);
  EXPECT_EQ(page->objects[0].last_modified, "2009-10-12T17:50:30.000Z");
  EXPECT_EQ(page->objects[1].key, "in/<caf\xC3\xA9\xC3\xA9>'.csv");
  EXPECT_EQ(page->objects[1].etag, "3d5a-2");
  EXPECT_EQ(page->objects[1].size, 0);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3ListObjectsV2, LastPageAndEmptyBucket) {
  auto page = parse_list_objects_v2(
      "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(S3ListObjectsV2, UrlEncodingTypeDecodesKeys) {
  auto page = parse_list_objects_v2(
      "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a+b%2Bc%0A.csv</Key>"
      "<ETag>\"e\"</ETag><Size>3</Size></Contents><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  EXPECT_EQ(page->objects.at(0).key, "a b+c\n.csv");
}

TEST(S3ListObjectsV2, CdataAndNamespacePrefixes) {
  auto page = parse_list_objects_v2(
      "<s3:ListBucketResult xmlns:s3='x'><s3:Contents><s3:Key><![CDATA[a<&>b]]></s3:Key>"
      "<s3:Size>1</s3:Size></s3:Contents></s3:ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  EXPECT_EQ(page->objects.at(0).key, "a<&>b");
}

TEST(S3ListObjectsV2, RejectsWhatWouldMisleadTheCaller) {
  // A truncated page without a token would make the lister loop forever.
  EXPECT_EQ(parse_list_objects_v2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                  "</ListBucketResult>")
                .status()
                .code(),
            Code::kInvalid);
  EXPECT_FALSE(parse_list_objects_v2("<Error><Code>NoSuchBucket</Code></Error>").ok());
  EXPECT_FALSE(parse_list_objects_v2("<ListBucketResult><Contents><Key>k</Key><Size>x</Size>"
                                     "</Contents></ListBucketResult>")
                   .ok());
}

TEST(S3Xml, MalformedDocumentsAreErrorsWithAnOffset) {
  for (const char* bad : {"", "<a>", "<a></b>", "<a>&bogus;</a>", "<a>&#0;</a>", "<a x=1></a>",
                          "<a><!-- x</a>", "<a></a><b/>", "<a>&#xD800;</a>", "text"}) {
    auto r = parse_xml(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalid);
      EXPECT_NE(r.status().message().find("malformed XML at byte"), std::string::npos) << bad;
    }
  }
  std::string deep;
  for (int i = 0; i < 1000; ++i)
    deep += "<a>";
  EXPECT_FALSE(parse_xml(deep).ok());
}

TEST(S3Xml, ElementsTextAndChildren) {
  auto r = parse_xml("<?xml version='1.0'?><r a=\"1\" b='x>y'>t1<c>v</c>t2<e/></r>\n");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->name, "r");
  EXPECT_EQ(r->text, "t1t2");
  ASSERT_EQ(r->children.size(), 2u);
  EXPECT_EQ(r->child_text("c"), "v");
  EXPECT_NE(r->child("e"), nullptr);
  EXPECT_EQ(r->child("missing"), nullptr);
}

TEST(S3Error, CodeAndMessage) {
  auto e = parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match the signature you "
      "provided.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "SignatureDoesNotMatch");
  EXPECT_EQ(e->message.substr(0, 17), "The request signa");
  EXPECT_FALSE(parse_error("").has_value());
  EXPECT_FALSE(parse_error("<html><body>502 Bad Gateway</body></html>").has_value());
}

TEST(S3Etag, Unquote) {
  EXPECT_EQ(unquote_etag("\"abc\""), "abc");
  EXPECT_EQ(unquote_etag("W/\"abc\""), "abc");
  EXPECT_EQ(unquote_etag("abc"), "abc");
  EXPECT_EQ(unquote_etag("\""), "\"");
}

}  // namespace
}  // namespace ferry::s3
