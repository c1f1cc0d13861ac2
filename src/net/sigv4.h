// AWS Signature Version 4: signs an HTTP request for S3 (or any AWS service) with an access
// key, so the request can be sent by HttpClient.
//
// Why our own signer: Debian's libcurl 7.88 CURLOPT_AWS_SIGV4 neither canonicalises query
// strings nor sends x-amz-content-sha256, and S3 rejects such requests.
//
// The three steps are exposed separately so that tests can compare each with AWS's
// published test suite: canonical_request() -> string_to_sign() -> sign().
//
// Service rules:
//   - "s3": the path is URI-encoded once (a wire path "/a%20b" and "/a b" both sign as
//     "/a%20b"), it is not normalised ("/a/../b" is a key, not a directory walk), and the
//     request carries x-amz-content-sha256 (the payload hash, or UNSIGNED-PAYLOAD).
//   - every other service: the wire path is normalised (dot segments removed, repeated
//     slashes collapsed) and URI-encoded again (AWS's "double encoding").
//
// Pure functions of their arguments (the clock is a parameter); thread-safe. The secret key
// never appears in any returned string.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http.h"

namespace ferry::net {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" unless temporary credentials (STS)
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// The parts of a request that the signature covers.
struct SigV4Request {
  std::string method = "GET";
  // The path as sent on the wire (percent-encoded as in the URL), starting with '/'.
  std::string path = "/";
  // Query parameters, DECODED (the signer encodes them); order does not matter.
  QueryParams query;
  // The headers to sign, with their values as sent; must include Host. Names in any case.
  Headers headers;
  // Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" (S3 only); "" means the hash
  // of an empty body.
  std::string payload_hash;
};

// Hex SHA-256 of the empty string: the payload hash of a body-less request.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// AWS's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is
// kept when `keep_slash`.
std::string aws_uri_encode(std::string_view s, bool keep_slash);

// The canonical query string: names and values encoded, sorted by name then value, joined
// with '&' ("a=1&b="). Use it for the URL too, so that what is sent is what is signed.
std::string canonical_query_string(const QueryParams& query);

// "20150830T123600Z" for `t` (UTC).
std::string amz_date(std::chrono::system_clock::time_point t);

// The canonical request of `request` for `service` (see the service rules above).
std::string canonical_request(const SigV4Request& request, std::string_view service);

// "AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of canonical request>".
// REQUIRES: amz_date is in the "20150830T123600Z" form.
std::string string_to_sign(std::string_view canonical_request, std::string_view amz_date,
                           std::string_view region, std::string_view service);

// Hex HMAC-SHA256 signature of `string_to_sign` with the key derived from the secret, the
// date (first 8 characters of amz_date), region and service.
std::string signature(const AwsCredentials& credentials, std::string_view string_to_sign,
                      std::string_view amz_date, std::string_view region, std::string_view service);

// Signs `request`: returns the headers to add to it before sending, in this order:
// x-amz-date (unless the request already has one, whose value is then used instead of
// `now`), x-amz-content-sha256 (s3 only, unless present), x-amz-security-token (with a
// session token, unless present), Authorization. Every header of the request and the added
// ones are signed.
Headers sign(const SigV4Request& request, const AwsCredentials& credentials,
             std::string_view region, std::string_view service,
             std::chrono::system_clock::time_point now);

}  // namespace ferry::net
