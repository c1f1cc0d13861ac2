// The `ferry` command line: parses arguments (CLI11) and dispatches to subcommands.
// Exit codes: 0 ok, 1 a job failed, 2 bad usage or configuration.
#pragma once

namespace ferry::cli {

int main(int argc, char** argv);

}  // namespace ferry::cli
