// Reading values of a project document (internal to src/config): the lenient accessors that
// loading, validation and job resolution share, so all three read a value the same way.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ferry {

// object[key], or a null value when `object` is not a map or has no such key.
const nlohmann::json& member(const nlohmann::json& object, const std::string& key);

// The text of a scalar: a string as is, a number or bool as JSON ("7", "true"); "" for null,
// lists and maps. Ids written as numbers in YAML (`id: 7`) are read this way.
std::string text_of(const nlohmann::json& value);

// An int written as a number or as a string of digits ("50"), in int range.
bool int_of(const nlohmann::json& value, int* out);

}  // namespace ferry
