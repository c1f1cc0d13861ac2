// CsvReader: a streaming RFC 4180 CSV reader that fills columnar Batches.
//
// The reader pulls the input through one buffer (1 MiB by default, grown only for a record
// longer than that, up to max_record_bytes), so memory does not depend on the file size.
// Unquoted fields and quoted fields without doubled quotes are views into the buffer; only
// fields that must be unescaped are copied, into one scratch string reused across fields.
//
// What it accepts:
//   - fields separated by `delimiter`, records by LF, CRLF or a lone CR; the last record
//     may end without a line break; blank lines are skipped (but counted in line numbers);
//   - quoted fields holding delimiters, line breaks and doubled quotes ("a ""b""");
//   - leniently, a quote inside an unquoted field (kept literally: a"b stays a"b) and text
//     after a closing quote ("a"b is read as ab);
//   - a UTF-8 byte order mark at the start (removed).
// An unquoted field equal to `null_string` is null; a quoted field never is ("" is the
// empty string). With infer_types each other field is typed by append_inferred (quoted or
// not: a quoted "42" is the int 42, as sqlite's .import reads it); without, it is kText.
//
// What it rejects (a Reject with the source name, the 1-based line where the record starts,
// its byte offset and up to 64 KiB of its raw text; the record is not put in the batch):
//   - a record whose field count differs from the number of columns;
//   - a quoted field still open at the end of the input ("unterminated quoted field ...").
//
// Errors (Status): a failed read of the input (the stream names the file), a record longer
// than max_record_bytes, invalid options, a header with an unterminated quote.
//
// Line numbers and offsets count the decompressed bytes; a line break is LF, CRLF or a lone
// CR, inside quoted fields too.
//
// Thread-safety: none; one reader is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.h"
#include "core/reject.h"
#include "core/status.h"
#include "formats/input_stream.h"

namespace ferry {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  // An UNQUOTED field equal to this is null; a quoted "" is the empty string.
  std::string null_string = "";
  // The first record holds the column names.
  bool header = true;
  // Column names. With header=false they name the fields (default col_1..col_n, n from the
  // first record); with header=true they replace the file's header, whose field count must
  // then match.
  std::vector<std::string> columns;
  // Rows per batch. next() also stops after this many records when they are rejects, so a
  // file of bad rows does not pile up rejects in memory.
  size_t batch_rows = 8192;
  // Type each field with append_inferred; false: every non-null field is kText.
  bool infer_types = true;
  // Initial size of the read buffer; it grows (doubling) while one record does not fit.
  size_t buffer_bytes = 1 << 20;
  // A record longer than this is an error, not a reject: it usually means a stray quote
  // swallowed the rest of a huge file.
  size_t max_record_bytes = 64 << 20;
};

class CsvReader {
 public:
  // `source_name` (a path or URL, never a secret) goes into rejects, batch origins and error
  // messages. REQUIRES: `in` is not null.
  CsvReader(std::unique_ptr<InputStream> in, CsvOptions opts, std::string source_name);
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the header (or, with header=false and no names given, looks at the first record
  // to count its fields without consuming it). Empty input (or only blank lines) gives zero
  // columns and no rows, not an error. REQUIRES: called once, before next().
  Status open();

  // Column names: header names passed through sanitize_name (core/names.h), duplicates
  // made unique with _2, _3, ... Valid after open().
  const std::vector<std::string>& columns() const { return columns_; }
  // The names as in the file (or as given in CsvOptions::columns).
  const std::vector<std::string>& raw_columns() const { return raw_columns_; }

  // Clears `batch`, then fills it with up to batch_rows rows (columns named by columns(),
  // row_lines() with the line of each row, origin_source() with the source name). Rejected
  // records are APPENDED to `rejects`, also when the call returns false. Returns false once
  // the input is exhausted and no row was produced; may return true with an empty batch
  // when a whole batch worth of records was rejected. REQUIRES: open() succeeded.
  Result<bool> next(Batch& batch, std::vector<Reject>& rejects);

  // Bytes read from the (decompressed) input so far.
  int64_t bytes_read() const { return bytes_read_; }
  // The number of lines consumed so far (the header is line 1).
  int64_t line() const { return line_ - 1; }

 private:
  enum class Parse { kRecord, kBlank, kNeedMore, kEof, kUnterminated };

  // One field of the record being parsed: a view into buf_ or (when it had to be
  // unescaped) a range of scratch_.
  struct Field {
    const char* data;
    uint32_t size;
    uint32_t scratch_off;
    bool in_scratch;
    bool quoted;
  };

  Parse parse_record();
  Field& add_field(const char* data) {
    if (nfields_ == fields_.size()) fields_.resize(fields_.size() * 2 + 16);
    Field& f = fields_[nfields_++];
    f = Field{data, 0, 0, false, false};
    return f;
  }
  Status fill();
  std::string_view field_text(const Field& f) const {
    return f.in_scratch ? std::string_view(scratch_.data() + f.scratch_off, f.size)
                        : std::string_view(f.data, f.size);
  }
  Reject make_reject(std::string reason) const;

  std::unique_ptr<InputStream> in_;
  CsvOptions opts_;
  std::string source_name_;
  std::vector<std::string> columns_;
  std::vector<std::string> raw_columns_;

  std::unique_ptr<char[]> buf_;  // capacity cap_ plus padding for 16-byte loads
  size_t cap_ = 0;
  size_t pos_ = 0;  // next unparsed byte
  size_t end_ = 0;  // end of valid bytes
  bool eof_ = false;
  int64_t buf_offset_ = 0;  // stream offset of buf_[0]
  int64_t bytes_read_ = 0;
  int64_t line_ = 1;  // line where the next record starts

  // The last parsed record (valid after parse_record returned a record, blank or
  // unterminated): its byte range in buf_, its first line and its fields.
  size_t rec_begin_ = 0;
  size_t rec_end_ = 0;
  int64_t rec_line_ = 0;
  size_t unterminated_field_ = 0;
  std::vector<Field> fields_;  // the first nfields_ are the record's (grown, never shrunk)
  size_t nfields_ = 0;
  std::string scratch_;
  // Broadcast delimiter, quote, LF and CR for the 16-byte scanner (filled by open()).
  alignas(16) char scan_bytes_[4][16] = {};
  bool opened_ = false;
};

}  // namespace ferry
