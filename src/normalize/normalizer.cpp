#include "normalize/normalizer.h"

#include <charconv>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/infer.h"
#include "core/names.h"
#include "normalize/json_text.h"
#include "normalize/row_id.h"

namespace ferry {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int32_t kNone = -1;
constexpr size_t kMaxName = 63;
constexpr uint64_t kMixedSources = UINT64_MAX;

// Column positions of the link columns, created with each table.
constexpr size_t kIdCol = 0;
constexpr size_t kParentCol = 1;  // child tables only
constexpr size_t kRootCol = 2;
constexpr size_t kIdxCol = 3;

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct Table;
struct Slot;

// An object being flattened into one table under a column-name prefix: a table's top level,
// or a nested object within it. Scopes, slots and tables live in deques, so pointers to them
// stay valid as more are added.
struct Scope {
  Table* table = nullptr;
  std::string prefix;  // "" or "customer__address__"
  std::string path;    // dotted sanitised path, for json_paths ("" at the root record)
  int level = 1;       // nesting level of this scope's values
  std::unordered_map<std::string, Slot*, KeyHash, std::equal_to<>> keys;
  // The slot of the i-th field of the last object seen here: records mostly repeat their key
  // order, so a lookup is usually one string comparison.
  std::vector<Slot*> order;
};

// One key of a scope, with what its values have needed so far: a column (scalars, JSON), a
// nested scope (objects) and a child table (arrays).
struct Slot {
  std::string key;   // the key as in the JSON (unescaped)
  std::string name;  // sanitize_name(key), or "value"
  std::string path;  // dotted path, for json_paths
  Scope* scope = nullptr;
  int32_t column = kNone;
  Scope* object = nullptr;
  Table* child = nullptr;
  bool json_always = false;     // listed in json_paths
  bool json_nested = false;     // objects and arrays here are deeper than max_depth
  Type declared = Type::kNull;  // a root field of NormalizerOptions::root_fields
};

struct Table {
  std::string name;
  Table* parent = nullptr;
  Scope* scope = nullptr;  // the fields of the root record or of object elements
  Slot* value = nullptr;   // scalar (and array) elements, made on first use
  Batch batch;
  std::unordered_set<std::string> names;  // column names taken
  RowIdHash id_seed;                      // the hash state with the table name absorbed
  uint64_t source_epoch = 0;              // which source the batch's rows came from
  std::vector<Type> types;                // per column: widened over every batch so far
};

// A non-empty array met while flattening a row, expanded once the row (and its id) is done.
struct Pending {
  Table* table;
  simdjson::dom::array array;
};

// The row being filled.
struct Row {
  Table& table;
  size_t index;         // its row number in the table's batch
  size_t pending_base;  // its arrays are pending_[pending_base, ...)
};

// "customer__address__city" within kMaxName bytes, long names shortened with a hash suffix
// so that two long names stay distinct.
std::string fit_name(std::string name) {
  if (name.size() <= kMaxName) return name;
  char suffix[RowIdHash::kHexSize];
  RowIdHash::hex(RowIdHash().add(name).digest(), suffix);
  size_t keep = kMaxName - 9;
  while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80)
    --keep;  // do not cut a UTF-8 sequence
  name.resize(keep);
  name.push_back('_');
  name.append(suffix, 8);
  return name;
}

