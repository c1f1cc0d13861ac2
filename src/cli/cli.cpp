#include "cli/cli.h"

#include <cstdio>

namespace ferry::cli {

int main(int, char**) {
  std::puts("ferry: not yet");
  return 2;
}

}  // namespace ferry::cli
