// YAML project files as JSON, remembering where each value was written.
//
// Validation works on nlohmann::json (the same form jobs take in the config table), but its
// messages must point into the user's files: while converting, every value's JSON pointer is
// recorded with its file, line and column in a SourceMap.
//
// Scalars follow the YAML 1.2 core schema with one exception that keeps data intact: plain
// true/false -> bool, null/~/empty -> null, integers -> int (but "007" stays a string),
// decimals -> double, everything else and every quoted scalar -> string. Mapping keys are
// always strings. So `on: new_objects` has the key "on", not true.
//
// Thread-safety: plain values.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ferry {

// A position in a file, 1-based.
struct SourceMark {
  int line = 1;
  int column = 1;
};

struct SourceEntry {
  int file = 0;       // index into SourceMap::files
  SourceMark key;     // the mapping key ("mode" in `mode: merge`); = value for list items
  SourceMark value;   // the value
  std::string local;  // JSON pointer of the value inside its own file
};

struct SourceMap {
  std::vector<std::string> files;              // as shown in messages: "ferry.yml", "jobs/a.yml"
  std::map<std::string, SourceEntry> entries;  // by JSON pointer in the combined document

  // The entry of `pointer` or of its nearest ancestor that has one; *rest receives the part
  // of `pointer` below that ancestor. nullptr when nothing (not even "") is known.
  const SourceEntry* find(const std::string& pointer, std::string* rest) const;
};

// A problem found while reading a file (duplicate key, a non-string key).
struct YamlProblem {
  std::string pointer;  // of the map holding the key, local to the file
  SourceMark mark;
  std::string message;
};

// Parses one YAML document. `file` is the index of its name in map->files; entries are
// recorded under their local pointers. A syntax error is returned as kInvalid
// "<name>:line:col: invalid YAML: ..."; smaller problems go to *problems and the value is
// still returned.
Result<nlohmann::json> parse_yaml(const std::string& text, int file, SourceMap* map,
                                  std::vector<YamlProblem>* problems);

// JSON pointer helpers: "/jobs" + "2" -> "/jobs/2", escaping '~' and '/'.
std::string pointer_child(const std::string& pointer, const std::string& key);
std::string pointer_child(const std::string& pointer, size_t index);
// The pointer's segments, unescaped.
std::vector<std::string> pointer_segments(const std::string& pointer);
// How messages show a pointer: "/jobs/2/target/mode" -> "jobs[2].target.mode",
// "/control/0/webhook/headers/X-Auth" -> "control[0].webhook.headers.X-Auth". "" -> "".
std::string render_pointer(const std::string& pointer);

}  // namespace ferry
