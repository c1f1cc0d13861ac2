// RowIdHash: the 64-bit hash behind the _ferry_id, _ferry_parent_id and _ferry_root_id columns.
//
// Row ids are stored in warehouses and merged on, so this function is part of ferry's data
// contract: the same fields give the same id on every platform and in every release, and
// changing it changes every id ever loaded. Not cryptographic: ids are identities, not secrets.
//
// Each add() absorbs one field, length first, so ("ab", "c") and ("a", "bc") differ. Bytes are
// read as little-endian words whatever the host. The mixing step multiplies two 64-bit words
// into 128 bits and folds the halves together, 16 input bytes per step.
//
// A RowIdHash is a small value: copy a partly fed one to reuse a common prefix (the
// normaliser keeps one per table with the table name already absorbed).
//
// Thread-safety: a plain value.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ferry {

class RowIdHash {
 public:
  // Characters of an id in text form (lower-case hex).
  static constexpr size_t kHexSize = 16;

  RowIdHash() = default;

  RowIdHash& add(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t n = bytes.size();
    h_ = (h_ + n) * kMul0;  // the length, so that field boundaries matter
    while (n >= 16) {
      h_ ^= fold(load(p) ^ h_ ^ kMul1, load(p + 8) ^ kMul2);
      p += 16;
      n -= 16;
    }
    if (n >= 8) {
      h_ ^= fold(load(p) ^ h_ ^ kMul1, load(p + n - 8) ^ kMul2);  // the two words may overlap
    } else if (n > 0) {
      uint64_t w = 0;
      for (size_t i = 0; i < n; ++i)
        w |= static_cast<uint64_t>(p[i]) << (8 * i);
      h_ ^= fold(w ^ h_ ^ kMul1, kMul2);
    }
    return *this;
  }

  // Absorbs an integer as its 8 little-endian bytes.
  RowIdHash& add(uint64_t v) {
    h_ = (h_ + 8) * kMul0;
    h_ ^= fold(v ^ h_ ^ kMul1, kMul2);
    return *this;
  }

  uint64_t digest() const { return fold(h_ ^ kMul2, kMul0); }

  // Writes the 16 hex characters of `id` into out[0..16).
  static void hex(uint64_t id, char* out) {
    static constexpr auto kPairs = [] {  // byte -> its two hex digits
      std::array<char, 512> t{};
      constexpr char kDigits[] = "0123456789abcdef";
      for (int b = 0; b < 256; ++b) {
        t[2 * b] = kDigits[b >> 4];
        t[2 * b + 1] = kDigits[b & 15];
      }
      return t;
    }();
    for (int i = 14; i >= 0; i -= 2, id >>= 8)
      std::memcpy(out + i, &kPairs[2 * (id & 0xff)], 2);
  }

 private:
  static constexpr uint64_t kMul0 = 0x9e3779b97f4a7c15ULL;  // odd: (h + n) * k is a bijection
  static constexpr uint64_t kMul1 = 0x6a09e667f3bcc909ULL;  // sqrt(2)
  static constexpr uint64_t kMul2 = 0xbb67ae8584caa73bULL;  // sqrt(3)

  static uint64_t fold(uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  static uint64_t load(const unsigned char* p) {  // little-endian, whatever the host
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    return w;
  }

  uint64_t h_ = 0x243f6a8885a308d3ULL;  // pi
};

}  // namespace ferry
