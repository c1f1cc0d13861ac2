// A throwaway S3-compatible server for the tests: npm's @20minutes/s3rver (which checks SigV4
// signatures), started by tests/servers/s3rver.js on an ephemeral loopback port with its
// store in a temporary directory, and stopped by PID.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "testing.h"

namespace ferry::testing {

class S3rver {
 public:
  // Starts the server; error() says why when it could not (the tests then fail with it).
  S3rver() {
    log_ = store_.str() + "/server.log";
    const std::filesystem::path script = source_dir() / "tests/servers/s3rver.js";
    if (!std::filesystem::exists(source_dir() / "tests/node_modules/@20minutes/s3rver")) {
      error_ = "tests/node_modules/@20minutes/s3rver is missing; run `make test-deps`";
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(out, 2);
      std::string dir = store_.str() + "/data";
      // Its continuation tokens use DES, which Node 20's OpenSSL 3 only has in the legacy
      // provider.
      execlp("node", "node", "--openssl-legacy-provider", script.c_str(), "0", dir.c_str(),
             static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {  // wait for "listening PORT"
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::string log = read_file(log_);
      if (auto at = log.find("listening "); at != std::string::npos)
        port_ = std::atoi(log.c_str() + at + 10);
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        error_ = "s3rver exited: " + log;
        return;
      }
    }
    if (port_ == 0) error_ = "s3rver did not start: " + read_file(log_);
  }
  ~S3rver() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  S3rver(const S3rver&) = delete;
  S3rver& operator=(const S3rver&) = delete;

  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir store_;
  std::string log_;
  std::string error_;
  pid_t pid_ = 0;
  int port_ = 0;
};

}  // namespace ferry::testing
