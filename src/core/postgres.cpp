#include "core/postgres.h"

#include <libpq-fe.h>

#include <cstring>

#include "core/redact.h"

namespace ferry {
namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// libpq may echo parts of the connection string in its messages: every `password=value` and
// the password of a `scheme://user:password@` URL become ***, as does `password` itself.
std::string scrub(std::string_view text, const std::string& password) {
  std::string out(text);
  if (password.size() >= 1) {
    for (size_t pos = 0; (pos = out.find(password, pos)) != std::string::npos; pos += 3)
      out.replace(pos, password.size(), "***");
  }
  for (size_t pos = 0; (pos = out.find("password=", pos)) != std::string::npos;) {
    pos += 9;
    size_t end = out.find_first_of(" \t\n'&", pos);
    if (end == std::string::npos) end = out.size();
    out.replace(pos, end - pos, "***");
  }
  for (size_t pos = 0; (pos = out.find("://", pos)) != std::string::npos;) {
    pos += 3;
    size_t at = out.find('@', pos);
    size_t colon = out.find(':', pos);
    size_t stop = out.find_first_of("/ \t\n", pos);
    if (at == std::string::npos || colon == std::string::npos || colon > at ||
        (stop != std::string::npos && stop < at))
      continue;
    out.replace(colon + 1, at - colon - 1, "***");
  }
  return redact(out);
}

// One line: libpq's messages end with a newline and may continue on tab-indented lines.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

Code code_for_sqlstate(std::string_view state) {
  if (starts_with(state, "08") || starts_with(state, "53") || starts_with(state, "57P") ||
      state == "40001" || state == "40P01")
    return Code::kRetry;
  if (state == "42P01" || state == "42703" || state == "3F000" || state == "3D000")
    return Code::kNotFound;
  if (state.empty()) return Code::kIo;
  return Code::kInvalid;
}

// The conninfo keywords of `url` (host, port, dbname, user, password), parsed by libpq.
struct ParsedConninfo {
  std::string host, port, dbname, user, password;
  std::string error;  // non-empty when `url` is malformed
};

ParsedConninfo parse_conninfo(const std::string& url) {
  ParsedConninfo out;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    out.error = err ? one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    return out;
  }
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "host" || k == "hostaddr") {
      if (out.host.empty()) out.host = o->val;
    } else if (k == "port") {
      out.port = o->val;
    } else if (k == "dbname") {
      out.dbname = o->val;
    } else if (k == "user") {
      out.user = o->val;
    } else if (k == "password") {
      out.password = o->val;
    }
  }
  PQconninfoFree(opts);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// PgResult

