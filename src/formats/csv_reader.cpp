#include "formats/csv_reader.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/infer.h"
#include "core/names.h"

namespace ferry {
namespace {

// Bytes allocated past the buffer's capacity so that the scanner's 64-byte loads near the
// end stay inside the allocation (bytes past end_ are masked out, never used).
constexpr size_t kPadding = 64;
constexpr size_t kMaxRawBytes = 64 << 10;
constexpr size_t kMaxNameBytes = 63;

// Finds the bytes that end or interrupt an unquoted field: the delimiter, the quote, LF
// and CR. It classifies 64 bytes at a time into a bit mask and answers from the mask while
// the search stays inside that block, so short fields cost a shift and a count of zeros.
// `bytes` holds each special byte repeated 16 times (CsvReader::scan_bytes_).
// REQUIRES: 64 readable bytes past `end` (see kPadding); bytes past `end` are never
// reported.
class Scanner {
 public:
  // Starts with the block at `start`.
  Scanner(const char (*bytes)[16], const char* start) {
#if defined(__SSE2__)
    d_ = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes[0]));
    q_ = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes[1]));
    lf_ = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes[2]));
    cr_ = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes[3]));
#else
    d_ = bytes[0][0];
    q_ = bytes[1][0];
#endif
    block_ = start;
    mask_ = classify(start);
  }

  // The first special byte in [p, end), or end.
  const char* find(const char* p, const char* end) {
    while (p < end) {
      if (p - block_ >= 64) {
        block_ = p;
        mask_ = classify(p);
      }
      uint64_t m = mask_ & (~uint64_t{0} << (p - block_));
      if (m != 0) {
        const char* hit = block_ + __builtin_ctzll(m);
        return hit < end ? hit : end;
      }
      p = block_ + 64;
    }
    return end;
  }

 private:
  // Bit i set when p[i] is special.
  uint64_t classify(const char* p) const {
#if defined(__SSE2__)
    uint64_t mask = 0;
    for (int k = 0; k < 4; ++k) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
      __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d_), _mm_cmpeq_epi8(v, q_)),
                               _mm_or_si128(_mm_cmpeq_epi8(v, lf_), _mm_cmpeq_epi8(v, cr_)));
      mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(m))) << (16 * k);
    }
    return mask;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; ++i) {
      char c = p[i];
      if (c == d_ || c == q_ || c == '\n' || c == '\r') mask |= uint64_t{1} << i;
    }
    return mask;
#endif
  }

#if defined(__SSE2__)
  __m128i d_, q_, lf_, cr_;
#else
  char d_, q_;
#endif
  // The classified block: [block_, block_ + 64).
  const char* block_;
  uint64_t mask_;
};

// Line breaks in [a, b): LF, CRLF and a lone CR each count once.
int64_t count_breaks(const char* a, const char* b) {
  size_t n = static_cast<size_t>(b - a);
  int64_t breaks = 0;
  if (std::memchr(a, '\r', n) == nullptr) {
    for (const char* p = a; (p = static_cast<const char*>(std::memchr(p, '\n', b - p))); ++p)
      ++breaks;
    return breaks;
  }
  for (const char* p = a; p < b; ++p) {
    if (*p == '\n' || (*p == '\r' && (p + 1 == b || p[1] != '\n'))) ++breaks;
  }
  return breaks;
}

// Cuts s to at most max bytes without splitting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

