// The ferry command. All of it lives in src/cli; this file only hands over.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // Logs (retries, warnings) go to stderr, so stdout stays the command's output (tables, JSON).
  auto logger = spdlog::stderr_color_mt("ferry");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  return ferry::cli::main(argc, argv);
}