void PgResult::Deleter::operator()(pg_result* r) const {
  PQclear(r);
}
int PgResult::rows() const {
  return res_ ? PQntuples(res_.get()) : 0;
}
int PgResult::columns() const {
  return res_ ? PQnfields(res_.get()) : 0;
}
bool PgResult::is_null(int row, int col) const {
  return PQgetisnull(res_.get(), row, col) != 0;
}
std::string_view PgResult::value(int row, int col) const {
  return std::string_view(PQgetvalue(res_.get(), row, col),
                          static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}
std::string PgResult::column_name(int col) const {
  return PQfname(res_.get(), col);
}
uint32_t PgResult::column_type(int col) const {
  return PQftype(res_.get(), col);
}

// ---------------------------------------------------------------------------------------
// PgConn

void PgConn::Deleter::operator()(pg_conn* c) const {
  PQfinish(c);
}
void PgConn::CopyBuffer::operator()(char* p) const {
  PQfreemem(p);
}

Result<PgConn> PgConn::connect(const PgConnectOptions& options) {
  if (options.url.empty()) return Status::invalid("postgres: the connection url is empty");
  ParsedConninfo parsed = parse_conninfo(options.url);
  std::string password = options.password.empty() ? parsed.password : options.password;
  register_secret(password);
  if (!parsed.error.empty())
    return Status::invalid("postgres: the connection url is not valid: {}",
                           scrub(parsed.error, password));

  std::string timeout = std::to_string(options.connect_timeout_s);
  std::vector<const char*> keys = {"dbname", "application_name", "connect_timeout"};
  std::vector<const char*> values = {options.url.c_str(), "ferry", timeout.c_str()};
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  if (!options.sslmode.empty()) {
    keys.push_back("sslmode");
    values.push_back(options.sslmode.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  PgConn c;
  c.password_ = password;
  c.conn_.reset(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  std::string host = parsed.host.empty() ? "localhost" : parsed.host;
  std::string port = parsed.port.empty() ? "5432" : parsed.port;
  std::string db =
      parsed.dbname.empty() ? (parsed.user.empty() ? "?" : parsed.user) : parsed.dbname;
  c.name_ = "postgres " + db + "@" + host + ":" + port;
  if (!c.conn_) return Status::io("{}: out of memory", c.name_);
  // Notices ("table ... does not exist, skipping") would go to stderr, into ferry's output.
  PQsetNoticeProcessor(
      c.conn_.get(), [](void*, const char*) {}, nullptr);
  if (PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string msg = one_line(PQerrorMessage(c.conn_.get()));
    Code code = Code::kRetry;  // unreachable, refused, timed out: may work later
    if (msg.find("authentication failed") != std::string::npos ||
        msg.find("no password supplied") != std::string::npos ||
        msg.find("no pg_hba.conf entry") != std::string::npos ||
        (msg.find("role \"") != std::string::npos &&
         msg.find("does not exist") != std::string::npos))
      code = Code::kInvalid;
    else if (msg.find("database \"") != std::string::npos &&
             msg.find("does not exist") != std::string::npos)
      code = Code::kNotFound;
    return Status(code, scrub(fmt::format("{}: cannot connect: {}", c.name_, msg), password));
  }
  FERRY_TRY(c.exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3"));
  return c;
}

bool PgConn::connected() const {
  return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

bool PgConn::in_transaction() const {
  if (!conn_) return false;
  PGTransactionStatusType t = PQtransactionStatus(conn_.get());
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

Status PgConn::error_status(const std::string& what, pg_result* res) const {
  std::string msg;
  Code code = Code::kIo;
  if (res != nullptr && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != nullptr) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    code = code_for_sqlstate(state ? state : "");
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
      msg += fmt::format(" ({})", detail);
    if (const char* where = PQresultErrorField(res, PG_DIAG_CONTEXT))
      msg += fmt::format(" [{}]", one_line(where));
  } else {
    msg = conn_ ? one_line(PQerrorMessage(conn_.get())) : "not connected";
  }
  if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD) code = Code::kRetry;
  std::string text = what.empty() ? fmt::format("{}: {}", name_, msg)
                                  : fmt::format("{}: {}: {}", name_, what, msg);
  return Status(code, scrub(text, password_));
}

namespace {
// The first 100 characters of a statement, for messages.
std::string head(std::string_view sql) {
  std::string s = one_line(sql);
  if (s.size() > 100) s = s.substr(0, 100) + "...";
  return s;
}
}  // namespace

Status PgConn::exec(const std::string& sql) {
  if (!conn_) return Status::internal("postgres: exec() on a closed connection");
  PgResult res(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType st = PQresultStatus(res.raw());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
    return Status::success();
  return error_status("running " + head(sql), res.raw());
}

Result<PgResult> PgConn::query(const std::string& sql) {
  if (!conn_) return Status::internal("postgres: query() on a closed connection");
  PgResult res(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType st = PQresultStatus(res.raw());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return res;
  return error_status("running " + head(sql), res.raw());
}

Result<PgResult> PgConn::query(const std::string& sql,
                               const std::vector<std::optional<std::string>>& params) {
  if (!conn_) return Status::internal("postgres: query() on a closed connection");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params)
    values.push_back(p ? p->c_str() : nullptr);
  PgResult res(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
  ExecStatusType st = PQresultStatus(res.raw());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  return error_status("running " + head(sql), res.raw());
}

Status PgConn::copy_in_begin(const std::string& sql) {
  if (!conn_) return Status::internal("postgres: copy on a closed connection");
  PgResult res(PQexec(conn_.get(), sql.c_str()));
  if (PQresultStatus(res.raw()) == PGRES_COPY_IN) return Status::success();
  return error_status("starting " + head(sql), res.raw());
}

Status PgConn::copy_put(std::string_view data) {
  if (data.empty()) return Status::success();
  if (PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) == 1)
    return Status::success();
  return error_status("sending COPY data");
}

Status PgConn::copy_in_end() {
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) return error_status("ending COPY");
  Status out;
  for (;;) {
    PgResult res(PQgetResult(conn_.get()));
    if (!res.raw()) break;
    ExecStatusType st = PQresultStatus(res.raw());
    if (st != PGRES_COMMAND_OK && out) out = error_status("copying rows", res.raw());
  }
  return out;
}

void PgConn::copy_abort(const std::string& reason) {
  if (!conn_) return;
  if (PQputCopyEnd(conn_.get(), reason.c_str()) != 1) return;
  while (PGresult* res = PQgetResult(conn_.get()))
    PQclear(res);
}

Status PgConn::copy_out_begin(const std::string& sql) {
  if (!conn_) return Status::internal("postgres: copy on a closed connection");
  PgResult res(PQexec(conn_.get(), sql.c_str()));
  if (PQresultStatus(res.raw()) == PGRES_COPY_OUT) return Status::success();
  return error_status("starting " + head(sql), res.raw());
}

Result<std::optional<std::string_view>> PgConn::copy_get() {
  char* buf = nullptr;
  int n = PQgetCopyData(conn_.get(), &buf, 0);
  copy_row_.reset(buf);
  if (n >= 0) return std::optional<std::string_view>(std::string_view(buf, static_cast<size_t>(n)));
  if (n == -2) return error_status("reading COPY data");
  Status out;
  for (;;) {
    PgResult res(PQgetResult(conn_.get()));
    if (!res.raw()) break;
    if (PQresultStatus(res.raw()) != PGRES_COMMAND_OK && out)
      out = error_status("reading rows", res.raw());
  }
  if (!out) return out;
  return std::optional<std::string_view>();
}

// ---------------------------------------------------------------------------------------
// COPY text format

namespace {
// Whether any of the 8 bytes of `w` is below 14 (\t, \n, \r and other controls) or a
// backslash: the bytes pg_copy_escape() must look at one by one.
bool may_need_escape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t below14 = (w - kOnes * 14) & ~w & kHigh;
  uint64_t bs = w ^ (kOnes * '\\');
  uint64_t backslash = (bs - kOnes) & ~bs & kHigh;
  return (below14 | backslash) != 0;
}
}  // namespace

Status pg_in_transaction(PgConn& conn, const std::function<Status()>& body) {
  FERRY_TRY(conn.exec("BEGIN"));
  Status st = body();
  if (st.is_ok()) st = conn.exec("COMMIT");
  if (!st.is_ok()) (void)conn.exec("ROLLBACK");
  return st;
}

Result<std::vector<std::vector<std::optional<std::string>>>> pg_text_rows(PgConn& conn,
                                                                          const std::string& sql) {
  FERRY_ASSIGN(PgResult rows, conn.query(sql));
  std::vector<std::vector<std::optional<std::string>>> out;
  auto& header = out.emplace_back();
  for (int c = 0; c < rows.columns(); ++c)
    header.emplace_back(rows.column_name(c));
  for (int r = 0; r < rows.rows(); ++r) {
    auto& row = out.emplace_back();
    for (int c = 0; c < rows.columns(); ++c) {
      if (rows.is_null(r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(rows.value(r, c)));
      }
    }
  }
  return out;
}

void pg_copy_escape(std::string_view value, std::string& out) {
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    // Hot (every text value of a load): skip 8 bytes at a time while none needs a look.
    while (i + 8 <= value.size()) {
      uint64_t w;
      std::memcpy(&w, value.data() + i, 8);
      if (may_need_escape(w)) break;
      i += 8;
    }
    if (i == value.size()) break;
    char c = value[i];
    if (static_cast<unsigned char>(c) > '\r' && c != '\\') continue;
    const char* esc = nullptr;
    switch (c) {
      case '\\':
        esc = "\\\\";
        break;
      case '\n':
        esc = "\\n";
        break;
      case '\r':
        esc = "\\r";
        break;
      case '\t':
        esc = "\\t";
        break;
      default:
        continue;
    }
    out.append(value.data() + start, i - start);
    out.append(esc, 2);
    start = i + 1;
  }
  out.append(value.data() + start, value.size() - start);
}

void pg_copy_unescape(std::string_view field, std::string& out) {
  out.clear();
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\' || i + 1 == field.size()) {
      out.push_back(c);
      continue;
    }
    char n = field[++i];
    switch (n) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'v':
        out.push_back('\v');
        break;
      default:
        // COPY TO writes only the escapes above and \\; octal and hex forms are never output.
        out.push_back(n);
        break;
    }
  }
}

}  // namespace ferry

