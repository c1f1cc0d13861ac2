// JsonReader: iterates the records held in a chunk of JSON bytes, with simdjson's DOM parser.
//
// Layouts (JsonLayout from formats/json_layout.h, as handed to SourceSink::json):
//   kLines     JSON Lines: one document per line; blank lines are skipped. The input is
//              parsed in windows of whole lines (kWindowBytes, extended to a line end) with
//              simdjson's parse_many. A line that does not parse is ONE bad record (origin
//              line, the raw line, simdjson's error text) and reading goes on with the next
//              line: after an error the reader parses line by line for a while (kResyncBytes)
//              and then returns to parse_many. A line holding a record and then garbage keeps
//              the record and reports the rest of the line as a bad record.
//   kDocument  one document. With an empty pointer a top-level array yields each element as a
//              record and any other value is one record. With a JSON pointer ("/data/items")
//              the value there is used the same way; null there means "no records"; a pointer
//              that does not resolve is an error (kInvalid) naming the pointer. A document that
//              does not parse is one bad record.
//
// Records reach `on_record(simdjson::dom::element record, const ferry::Origin& origin)` as
// validated DOM elements rather than On Demand values: every record has been fully parsed
// before the callback sees it, so a consumer never holds half a record (On Demand finds
// syntax errors while the consumer walks the value, after it has written part of a row).
// The DOM does not keep the source spelling of numbers. The element and the origin are valid only
// during the call (the next record reuses the parser's document and the origin object). Records are
// handed over whatever their JSON type (a line `42` is a record too); the normaliser rejects
// what is not an object. Bad records reach `on_bad(ferry::Reject reject)`. Either callback
// may return void or a Status: a failed Status stops reading and read() returns it (so a
// kRejected from SourceSink::reject ends the read). Callbacks are template parameters, so
// there is no virtual or std::function call per record.
//
// Origins: `source` is origin.source. For kLines, `line` is origin.line (the chunk's first
// line; 1 when 0) plus the lines before the record, and `offset` is origin.offset plus the
// record's byte position in the chunk (-1 when origin.offset is -1). For kDocument, `line` is
// the record number: origin.line (1 when 0) for the first record, +1 for each next one, and
// `offset` is -1 (the DOM does not keep positions).
//
// Padding: simdjson reads up to SIMDJSON_PADDING bytes past the input; the reader copies each
// window (kLines) or the document (kDocument) into a padded buffer it keeps and reuses (grown
// geometrically, never shrunk), so steady-state reading allocates nothing whatever the chunk
// size. A leading UTF-8 byte-order mark is skipped.
//
// Limits (simdjson's): integers beyond the uint64 range and nesting deeper than 1024 make a
// record bad. The parser's memory (about 14 bytes per input byte) grows to the largest window
// or document read and is kept for reuse. parse_many runs without its stage-1 thread (see the
// constructor).
//
// Thread-safety: none; one reader per thread. Not copyable (it owns the parser and buffer).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <simdjson.h>

#include "core/batch.h"
#include "core/reject.h"
#include "core/status.h"
#include "formats/json_layout.h"

namespace ferry {

namespace json_reader_detail {

// Calls a record or reject callback; a callback returning void counts as ok.
template <typename F, typename... Args>
Status call(F& f, Args&&... args) {
  if constexpr (std::is_void_v<std::invoke_result_t<F&, Args...>>) {
    f(std::forward<Args>(args)...);
    return Status::success();
  } else {
    return f(std::forward<Args>(args)...);
  }
}

// Line numbers of positions in a chunk, counted incrementally as the position moves.
class LineCounter {
 public:
  LineCounter(const char* data, int64_t first_line) : data_(data), line_(first_line) {}
  int64_t at(size_t pos);

 private:
  const char* data_;
  size_t pos_ = 0;
  int64_t line_;
};

// Start of the line holding `pos`, but not before `floor`.
size_t line_start(const char* data, size_t floor, size_t pos);
// One past the end of the line holding `pos` (the '\n' included), at most n.
size_t line_end(const char* data, size_t n, size_t pos);
// True when [p, p + n) holds only JSON whitespace.
bool is_blank(const char* p, size_t n);

}  // namespace json_reader_detail

class JsonReader {
 public:
  // JSON Lines are parsed in windows of this many bytes, extended to the end of a line.
  static constexpr size_t kWindowBytes = 1 << 20;
  // After an error, this many bytes (then whole lines) are read line by line before the fast
  // path resumes; doubled while the fast path keeps failing at once.
  static constexpr size_t kResyncBytes = 64 << 10;
  // Reject::raw keeps at most this many bytes of a bad record.
  static constexpr size_t kMaxRawBytes = 64 << 10;

