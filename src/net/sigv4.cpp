#include "net/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>

namespace ferry::net {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

std::string to_hex(const unsigned char* p, size_t n) {
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes only: in a path '+' is a plus sign, not a space. A '%' not followed by
// two hex digits is kept as it is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 3986 remove_dot_segments plus collapsing of empty segments, as AWS's generic
// services do: "//a/./b/../c/" -> "/a/c/".
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segs;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
    i = j + 1;
  }
  std::string out;
  for (std::string_view s : segs) {
    out += '/';
    out += s;
  }
  // A trailing slash (also after a final "." or "..") names a directory and is kept.
  bool trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
  if (out.empty() || trailing) out += '/';
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Trims the value and collapses each run of spaces into one (AWS's "Trimall").
std::string trim_all(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool space = false;
  for (char c : v) {
    bool is_space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (is_space) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool has_header(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return lower(h.first) == name; });
}

std::string header_value(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (lower(k) == name) return trim_all(v);
  return "";
}

// Canonical headers ("name:value\n" each, sorted, duplicates joined with ',') and the
// signed-headers list ("a;b;c").
std::pair<std::string, std::string> canonical_headers(const Headers& headers) {
  std::vector<std::pair<std::string, std::string>> merged;  // sorted by name below
  for (const auto& [k, v] : headers) {
    std::string name = lower(trim_all(k));
    auto it =
        std::find_if(merged.begin(), merged.end(), [&](const auto& m) { return m.first == name; });
    if (it == merged.end()) {
      merged.emplace_back(name, trim_all(v));
    } else {
      it->second += ',';
      it->second += trim_all(v);
    }
  }
  std::stable_sort(merged.begin(), merged.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canon, signed_names;
  for (const auto& [k, v] : merged) {
    canon += k;
    canon += ':';
    canon += v;
    canon += '\n';
    if (!signed_names.empty()) signed_names += ';';
    signed_names += k;
  }
  return {canon, signed_names};
}

std::string credential_scope(std::string_view amz_date, std::string_view region,
                             std::string_view service) {
  std::string scope(amz_date.substr(0, 8));
  scope += '/';
  scope += region;
  scope += '/';
  scope += service;
  scope += "/aws4_request";
  return scope;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return to_hex(out, len);
}

std::string aws_uri_encode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 15];
    }
  }
  return out;
}

std::string canonical_query_string(const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query)
    enc.emplace_back(aws_uri_encode(k, false), aws_uri_encode(v, false));
  // Sorted by the ENCODED names (byte order), then values, as AWS specifies.
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_request(const SigV4Request& request, std::string_view service) {
  std::string path = request.path.empty() ? "/" : request.path;
  std::string uri = service == "s3" ? aws_uri_encode(percent_decode(path), true)
                                    : aws_uri_encode(normalize_path(path), true);
  auto [canon_headers, signed_names] = canonical_headers(request.headers);
  std::string out = request.method;
  out += '\n';
  out += uri;
  out += '\n';
  out += canonical_query_string(request.query);
  out += '\n';
  out += canon_headers;
  out += '\n';
  out += signed_names;
  out += '\n';
  out += request.payload_hash.empty() ? std::string(kEmptyPayloadHash) : request.payload_hash;
  return out;
}

std::string string_to_sign(std::string_view canonical_request, std::string_view amz_date,
                           std::string_view region, std::string_view service) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out += amz_date;
  out += '\n';
  out += credential_scope(amz_date, region, service);
  out += '\n';
  out += sha256_hex(canonical_request);
  return out;
}

std::string signature(const AwsCredentials& credentials, std::string_view string_to_sign,
                      std::string_view amz_date, std::string_view region,
                      std::string_view service) {
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, amz_date.substr(0, 8));
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, service);
  key = hmac_sha256(key, "aws4_request");
  std::string sig = hmac_sha256(key, string_to_sign);
  return to_hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

Headers sign(const SigV4Request& request, const AwsCredentials& credentials,
             std::string_view region, std::string_view service,
             std::chrono::system_clock::time_point now) {
  Headers added;
  std::string date = header_value(request.headers, "x-amz-date");
  if (date.empty()) {
    date = amz_date(now);
    added.emplace_back("x-amz-date", date);
  }
  if (service == "s3" && !has_header(request.headers, "x-amz-content-sha256"))
    added.emplace_back("x-amz-content-sha256", request.payload_hash.empty()
                                                   ? std::string(kEmptyPayloadHash)
                                                   : request.payload_hash);
  if (!credentials.session_token.empty() && !has_header(request.headers, "x-amz-security-token"))
    added.emplace_back("x-amz-security-token", credentials.session_token);

  SigV4Request full = request;
  full.headers.insert(full.headers.end(), added.begin(), added.end());
  std::string creq = canonical_request(full, service);
  std::string sts = string_to_sign(creq, date, region, service);
  std::string sig = signature(credentials, sts, date, region, service);
  std::string signed_names = canonical_headers(full.headers).second;
  added.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id +
                                          "/" + credential_scope(date, region, service) +
                                          ", SignedHeaders=" + signed_names + ", Signature=" + sig);
  return added;
}

}  // namespace ferry::net
