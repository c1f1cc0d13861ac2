// The ferry command. All of it lives in src/cli; this file only hands over.
#include "cli/cli.h"

int main(int argc, char** argv) {
  return ferry::cli::main(argc, argv);
}
