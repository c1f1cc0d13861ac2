#include "formats/input_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

bool has_gzip_magic(const char* p, size_t n) {
  return n >= 2 && static_cast<unsigned char>(p[0]) == 0x1f &&
         static_cast<unsigned char>(p[1]) == 0x8b;
}

class FileStream final : public InputStream {
 public:
  FileStream(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileStream() override { ::close(fd_); }

  Result<size_t> read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno == EINTR) continue;
      return Status::io("{}: read failed: {}", path_, std::strerror(errno));
    }
  }
  std::string name() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class MemoryStream final : public InputStream {
 public:
  MemoryStream(std::string data, std::string name)
      : data_(std::move(data)), name_(std::move(name)) {}

  Result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  std::string name() const override { return name_; }

 private:
  std::string data_;
  size_t pos_ = 0;
  std::string name_;
};

// Inflates gzip or zlib data (inflateInit2 with 15+32 detects which), member after member.
// In auto mode it first looks at the two leading bytes and passes non-gzip data through.
class GzipStream final : public InputStream {
 public:
  GzipStream(std::unique_ptr<InputStream> in, bool auto_detect)
      : in_(std::move(in)), decided_(!auto_detect), inbuf_(std::make_unique<char[]>(kChunkBytes)) {
    std::memset(&zs_, 0, sizeof(zs_));
    if (inflateInit2(&zs_, 15 + 32) != Z_OK) {
      error_ = Status::internal("{}: cannot initialise zlib", in_->name());
    } else {
      zs_initialised_ = true;
    }
  }
  ~GzipStream() override {
    if (zs_initialised_) inflateEnd(&zs_);
  }

  Result<size_t> read(char* buf, size_t n) override {
    if (!error_.is_ok()) return error_;
    if (!decided_) {
      Status st = decide();
      if (!st.is_ok()) return fail(std::move(st));
    }
    if (passthrough_) return read_passthrough(buf, n);

    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    const uInt want = zs_.avail_out;
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0) {
        if (in_eof_) break;
        Status st = refill();
        if (!st.is_ok()) return fail(std::move(st));
        continue;
      }
      if (!member_open_) {
        // Between members: tolerate trailing NUL padding (as gzip does), then start the
        // next member.
        while (started_ && zs_.avail_in > 0 && *zs_.next_in == 0) {
          ++zs_.next_in;
          --zs_.avail_in;
        }
        if (zs_.avail_in == 0) continue;
        if (started_ && inflateReset(&zs_) != Z_OK)
          return fail(Status::internal("{}: zlib reset failed", in_->name()));
        member_open_ = true;
        started_ = true;
      }
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_open_ = false;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {  // Z_BUF_ERROR: needs more input
        return fail(Status::invalid("{}: corrupt gzip data: {}", in_->name(),
                                    zs_.msg ? zs_.msg : zError(rc)));
      }
    }
    size_t produced = want - zs_.avail_out;
    if (produced == 0 && in_eof_ && member_open_)
      return fail(Status::invalid("{}: truncated gzip data (unexpected end of file)", in_->name()));
    return produced;
  }

  std::string name() const override { return in_->name(); }

 private:
  Status refill() {
    FERRY_ASSIGN(size_t got, in_->read(inbuf_.get(), kChunkBytes));
    if (got == 0) {
      in_eof_ = true;
    } else {
      zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.get());
      zs_.avail_in = static_cast<uInt>(got);
    }
    return Status::success();
  }

  // Auto mode: reads until two bytes are buffered (or the stream ends) and looks for the
  // gzip magic. The buffered bytes stay in zs_.next_in for either path.
  Status decide() {
    size_t have = 0;
    while (have < 2) {
      FERRY_ASSIGN(size_t got, in_->read(inbuf_.get() + have, kChunkBytes - have));
      if (got == 0) {
        in_eof_ = true;
        break;
      }
      have += got;
    }
    zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.get());
    zs_.avail_in = static_cast<uInt>(have);
    passthrough_ = !has_gzip_magic(inbuf_.get(), have);
    decided_ = true;
    return Status::success();
  }

  Result<size_t> read_passthrough(char* buf, size_t n) {
    if (zs_.avail_in > 0) {
      size_t k = std::min<size_t>(n, zs_.avail_in);
      std::memcpy(buf, zs_.next_in, k);
      zs_.next_in += k;
      zs_.avail_in -= static_cast<uInt>(k);
      return k;
    }
    if (in_eof_) return size_t{0};
    auto r = in_->read(buf, n);
    if (!r.ok()) return fail(r.status());
    return r;
  }

  Status fail(Status st) {
    error_ = st;
    return st;
  }

  std::unique_ptr<InputStream> in_;
  bool decided_;
  bool passthrough_ = false;
  std::unique_ptr<char[]> inbuf_;
  z_stream zs_;
  bool zs_initialised_ = false;
  bool in_eof_ = false;
  bool started_ = false;      // a member has been started
  bool member_open_ = false;  // inside a member whose end has not been seen
  Status error_;
};

}  // namespace

Result<std::unique_ptr<InputStream>> open_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return Status::not_found("{}: no such file", path);
    return Status::io("{}: cannot open: {}", path, std::strerror(e));
  }
  struct stat sb;
  if (::fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    ::close(fd);
    return Status::invalid("{}: is a directory, not a file", path);
  }
  auto file = std::make_unique<FileStream>(fd, path);
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    return wrap_gzip(std::move(file));
  }
  if (S_ISREG(sb.st_mode)) {
    // A regular file: peek at the magic without consuming anything.
    char magic[2];
    ssize_t got;
    do {
      got = ::pread(fd, magic, sizeof(magic), 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return Status::io("{}: read failed: {}", path, std::strerror(errno));
    if (has_gzip_magic(magic, static_cast<size_t>(got))) return wrap_gzip(std::move(file));
    return std::unique_ptr<InputStream>(std::move(file));
  }
  return maybe_gunzip(std::move(file));  // a pipe or device: sniff as it is read
}

std::unique_ptr<InputStream> open_memory(std::string data, std::string name) {
  bool gz = has_gzip_magic(data.data(), data.size());
  auto mem = std::make_unique<MemoryStream>(std::move(data), std::move(name));
  if (gz) return wrap_gzip(std::move(mem));
  return mem;
}

std::unique_ptr<InputStream> wrap_gzip(std::unique_ptr<InputStream> in) {
  return std::make_unique<GzipStream>(std::move(in), /*auto_detect=*/false);
}

std::unique_ptr<InputStream> maybe_gunzip(std::unique_ptr<InputStream> in) {
  return std::make_unique<GzipStream>(std::move(in), /*auto_detect=*/true);
}

}  // namespace ferry
