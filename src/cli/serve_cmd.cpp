// `ferry serve`: the daemon (server/daemon.h) and its HTTP API (server/api.h), stopped by
// SIGTERM or SIGINT: the first lets running jobs finish within --grace, a second exits at once.
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/context.h"
#include "core/duration.h"
#include "core/log.h"
#include "server/api.h"
#include "server/daemon.h"

namespace ferry::cli {
namespace {

Result<std::pair<std::string, int>> parse_listen(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return Status::invalid("--listen {}: expected HOST:PORT", text);
  try {
    int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(text.substr(0, colon), port);
  } catch (...) {
    return Status::invalid("--listen {}: the port must be a number from 0 to 65535", text);
  }
}

// Waits for the daemon to stop: the first SIGTERM/SIGINT stops it gracefully, a second exits
// at once.
int wait_for_signals(server::Daemon& daemon, const sigset_t& signals, const std::string& grace) {
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    daemon.wait();
    done = true;
  });
  while (!done) {
    timespec tick{0, 200'000'000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig <= 0) continue;
    if (!daemon.stopping()) {
      spdlog::info("signal {}: no new runs; running ones may finish within {}", sig, grace);
      daemon.request_stop();
    } else {
      spdlog::warn("second signal: exiting now; the next start marks unfinished runs failed");
      std::fflush(nullptr);
      _exit(130);
    }
  }
  waiter.join();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

int cmd_serve(const Context& ctx, const ServeArgs& args) {
  // Signals are taken by this thread only (sigtimedwait below): block them before any thread
  // starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (Status st = set_log_format(args.log_format); !st.is_ok()) return fail(st);
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  auto grace = parse_duration_seconds(args.grace);
  if (!grace.ok()) return fail(Status::invalid("--grace: {}", grace.status().message()));

  auto lease = parse_duration_seconds(args.lease);
  if (!lease.ok() || lease.value() < 0.3) {
    return fail(
        Status::invalid("--lease {}: expected a duration of at least 0.3s, like 30s", args.lease));
  }

  server::ServeOptions options;
  options.concurrency = args.concurrency;
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(grace.value() * 1000));
  options.worker = args.worker;
  options.lease = std::chrono::milliseconds(static_cast<int64_t>(lease.value() * 1000));
  server::Daemon daemon(std::move(meta).value(), files.value(), options);
  if (Status st = daemon.start(); !st.is_ok()) return fail(st);
  auto project = daemon.project();
  if (args.worker) {
    // The metastore's kind only: its URL may carry a password.
    const std::string& url = project->metastore;
    std::printf("ferry serve --worker: claiming queued runs from the %s metastore\n",
                url.starts_with("postgres") ? "PostgreSQL" : "SQLite");
    std::fflush(stdout);
    spdlog::info("worker {}: claiming queued runs; SIGTERM or SIGINT stops", getpid());
    return wait_for_signals(daemon, signals, args.grace);
  }

  std::string listen = args.listen;
  if (listen.empty()) listen = project->api.value("listen", "127.0.0.1:8765");
  auto address = parse_listen(listen);
  if (!address.ok()) return fail(address.status());
  auto api_conf = resolve_env(project->api, "api");
  if (!api_conf.ok()) return fail(api_conf.status());
  server::ApiTokens tokens{api_conf->value("admin_token", ""), api_conf->value("read_token", "")};
  if (tokens.admin.empty() && tokens.read.empty() && address->first != "127.0.0.1" &&
      address->first != "localhost") {
    return fail(Status::invalid(
        "the API would listen on {} without a token: set api.admin_token (and read_token) or "
        "listen on 127.0.0.1",
        address->first));
  }
  server::HttpApi api(daemon, tokens);
  auto port = api.start(address->first, address->second);
  if (!port.ok()) {
    daemon.request_stop();
    daemon.request_stop();
    return fail(port.status());
  }
  std::printf("ferry serve: listening on http://%s:%d (%zu jobs)\n", address->first.c_str(),
              port.value(), daemon.jobs().size());
  std::fflush(stdout);
  spdlog::info("serving on {}:{}; SIGTERM or SIGINT stops", address->first, port.value());

  int code = wait_for_signals(daemon, signals, args.grace);
  api.stop();
  return code;
}

}  // namespace ferry::cli
