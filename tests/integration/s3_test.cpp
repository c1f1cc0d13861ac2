// The s3 source end to end against a real S3-compatible server: @20minutes/s3rver (from
// tests/node_modules, which checks SigV4 signatures), started once for this suite from
// tests/servers/s3rver.js and stopped by its PID. Objects are uploaded with the `aws` CLI, as
// a user's tools would; each test has its own bucket and project, drives the ferry binary and
// asserts the exact rows in the SQLite warehouse.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/s3_server.h"
#include "integration/serve_process.h"
#include "sources/s3/s3_source.h"
#include "testing.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSecret = "S3RVER";

// Runs `argv` (searched in PATH) with extra environment variables; returns its exit code and
// puts its stdout and stderr into `output`.
int run_command(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                std::string* output) {
  TempDir io;
  std::string out_path = io.str() + "/out";
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    for (const auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (output != nullptr) *output = read_file(out_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A TCP proxy in front of the S3 server that cuts the first response to a plain (not ranged)
// GET of `path` after `cut_after` body-side bytes, as a dropped connection would; later
// requests pass through. Records whether a ranged GET followed.
class CuttingProxy {
 public:
  CuttingProxy(int upstream_port, std::string path, size_t cut_after)
      : upstream_port_(upstream_port), path_(std::move(path)), cut_after_(cut_after) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~CuttingProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (auto& t : workers_)
      t.join();
  }
  int port() const { return port_; }
  bool cut() const { return cut_done_; }
  bool saw_range() const { return saw_range_; }

 private:
  void accept_loop() {
    while (!stop_) {
      int c = accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      workers_.emplace_back([this, c] { relay(c); });
    }
  }

  void relay(int client) {
    int up = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (connect(up, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(client);
      close(up);
      return;
    }
    bool cutting = false;  // this connection's current response is the one to cut
    size_t forwarded = 0;
    char buf[16384];
    for (;;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
      if (poll(fds, 2, 200) < 0 || stop_) break;
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(client, buf, sizeof(buf));
        if (n <= 0) break;
        std::string_view req(buf, static_cast<size_t>(n));
        bool get = req.starts_with("GET " + path_ + " ") || req.starts_with("GET " + path_ + "?");
        if (get && req.find("\nRange:") == std::string_view::npos &&
            req.find("\nrange:") == std::string_view::npos && !cut_done_) {
          cutting = true;
        } else if (get) {
          saw_range_ = true;
        }
        if (write(up, buf, static_cast<size_t>(n)) != n) break;
      }
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(up, buf, sizeof(buf));
        if (n <= 0) break;
        size_t k = static_cast<size_t>(n);
        if (cutting && forwarded + k >= cut_after_) {
          k = cut_after_ - forwarded;
          if (k > 0 && write(client, buf, k) != static_cast<ssize_t>(k)) break;
          cut_done_ = true;
          break;  // drop both connections mid-body
        }
        if (cutting) forwarded += k;
        if (write(client, buf, k) != static_cast<ssize_t>(k)) break;
      }
    }
    close(client);
    close(up);
  }

  int upstream_port_;
  std::string path_;
  size_t cut_after_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_done_{false};
  std::atomic<bool> saw_range_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// A TCP proxy in front of the S3 server that answers the first request starting with each
// of `fail_once` (e.g. "GET /bucket/key ") with 503 SlowDown, as S3 does when throttling,
// instead of passing it on; every other request passes through. Counts the 503s it sent.
class SlowDownProxy {
 public:
  SlowDownProxy(int upstream_port, std::vector<std::string> fail_once)
      : upstream_port_(upstream_port), pending_(std::move(fail_once)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~SlowDownProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (auto& t : workers_)
      t.join();
  }
  int port() const { return port_; }
  int slowdowns() const { return slowdowns_; }

 private:
  void accept_loop() {
    while (!stop_) {
      int c = accept(listen_fd_, nullptr, nullptr);
      if (c < 0) return;
      workers_.emplace_back([this, c] { relay(c); });
    }
  }

  // Whether `request` is the first one matching a pending prefix (which it then consumes).
  bool take(std::string_view request) {
    std::lock_guard lock(mu_);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (request.starts_with(*it)) {
        pending_.erase(it);
        return true;
      }
    }
    return false;
  }

  void relay(int client) {
    int up = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (connect(up, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(client);
      close(up);
      return;
    }
    char buf[16384];
    for (;;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
      if (poll(fds, 2, 200) < 0 || stop_) break;
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(client, buf, sizeof(buf));
        if (n <= 0) break;
        if (take(std::string_view(buf, static_cast<size_t>(n)))) {
          const std::string body =
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
              "<Message>Please reduce your request rate.</Message></Error>";
          const std::string response =
              "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
          ++slowdowns_;
          if (write(client, response.data(), response.size()) < 0) break;
          break;  // Connection: close
        }
        if (write(up, buf, static_cast<size_t>(n)) != n) break;
      }
      if (fds[1].revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(up, buf, sizeof(buf));
        if (n <= 0) break;
        if (write(client, buf, static_cast<size_t>(n)) != n) break;
      }
    }
    close(client);
    close(up);
  }

  int upstream_port_;
  std::mutex mu_;
  std::vector<std::string> pending_;  // guarded by mu_
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> slowdowns_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

class S3Server : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new S3rver(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_->error().empty()) << server_->error();
    // A bucket per test (lower-case, 3-63 characters).
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    bucket_ = "t-";
    for (char c : name)
      bucket_ +=
          static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-');
    bucket_ = bucket_.substr(0, 60);
    std::string out;
    ASSERT_EQ(aws({"s3", "mb", "s3://" + bucket_}, &out), 0) << out;
  }

  std::string endpoint() const { return server_->endpoint(); }

  int aws(std::vector<std::string> args, std::string* out = nullptr) const {
    args.insert(args.begin(), {"aws", "--endpoint-url", endpoint()});
    return run_command(args,
                       {{"AWS_ACCESS_KEY_ID", "S3RVER"},
                        {"AWS_SECRET_ACCESS_KEY", "S3RVER"},
                        {"AWS_DEFAULT_REGION", "us-east-1"},
                        {"AWS_CONFIG_FILE", "/dev/null"},
                        {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"},
                        {"AWS_REQUEST_CHECKSUM_CALCULATION", "when_required"},
                        {"AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required"}},
                       out);
  }

  // Uploads `content` as s3://bucket_/key.
  void put(const std::string& key, const std::string& content) const {
    fs::path file = files_.write("upload.tmp", content);
    std::string out;
    ASSERT_EQ(aws({"s3", "cp", file.string(), "s3://" + bucket_ + "/" + key}, &out), 0) << out;
  }

  // A project with the warehouse and one append job `j` reading `source` (YAML flow mapping
  // entries after the connection) from this test's bucket.
  void write_project(const std::string& source, const std::string& connection_extra = "") const {
    project_.write("ferry.yml",
                   "project: s3test\n"
                   "metastore: sqlite:.ferry/meta.db\n"
                   "warehouse: wh\n"
                   "connections:\n"
                   "  wh: {type: sqlite, path: warehouse.db}\n"
                   "  lake: {type: s3, bucket: " +
                       bucket_ + ", endpoint: \"" + endpoint() +
                       "\", access_key_id: S3RVER, secret_access_key: \"${S3_SECRET}\"" +
                       connection_extra +
                       "}\n"
                       "jobs:\n"
                       "  - id: j\n"
                       "    source: {connection: lake, " +
                       source +
                       "}\n"
                       "    target: {table: ods, mode: append}\n");
  }

  ProcessResult run(const std::string& secret = kSecret) const {
    return run_ferry(project_.str(), {"run", "j"}, {{"S3_SECRET", secret}});
  }

  std::string value(const std::string& sql) const { return query_value(project_.str(), sql); }
  std::vector<std::vector<std::string>> rows(const std::string& sql) const {
    return query(project_.str(), sql);
  }

  static inline S3rver* server_ = nullptr;  // one per test suite

  std::string bucket_;
  TempDir project_;
  TempDir files_;
};

using Rows = std::vector<std::vector<std::string>>;

TEST_F(S3Server, LoadsCsvAndJsonLinesOnceEach) {
  put("in/a.csv", "id,name\n1,ant\n2,bee\n");
  put("in/b.jsonl", "{\"id\": 3, \"name\": \"cat\"}\n{\"id\": 4, \"name\": \"dog\"}\n");
  put("other/c.csv", "id,name\n9,outside the prefix\n");
  write_project("prefix: in/");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id, name FROM ods ORDER BY id"),
            (Rows{{"1", "ant"}, {"2", "bee"}, {"3", "cat"}, {"4", "dog"}}));
  // The state holds each key with its ETag and size.
  EXPECT_EQ(value("SELECT json_extract(state, '$.objects.\"in/a.csv\".size') FROM _ferry_state"),
            "20");
  // A second run loads nothing.
  r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(value("SELECT COUNT(*) FROM ods"), "4");
}

