// Status and Result<T>: how ferry reports expected failures.
//
// Expected failures (a bad row, a missing file, an HTTP 429, a config error) are values:
// functions return Status or Result<T> and never throw for them. An exception
// (ferry::Error) aborts one job and is caught at the job boundary, where it becomes an
// audit row and a clear message. Assertions are for programmer errors only.
//
// Thread-safety: plain values; safe to copy between threads.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace ferry {

enum class Code {
  kOk = 0,
  kInvalid,    // bad input or configuration (user-facing, exit code 2 at the CLI)
  kNotFound,   // a file, table, job or key that does not exist
  kIo,         // the operating system or a database failed
  kRetry,      // transient: the executor may retry (429, 5xx, reset connection)
  kRejected,   // too many rejected rows
  kCancelled,  // the run was cancelled
  kInternal,   // a bug
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  // The ok status. (Not `ok()`: a static ok() could be called on an instance, and
  // `ASSERT_TRUE(st.ok())` would then compile and check nothing.)
  static Status success() { return Status(); }
  template <typename... Args>
  static Status invalid(fmt::format_string<Args...> f, Args&&... args) {
    return Status(Code::kInvalid, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  static Status not_found(fmt::format_string<Args...> f, Args&&... args) {
    return Status(Code::kNotFound, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  static Status io(fmt::format_string<Args...> f, Args&&... args) {
    return Status(Code::kIo, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  static Status retry(fmt::format_string<Args...> f, Args&&... args) {
    return Status(Code::kRetry, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  static Status internal(fmt::format_string<Args...> f, Args&&... args) {
    return Status(Code::kInternal, fmt::format(f, std::forward<Args>(args)...));
  }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid: message" style rendering for logs.
  std::string to_string() const;
  // Returns a copy whose message is "context: message".
  Status with_context(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or a failed Status. REQUIRES: value() only when ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

// Thrown to abort one job; caught at the job boundary (pipeline/run).
class Error : public std::runtime_error {
 public:
  explicit Error(Status status)
      : std::runtime_error(status.message()), status_(std::move(status)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Throws ferry::Error when status is not ok. For code paths where a failure must abort the job.
inline void check(Status status) {
  if (!status.is_ok()) throw Error(std::move(status));
}

}  // namespace ferry

#define FERRY_CONCAT_INNER(a, b) a##b
#define FERRY_CONCAT(a, b) FERRY_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when it is not ok.
#define FERRY_TRY(expr)           \
  do {                            \
    ::ferry::Status _st = (expr); \
    if (!_st.is_ok()) return _st; \
  } while (0)

// FERRY_ASSIGN(auto x, result_expr): unwraps a Result or returns its status.
#define FERRY_ASSIGN(lhs, expr) FERRY_ASSIGN_IMPL(FERRY_CONCAT(_res_, __LINE__), lhs, expr)
#define FERRY_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                      \
  if (!tmp.ok()) return tmp.status();     \
  lhs = std::move(tmp).value()
