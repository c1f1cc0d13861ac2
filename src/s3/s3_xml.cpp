#include "s3/s3_xml.h"

#include <charconv>

#include "net/http.h"

namespace ferry::s3 {
namespace {

// Deeper nesting than any S3 document has: a guard against a hostile body exhausting the
// stack through recursion.
constexpr int kMaxDepth = 64;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<XmlElement> document() {
    FERRY_TRY(skip_misc());
    if (!at("<")) return error("expected the root element");
    XmlElement root;
    FERRY_TRY(element(root, 0));
    FERRY_TRY(skip_misc());
    if (i_ != s_.size()) return error("unexpected content after the root element");
    return root;
  }

 private:
  bool at(std::string_view token) const { return s_.substr(i_, token.size()) == token; }

  Status error(std::string_view what) const {
    return Status::invalid("malformed XML at byte {}: {}", i_, what);
  }

  // Skips `open` ... `close` (a comment, a processing instruction).
  Status skip_past(std::string_view close, std::string_view what) {
    size_t end = s_.find(close, i_);
    if (end == std::string_view::npos) return error(what);
    i_ = end + close.size();
    return Status::success();
  }

  // Whitespace, comments, processing instructions and a DOCTYPE outside the root element.
  Status skip_misc() {
    for (;;) {
      while (i_ < s_.size() && is_space(s_[i_]))
        ++i_;
      if (at("<?")) {
        FERRY_TRY(skip_past("?>", "unterminated processing instruction"));
      } else if (at("<!--")) {
        FERRY_TRY(skip_past("-->", "unterminated comment"));
      } else if (at("<!DOCTYPE")) {
        FERRY_TRY(skip_past(">", "unterminated DOCTYPE"));
      } else {
        return Status::success();
      }
    }
  }

  std::string_view name() {
    size_t start = i_;
    while (i_ < s_.size() && !is_space(s_[i_]) && s_[i_] != '>' && s_[i_] != '/' && s_[i_] != '=')
      ++i_;
    return s_.substr(start, i_ - start);
  }

  static std::string local_name(std::string_view qname) {
    size_t colon = qname.find(':');
    return std::string(colon == std::string_view::npos ? qname : qname.substr(colon + 1));
  }