// "a.b" or "a__b" -> the sanitised, "__"-joined name of that nested column.
std::string sanitize_path(std::string_view path, std::string_view joiner) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    if (!out.empty()) out.append(joiner);
    out += sanitize_name(path.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

void append_string(Column& col, std::string_view s) {
  // Dates and timestamps start with YYYY-; anything else is text without further checks.
  if (s.size() >= 10 && s.size() <= 40 && s[4] == '-' && is_digit(s[0])) {
    int64_t v;
    if (s.size() == 10) {
      if (parse_date(s, &v)) return col.append_date(v, s);
    } else if (parse_timestamp(s, &v)) {
      return col.append_timestamp(v, s);
    }
  }
  col.append_text(Type::kText, s);
}

void append_scalar(Column& col, element v) {
  char buf[32];
  switch (v.type()) {
    case element_type::INT64: {
      const int64_t i = v.get_int64().value_unsafe();
      const auto r = std::to_chars(buf, buf + sizeof(buf), i);
      col.append_int(i, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
      return;
    }
    case element_type::UINT64: {  // above int64: exact, as text
      const auto r = std::to_chars(buf, buf + sizeof(buf), v.get_uint64().value_unsafe());
      col.append_text(Type::kDecimal, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
      return;
    }
    case element_type::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      col.append_double(d, std::string_view(buf, format_json_double(d, buf)));
      return;
    }
    case element_type::BOOL: {
      const bool b = v.get_bool().value_unsafe();
      col.append_bool(b, b ? "true" : "false");
      return;
    }
    case element_type::STRING:
      append_string(col, v.get_string().value_unsafe());
      return;
    case element_type::NULL_VALUE:
    case element_type::OBJECT:
    case element_type::ARRAY:
      return;  // handled by the caller
  }
}

// Row ids are stored as signed 64-bit integers (the hash's bits): 8 bytes a key, and joins
// on integers, instead of 16 hex characters. An id carries its decimal text, formatted once:
// a child row repeats its parent's and its root's id.
struct RowId {
  int64_t value = 0;
  uint8_t len = 0;
  char text[23];

  explicit RowId(uint64_t id) : value(static_cast<int64_t>(id)) {
    const auto r = std::to_chars(text, text + sizeof(text), value);
    len = static_cast<uint8_t>(r.ptr - text);
  }
  std::string_view view() const { return std::string_view(text, len); }
};

void append_id(Column& col, const RowId& id) {
  col.append_int(id.value, id.view());
}

}  // namespace

class Normalizer::Impl {
 public:
  Impl(NormalizerOptions opts, Emit emit);
  Status add(element record, const Origin& origin);
  Status flush();
  int64_t records() const { return records_; }
  std::vector<std::string> tables() const;

 private:
  Table& new_table(std::string name, Table* parent, std::string path, int level);
  size_t add_column(Table& table, std::string name);
  Slot& lookup(Scope& scope, size_t pos, std::string_view key) {
    if (pos < scope.order.size()) {
      Slot* s = scope.order[pos];
      if (s->key == key) return *s;
    }
    return lookup_slow(scope, pos, key);
  }
  Slot& lookup_slow(Scope& scope, size_t pos, std::string_view key);
  Slot& new_slot(Scope& scope, std::string key, std::string name);
  Slot& value_slot(Table& table);
  Scope& object_scope(Slot& slot);
  Table& child_table(Slot& slot);
  Column& column(Slot& slot, Table& table) {
    if (slot.column == kNone)
      slot.column = static_cast<int32_t>(add_column(table, slot.scope->prefix + slot.name));
    return table.batch.column(static_cast<size_t>(slot.column));
  }

  void flatten(Scope& scope, const Row& row, simdjson::dom::object object);
  void put(Slot& slot, const Row& row, element value);
  void put_json(Slot& slot, const Row& row, element value);
  void put_declared(Slot& slot, const Row& row, std::string_view text);
  Status child_row(Table& table, uint64_t idx, element value, const RowId& parent_id,
                   const RowId& root_id, int64_t line);
  Status expand(size_t base, const RowId& parent_id, const RowId& root_id, int64_t line);
  uint64_t root_id(size_t row);
  void end_row(Table& table, int64_t line);
  Status make_room(Table& table);
  Status emit(Table& table);

  NormalizerOptions opts_;
  Emit emit_;
  std::deque<Table> tables_;
  std::deque<Scope> scopes_;
  std::deque<Slot> slots_;
  std::unordered_set<std::string> table_names_;
  std::unordered_set<std::string> json_paths_;
  // root_fields: sanitised name -> (column index, type).
  std::unordered_map<std::string, std::pair<int32_t, Type>> declared_;
  std::vector<std::string> pk_names_;
  std::vector<int> pk_columns_;
  size_t pk_resolved_at_ = SIZE_MAX;  // root column count when pk_columns_ was resolved
  RowIdHash root_seed_;
  std::vector<Pending> pending_;
  std::vector<Table*> chain_;
  std::string json_buf_;
  std::string source_;
  uint64_t source_epoch_ = 0;
  int64_t records_ = 0;
};

Normalizer::Impl::Impl(NormalizerOptions opts, Emit emit)
    : opts_(std::move(opts)), emit_(std::move(emit)) {
  if (opts_.batch_rows == 0) opts_.batch_rows = 1;
  for (const std::string& p : opts_.json_paths)
    json_paths_.insert(sanitize_path(p, "."));
  for (const std::string& k : opts_.primary_key)
    pk_names_.push_back(fit_name(sanitize_path(k, kNestSeparator)));
  std::string root = opts_.root_table.empty() ? "root" : sanitize_name(opts_.root_table);
  Table& t = new_table(std::move(root), nullptr, "", 1);
  for (const Field& f : opts_.root_fields) {
    if (declared_.count(f.name)) continue;
    const size_t column = add_column(t, f.name);
    t.types.resize(column + 1, Type::kNull);
    t.types[column] = f.type;
    declared_.emplace(f.name, std::make_pair(static_cast<int32_t>(column), f.type));
  }
  root_seed_ = pk_names_.empty() ? RowIdHash().add("load").add(opts_.load_id)
                                 : RowIdHash().add("pk").add(t.name);
}

Table& Normalizer::Impl::new_table(std::string name, Table* parent, std::string path, int level) {
  name = fit_name(std::move(name));
  std::string unique = name;
  for (int k = 2; !table_names_.insert(unique).second; ++k)
    unique = fit_name(name + "_" + std::to_string(k));
  Table& t = tables_.emplace_back();
  t.name = std::move(unique);
  t.parent = parent;
  t.batch.set_table(t.name);
  t.id_seed = RowIdHash().add("child").add(t.name);
  Scope& scope = scopes_.emplace_back();
  scope.table = &t;
  scope.path = std::move(path);
  scope.level = level;
  t.scope = &scope;
  add_column(t, kRowIdColumn);
  if (parent) {
    add_column(t, kParentIdColumn);
    add_column(t, kRootIdColumn);
    add_column(t, kIndexColumn);
  }
  return t;
}

size_t Normalizer::Impl::add_column(Table& table, std::string name) {
  name = fit_name(std::move(name));
  std::string unique = name;
  for (int k = 2; !table.names.insert(unique).second; ++k)
    unique = fit_name(name + "_" + std::to_string(k));
  return table.batch.column_index(unique);
}

Slot& Normalizer::Impl::lookup_slow(Scope& scope, size_t pos, std::string_view key) {
  Slot* slot;
  auto it = scope.keys.find(key);
  if (it != scope.keys.end()) {
    slot = it->second;
  } else {
    slot = &new_slot(scope, std::string(key), sanitize_name(key));
    scope.keys.emplace(slot->key, slot);
  }
  if (pos >= scope.order.size()) scope.order.resize(pos + 1, slot);
  scope.order[pos] = slot;
  return *slot;
}

Slot& Normalizer::Impl::new_slot(Scope& scope, std::string key, std::string name) {
  Slot& s = slots_.emplace_back();
  s.key = std::move(key);
  s.name = std::move(name);
  s.path = scope.path.empty() ? s.name : scope.path + "." + s.name;
  s.scope = &scope;
  s.json_always = json_paths_.count(s.path) > 0;
  s.json_nested = opts_.max_depth > 0 && scope.level > opts_.max_depth;
  if (!declared_.empty() && &scope == tables_.front().scope) {
    auto it = declared_.find(s.name);
    if (it != declared_.end()) {
      s.column = it->second.first;
      s.declared = it->second.second;
      declared_.erase(it);  // a second key with the same name gets a column of its own
    }
  }
  return s;
}

Slot& Normalizer::Impl::value_slot(Table& table) {
  if (!table.value) table.value = &new_slot(*table.scope, "", "value");
  return *table.value;
}

Scope& Normalizer::Impl::object_scope(Slot& slot) {
  if (!slot.object) {
    Scope& s = scopes_.emplace_back();
    s.table = slot.scope->table;
    s.prefix = slot.scope->prefix + slot.name + kNestSeparator;
    s.path = slot.path;
    s.level = slot.scope->level + 1;
    slot.object = &s;
  }
  return *slot.object;
}

Table& Normalizer::Impl::child_table(Slot& slot) {
  if (!slot.child) {
    Table& parent = *slot.scope->table;
    slot.child = &new_table(parent.name + kNestSeparator + slot.scope->prefix + slot.name, &parent,
                            slot.path, slot.scope->level + 1);
  }
  return *slot.child;
}

Status Normalizer::Impl::add(element record, const Origin& origin) {
  if (record.type() != element_type::OBJECT) {
    return Status::invalid("a record must be a JSON object, not {}", json_type_name(record));
  }
  if (origin.source != source_) {
    source_ = origin.source;
    ++source_epoch_;
  }
  pending_.clear();
  Table& root = tables_.front();
  FERRY_TRY(make_room(root));
  const Row row{root, root.batch.num_rows(), 0};
  flatten(*root.scope, row, record.get_object().value_unsafe());
  const RowId id(root_id(row.index));
  append_id(root.batch.column(kIdCol), id);
  end_row(root, origin.line);
  ++records_;
  return expand(0, id, id, origin.line);
}

uint64_t Normalizer::Impl::root_id(size_t row) {
  RowIdHash h = root_seed_;
  if (pk_names_.empty()) {
    h.add(static_cast<uint64_t>(records_));
  } else {
    const Batch& b = tables_.front().batch;
    if (pk_resolved_at_ != b.num_columns()) {  // a key column may have appeared since
      pk_columns_.clear();
      for (const std::string& name : pk_names_)
        pk_columns_.push_back(b.find(name));
      pk_resolved_at_ = b.num_columns();
    }
    for (int c : pk_columns_) {
      const Column* col = c < 0 ? nullptr : &b.column(static_cast<size_t>(c));
      if (col && col->size() > row && !(*col)[row].is_null()) {
        h.add(uint64_t{1}).add(col->text(row));
      } else {
        h.add(uint64_t{0});
      }
    }
  }
  return h.digest();
}

void Normalizer::Impl::flatten(Scope& scope, const Row& row, simdjson::dom::object object) {
  size_t pos = 0;
  for (simdjson::dom::key_value_pair field : object)
    put(lookup(scope, pos++, field.key), row, field.value);
}

void Normalizer::Impl::put(Slot& slot, const Row& row, element value) {
  const element_type type = value.type();
  if (type == element_type::NULL_VALUE) return;
  if (slot.json_always) return put_json(slot, row, value);
  if (slot.declared != Type::kNull) {
    if (type == element_type::STRING)
      return put_declared(slot, row, value.get_string().value_unsafe());
    if (slot.declared == Type::kJson) return put_json(slot, row, value);
  }
  switch (type) {
    case element_type::OBJECT:
      if (slot.json_nested) return put_json(slot, row, value);
      flatten(object_scope(slot), row, value.get_object().value_unsafe());
      return;
    case element_type::ARRAY: {
      if (slot.json_nested) return put_json(slot, row, value);
      const simdjson::dom::array array = value.get_array().value_unsafe();
      if (array.size() == 0) return;
      Table& child = child_table(slot);
      for (size_t i = row.pending_base; i < pending_.size(); ++i)
        if (pending_[i].table == &child) return;  // a repeated key: the first value wins
      pending_.push_back(Pending{&child, array});
      return;
    }
    default: {
      Column& col = column(slot, row.table);
      if (col.size() == row.index) append_scalar(col, value);  // else a repeated key
    }
  }
}

void Normalizer::Impl::put_json(Slot& slot, const Row& row, element value) {
  Column& col = column(slot, row.table);
  if (col.size() != row.index) return;  // a repeated key: the first value wins
  json_buf_.clear();
  append_json_text(value, json_buf_);
  col.append_text(Type::kJson, json_buf_);
}

void Normalizer::Impl::put_declared(Slot& slot, const Row& row, std::string_view text) {
  Column& col = column(slot, row.table);
  if (col.size() != row.index) return;  // a repeated key: the first value wins
  if (!append_as(col, slot.declared, text)) col.append_text(Type::kText, text);
}

Status Normalizer::Impl::expand(size_t base, const RowId& parent_id, const RowId& root_id,
                                int64_t line) {
  // Children of children are pushed above `end` and popped again by their own row.
  const size_t end = pending_.size();
  for (size_t i = base; i < end; ++i) {
    const Pending p = pending_[i];
    uint64_t idx = 0;
    for (element value : p.array)
      FERRY_TRY(child_row(*p.table, idx++, value, parent_id, root_id, line));
  }
  pending_.resize(base);
  return Status::success();
}

Status Normalizer::Impl::child_row(Table& table, uint64_t idx, element value,
                                   const RowId& parent_id, const RowId& root_id, int64_t line) {
  FERRY_TRY(make_room(table));
  Batch& b = table.batch;
  RowIdHash h = table.id_seed;
  const RowId id(h.add(static_cast<uint64_t>(parent_id.value)).add(idx).digest());
  append_id(b.column(kIdCol), id);
  append_id(b.column(kParentCol), parent_id);
  append_id(b.column(kRootCol), root_id);
  char num[24];
  const auto r = std::to_chars(num, num + sizeof(num), idx);
  b.column(kIdxCol).append_int(static_cast<int64_t>(idx),
                               std::string_view(num, static_cast<size_t>(r.ptr - num)));
  const Row row{table, b.num_rows(), pending_.size()};
  if (value.type() == element_type::OBJECT) {
    flatten(*table.scope, row, value.get_object().value_unsafe());
  } else {
    put(value_slot(table), row, value);
  }
  end_row(table, line);
  return expand(row.pending_base, id, root_id, line);
}

void Normalizer::Impl::end_row(Table& table, int64_t line) {
  Batch& b = table.batch;
  if (b.num_rows() == 0) {
    b.set_origin_source(source_);
    table.source_epoch = source_epoch_;
  } else if (table.source_epoch != source_epoch_ && table.source_epoch != kMixedSources) {
    b.set_origin_source("");
    table.source_epoch = kMixedSources;
  }
  b.end_row();
  b.row_lines().push_back(line);
}

Status Normalizer::Impl::make_room(Table& table) {
  if (table.batch.num_rows() < opts_.batch_rows) return Status::success();
  // Emit the ancestors first, so that no child row is emitted before its parent row.
  chain_.clear();
  for (Table* t = &table; t; t = t->parent)
    chain_.push_back(t);
  for (auto it = chain_.rbegin(); it != chain_.rend(); ++it)
    FERRY_TRY(emit(**it));
  return Status::success();
}

Status Normalizer::Impl::emit(Table& table) {
  Batch& b = table.batch;
  if (b.num_rows() == 0) return Status::success();
  // Declare each column's type widened over all batches so far, so the schema a destination
  // sees only ever widens (a batch of ints after one with text still says text).
  const size_t columns = b.num_columns();
  table.types.resize(columns, Type::kNull);
  for (size_t i = 0; i < columns; ++i) {
    Column& c = b.column(i);
    table.types[i] = widen(table.types[i], c.type());
    c.set_type(table.types[i]);
  }
  Status st = emit_(b);
  if (b.num_columns() < columns) {  // added columns (constants) are fine; removed ones not
    return Status::internal("the destination removed columns of batch {}", table.name);
  }
  b.clear();
  return st;
}

Status Normalizer::Impl::flush() {
  for (Table& t : tables_)  // creation order: parents before children
    FERRY_TRY(emit(t));
  return Status::success();
}

std::vector<std::string> Normalizer::Impl::tables() const {
  std::vector<std::string> names;
  for (const Table& t : tables_)
    names.push_back(t.name);
  return names;
}

Normalizer::Normalizer(NormalizerOptions opts, Emit emit)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(emit))) {}
Normalizer::~Normalizer() = default;

Status Normalizer::add(simdjson::dom::element record, const Origin& origin) {
  return impl_->add(record, origin);
}
Status Normalizer::flush() {
  return impl_->flush();
}
int64_t Normalizer::records() const {
  return impl_->records();
}
std::vector<std::string> Normalizer::tables() const {
  return impl_->tables();
}

}  // namespace ferry
