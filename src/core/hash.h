// Hash64: a fast, streaming, non-cryptographic 64-bit hash (8 bytes per step, multiply-xorshift
// mixing). For content fingerprints (a file's hash in the job state) and deterministic row ids;
// never for security. The same bytes give the same hash whatever the chunking of update().
//
// Thread-safety: an instance is used by one thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ferry {

class Hash64 {
 public:
  explicit Hash64(uint64_t seed = 0) : h_(seed ^ 0x9e3779b97f4a7c15ULL) {}

  void update(std::string_view data) {
    const char* p = data.data();
    size_t n = data.size();
    total_ += n;
    if (tail_len_ > 0) {
      while (n > 0 && tail_len_ < 8) {
        tail_[tail_len_++] = *p++;
        --n;
      }
      if (tail_len_ < 8) return;
      word(load(tail_));
      tail_len_ = 0;
    }
    while (n >= 8) {
      word(load(p));
      p += 8;
      n -= 8;
    }
    std::memcpy(tail_, p, n);
    tail_len_ = n;
  }

  uint64_t digest() const {
    uint64_t h = h_;
    if (tail_len_ > 0) {
      char buf[8] = {};
      std::memcpy(buf, tail_, tail_len_);
      h = step(h, load(buf));
    }
    return mix(h ^ total_);
  }

  // 16 lower-case hex characters.
  std::string hex() const {
    static const char* kHex = "0123456789abcdef";
    uint64_t v = digest();
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4)
      out[static_cast<size_t>(i)] = kHex[v & 15];
    return out;
  }

  static uint64_t of(std::string_view data, uint64_t seed = 0) {
    Hash64 h(seed);
    h.update(data);
    return h.digest();
  }

 private:
  static uint64_t load(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  static uint64_t step(uint64_t h, uint64_t w) {
    w *= 0x87c37b91114253d5ULL;
    w = (w << 31) | (w >> 33);
    h ^= w * 0x4cf5ad432745937fULL;
    return ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
  }
  void word(uint64_t w) { h_ = step(h_, w); }

  uint64_t h_;
  uint64_t total_ = 0;
  char tail_[8] = {};
  size_t tail_len_ = 0;
};

}  // namespace ferry
