// The web UI in a real browser: runs tests/ui/ui_test.mjs (headless Debian chromium driven by
// npm playwright-core against a real `ferry serve` of examples/quickstart) and expects it to
// pass. The script's own output says which flow failed; screenshots go to
// <build dir>/ui-screenshots/.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "testing.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

// s in single quotes for /bin/sh.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TEST(WebUi, FlowsPassInHeadlessChromium) {
  if (!fs::exists("/usr/bin/chromium"))
    GTEST_SKIP() << "/usr/bin/chromium is missing (scripts/setup.sh installs it)";
  fs::path script = source_dir() / "tests/ui/ui_test.mjs";
  ASSERT_TRUE(fs::exists(source_dir() / "tests/node_modules/playwright-core"))
      << "tests/node_modules/playwright-core is missing; run `make test-deps`";
  const char* bin = std::getenv("FERRY_BIN");
  std::string ferry = bin ? bin : (build_dir() / "ferry").string();
  fs::path shots = build_dir() / "ui-screenshots";
  std::string command = "FERRY_BIN=" + shell_quoted(ferry) +
                        " FERRY_SOURCE_DIR=" + shell_quoted(source_dir().string()) +
                        " UI_SCREENSHOTS=" + shell_quoted(shots.string()) +
                        " PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 node " +
                        shell_quoted(script.string()) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    output.append(buf, n);
  int status = pclose(pipe);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  EXPECT_EQ(code, 0) << output;
  if (code == 0) std::printf("%s", output.c_str());
}

}  // namespace
}  // namespace ferry::testing
