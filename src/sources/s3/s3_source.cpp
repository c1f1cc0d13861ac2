#include "sources/s3/s3_source.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "formats/input_stream.h"
#include "s3/aws_credentials.h"
#include "s3/s3_client.h"
#include "sources/format_loader.h"

namespace ferry {
namespace s3 {

bool key_matches(const std::string& key, const std::string& prefix, const std::string& pattern) {
  if (pattern.empty()) return true;
  std::string rel = key.starts_with(prefix) ? key.substr(prefix.size()) : key;
  while (rel.starts_with('/'))
    rel.erase(0, 1);
  size_t slash = key.rfind('/');
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  return fnmatch(pattern.c_str(), rel.c_str(), FNM_PATHNAME) == 0 ||
         fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

std::vector<std::string> s3_event_keys(const std::vector<S3EventObject>& events,
                                       const std::string& bucket, const std::string& prefix,
                                       const std::string& pattern) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const S3EventObject& e : events) {
    if (!is_object_created(e) || e.bucket != bucket || !e.key.starts_with(prefix) ||
        e.key.ends_with('/') || !key_matches(e.key, prefix, pattern))
      continue;
    if (seen.insert(e.key).second) keys.push_back(e.key);
  }
  return keys;
}

}  // namespace s3

namespace {

using s3::ObjectInfo;

enum class OnChange { kReload, kSkip, kError };

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// The client configuration of an s3 connection (credentials resolved).
Result<s3::S3Config> client_config(const nlohmann::json& c) {
  s3::S3Config cfg;
  cfg.bucket = c.value("bucket", "");
  if (cfg.bucket.empty()) return Status::invalid("s3 connection: bucket is required");
  cfg.region = c.value("region", "");
  if (cfg.region.empty())
    cfg.region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1"));
  cfg.endpoint = c.value("endpoint", "");
  s3::CredentialOptions creds{c.value("access_key_id", ""), c.value("secret_access_key", ""),
                              c.value("session_token", ""), c.value("profile", "")};
  FERRY_ASSIGN(s3::ResolvedCredentials resolved, s3::resolve_credentials(creds));
  cfg.credentials = std::move(resolved.credentials);
  return cfg;
}

// A listed object the job reads at all: under the prefix, not a "folder/" placeholder
// (consoles create them; they hold no data), passing the pattern.
bool wanted(const ObjectInfo& o, const std::string& prefix, const std::string& pattern) {
  return !o.key.ends_with('/') && o.key.starts_with(prefix) &&
         s3::key_matches(o.key, prefix, pattern);
}

// The job state's {key: {"etag", ...}} of loaded objects ({} when none).
nlohmann::json loaded_objects(const nlohmann::json& state) {
  return state.contains("objects") && state["objects"].is_object() ? state["objects"]
                                                                   : nlohmann::json::object();
}

class S3Source final : public Source {
 public:
  Status open(const SourceContext& ctx) override {
    ctx_ = ctx;
    FERRY_ASSIGN(s3::S3Config cfg, client_config(ctx.connection));

    const nlohmann::json& o = ctx.options;
    prefix_ = o.value("prefix", "");
    pattern_ = o.value("pattern", "");
    std::string on_change = o.value("on_change", "reload");
    if (on_change == "reload") {
      on_change_ = OnChange::kReload;
    } else if (on_change == "skip") {
      on_change_ = OnChange::kSkip;
    } else if (on_change == "error") {
      on_change_ = OnChange::kError;
    } else {
      return Status::invalid("s3 source: on_change must be reload, skip or error, not '{}'",
                             on_change);
    }
    std::string order = o.value("order", "key");
    if (order != "key" && order != "last_modified")
      return Status::invalid("s3 source: order must be key or last_modified, not '{}'", order);
    by_last_modified_ = order == "last_modified";
    if (o.contains("keys") && o["keys"].is_array()) {
      only_keys_ = true;
      for (const auto& k : o["keys"])
        if (k.is_string()) keys_.push_back(k.get<std::string>());
    }
    client_ = std::make_unique<s3::S3Client>(std::move(cfg));
    return Status::success();
  }

