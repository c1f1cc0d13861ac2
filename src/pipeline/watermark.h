// WatermarkTracker: the maximum value of a job's cursor field over the rows it loads, compared
// by type (numbers as numbers, timestamps as time, text as text). Rows without a value are
// counted, loaded, and do not move the watermark.
//
// Thread-safety: one instance per run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/batch.h"

namespace ferry {

class WatermarkTracker {
 public:
  explicit WatermarkTracker(const std::string& cursor_field);
  bool active() const { return !column_.empty(); }
  void observe(const Batch& batch);
  // The maximum seen, as text (timestamps in canonical UTC form); nullopt when none.
  std::optional<std::string> value() const;
  int64_t missing() const { return missing_; }

 private:
  std::string column_;
  bool have_ = false;
  Type type_ = Type::kNull;
  int64_t i_ = 0;
  double d_ = 0;
  std::string text_;
  int64_t missing_ = 0;
};

// The watermark to send to the source: `watermark` moved back by `lookback` ("10m") when it
// is a timestamp, so a window is re-read (safe with merge). Unchanged otherwise.
std::string apply_lookback(const std::string& watermark, const std::string& lookback);

}  // namespace ferry