  // Appends `raw` character data to `out`, decoding entity and character references.
  Status decode(std::string_view raw, size_t raw_offset, std::string& out) const {
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] != '&') {
        out += raw[k];
        continue;
      }
      size_t semi = raw.find(';', k);
      if (semi == std::string_view::npos || semi - k > 12)
        return Status::invalid("malformed XML at byte {}: unterminated entity", raw_offset + k);
      std::string_view ent = raw.substr(k + 1, semi - k - 1);
      if (ent == "lt") {
        out += '<';
      } else if (ent == "gt") {
        out += '>';
      } else if (ent == "amp") {
        out += '&';
      } else if (ent == "quot") {
        out += '"';
      } else if (ent == "apos") {
        out += '\'';
      } else if (ent.size() > 1 && ent[0] == '#') {
        bool hex = ent[1] == 'x' || ent[1] == 'X';
        std::string_view digits = ent.substr(hex ? 2 : 1);
        uint32_t cp = 0;
        auto [p, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
        if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty() || cp == 0 ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
          return Status::invalid("malformed XML at byte {}: bad character reference &{};",
                                 raw_offset + k, ent);
        append_utf8(out, cp);
      } else {
        return Status::invalid("malformed XML at byte {}: unknown entity &{};", raw_offset + k,
                               ent);
      }
      k = semi;
    }
    return Status::success();
  }

  // REQUIRES: at '<' of a start tag.
  Status element(XmlElement& out, int depth) {
    if (depth > kMaxDepth) return error("elements nested too deeply");
    ++i_;  // '<'
    std::string_view qname = name();
    if (qname.empty()) return error("an element without a name");
    out.name = local_name(qname);
    // Attributes: checked for form, their values ignored (S3 puts only xmlns there).
    for (;;) {
      while (i_ < s_.size() && is_space(s_[i_]))
        ++i_;
      if (at("/>")) {
        i_ += 2;
        return Status::success();
      }
      if (at(">")) {
        ++i_;
        break;
      }
      if (i_ >= s_.size()) return error("unterminated start tag");
      if (name().empty()) return error("bad attribute");
      while (i_ < s_.size() && is_space(s_[i_]))
        ++i_;
      if (!at("=")) return error("attribute without a value");
      ++i_;
      while (i_ < s_.size() && is_space(s_[i_]))
        ++i_;
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) return error("unquoted attribute");
      size_t close = s_.find(s_[i_], i_ + 1);
      if (close == std::string_view::npos) return error("unterminated attribute value");
      i_ = close + 1;
    }
    // Content, up to the matching end tag.
    for (;;) {
      if (i_ >= s_.size()) return error("<" + std::string(qname) + "> is never closed");
      if (at("</")) {
        i_ += 2;
        std::string_view end = name();
        if (end != qname)
          return error("</" + std::string(end) + "> closes <" + std::string(qname) + ">");
        while (i_ < s_.size() && is_space(s_[i_]))
          ++i_;
        if (!at(">")) return error("unterminated end tag");
        ++i_;
        return Status::success();
      }
      if (at("<!--")) {
        FERRY_TRY(skip_past("-->", "unterminated comment"));
      } else if (at("<![CDATA[")) {
        size_t start = i_ + 9;
        size_t end = s_.find("]]>", start);
        if (end == std::string_view::npos) return error("unterminated CDATA section");
        out.text.append(s_.substr(start, end - start));
        i_ = end + 3;
      } else if (at("<?")) {
        FERRY_TRY(skip_past("?>", "unterminated processing instruction"));
      } else if (at("<")) {
        out.children.emplace_back();
        FERRY_TRY(element(out.children.back(), depth + 1));
      } else {
        size_t end = s_.find('<', i_);
        if (end == std::string_view::npos) end = s_.size();
        FERRY_TRY(decode(s_.substr(i_, end - i_), i_, out.text));
        i_ = end;
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

// encoding-type=url keys: percent-encoded, with '+' for a space (as S3 writes them).
std::string form_decode(std::string_view s) {
  std::string plus(s);
  for (char& c : plus)
    if (c == '+') c = ' ';
  return net::url_decode(plus);
}

}  // namespace

const XmlElement* XmlElement::child(std::string_view n) const {
  for (const XmlElement& c : children)
    if (c.name == n) return &c;
  return nullptr;
}

std::string XmlElement::child_text(std::string_view n) const {
  const XmlElement* c = child(n);
  return c ? c->text : std::string();
}

Result<XmlElement> parse_xml(std::string_view document) {
  return Parser(document).document();
}

std::string unquote_etag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

Result<ListPage> parse_list_objects_v2(std::string_view xml) {
  FERRY_ASSIGN(XmlElement root, parse_xml(xml));
  if (root.name != "ListBucketResult")
    return Status::invalid("expected a ListBucketResult, got <{}>", root.name);
  bool url_encoded = root.child_text("EncodingType") == "url";
  ListPage page;
  for (const XmlElement& c : root.children) {
    if (c.name != "Contents") continue;
    ObjectInfo o;
    o.key = c.child_text("Key");
    if (url_encoded) o.key = form_decode(o.key);
    o.etag = unquote_etag(c.child_text("ETag"));
    o.last_modified = c.child_text("LastModified");
    std::string size = c.child_text("Size");
    auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), o.size);
    if (ec != std::errc() || p != size.data() + size.size() || o.size < 0)
      return Status::invalid("ListObjectsV2: bad <Size> '{}' for key '{}'", size, o.key);
    if (o.key.empty()) return Status::invalid("ListObjectsV2: an object without a <Key>");
    page.objects.push_back(std::move(o));
  }
  page.truncated = root.child_text("IsTruncated") == "true";
  page.next_continuation_token = root.child_text("NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty())
    return Status::invalid("ListObjectsV2: a truncated page without a NextContinuationToken");
  return page;
}

std::optional<S3Error> parse_error(std::string_view xml) {
  auto root = parse_xml(xml);
  if (!root.ok() || root->name != "Error") return std::nullopt;
  return S3Error{root->child_text("Code"), root->child_text("Message")};
}

}  // namespace ferry::s3
