// The XML that S3 answers with: a ListObjectsV2 page and an error document.
//
// A small, strict parser of the XML subset S3 emits (elements, text, attributes, the XML
// declaration, comments, CDATA, the five named entities and numeric character references),
// so that ferry needs no XML library. It builds a tree: a ListObjectsV2 page of 1,000 keys is
// a few hundred kilobytes. Namespace prefixes are dropped from element names.
//
// Failure: malformed XML (a mismatched or unclosed tag, an unknown entity) is
// Code::kInvalid with the byte offset. Thread-safety: plain functions and values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ferry::s3 {

struct XmlElement {
  std::string name;  // local name, without a namespace prefix
  std::string text;  // the decoded character data directly inside this element
  std::vector<XmlElement> children;

  // The first child named `name`, or nullptr.
  const XmlElement* child(std::string_view name) const;
  // The text of the first child named `name`, or "" when there is none.
  std::string child_text(std::string_view name) const;
};

// Parses a whole document and returns its root element.
Result<XmlElement> parse_xml(std::string_view document);

struct ObjectInfo {
  std::string key;
  std::string etag;  // without the surrounding quotes
  int64_t size = 0;
  std::string last_modified;  // ISO 8601 as S3 sends it, e.g. 2009-10-12T17:50:30.000Z
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  bool truncated = false;
  std::string next_continuation_token;  // "" when not truncated
};

// A ListObjectsV2 response (<ListBucketResult>). Keys are URL-decoded when the response says
// <EncodingType>url</EncodingType>. kInvalid when the document is not a ListBucketResult or a
// truncated page has no continuation token (which would make the caller loop).
Result<ListPage> parse_list_objects_v2(std::string_view xml);

struct S3Error {
  std::string code;     // e.g. "NoSuchBucket", "SignatureDoesNotMatch"
  std::string message;  // S3's own sentence
};

// An <Error> document, or nullopt when `xml` is not one (an empty body, HTML from a proxy).
std::optional<S3Error> parse_error(std::string_view xml);

// "abc" and W/"abc" -> abc: ETags are compared without quotes (listings and GetObject
// headers quote them).
std::string unquote_etag(std::string_view etag);

}  // namespace ferry::s3
