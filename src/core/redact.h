// Secret redaction: every value resolved from ${ENV} in a secret position, or declared
// secret by a plugin, is registered here; redact() replaces each registered secret in a
// message by "***". Logs, errors, the audit table, the API and the UI pass their text
// through redact() before it leaves the process.
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

// Registers a secret value (values shorter than 4 characters are ignored: too many false hits).
void register_secret(std::string_view value);
// `text` with every registered secret replaced by "***".
std::string redact(std::string_view text);

}  // namespace ferry
