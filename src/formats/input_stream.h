// InputStream: a pull-based byte stream that readers (CSV, JSON) consume in chunks.
//
// Streams never hold a whole file: the file stream reads straight into the caller's buffer
// and the gzip decompressor keeps one fixed 1 MiB input buffer, so memory is constant
// whatever the size of the input. Gzip is decompressed transparently by open_file() (".gz"
// extension or the 1f 8b magic bytes) and open_memory() (magic bytes); wrap_gzip() and
// maybe_gunzip() put the same decompressor around any stream (an S3 object, an HTTP body).
// Multi-member gzip files (concatenated members, as `cat a.gz b.gz` or pigz produce) are
// decompressed as one stream.
//
// Failure: read() returns a Status naming the stream (the file path): kIo for an OS error,
// kInvalid for a corrupt or truncated gzip stream. After a failed read the stream is
// unusable.
//
// Thread-safety: none; a stream is used by one thread at a time. Streams are not copyable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"

namespace ferry {

class InputStream {
 public:
  InputStream() = default;
  virtual ~InputStream() = default;
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Reads up to n bytes into buf and returns how many were read; 0 means end of stream.
  // A short read does not mean end of stream. REQUIRES: n > 0.
  virtual Result<size_t> read(char* buf, size_t n) = 0;

  // What error messages call this stream (a path, a URL); "" when unknown. Wrappers forward
  // the name of the stream they wrap.
  virtual std::string name() const { return ""; }
};

// Opens a local file for reading, gunzipping it when its name ends in ".gz" or it starts
// with the gzip magic bytes. Fails with kNotFound (missing file) or kIo, naming the path.
Result<std::unique_ptr<InputStream>> open_file(const std::string& path);

// A stream over bytes held in memory (tests, small response bodies); gunzipped when the
// data starts with the gzip magic bytes. `name` is used in error messages.
std::unique_ptr<InputStream> open_memory(std::string data, std::string name = "<memory>");

// Decompresses `in`, which must be gzip (or zlib) data; an empty stream decompresses to
// nothing. Errors name in->name().
std::unique_ptr<InputStream> wrap_gzip(std::unique_ptr<InputStream> in);

// Decompresses `in` when it starts with the gzip magic bytes; otherwise passes it through
// unchanged. Reads nothing until the first read().
std::unique_ptr<InputStream> maybe_gunzip(std::unique_ptr<InputStream> in);

}  // namespace ferry