namespace ferry {

std::vector<OptionDecl> pg_connection_options() {
  return {
      {"url", OptionType::kString, "",
       "postgres://user@host:port/database, or a libpq conninfo string (host=... dbname=...); "
       "put a password in it only through ${ENV}",
       true, false},
      {"password", OptionType::kString, "", "Password, when not in the url (from ${ENV}).", false,
       true},
      {"sslmode", OptionType::kString, "",
       "disable, allow, prefer, require, verify-ca or verify-full (libpq's default: prefer).",
       false, false},
      {"connect_timeout", OptionType::kInt, "10", "Seconds to wait for a connection.", false,
       false},
  };
}

Result<PgConnectOptions> pg_connect_options(const nlohmann::json& connection) {
  PgConnectOptions out;
  auto text = [&](const char* key, std::string* into) -> Status {
    auto it = connection.find(key);
    if (it == connection.end() || it->is_null()) return Status::success();
    if (!it->is_string()) return Status::invalid("postgres connection: {} must be a string", key);
    *into = it->get<std::string>();
    return Status::success();
  };
  FERRY_TRY(text("url", &out.url));
  FERRY_TRY(text("password", &out.password));
  FERRY_TRY(text("sslmode", &out.sslmode));
  if (out.url.empty()) return Status::invalid("postgres connection: option url is required");
  auto it = connection.find("connect_timeout");
  if (it != connection.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      out.connect_timeout_s = it->get<int>();
    } else if (it->is_string() && !it->get<std::string>().empty() &&
               it->get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
      out.connect_timeout_s = std::stoi(it->get<std::string>());
    } else {
      return Status::invalid("postgres connection: connect_timeout must be a number of seconds");
    }
  }
  return out;
}

}  // namespace ferry