TEST_F(S3Server, PaginatesOverFifteenHundredObjects) {
  fs::path dir = files_.path() / "many";
  fs::create_directories(dir);
  for (int i = 0; i < 1500; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "part-%04d.csv", i);
    std::ofstream(dir / name) << "n\n" << i << "\n";
  }
  std::string out;
  ASSERT_EQ(
      aws({"s3", "cp", dir.string(), "s3://" + bucket_ + "/many/", "--recursive", "--quiet"}, &out),
      0)
      << out;
  write_project("prefix: many/, pattern: \"part-*.csv\"");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Every object once: 0 + 1 + ... + 1499.
  EXPECT_EQ(rows("SELECT COUNT(*), COUNT(DISTINCT n), SUM(n) FROM ods"),
            (Rows{{"1500", "1500", "1124250"}}));
  EXPECT_EQ(value("SELECT COUNT(*) FROM _ferry_state, json_each(state, '$.objects')"), "1500");
}

TEST_F(S3Server, GzipByExtensionOrMagicBytes) {
  fs::path plain = files_.write("g.csv", "id,word\n1,gz-ext\n2,gz-ext\n");
  std::string out;
  ASSERT_EQ(run_command({"gzip", "-k", plain.string()}, {}, &out), 0) << out;
  put("in/by-extension.csv.gz", read_file(plain.string() + ".gz"));
  fs::path magic = files_.write("m.csv", "id,word\n3,gz-magic\n");
  ASSERT_EQ(run_command({"gzip", "-k", magic.string()}, {}, &out), 0) << out;
  put("in/by-magic.csv", read_file(magic.string() + ".gz"));
  write_project("prefix: in/");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id, word FROM ods ORDER BY id"),
            (Rows{{"1", "gz-ext"}, {"2", "gz-ext"}, {"3", "gz-magic"}}));
}