  JsonReader();
  ~JsonReader();
  JsonReader(const JsonReader&) = delete;
  JsonReader& operator=(const JsonReader&) = delete;

  // Reads the records of `bytes` in `layout` (`records_pointer` is used by kDocument only).
  // Returns ok when every record was handed to on_record or on_bad; the first failed Status
  // of a callback; or kInvalid when records_pointer does not resolve.
  template <typename OnRecord, typename OnBad>
  Status read(std::string_view bytes, JsonLayout layout, std::string_view records_pointer,
              const Origin& origin, OnRecord&& on_record, OnBad&& on_bad) {
    if (layout == JsonLayout::kLines) return read_lines(bytes, origin, on_record, on_bad);
    return read_document(bytes, records_pointer, origin, on_record, on_bad);
  }

  // JSON Lines; see the header comment.
  template <typename OnRecord, typename OnBad>
  Status read_lines(std::string_view bytes, const Origin& origin, OnRecord&& on_record,
                    OnBad&& on_bad);

  // One document, records at `records_pointer` ("" = the document); see the header comment.
  template <typename OnRecord, typename OnBad>
  Status read_document(std::string_view bytes, std::string_view records_pointer,
                       const Origin& origin, OnRecord&& on_record, OnBad&& on_bad);

 private:
  // Resets the origin for a new chunk; returns `bytes` without a leading UTF-8 BOM.
  std::string_view begin(std::string_view bytes, const Origin& origin);
  // Copies `bytes` into the padded buffer and returns the copy.
  const char* pad(std::string_view bytes);
  // Sets origin_ for a record starting at `pos` of the padded window.
  void locate(json_reader_detail::LineCounter& lines, size_t pos) {
    origin_.line = lines.at(pos);
    origin_.offset = base_offset_ < 0 ? -1 : base_offset_ + static_cast<int64_t>(pos);
  }
  Reject bad_line(const char* data, size_t line_begin, size_t end, simdjson::error_code err);
  Reject bad_document(std::string_view doc, simdjson::error_code err);
  Status pointer_error(std::string_view pointer, simdjson::error_code err) const;