// sanitize_name on each, then duplicates renamed name_2, name_3, ... skipping names that
// another column already has, so a column's own name is never taken by a renamed one.
std::vector<std::string> unique_names(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  out.reserve(raw.size());
  std::unordered_set<std::string> all;
  for (const std::string& r : raw)
    all.insert(sanitize_name(r));
  std::unordered_set<std::string> used;
  for (const std::string& r : raw) {
    std::string base = sanitize_name(r);
    std::string name = base;
    for (int k = 2; used.count(name) > 0; ++k) {
      std::string suffix = "_" + std::to_string(k);
      name = std::string(utf8_prefix(base, kMaxNameBytes - suffix.size())) + suffix;
      if (all.count(name) > 0) name = base;  // taken by another column: try the next k
    }
    used.insert(name);
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace

CsvReader::CsvReader(std::unique_ptr<InputStream> in, CsvOptions opts, std::string source_name)
    : in_(std::move(in)), opts_(std::move(opts)), source_name_(std::move(source_name)) {}

Status CsvReader::open() {
  if (opened_) return Status::internal("{}: CsvReader::open called twice", source_name_);
  const char d = opts_.delimiter, q = opts_.quote;
  if (d == q) return Status::invalid("csv: the delimiter and the quote must differ");
  if (d == '\n' || d == '\r' || q == '\n' || q == '\r')
    return Status::invalid("csv: the delimiter and the quote cannot be a line break");
  if (opts_.batch_rows == 0) return Status::invalid("csv: batch_rows must be at least 1");
  if (opts_.max_record_bytes == 0 || opts_.max_record_bytes > (size_t{1} << 31))
    return Status::invalid("csv: max_record_bytes must be between 1 and 2 GiB");
  std::memset(scan_bytes_[0], d, 16);
  std::memset(scan_bytes_[1], q, 16);
  std::memset(scan_bytes_[2], '\n', 16);
  std::memset(scan_bytes_[3], '\r', 16);
  cap_ = std::max<size_t>(opts_.buffer_bytes, 1);
  // Not zeroed (1 MiB per file would cost more than a small file's parse): bytes past end_
  // are never used; the padding is zeroed all the same.
  buf_ = std::make_unique_for_overwrite<char[]>(cap_ + kPadding);
  std::memset(buf_.get() + cap_, 0, kPadding);
  opened_ = true;

  while (end_ < 3 && !eof_)
    FERRY_TRY(fill());
  if (end_ >= 3 && std::memcmp(buf_.get(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;

  std::vector<std::string> names = opts_.columns;
  if (opts_.header || names.empty()) {
    Parse r;
    for (;;) {
      r = parse_record();
      if (r == Parse::kNeedMore) {
        FERRY_TRY(fill());
      } else if (r != Parse::kBlank) {
        break;
      }
    }
    if (r == Parse::kEof) {
      // Empty input: no columns unless they were named.
    } else if (opts_.header) {
      if (r == Parse::kUnterminated)
        return Status::invalid("{}: line {}: unterminated quoted field in the header", source_name_,
                               rec_line_);
      if (names.empty()) {
        for (size_t i = 0; i < nfields_; ++i)
          names.emplace_back(field_text(fields_[i]));
      } else if (names.size() != nfields_) {
        return Status::invalid("{}: {} column names are configured but the header has {} fields",
                               source_name_, names.size(), nfields_);
      }
    } else {
      // No header and no names: the first record gives the count. Rewind to read it again.
      size_t n = nfields_ + (r == Parse::kUnterminated ? 1 : 0);
      for (size_t i = 1; i <= n; ++i)
        names.push_back("col_" + std::to_string(i));
      pos_ = rec_begin_;
      line_ = rec_line_;
    }
  }
  raw_columns_ = names;
  columns_ = unique_names(names);
  return Status::success();
}

Status CsvReader::fill() {
  if (eof_) return Status::success();
  char* base = buf_.get();
  if (pos_ > 0) {
    std::memmove(base, base + pos_, end_ - pos_);
    buf_offset_ += static_cast<int64_t>(pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  // One record fills the whole buffer, which may not grow any more.
  if (end_ == cap_ && cap_ >= opts_.max_record_bytes) {
    return Status::invalid(
        "{}: line {}: a record is longer than {} bytes (max_record_bytes); is a quote left "
        "open?",
        source_name_, line_, opts_.max_record_bytes);
  }
  // Grow while the pending record fills more than half the buffer, so that every retry of
  // a long record reads at least half a buffer more (linear time, not quadratic).
  if (end_ > cap_ / 2 && cap_ < opts_.max_record_bytes) {
    size_t cap = std::min(std::max<size_t>(cap_ * 2, 16), opts_.max_record_bytes);
    auto grown = std::make_unique_for_overwrite<char[]>(cap + kPadding);
    std::memcpy(grown.get(), base, end_);
    std::memset(grown.get() + cap, 0, kPadding);
    buf_ = std::move(grown);
    cap_ = cap;
    base = buf_.get();
  }
  while (end_ < cap_) {
    Result<size_t> got = in_->read(base + end_, cap_ - end_);
    if (!got.ok()) {
      const Status& st = got.status();
      if (st.message().find(source_name_) != std::string::npos) return st;
      return st.with_context(source_name_);
    }
    if (got.value() == 0) {
      eof_ = true;
      break;
    }
    end_ += got.value();
    bytes_read_ += static_cast<int64_t>(got.value());
  }
  return Status::success();
}

// Parses the record at pos_. Returns kNeedMore, changing nothing, when the buffer ends
// before the record does and the input is not exhausted; the caller fills and retries.
CsvReader::Parse CsvReader::parse_record() {
  const char* const base = buf_.get();
  const char* const end = base + end_;
  const char* p = base + pos_;
  if (p == end) return eof_ ? Parse::kEof : Parse::kNeedMore;

  Scanner scan(scan_bytes_, p);
  const char d = opts_.delimiter;
  const char q = opts_.quote;
  const char* const rec = p;
  int64_t breaks = 0;  // line breaks inside quoted fields
  const char* term;    // the record's LF or CR, or end at the end of the input
  nfields_ = 0;
  scratch_.clear();

  for (;;) {
    if (p == end) {  // after a delimiter at the end of the buffer
      if (!eof_) return Parse::kNeedMore;
      add_field(p);
      term = end;
      break;
    }
    if (*p != q) {
      const char* s = scan.find(p, end);
      while (s < end && *s == q)  // a quote inside an unquoted field is kept literally
        s = scan.find(s + 1, end);
      if (s == end && !eof_) return Parse::kNeedMore;
      add_field(p).size = static_cast<uint32_t>(s - p);
      if (s < end && *s == d) {
        p = s + 1;
        continue;
      }
      term = s;
      break;
    }

    // A quoted field: find the closing quote, unescaping doubled quotes into scratch_.
    Field& f = add_field(p + 1);
    f.quoted = true;
    const char* const content = p + 1;
    const char* s = content;
    for (;;) {
      const char* c = static_cast<const char*>(std::memchr(s, q, end - s));
      if (c == nullptr) {
        if (!eof_) return Parse::kNeedMore;
        unterminated_field_ = nfields_;
        --nfields_;  // fields_ holds the complete fields only
        rec_begin_ = rec - base;
        rec_end_ = end_;
        rec_line_ = line_;
        line_ += 1 + count_breaks(rec, end);
        pos_ = end_;
        return Parse::kUnterminated;
      }
      if (c + 1 == end && !eof_) return Parse::kNeedMore;  // "" split by the buffer end?
      if (c + 1 < end && c[1] == q) {
        if (!f.in_scratch) {
          f.scratch_off = static_cast<uint32_t>(scratch_.size());
          f.in_scratch = true;
        }
        scratch_.append(s, c + 1);  // the text and one quote
        s = c + 2;
        continue;
      }
      breaks += count_breaks(content, c);
      if (f.in_scratch) {
        scratch_.append(s, c);
      } else {
        f.size = static_cast<uint32_t>(c - content);
      }
      p = c + 1;
      break;
    }
    // Text between the closing quote and the delimiter is kept (leniently): "a"b is ab.
    while (p < end && *p != d && *p != '\n' && *p != '\r') {
      const char* t = scan.find(p, end);
      if (t == end && !eof_) return Parse::kNeedMore;
      if (t < end && *t == q) ++t;
      if (!f.in_scratch) {
        f.scratch_off = static_cast<uint32_t>(scratch_.size());
        f.in_scratch = true;
        scratch_.append(content, f.size);
      }
      scratch_.append(p, t);
      p = t;
    }
    if (f.in_scratch) f.size = static_cast<uint32_t>(scratch_.size() - f.scratch_off);
    if (p == end && !eof_) return Parse::kNeedMore;
    if (p < end && *p == d) {
      ++p;
      continue;
    }
    term = p;
    break;
  }

  const char* next = term;
  if (term < end) {
    if (*term == '\r') {
      if (term + 1 == end && !eof_) return Parse::kNeedMore;  // CR, maybe LF next
      next = term + 1 < end && term[1] == '\n' ? term + 2 : term + 1;
    } else {
      next = term + 1;
    }
  }
  rec_begin_ = rec - base;
  rec_end_ = term - base;
  rec_line_ = line_;
  line_ += 1 + breaks;
  pos_ = next - base;
  if (nfields_ == 1 && !fields_[0].quoted && fields_[0].size == 0) return Parse::kBlank;
  return Parse::kRecord;
}

Reject CsvReader::make_reject(std::string reason) const {
  Reject r;
  r.origin.source = source_name_;
  r.origin.line = rec_line_;
  r.origin.offset = buf_offset_ + static_cast<int64_t>(rec_begin_);
  r.reason = std::move(reason);
  std::string_view raw(buf_.get() + rec_begin_, rec_end_ - rec_begin_);
  r.raw = std::string(utf8_prefix(raw, kMaxRawBytes));
  return r;
}

Result<bool> CsvReader::next(Batch& batch, std::vector<Reject>& rejects) {
  batch.clear();
  batch.set_origin_source(source_name_);
  if (!opened_) return Status::internal("{}: CsvReader::next before open", source_name_);
  const size_t ncols = columns_.size();
  if (ncols == 0) return false;

  // Resolve the columns once per batch; pointers are taken after all lookups because
  // column_index may add columns.
  std::vector<size_t> idx(ncols);
  for (size_t i = 0; i < ncols; ++i)
    idx[i] = batch.column_index(columns_[i]);
  std::vector<Column*> cols(ncols);
  for (size_t i = 0; i < ncols; ++i)
    cols[i] = &batch.column(idx[i]);
  std::vector<int64_t>& lines = batch.row_lines();

  const std::string_view null_string = opts_.null_string;
  const bool infer = opts_.infer_types;
  size_t rows = 0;
  size_t records = 0;
  bool at_eof = false;
  while (records < opts_.batch_rows) {
    Parse r = parse_record();
    if (r == Parse::kNeedMore) {
      FERRY_TRY(fill());
      continue;
    }
    if (r == Parse::kBlank) continue;
    if (r == Parse::kEof) {
      at_eof = true;
      break;
    }
    ++records;
    if (r == Parse::kUnterminated) {
      rejects.push_back(make_reject(
          fmt::format("unterminated quoted field {}: no closing quote before the end of the input",
                      unterminated_field_)));
      continue;
    }
    if (nfields_ != ncols) {
      rejects.push_back(make_reject(fmt::format("expected {} fields, found {}", ncols, nfields_)));
      continue;
    }
    for (size_t i = 0; i < ncols; ++i) {
      const Field& f = fields_[i];
      std::string_view text = field_text(f);
      Column& col = *cols[i];
      if (!f.quoted && text == null_string) {
        col.append_null();
      } else if (infer) {
        append_inferred(col, text);
      } else {
        col.append_text(Type::kText, text);
      }
    }
    batch.end_row();
    lines.push_back(rec_line_);
    ++rows;
  }
  return rows > 0 || !at_eof;
}

}  // namespace ferry