TEST_F(S3Server, CsvWithBomAndQuotedNewlines) {
  put("in/notes.csv",
      "\xEF\xBB\xBFid,note\r\n1,\"line one\nline two\"\r\n2,\"say \"\"hi\"\", then, go\"\r\n");
  write_project("prefix: in/");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The BOM is not part of the first column's name.
  EXPECT_EQ(rows("SELECT id, note FROM ods ORDER BY id"),
            (Rows{{"1", "line one\nline two"}, {"2", "say \"hi\", then, go"}}));
}

TEST_F(S3Server, LaterFileAddsAColumn) {
  put("in/2026-11-01.csv", "id,qty\n1,5\n");
  write_project("prefix: in/");
  ASSERT_EQ(run().exit_code, 0);
  put("in/2026-11-02.csv", "id,qty,discount\n2,7,0.5\n");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id, qty, discount FROM ods ORDER BY id"),
            (Rows{{"1", "5", "NULL"}, {"2", "7", "0.5"}}));
}

TEST_F(S3Server, SameContentUploadedTwiceIsLoadedOnce) {
  put("in/x.csv", "id\n1\n2\n");
  write_project("prefix: in/");
  ASSERT_EQ(run().exit_code, 0);
  put("in/x.csv", "id\n1\n2\n");  // the same bytes again: the same ETag
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(value("SELECT COUNT(*) FROM ods"), "2");
}