  // The records of one window of whole lines.
  template <typename OnRecord, typename OnBad>
  Status read_window(const char* data, size_t n, json_reader_detail::LineCounter& lines,
                     OnRecord& on_record, OnBad& on_bad);
  // Parses each line of [from, to) on its own: the slow path after an error.
  template <typename OnRecord, typename OnBad>
  Status read_each_line(const char* data, size_t from, size_t to,
                        json_reader_detail::LineCounter& lines, OnRecord& on_record, OnBad& on_bad);

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> buf_;  // the padded copy of the current window or document
  size_t capacity_ = 0;
  Origin origin_;  // handed to the callbacks; reused, so no per-record copy of the source
  int64_t first_line_ = 1;
  int64_t base_offset_ = -1;  // source offset of buf_[0], -1 when unknown
};

template <typename OnRecord, typename OnBad>
Status JsonReader::read_lines(std::string_view bytes, const Origin& origin, OnRecord&& on_record,
                              OnBad&& on_bad) {
  std::string_view rest = begin(bytes, origin);
  int64_t line = first_line_;
  while (!rest.empty()) {
    // Windows of whole lines keep the padded copy small and in cache.
    size_t n = rest.size();
    if (n > kWindowBytes) {
      const void* nl = std::memchr(rest.data() + kWindowBytes, '\n', n - kWindowBytes);
      if (nl) n = static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1;
    }
    const char* data = pad(rest.substr(0, n));
    json_reader_detail::LineCounter lines(data, line);
    FERRY_TRY(read_window(data, n, lines, on_record, on_bad));
    line = lines.at(n);
    if (base_offset_ >= 0) base_offset_ += static_cast<int64_t>(n);
    rest.remove_prefix(n);
  }
  return Status::success();
}

template <typename OnRecord, typename OnBad>
Status JsonReader::read_window(const char* data, size_t n, json_reader_detail::LineCounter& lines,
                               OnRecord& on_record, OnBad& on_bad) {
  using json_reader_detail::call;
  size_t pos = 0;
  size_t resync = kResyncBytes;
  while (pos < n) {
    // Fast path: simdjson's document stream over the rest of the window, in one stage-1 pass,
    // until its first error.
    size_t stop = n;         // where the stream failed (n: it did not)
    size_t last = SIZE_MAX;  // start of the last record handed over
    {
      simdjson::dom::document_stream stream;
      if (parser_.parse_many(data + pos, n - pos, n - pos).get(stream)) {
        stop = pos;
      } else {
        for (auto it = stream.begin(); it != stream.end(); ++it) {
          auto doc = *it;
          const size_t at = pos + it.current_index();
          if (doc.error()) {
            stop = at;
            break;
          }
          locate(lines, at);
          last = at;
          FERRY_TRY(call(on_record, doc.value_unsafe(), std::as_const(origin_)));
        }
        // An incomplete last document is not an error to the stream: re-read its lines.
        if (stop == n) {
          const size_t truncated = stream.truncated_bytes();
          if (truncated > 0 && truncated <= n - pos) stop = n - truncated;
        }
      }
    }
    if (stop >= n) break;
    // Slow path: each line from the one holding the failure, for `resync` bytes. A failure
    // on the line of a record already handed over covers only the rest of that line.
    size_t from = json_reader_detail::line_start(data, pos, stop);
    if (last != SIZE_MAX && from <= last) from = stop;
    resync = stop == pos ? std::min(resync * 2, kWindowBytes) : kResyncBytes;
    const size_t to = json_reader_detail::line_end(data, n, std::min(n - 1, stop + resync));
    FERRY_TRY(read_each_line(data, from, to, lines, on_record, on_bad));
    pos = to;
  }
  return Status::success();
}

template <typename OnRecord, typename OnBad>
Status JsonReader::read_each_line(const char* data, size_t from, size_t to,
                                  json_reader_detail::LineCounter& lines, OnRecord& on_record,
                                  OnBad& on_bad) {
  using json_reader_detail::call;
  size_t p = from;
  while (p < to) {
    const void* nl = std::memchr(data + p, '\n', to - p);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : to;
    if (!json_reader_detail::is_blank(data + p, end - p)) {
      locate(lines, p);
      simdjson::dom::element record;
      // The chunk is padded at its end, so a line inside it can be parsed in place.
      auto err = parser_.parse(data + p, end - p, false).get(record);
      if (err) {
        const size_t begin = json_reader_detail::line_start(data, 0, p);
        FERRY_TRY(call(on_bad, bad_line(data, begin, end, err)));
      } else {
        FERRY_TRY(call(on_record, record, std::as_const(origin_)));
      }
    }
    p = end + 1;
  }
  return Status::success();
}

template <typename OnRecord, typename OnBad>
Status JsonReader::read_document(std::string_view bytes, std::string_view records_pointer,
                                 const Origin& origin, OnRecord&& on_record, OnBad&& on_bad) {
  using json_reader_detail::call;
  const std::string_view body = begin(bytes, origin);
  const std::string_view in(pad(body), body.size());
  origin_.line = first_line_;
  origin_.offset = -1;
  if (json_reader_detail::is_blank(in.data(), in.size())) return Status::success();
  simdjson::dom::element doc;
  if (auto err = parser_.parse(in.data(), in.size(), false).get(doc)) {
    return call(on_bad, bad_document(in, err));
  }
  simdjson::dom::element records = doc;
  if (!records_pointer.empty()) {
    if (auto err = doc.at_pointer(records_pointer).get(records)) {
      return pointer_error(records_pointer, err);
    }
  }
  if (records.is_null()) return Status::success();
  if (!records.is_array()) return call(on_record, records, std::as_const(origin_));
  const simdjson::dom::array array = records.get_array().value_unsafe();
  for (simdjson::dom::element record : array) {
    FERRY_TRY(call(on_record, record, std::as_const(origin_)));
    ++origin_.line;
  }
  return Status::success();
}

}  // namespace ferry
