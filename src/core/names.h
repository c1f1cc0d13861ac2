// Identifier rules: how source field names become warehouse column and table names.
//
// sanitize_name() makes a name safe and predictable: ASCII letters lower-cased, every run of
// characters other than [a-z0-9_] or non-ASCII UTF-8 bytes becomes one '_', leading and
// trailing '_' trimmed, a leading digit prefixed with '_', an empty result becomes "_col",
// and at most 63 bytes. SQL never relies on it for safety: every identifier is also quoted
// (quote_ident), so a field named `"; drop table x; --` is just a column `drop_table_x`.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

std::string sanitize_name(std::string_view name);
// "name" with embedded double quotes doubled: safe in SQLite and PostgreSQL.
std::string quote_ident(std::string_view name);
// 'text' with embedded single quotes doubled.
std::string quote_literal(std::string_view text);

// Columns ferry adds to every table it loads.
inline constexpr const char* kLoadIdColumn = "_ferry_load_id";
inline constexpr const char* kRowIdColumn = "_ferry_id";
inline constexpr const char* kParentIdColumn = "_ferry_parent_id";
inline constexpr const char* kRootIdColumn = "_ferry_root_id";
inline constexpr const char* kIndexColumn = "_ferry_idx";
// Separator of nested names: parent__child (columns) and table__field (child tables).
inline constexpr const char* kNestSeparator = "__";

}  // namespace ferry
