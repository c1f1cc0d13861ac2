#include "sources/file/file_source.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "core/hash.h"
#include "formats/input_stream.h"
#include "sources/format_loader.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

// Feeds the (decompressed) bytes that pass through it to a hash the caller owns, so the hash
// outlives the stream (a reader may own and destroy the stream before the caller asks).
class HashingStream final : public InputStream {
 public:
  HashingStream(std::unique_ptr<InputStream> in, Hash64& hash) : in_(std::move(in)), hash_(hash) {}
  Result<size_t> read(char* buf, size_t n) override {
    auto r = in_->read(buf, n);
    if (r.ok()) hash_.update(std::string_view(buf, r.value()));
    return r;
  }
  std::string name() const override { return in_->name(); }

 private:
  std::unique_ptr<InputStream> in_;
  Hash64& hash_;
};

struct FileEntry {
  std::string rel;  // relative to the connection folder: the key in the state
  fs::path full;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

class FileSource final : public Source {
 public:
  Status open(const SourceContext& ctx) override {
    ctx_ = ctx;
    fs::path base = ctx.connection.value("path", ".");
    if (base.is_relative()) base = fs::path(ctx.project_dir) / base;
    base_ = base.lexically_normal();
    fs::path sub = ctx.options.value("path", "");
    target_ = (sub.empty() ? base_ : base_ / sub).lexically_normal();
    pattern_ = ctx.options.value("pattern", "");
    return Status::success();
  }

  Result<std::vector<StreamInfo>> discover() override {
    FERRY_ASSIGN(auto files, list_files());
    std::vector<StreamInfo> out;
    for (const auto& f : files)
      out.push_back(StreamInfo{f.rel, {}});
    return out;
  }

  Result<bool> has_new() override {
    FERRY_ASSIGN(auto files, list_files());
    const nlohmann::json& seen = ctx_.state.contains("files") && ctx_.state["files"].is_object()
                                     ? ctx_.state["files"]
                                     : nlohmann::json::object();
    for (const FileEntry& f : files) {
      auto it = seen.find(f.rel);
      if (it == seen.end() || it->value("size", int64_t{-1}) != f.size ||
          it->value("mtime_ns", int64_t{-1}) != f.mtime_ns)
        return true;
    }
    if (ctx_.full_refresh) {  // a removed file changes a replaced table too
      for (auto& [rel, info] : seen.items()) {
        bool present = std::any_of(files.begin(), files.end(),
                                   [&](const FileEntry& f) { return f.rel == rel; });
        if (!present) return true;
      }
    }
    return false;
  }

  Status read(SourceSink& sink) override {
    FERRY_ASSIGN(auto files, list_files());
    nlohmann::json seen = ctx_.state.contains("files") && ctx_.state["files"].is_object()
                              ? ctx_.state["files"]
                              : nlohmann::json::object();
    // Which files are new or changed (content, not just mtime).
    std::vector<const FileEntry*> todo;
    for (const FileEntry& f : files) {
      auto it = seen.find(f.rel);
      if (it != seen.end() && it->value("size", int64_t{-1}) == f.size &&
          it->value("mtime_ns", int64_t{-1}) == f.mtime_ns)
        continue;  // unchanged since it was loaded
      if (it != seen.end()) {
        FERRY_ASSIGN(std::string hash, hash_file(f.full));
        if (hash == it->value("hash", "")) {  // touched, same content
          (*it)["size"] = f.size;
          (*it)["mtime_ns"] = f.mtime_ns;
          sink.set_state("files", seen);
          continue;
        }
      }
      todo.push_back(&f);
    }
    if (ctx_.full_refresh) {
      // The target is replaced: any change means reading every file again.
      bool removed = false;
      for (auto& [rel, info] : seen.items()) {
        bool present = std::any_of(files.begin(), files.end(),
                                   [&](const FileEntry& f) { return f.rel == rel; });
        removed = removed || !present;
      }
      if (todo.empty() && !removed && !files.empty()) {
        sink.unchanged("no file changed since the last load");
        return Status::success();
      }
      todo.clear();
      for (const FileEntry& f : files)
        todo.push_back(&f);
      seen = nlohmann::json::object();
    }
    for (const FileEntry* f : todo) {
      if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
      FERRY_ASSIGN(std::string hash, load_file(*f, sink));
      seen[f->rel] = {{"size", f->size}, {"mtime_ns", f->mtime_ns}, {"hash", hash}};
      sink.set_state("files", seen);
    }
    return Status::success();
  }

