// The ferry command. All of it lives in src/cli; this file only hands over.
#include "cli/cli.h"
#include "core/log.h"

int main(int argc, char** argv) {
  (void)ferry::set_log_format("text");  // logs to stderr; stdout is the command's output
  return ferry::cli::main(argc, argv);
}
