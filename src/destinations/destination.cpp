#include "destinations/destination.h"

#include <fmt/format.h>

namespace ferry {

std::string SchemaChange::describe() const {
  switch (kind) {
    case Kind::kCreateTable:
      return fmt::format("created table {}", table);
    case Kind::kAddColumn:
      return fmt::format("added column {}.{} ({})", table, column, type_name(to));
    case Kind::kWidenColumn:
      return fmt::format("widened column {}.{} from {} to {}", table, column, type_name(from),
                         type_name(to));
  }
  return "?";
}

}  // namespace ferry