  Result<std::vector<StreamInfo>> discover() override {
    FERRY_ASSIGN(auto objects, list());
    std::vector<StreamInfo> out;
    for (const auto& o : objects)
      out.push_back(StreamInfo{client_->display(o.key), {}});
    return out;
  }

  Result<bool> has_new() override { return s3::has_new_objects(ctx_); }

  Status read(SourceSink& sink) override {
    FERRY_ASSIGN(std::vector<ObjectInfo> objects, list());
    nlohmann::json seen = loaded_objects(ctx_.state);
    std::vector<const ObjectInfo*> todo;
    for (const ObjectInfo& o : objects) {
      auto it = seen.find(o.key);
      if (it == seen.end()) {
        todo.push_back(&o);
        continue;
      }
      std::string old_etag = it->value("etag", "");
      if (old_etag == o.etag) continue;  // loaded already, same content
      switch (on_change_) {
        case OnChange::kReload:
          todo.push_back(&o);
          break;
        case OnChange::kSkip:
          break;
        case OnChange::kError:
          return Status::invalid(
              "{} changed since it was loaded (ETag {} -> {}) and the job's on_change is "
              "error; set on_change: reload to load it again, or skip to ignore changes",
              client_->display(o.key), old_etag, o.etag);
      }
    }
    if (ctx_.full_refresh && !only_keys_) {
      // The target is replaced: any change means reading every object again.
      bool removed = false;
      for (auto& [key, info] : seen.items())
        removed = removed || std::none_of(objects.begin(), objects.end(),
                                          [&](const ObjectInfo& o) { return o.key == key; });
      if (todo.empty() && !removed && !objects.empty()) {
        sink.unchanged("no object changed since the last load");
        return Status::success();
      }
      todo.clear();
      for (const ObjectInfo& o : objects)
        todo.push_back(&o);
      seen = nlohmann::json::object();
    }
    if (by_last_modified_) {
      // ISO 8601 timestamps in UTC with the same precision sort as text.
      std::stable_sort(todo.begin(), todo.end(), [](const ObjectInfo* a, const ObjectInfo* b) {
        return a->last_modified < b->last_modified;
      });
    }
    for (const ObjectInfo* o : todo) {
      if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
      FERRY_ASSIGN(std::string etag, load_object(*o, sink));
      seen[o->key] = {{"etag", etag}, {"size", o->size}, {"last_modified", o->last_modified}};
      sink.set_state("objects", seen);
    }
    return Status::success();
  }

