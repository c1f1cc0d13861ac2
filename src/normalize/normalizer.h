// Normalizer: turns JSON records into typed columnar Batches, one table per nesting path,
// the way dlt users expect.
//
// Tables and columns
//   - Every record (a JSON object) is one row of the root table, with a `_ferry_id`.
//   - Nested objects flatten into columns named parent__child (each key through
//     sanitize_name, joined with "__"): {"customer": {"address": {"city": ..}}} gives the
//     column customer__address__city.
//   - An array becomes the child table <table>__<field> (<table>__<parent>__<field> for an
//     array inside a nested object), nested further for arrays inside its elements
//     (orders__items__tags). Each element is one row with `_ferry_id`, `_ferry_parent_id`
//     (the parent row's id), `_ferry_root_id` (the root row's id) and `_ferry_idx` (0-based
//     position). Object elements flatten into columns; scalar elements go to the column
//     `value` (in the same table as the objects when an array mixes both); an array element
//     (an array of arrays) becomes a row whose items are rows of <child>__value.
//   - Empty arrays add no rows and no columns. null adds no column (a column appears with its
//     first non-null value); where the column exists, null is a null cell.
//   - Key order may differ between records, keys may be missing, and new keys may appear in
//     any record: a new column is added to the batch, null for the earlier rows.
//   - Names that collide after sanitising ("a b" and "a_b"; a key "a__b" and the nested a.b;
//     a key "_ferry_id") are never merged: the later path gets a suffix, a_b_2. Which path
//     keeps the plain name depends on the order they are first seen. Names longer than 63
//     bytes are shortened to 54 bytes plus "_" and 8 hex characters of a hash of the full name.
//   - A key repeated within one object keeps its first value.
//
// Types (the cell's type; a column's type widens through Column, int -> double -> text)
//   JSON integer -> kInt; beyond int64 (up to uint64) -> kDecimal; floating point -> kDouble
//   (text: shortest round-trip form, see format_json_double); true/false -> kBool; a string
//   -> kDate ("2024-01-02") or kTimestamp (ISO 8601, see core/infer.h) when it parses as
//   one, else kText (a string "42" stays text); a value kept as JSON -> kJson with its
//   minified text.
//
// Kept as JSON instead of flattened
//   - json_paths: dotted paths of sanitised keys from the root record, arrays transparent
//     ("payload", "items.tags", "customer.address"). Every value there, scalars included, is
//     one kJson column.
//   - max_depth (0 = unlimited): the root record's fields are at level 1; the fields of an
//     object or array element at level L are at level L + 1. An object or array at a level
//     above max_depth is a kJson column. With max_depth = 1, {"customer": {"address": {..}},
//     "items": [{"tags": [..]}]} keeps customer__address and orders__items.tags as JSON.
//
// Row ids (int64: the 64 bits of RowIdHash, deterministic; 8 bytes a key and integer joins)
//   root:  hash("pk", root table, the primary-key columns' text) when primary_key is set (a
//          missing or null key column hashes as null), else hash("load", load_id, the
//          record's sequence number in this normaliser, from 0);
//   child: hash of (the child table's name, parent id, idx).
//   So the same input in the same order gives the same ids, and with a primary key the id of
//   a record does not depend on its position.
//
// Batches
//   Each table has one Batch, reused after every emit (Batch::clear keeps columns and
//   capacity, so column indexes stay valid and steady-state work allocates little). A batch
//   is emitted when a row must be added to it and it already holds batch_rows rows; before
//   that, its ancestors' batches (partial ones too) are emitted, root first, so a child row
//   is never emitted before its parent row. flush() emits every non-empty batch in table
//   creation order, which puts parents before children. A column's declared type (type())
//   is widened over every batch emitted so far, so the schema a destination sees never
//   narrows; the cells keep their own types. batch.row_lines() holds each row's
//   origin line (the record's); batch.origin_source() is the source of its rows, or "" when
//   they came from more than one source.
//
// Failure: add() returns kInvalid (and adds nothing) for a record that is not a JSON object;
// the caller turns it into a reject. A failed emit is returned as is from add() or flush();
// the normaliser should not be used after that.
//
// Thread-safety: none; one normaliser per run and table, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/batch.h"
#include "core/status.h"
#include "core/types.h"

namespace ferry {

struct NormalizerOptions {
  std::string root_table;  // sanitised; "" becomes "root"
  int max_depth = 0;       // 0 = unlimited; objects/arrays nested deeper are kept as json
  // Dotted paths ("items.tags", "payload") kept as one json column instead of flattened.
  // Each segment is compared after sanitize_name.
  std::vector<std::string> json_paths;
  // Root column names ("id", "customer__id"; "customer.id" works too); when set, the root
  // row id derives from them.
  std::vector<std::string> primary_key;
  // Root columns whose types are declared, not inferred (a database source's catalog types,
  // SourceSink::declare_fields). Each is a column of the root table from the first row on,
  // in this order after _ferry_id, declared with its type even while all its values are null.
  // A record's key matches a field when sanitize_name(key) equals the field's name. A string
  // value there is the column's text, converted with append_as (core/infer.h): "12.50" in a
  // kDecimal field is that exact decimal, "2024-01-02" in a kText field stays text; a text
  // the type cannot hold ('infinity' in a kDate field) is kept as kText. An object or array
  // in a kJson field is kept as JSON; other values are handled as in any other field.
  std::vector<Field> root_fields;
  std::string load_id;
  size_t batch_rows = 8192;  // at least 1
};

class Normalizer {
 public:
  // Receives each batch to write. The callee may read or change cells and add columns at
  // the end (the pipeline's constant columns), but must leave the existing columns in place (the
  // normaliser clears and reuses the batch afterwards); a failed Status is returned from add() or
  // flush().
  using Emit = std::function<Status(Batch& batch)>;

  Normalizer(NormalizerOptions opts, Emit emit);
  ~Normalizer();
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  // Adds one record (its rows in the root table and child tables). `origin` gives the rows'
  // line numbers. kInvalid when `record` is not an object.
  Status add(simdjson::dom::element record, const Origin& origin);
  // Emits every partial batch, parents before children.
  Status flush();
  // Records added so far.
  int64_t records() const;
  // Names of the tables seen so far, parents before children.
  std::vector<std::string> tables() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
