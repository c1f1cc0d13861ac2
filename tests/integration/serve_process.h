// `ferry serve` as a child process for the integration tests, and a polling helper.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing.h"

namespace ferry::testing {

// `ferry serve --listen 127.0.0.1:0` in the background; stopped by PID.
class Serve {
 public:
  Serve(const TempDir& dir, std::vector<std::string> extra = {},
        std::map<std::string, std::string> env = {})
      : log_(dir.path() / "serve.log") {
    const char* bin = std::getenv("FERRY_BIN");
    std::string ferry = bin ? bin : (build_dir() / "ferry").string();
    int out_pipe[2];
    if (pipe(out_pipe) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out_pipe[1], 1);
      int err = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err, 2);
      close(out_pipe[0]);
      for (const auto& [k, v] : env)
        setenv(k.c_str(), v.c_str(), 1);
      std::vector<std::string> args = {ferry, "-C", dir.str(), "serve", "--listen", "127.0.0.1:0"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(ferry.c_str(), argv.data());
      _exit(127);
    }
    close(out_pipe[1]);
    // The first line names the port: "ferry serve: listening on http://127.0.0.1:PORT (...)".
    std::string line;
    char c;
    while (read(out_pipe[0], &c, 1) == 1 && c != '\n')
      line += c;
    close(out_pipe[0]);
    auto at = line.find("127.0.0.1:");
    if (at != std::string::npos) port_ = std::atoi(line.c_str() + at + 10);
  }
  ~Serve() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_file(log_); }
  // Sends `sig` and waits for the exit; returns the exit code (-signal when killed).
  int stop(int sig = SIGTERM) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  httplib::Client client(const std::string& token = "") const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    if (!token.empty()) c.set_bearer_token_auth(token);
    return c;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool waited_ = false;
};

inline nlohmann::json get_json(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path);
  if (!res) return nlohmann::json();
  return nlohmann::json::parse(res->body, nullptr, false);
}

// Polls `pred` every 50 ms for up to `limit`; true when it held.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

}  // namespace ferry::testing