 private:
  Result<std::vector<FileEntry>> list_files() const {
    std::vector<FileEntry> out;
    std::error_code ec;
    auto add = [&](const fs::path& p) {
      struct stat st;
      if (::stat(p.c_str(), &st) != 0) return;
      FileEntry e;
      e.full = p;
      e.rel = p.lexically_relative(base_).generic_string();
      if (e.rel.empty() || e.rel.starts_with("..")) e.rel = p.generic_string();
      e.size = st.st_size;
      e.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
      out.push_back(std::move(e));
    };
    if (fs::is_regular_file(target_, ec)) {
      add(target_);
      return out;
    }
    if (!fs::is_directory(target_, ec))
      return Status::not_found("file source: {} does not exist", target_.string());
    for (auto it = fs::recursive_directory_iterator(target_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string rel = it->path().lexically_relative(target_).generic_string();
      std::string name = it->path().filename().string();
      if (name.starts_with(".")) continue;
      if (!pattern_.empty() && fnmatch(pattern_.c_str(), rel.c_str(), FNM_PATHNAME) != 0 &&
          fnmatch(pattern_.c_str(), name.c_str(), 0) != 0)
        continue;
      add(it->path());
    }
    if (ec) return Status::io("file source: cannot list {}: {}", target_.string(), ec.message());
    std::sort(out.begin(), out.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.rel < b.rel; });
    return out;
  }

  Result<std::string> hash_file(const fs::path& p) const {
    FERRY_ASSIGN(auto in, open_file(p.string()));
    Hash64 hash;
    HashingStream hs(std::move(in), hash);
    std::string buf(1 << 20, '\0');
    for (;;) {
      FERRY_ASSIGN(size_t n, hs.read(buf.data(), buf.size()));
      if (n == 0) break;
    }
    return hash.hex();
  }

  // Loads one file; returns its content hash.
  Result<std::string> load_file(const FileEntry& f, SourceSink& sink) {
    FERRY_ASSIGN(auto raw, open_file(f.full.string()));
    Hash64 hash;
    auto hashing = std::make_unique<HashingStream>(std::move(raw), hash);
    Status st = load_stream(std::move(hashing), format_of(ctx_.options, f.rel), ctx_.options,
                            f.full.string(), "file", sink);
    if (!st.is_ok()) return st;
    return hash.hex();
  }

  SourceContext ctx_;
  fs::path base_;
  fs::path target_;
  std::string pattern_;
};

}  // namespace

SourceDescriptor file_source_descriptor() {
  SourceDescriptor d;
  d.decl.kind = "file";
  d.decl.description =
      "Local files: one file, or a folder and a glob; CSV, JSON, JSON Lines (.gz too).";
  d.decl.is_source = true;
  d.decl.connection_options = {
      {"path", OptionType::kString, ".", "Base folder (relative to the project).", false, false},
  };
  d.decl.source_options = {
      {"path", OptionType::kString, "", "File or folder under the connection's path.", false,
       false},
      {"pattern", OptionType::kString, "", "Glob on file names or relative paths, e.g. *.csv*.",
       false, false},
  };
  for (OptionDecl& o : format_option_decls())
    d.decl.source_options.push_back(std::move(o));
  d.create = [] { return std::make_unique<FileSource>(); };
  return d;
}

}  // namespace ferry