TEST_F(S3Server, OverwrittenObjectIsReloaded) {
  put("in/x.csv", "id,v\n1,old\n");
  write_project("prefix: in/");
  ASSERT_EQ(run().exit_code, 0);
  put("in/x.csv", "id,v\n1,new\n2,new\n");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id, v FROM ods ORDER BY _ferry_load_id, id"),
            (Rows{{"1", "old"}, {"1", "new"}, {"2", "new"}}));
  // And not again.
  ASSERT_EQ(run().exit_code, 0);
  EXPECT_EQ(value("SELECT COUNT(*) FROM ods"), "3");
}

TEST_F(S3Server, OnChangeErrorAndSkip) {
  put("in/x.csv", "id\n1\n");
  write_project("prefix: in/, on_change: error");
  ASSERT_EQ(run().exit_code, 0);
  put("in/x.csv", "id\n1\n2\n");
  ProcessResult r = run();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("s3://" + bucket_ + "/in/x.csv changed since it was loaded"),
            std::string::npos)
      << r.out << r.err;
  write_project("prefix: in/, on_change: skip");
  ASSERT_EQ(run_ferry(project_.str(), {"apply"}).exit_code, 0);
  r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(value("SELECT COUNT(*) FROM ods"), "1");
}

TEST_F(S3Server, LastModifiedOrder) {
  // Uploaded z first, then a: with order last_modified, z's rows come first.
  put("in/z.csv", "id\n1\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // LastModified has seconds
  put("in/a.csv", "id\n2\n");
  write_project("prefix: in/, order: last_modified");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id FROM ods ORDER BY rowid"), (Rows{{"1"}, {"2"}}));
}

TEST_F(S3Server, WrongSecretIsSaidInPlainWords) {
  put("in/x.csv", "id\n1\n");
  write_project("prefix: in/");
  ProcessResult r = run("not-the-secret-at-all");
  EXPECT_NE(r.exit_code, 0);
  std::string all = r.out + r.err;
  EXPECT_NE(all.find("the secret access key is wrong"), std::string::npos) << all;
  EXPECT_EQ(all.find("not-the-secret-at-all"), std::string::npos) << "the secret was printed";
  EXPECT_EQ(value("SELECT COUNT(*) FROM sqlite_master WHERE name = 'ods'"), "0");
}

TEST_F(S3Server, MissingBucket) {
  write_project("prefix: in/");
  // The same project, pointed at a bucket that does not exist.
  std::string yml = read_file(project_.path() / "ferry.yml");
  yml.replace(yml.find("bucket: " + bucket_), 8 + bucket_.size(), "bucket: no-such-bucket-here");
  project_.write("ferry.yml", yml);
  ProcessResult r = run();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("bucket 'no-such-bucket-here' does not exist"), std::string::npos)
      << r.out << r.err;
}

TEST_F(S3Server, KeysNamedByAnEvent) {
  // What `ferry run --s3-event` will pass: only the keys an event named are read.
  put("in/a.csv", "id\n1\n");
  put("in/b c.csv", "id\n2\n");
  put("in/d.csv", "id\n3\n");
  write_project("prefix: in/, keys: [\"in/a.csv\", \"in/b c.csv\", \"in/gone.csv\"]");
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id FROM ods ORDER BY id"), (Rows{{"1"}, {"2"}}));
}

