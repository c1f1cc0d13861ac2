// The control table after a batch: an e-mail through a real SMTP server (Debian's aiosmtpd),
// webhooks to a local receiver, and SQL in the warehouse; a failing action never fails more
// than itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "testing.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
namespace fs = std::filesystem;

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

// Debian's aiosmtpd delivering into a Maildir; stopped by PID.
class SmtpServer {
 public:
  explicit SmtpServer(const fs::path& maildir) : maildir_(maildir), port_(free_port()) {
    pid_ = fork();
    if (pid_ == 0) {
      std::string listen = "127.0.0.1:" + std::to_string(port_);
      execl("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen.c_str(), "-c",
            "aiosmtpd.handlers.Mailbox", maildir.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && !port_open(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ~SmtpServer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    if (!fs::exists(maildir_ / "new")) return out;
    for (const auto& e : fs::directory_iterator(maildir_ / "new"))
      out.push_back(read_file(e.path()));
    return out;
  }

 private:
  fs::path maildir_;
  int port_;
  pid_t pid_ = -1;
};

struct Hook {
  std::string path, body, auth;
};

class WebhookReceiver {
 public:
  WebhookReceiver() {
    http_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      hooks_.push_back({req.path, req.body, req.get_header_value("X-Token")});
      res.set_content("{}", "application/json");
    });
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~WebhookReceiver() {
    http_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Hook> hooks() {
    std::lock_guard lock(mu_);
    return hooks_;
  }

 private:
  httplib::Server http_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Hook> hooks_;
};

TEST(Control, AfterABatchMailsCallsWebhooksAndRunsSqlAndAFailingActionStaysContained) {
  TempDir dir;
  SmtpServer smtp(dir.path() / "mail");
  ASSERT_TRUE(port_open(smtp.port())) << "aiosmtpd did not start";
  WebhookReceiver hooks;
  dir.write("data/good.csv", "id,v\n1,a\n2,b\n");
  dir.write("ferry.yml", R"y(project: ops
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  files: {type: file, path: data}
  mail: {type: smtp, url: "smtp://127.0.0.1:)y" +
                             std::to_string(smtp.port()) +
                             R"y(", from: "ferry@example.com"}
jobs:
  - {id: good, source: {connection: files, path: good.csv}, target: {table: good}}
  - {id: broken, source: {connection: files, path: missing.csv}, target: {table: broken}}
control:
  - on: batch_failed
    email: {connection: mail, to: [data-team@example.com], cc: [lead@example.com]}
  - on: batch_finished
    webhook: {url: ")y" + hooks.url() +
                             R"y(/slack", headers: {X-Token: "${HOOK_TOKEN}"},
              body: {text: "batch {batch_id} {state}; failed: {failed_jobs}"}}
  - on: job_failed
    webhook: {url: ")y" + hooks.url() +
                             R"y(/summary"}
  - on: batch_succeeded
    webhook: {url: ")y" + hooks.url() +
                             R"y(/never"}
  - on: batch_finished
    sql: "CREATE TABLE IF NOT EXISTS batches (id TEXT, state TEXT); INSERT INTO batches VALUES ('{batch_id}', '{state}')"
  - on: batch_finished
    webhook: {url: "http://127.0.0.1:1/unreachable"}
)y");
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"}, {{"HOOK_TOKEN", "hook-secret-9"}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // the job failure, nothing more

  // The e-mail: to and cc, the batch, each job's state, the first error line.
  auto mails = smtp.messages();
  ASSERT_EQ(mails.size(), 1u);
  const std::string& mail = mails[0];
  EXPECT_THAT(mail, HasSubstr("To: data-team@example.com"));
  EXPECT_THAT(mail, HasSubstr("Cc: lead@example.com"));
  EXPECT_THAT(mail, HasSubstr("Subject: ferry: batch b"));
  EXPECT_THAT(mail, HasSubstr(" failed"));
  EXPECT_THAT(mail, HasSubstr("good"));
  EXPECT_THAT(mail, HasSubstr("broken: "));
  EXPECT_THAT(mail, HasSubstr("missing.csv"));

  std::string batch = query_value(dir.str(), "SELECT id FROM batches");
  ASSERT_THAT(batch, HasSubstr("b"));
  EXPECT_EQ(query_value(dir.str(), "SELECT state FROM batches"), "failed");

  auto got = hooks.hooks();
  ASSERT_EQ(got.size(), 2u);  // /slack and /summary; never /never
  std::map<std::string, Hook> by_path;
  for (const auto& h : got)
    by_path[h.path] = h;
  ASSERT_TRUE(by_path.count("/slack"));
  EXPECT_EQ(json::parse(by_path["/slack"].body)["text"],
            "batch " + batch + " failed; failed: broken");
  EXPECT_EQ(by_path["/slack"].auth, "hook-secret-9");
  ASSERT_TRUE(by_path.count("/summary"));
  json summary = json::parse(by_path["/summary"].body);
  EXPECT_EQ(summary["batch_id"], batch);
  EXPECT_EQ(summary["failed"], json::array({"broken"}));
  EXPECT_EQ(summary["rows_loaded"], 2);

  ProcessResult audit = run_ferry(dir.str(), {"--json", "audit", "--limit", "0"});
  size_t done = 0, failed = 0, at = 0;
  while ((at = audit.out.find("control_action_done", at)) != std::string::npos)
    ++done, ++at;
  at = 0;
  while ((at = audit.out.find("control_action_failed", at)) != std::string::npos)
    ++failed, ++at;
  EXPECT_EQ(done, 4u);    // e-mail, two webhooks, SQL
  EXPECT_EQ(failed, 1u);  // the unreachable webhook
  EXPECT_THAT(audit.out, ::testing::Not(HasSubstr("hook-secret-9")));
}

}  // namespace
}  // namespace ferry::testing
