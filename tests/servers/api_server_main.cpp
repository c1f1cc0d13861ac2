// ferry_test_api_server: the test API server (api_server.h) as a process, for the REST
// benchmark and for trying the rest source by hand.
//
//   ferry_test_api_server [--port N] [--orders N] [--page-size N] [--no-compress]
//
// Prints "listening on <port>" once the socket listens, then serves until SIGTERM or SIGINT.
// Faults and the request log are driven over HTTP under /_control/ (see api_server.h).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "servers/api_server.h"

namespace {

int usage(const char* why) {
  if (why) std::cerr << "ferry_test_api_server: " << why << "\n";
  std::cerr << "usage: ferry_test_api_server [--port N] [--orders N] [--page-size N] "
               "[--no-compress]\n";
  return 2;
}

bool parse_int(const char* s, int min, int& out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < min || v > 100'000'000) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  ferry::testing::ApiServer::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](int min, int& out) { return i + 1 < argc && parse_int(argv[++i], min, out); };
    if (arg == "--port") {
      if (!value(0, options.port)) return usage("--port needs a number");
    } else if (arg == "--orders") {
      if (!value(0, options.orders)) return usage("--orders needs a number >= 0");
    } else if (arg == "--page-size") {
      if (!value(1, options.page_size)) return usage("--page-size needs a number >= 1");
    } else if (arg == "--no-compress") {
      options.compress = false;
    } else if (arg == "-h" || arg == "--help") {
      return usage(nullptr), 0;
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }

  // Block the stop signals before any thread exists, so every server thread inherits the
  // mask and only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ferry::testing::ApiServer server(options);
  int port = server.start();
  if (port < 0) {
    std::cerr << "ferry_test_api_server: cannot listen on 127.0.0.1:" << options.port << ": "
              << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "listening on " << port << std::endl;  // endl: the caller is waiting for it

  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.stop();
  return 0;
}