// An S3 event notification as S3 delivers it to SQS or Lambda: one record per (event name,
// bucket, key), the key URL-encoded as S3 encodes it ('+' for a space).
std::string s3_event_json(const std::vector<std::array<std::string, 3>>& records) {
  std::string out = "{\"Records\": [";
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& [event, bucket, key] = records[i];
    out += (i > 0 ? ", " : "") + std::string("{\"eventVersion\": \"2.1\", ") +
           "\"eventSource\": \"aws:s3\", \"eventName\": \"" + event +
           "\", \"s3\": {\"bucket\": {\"name\": \"" + bucket + "\"}, \"object\": {\"key\": \"" +
           key + "\", \"size\": 5}}}";
  }
  return out + "]}";
}

TEST_F(S3Server, S3EventLoadsExactlyTheNamedKeys) {
  put("in/a.csv", "id\n1\n");
  put("in/b c.csv", "id\n2\n");
  put("in/x+y.csv", "id\n3\n");
  put("in/d.csv", "id\n4\n");
  put("in/e.txt", "id\n5\n");
  write_project("prefix: in/, pattern: \"*.csv\"");
  fs::path event = files_.write(
      "event.json",
      s3_event_json({{"ObjectCreated:Put", bucket_, "in/b+c.csv"},
                     {"ObjectCreated:CompleteMultipartUpload", bucket_, "in/x%2By.csv"},
                     {"ObjectCreated:Put", bucket_, "in/e.txt"},  // not *.csv
                     {"ObjectRemoved:Delete", bucket_, "in/d.csv"},
                     {"ObjectCreated:Put", bucket_, "other/a.csv"},
                     {"ObjectCreated:Put", "another-bucket", "in/a.csv"}}));
  ProcessResult r = run_ferry(project_.str(), {"run", "j", "--s3-event", event.string()},
                              {{"S3_SECRET", kSecret}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("job j loads 2 objects: in/b c.csv, in/x+y.csv"), std::string::npos)
      << r.out;
  EXPECT_EQ(rows("SELECT id FROM ods ORDER BY id"), (Rows{{"2"}, {"3"}}));
  // The event's keys are in the job's state: a run over the whole prefix loads only the rest,
  // and the same event again loads nothing.
  r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(rows("SELECT id FROM ods ORDER BY id"), (Rows{{"1"}, {"2"}, {"3"}, {"4"}}));
  r = run_ferry(project_.str(), {"run", "j", "--s3-event", event.string()},
                {{"S3_SECRET", kSecret}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(value("SELECT COUNT(*) FROM ods"), "4");
}

TEST_F(S3Server, S3EventWithoutJobRunsEveryMatchingJob) {
  put("in/a.csv", "id\n1\n");
  put("other/o.csv", "id\n2\n");
  std::string lake = "{type: s3, bucket: " + bucket_ + ", endpoint: \"" + endpoint() +
                     "\", access_key_id: S3RVER, secret_access_key: \"${S3_SECRET}\"}";
  project_.write("ferry.yml",
                 "project: s3test\n"
                 "metastore: sqlite:.ferry/meta.db\n"
                 "warehouse: wh\n"
                 "connections:\n"
                 "  wh: {type: sqlite, path: warehouse.db}\n"
                 "  lake: " +
                     lake +
                     "\n"
                     "jobs:\n"
                     "  - {id: csv_in, source: {connection: lake, prefix: in/}, target: {table: "
                     "t_csv_in}}\n"
                     "  - {id: json_in, source: {connection: lake, prefix: in/, pattern: "
                     "\"*.jsonl\"}, target: {table: t_json_in}}\n"
                     "  - {id: other, source: {connection: lake, prefix: other/}, target: {table: "
                     "t_other}}\n"
                     "  - {id: off, enabled: false, source: {connection: lake, prefix: in/}, "
                     "target: {table: t_off}}\n");
  // An SNS notification (the S3 event as a JSON string in Message), on stdin.
  std::string inner = s3_event_json({{"ObjectCreated:Put", bucket_, "in/a.csv"}});
  std::string escaped;
  for (char c : inner)
    escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
  fs::path event =
      files_.write("sns.json", "{\"Type\": \"Notification\", \"Message\": \"" + escaped + "\"}");
  const char* bin = std::getenv("FERRY_BIN");
  ASSERT_NE(bin, nullptr);
  std::string out;
  int rc = run_command({"sh", "-c",
                        std::string(bin) + " -C '" + project_.str() + "' run --s3-event - < '" +
                            event.string() + "'"},
                       {{"S3_SECRET", kSecret}}, &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("job csv_in loads 1 object: in/a.csv"), std::string::npos) << out;
  EXPECT_EQ(value("SELECT group_concat(name) FROM sqlite_master WHERE name LIKE 't\\_%' ESCAPE "
                  "'\\'"),
            "t_csv_in");
  EXPECT_EQ(value("SELECT id FROM t_csv_in"), "1");

  // An event no job reads: said, nothing run, exit 0.
  fs::path elsewhere = files_.write(
      "elsewhere.json", s3_event_json({{"ObjectCreated:Put", bucket_, "archive/a.csv"}}));
  ProcessResult r = run_ferry(project_.str(), {"run", "--s3-event", elsewhere.string()},
                              {{"S3_SECRET", kSecret}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("but no enabled s3 job reads them"), std::string::npos) << r.out;
  EXPECT_EQ(value("SELECT COUNT(*) FROM t_csv_in"), "1");

  // A file that is not an S3 event: exit 2, naming the file.
  fs::path junk = files_.write("junk.json", "{\"hello\": 1}");
  r = run_ferry(project_.str(), {"run", "--s3-event", junk.string()}, {{"S3_SECRET", kSecret}});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(junk.string() + ": S3 event: not an S3 notification"), std::string::npos)
      << r.err;
  // A job that is not in the project.
  r = run_ferry(project_.str(), {"run", "nope", "--s3-event", event.string()},
                {{"S3_SECRET", kSecret}});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

TEST_F(S3Server, SlowDownIsRetriedInPlace) {
  put("in/a.csv", "id\n1\n2\n");
  // The first listing and the first GetObject are throttled; both are sent again after a
  // backoff, within the same run (no retries of the job are configured).
  SlowDownProxy proxy(server_->port(), {"GET /" + bucket_ + "?", "GET /" + bucket_ + "/in/a.csv "});
  write_project("prefix: in/");
  std::string yml = read_file(project_.path() / "ferry.yml");
  yml.replace(yml.find(endpoint()), endpoint().size(),
              "http://127.0.0.1:" + std::to_string(proxy.port()));
  project_.write("ferry.yml", yml);
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(proxy.slowdowns(), 2);
  EXPECT_EQ(rows("SELECT id FROM ods ORDER BY id"), (Rows{{"1"}, {"2"}}));
}

TEST_F(S3Server, HasNewObjectsComparesWithTheState) {
  put("in/a.csv", "id\n1\n");
  put("in/b.csv", "id\n2\n");
  write_project("prefix: in/");
  SourceContext ctx;
  ctx.job_id = "j";
  ctx.connection = {{"type", "s3"},
                    {"bucket", bucket_},
                    {"endpoint", endpoint()},
                    {"access_key_id", "S3RVER"},
                    {"secret_access_key", kSecret}};
  ctx.options = {{"prefix", "in/"}};
  auto check = [&](const std::string& order, const std::string& on_change = "reload") {
    SourceContext c = ctx;
    c.options["order"] = order;
    c.options["on_change"] = on_change;
    c.state = nlohmann::json::parse(value("SELECT state FROM _ferry_state"));
    Result<bool> r = s3::has_new_objects(c);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() && *r;
  };
  // Nothing loaded yet.
  ctx.state = nlohmann::json::object();
  ASSERT_TRUE(s3::has_new_objects(ctx).ok());
  EXPECT_TRUE(*s3::has_new_objects(ctx));

  ASSERT_EQ(run().exit_code, 0);
  EXPECT_FALSE(check("key"));
  EXPECT_FALSE(check("last_modified"));
  put("in/c.csv", "id\n3\n");
  put("out/z.csv", "id\n9\n");  // outside the prefix: never counts
  EXPECT_TRUE(check("key"));
  EXPECT_TRUE(check("last_modified"));
  ASSERT_EQ(run().exit_code, 0);
  EXPECT_FALSE(check("key"));
  EXPECT_FALSE(check("last_modified"));
  // An overwritten object: a full listing sees its new ETag (unless changes are skipped);
  // start-after the greatest key does not, by design.
  put("in/a.csv", "id\n1\n10\n");
  EXPECT_TRUE(check("last_modified"));
  EXPECT_FALSE(check("last_modified", "skip"));
  EXPECT_FALSE(check("key"));
  // Wrong credentials are an error, not "nothing new".
  ctx.connection["secret_access_key"] = "wrong-secret";
  Result<bool> wrong = s3::has_new_objects(ctx);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("the secret access key is wrong"), std::string::npos);
}

TEST_F(S3Server, DownloadCutMidObjectIsResumed) {
  std::string csv = "id,payload\n";
  for (int i = 0; i < 20000; ++i)
    csv += std::to_string(i) + ",row-" + std::to_string(i) + "-padding-padding-padding\n";
  put("in/big.csv", csv);
  CuttingProxy proxy(server_->port(), "/" + bucket_ + "/in/big.csv", 300000);
  write_project("prefix: in/");
  std::string yml = read_file(project_.path() / "ferry.yml");
  yml.replace(yml.find(endpoint()), endpoint().size(),
              "http://127.0.0.1:" + std::to_string(proxy.port()));
  project_.write("ferry.yml", yml);
  ProcessResult r = run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(proxy.cut()) << "the proxy did not cut the download";
  EXPECT_TRUE(proxy.saw_range()) << "the download was not resumed with a Range request";
  // Every row exactly once: nothing lost at the cut, nothing read twice.
  EXPECT_EQ(rows("SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM ods"),
            (Rows{{"20000", "20000", "0", "19999"}}));
  EXPECT_EQ(value("SELECT payload FROM ods WHERE id = 12345"), "row-12345-padding-padding-padding");
}

TEST_F(S3Server, ServeLoadsNewObjectsAndExactlyTheObjectsAnEventNames) {
  put("in/a.csv", "id\n1\n");
  write_project("prefix: in/, pattern: \"*.csv\"");
  // `on: new_objects` for the first job; a second job only for events.
  std::string y = read_file(project_.path() / "ferry.yml");
  y += "    on: new_objects\n    poll: 300ms\n";
  project_.write("ferry.yml", y);
  Serve serve(project_, {}, {{"S3_SECRET", kSecret}});
  ASSERT_GT(serve.port(), 0) << serve.log();
  ASSERT_TRUE(eventually([&] { return value("SELECT COUNT(*) FROM ods") == "1"; })) << serve.log();
  put("in/b.csv", "id\n2\n");  // dropped while serving: loaded within a few polls
  ASSERT_TRUE(eventually([&] { return value("SELECT COUNT(*) FROM ods") == "2"; })) << serve.log();

  // An event naming one new key and one outside the pattern: exactly the one loads.
  put("in/c.csv", "id\n3\n");
  put("in/d.txt", "id\n4\n");
  auto c = serve.client();
  auto res = c.Post("/api/events/s3",
                    s3_event_json({{"ObjectCreated:Put", bucket_, "in/c.csv"},
                                   {"ObjectCreated:Put", bucket_, "in/d.txt"}}),
                    "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  auto answer = nlohmann::json::parse(res->body);
  ASSERT_EQ(answer["runs"].size(), 1u) << answer;
  EXPECT_EQ(answer["runs"][0]["keys"], nlohmann::json::array({"in/c.csv"}));
  ASSERT_TRUE(eventually([&] { return value("SELECT COUNT(*) FROM ods") == "3"; })) << serve.log();
  auto bad = c.Post("/api/events/s3", "{\"not\": \"an event\"}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(serve.stop(), 0);
  EXPECT_EQ(rows("SELECT id FROM ods ORDER BY id"), (Rows{{"1"}, {"2"}, {"3"}}));
}

}  // namespace
}  // namespace ferry::testing