 private:
  // The objects to consider, in key order: the prefix's listing, or the `keys` option's.
  Result<std::vector<ObjectInfo>> list() {
    std::vector<ObjectInfo> out;
    if (only_keys_) {
      for (const std::string& key : keys_) {
        // A listing with the key as prefix gives its ETag and size in one cheap call (the
        // key, then keys that extend it).
        FERRY_ASSIGN(s3::ListPage page, client_->list_page(key, ""));
        for (ObjectInfo& o : page.objects)
          if (o.key == key) out.push_back(std::move(o));
      }
      std::sort(out.begin(), out.end(),
                [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    } else {
      FERRY_ASSIGN(out, client_->list_all(prefix_));
    }
    std::erase_if(out, [&](const ObjectInfo& o) { return !wanted(o, prefix_, pattern_); });
    return out;
  }

  // Loads one object; returns the ETag of the version that was read.
  Result<std::string> load_object(const ObjectInfo& o, SourceSink& sink) {
    s3::ObjectMeta meta;
    FERRY_ASSIGN(auto raw, client_->open_object(o.key, &meta));
    // Gzip by magic bytes, whatever the extension: an object stored with Content-Encoding:
    // gzip arrives already decoded by the HTTP client although its key ends in .gz.
    auto in = maybe_gunzip(std::move(raw));
    FERRY_TRY(load_stream(std::move(in), format_of(ctx_.options, o.key), ctx_.options,
                          client_->display(o.key), "s3", sink));
    return meta.etag.empty() ? o.etag : meta.etag;
  }

  SourceContext ctx_;
  std::unique_ptr<s3::S3Client> client_;
  std::string prefix_;
  std::string pattern_;
  OnChange on_change_ = OnChange::kReload;
  bool by_last_modified_ = false;
  bool only_keys_ = false;
  std::vector<std::string> keys_;
};

}  // namespace

namespace s3 {

Result<bool> has_new_objects(const SourceContext& ctx) {
  FERRY_ASSIGN(S3Config cfg, client_config(ctx.connection));
  const nlohmann::json& o = ctx.options;
  const std::string prefix = o.value("prefix", "");
  const std::string pattern = o.value("pattern", "");
  const nlohmann::json seen = loaded_objects(ctx.state);
  S3Client client(std::move(cfg));
  if (o.value("order", "key") == "key") {
    // Keys load in order: anything new sorts after the greatest key loaded (S3 lists in
    // UTF-8 binary order, as std::string compares).
    std::string greatest;
    for (const auto& [key, info] : seen.items())
      greatest = std::max(greatest, key);
    std::string token;
    for (;;) {
      FERRY_ASSIGN(ListPage page, client.list_page(prefix, token, greatest));
      for (const ObjectInfo& obj : page.objects)
        if (wanted(obj, prefix, pattern) && !seen.contains(obj.key)) return true;
      if (!page.truncated || page.next_continuation_token == token) return false;
      token = page.next_continuation_token;
    }
  }
  const bool changes_count = o.value("on_change", "reload") != "skip";
  FERRY_ASSIGN(std::vector<ObjectInfo> objects, client.list_all(prefix));
  for (const ObjectInfo& obj : objects) {
    if (!wanted(obj, prefix, pattern)) continue;
    auto it = seen.find(obj.key);
    if (it == seen.end()) return true;
    if (changes_count && it->value("etag", "") != obj.etag) return true;
  }
  return false;
}

}  // namespace s3

SourceDescriptor s3_source_descriptor() {
  SourceDescriptor d;
  d.decl.kind = "s3";
  d.decl.description =
      "Objects in an S3 bucket (or an S3-compatible server) under a prefix: CSV, JSON, JSON "
      "Lines (.gz too), each loaded once.";
  d.decl.is_source = true;
  d.decl.connection_options = {
      {"bucket", OptionType::kString, "", "Bucket name.", true, false},
      {"region", OptionType::kString, "us-east-1",
       "The bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1).", false,
       false},
      {"endpoint", OptionType::kString, "",
       "Base URL of an S3-compatible server (path-style requests); empty = AWS.", false, false},
      {"access_key_id", OptionType::kString, "",
       "Access key id (default: AWS_ACCESS_KEY_ID, then the profile).", false, false},
      {"secret_access_key", OptionType::kString, "", "Secret access key (from ${ENV}).", false,
       true},
      {"session_token", OptionType::kString, "", "Session token of temporary credentials.", false,
       true},
      {"profile", OptionType::kString, "",
       "Profile of ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE); default AWS_PROFILE, "
       "else default.",
       false, false},
  };
  d.decl.source_options = {
      {"prefix", OptionType::kString, "", "Key prefix to list, e.g. incoming/2026/.", false, false},
      {"pattern", OptionType::kString, "",
       "Glob on keys relative to the prefix, or on their last segment, e.g. *.csv*.", false, false},
      {"on_change", OptionType::kString, "reload",
       "A loaded key with a new ETag: reload | skip | error.", false, false},
      {"order", OptionType::kString, "key", "Load order of new objects: key | last_modified.",
       false, false},
      {"keys", OptionType::kList, "",
       "Only these keys (as named by an S3 event) instead of listing the prefix.", false, false},
  };
  for (OptionDecl& o : format_option_decls())
    d.decl.source_options.push_back(std::move(o));
  d.create = [] { return std::make_unique<S3Source>(); };
  return d;
}

}  // namespace ferry
