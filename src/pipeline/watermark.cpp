#include "pipeline/watermark.h"

#include "core/duration.h"
#include "core/infer.h"
#include "core/names.h"

namespace ferry {

WatermarkTracker::WatermarkTracker(const std::string& cursor_field) {
  if (cursor_field.empty()) return;
  // A JSON pointer (/a/b) or a dotted path names the flattened column a__b.
  std::string path = cursor_field;
  if (!path.empty() && path[0] == '/') path = path.substr(1);
  std::string col;
  size_t start = 0;
  for (;;) {
    size_t end = path.find_first_of("/.", start);
    if (!col.empty()) col += kNestSeparator;
    col += sanitize_name(path.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  column_ = col;
}

void WatermarkTracker::observe(const Batch& batch) {
  int idx = batch.find(column_);
  if (idx < 0) {
    missing_ += static_cast<int64_t>(batch.num_rows());
    return;
  }
  const Column& col = batch.column(static_cast<size_t>(idx));
  for (const Cell& c : col.cells()) {
    if (c.is_null()) {
      ++missing_;
      continue;
    }
    bool greater = false;
    if (!have_) {
      greater = true;
    } else if (c.type == type_ && (c.type == Type::kInt || c.type == Type::kTimestamp ||
                                   c.type == Type::kDate || c.type == Type::kBool)) {
      greater = c.i > i_;
    } else if ((c.type == Type::kInt || c.type == Type::kDouble) &&
               (type_ == Type::kInt || type_ == Type::kDouble)) {
      double a = c.type == Type::kInt ? static_cast<double>(c.i) : c.d;
      double b = type_ == Type::kInt ? static_cast<double>(i_) : d_;
      greater = a > b;
    } else if (c.type == Type::kTimestamp && type_ == Type::kDate) {
      greater = c.i > i_ * 86400000000LL;
    } else {
      greater = col.text(c) > text_;
    }
    if (greater) {
      have_ = true;
      type_ = c.type;
      i_ = c.i;
      d_ = c.d;
      text_ = std::string(col.text(c));
    }
  }
}

std::optional<std::string> WatermarkTracker::value() const {
  if (!have_) return std::nullopt;
  if (type_ == Type::kTimestamp) return format_timestamp(i_);
  return text_;
}

std::string apply_lookback(const std::string& watermark, const std::string& lookback) {
  if (watermark.empty() || lookback.empty()) return watermark;
  auto secs = parse_duration_seconds(lookback);
  int64_t us;
  if (!secs.ok() || !parse_timestamp(watermark, &us)) return watermark;
  return format_timestamp(us - static_cast<int64_t>(secs.value() * 1e6));
}

}  // namespace ferry
