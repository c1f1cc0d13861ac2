#include "formats/json_reader.h"

#include <fmt/format.h>

namespace ferry {

namespace json_reader_detail {

int64_t LineCounter::at(size_t pos) {
  if (pos >= pos_) {
    const char* p = data_ + pos_;
    const char* end = data_ + pos;
    while (p < end) {
      const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
      if (!nl) break;
      ++line_;
      p = static_cast<const char*>(nl) + 1;
    }
  } else {
    for (size_t i = pos; i < pos_; ++i)
      line_ -= data_[i] == '\n';
  }
  pos_ = pos;
  return line_;
}

size_t line_start(const char* data, size_t floor, size_t pos) {
  while (pos > floor && data[pos - 1] != '\n')
    --pos;
  return pos;
}

size_t line_end(const char* data, size_t n, size_t pos) {
  if (pos >= n) return n;
  const void* nl = std::memchr(data + pos, '\n', n - pos);
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) + 1 : n;
}

bool is_blank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace json_reader_detail

namespace {

// At most kMaxRawBytes, not cutting a UTF-8 sequence in two.
std::string truncate_raw(std::string_view raw) {
  if (raw.size() > JsonReader::kMaxRawBytes) {
    size_t keep = JsonReader::kMaxRawBytes;
    while (keep > 0 && (static_cast<unsigned char>(raw[keep]) & 0xC0) == 0x80)
      --keep;
    raw = raw.substr(0, keep);
  }
  return std::string(raw);
}

}  // namespace

JsonReader::JsonReader() {
  // No stage-1 thread in parse_many: each document stream would allocate (and page-fault) a
  // second parser per chunk, and the executor already runs jobs in parallel.
  parser_.threaded = false;
}
JsonReader::~JsonReader() = default;

std::string_view JsonReader::begin(std::string_view bytes, const Origin& origin) {
  int64_t skipped = 0;
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") {
    bytes.remove_prefix(3);
    skipped = 3;
  }
  origin_.source = origin.source;
  origin_.line = 0;
  origin_.offset = -1;
  first_line_ = origin.line > 0 ? origin.line : 1;
  base_offset_ = origin.offset < 0 ? -1 : origin.offset + skipped;
  return bytes;
}

const char* JsonReader::pad(std::string_view bytes) {
  const size_t need = bytes.size() + simdjson::SIMDJSON_PADDING;
  if (need > capacity_) {
    const size_t grown = std::max(need, capacity_ + capacity_ / 2);
    buf_ = std::make_unique_for_overwrite<char[]>(grown);
    capacity_ = grown;
  }
  if (!bytes.empty()) std::memcpy(buf_.get(), bytes.data(), bytes.size());
  std::memset(buf_.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  return buf_.get();
}

Reject JsonReader::bad_line(const char* data, size_t line_begin, size_t end,
                            simdjson::error_code err) {
  std::string_view raw(data + line_begin, end - line_begin);
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  Reject r;
  r.origin = origin_;
  r.reason = fmt::format("invalid JSON: {}", simdjson::error_message(err));
  r.raw = truncate_raw(raw);
  return r;
}

Reject JsonReader::bad_document(std::string_view doc, simdjson::error_code err) {
  Reject r;
  r.origin = origin_;
  r.reason = fmt::format("invalid JSON document: {}", simdjson::error_message(err));
  r.raw = truncate_raw(doc);
  return r;
}

Status JsonReader::pointer_error(std::string_view pointer, simdjson::error_code err) const {
  const std::string where = origin_.source.empty() ? "" : " in " + origin_.source;
  if (err == simdjson::INVALID_JSON_POINTER) {
    return Status::invalid("records pointer '{}' is not a JSON pointer (write e.g. /data/items){}",
                           pointer, where);
  }
  return Status::invalid("records pointer '{}' not found{}: {}", pointer, where,
                         simdjson::error_message(err));
}

}  // namespace ferry
