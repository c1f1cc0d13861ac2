#include "sources/rest/paginator.h"

#include <fmt/format.h>

namespace ferry::rest {
namespace {

using json = nlohmann::json;

// The scalar at `pointer` as text; nullopt when absent, null or "".
std::optional<std::string> scalar_at(const Page& page, const std::string& pointer) {
  if (!page.has_body) return std::nullopt;
  simdjson::dom::element v;
  if (page.body.at_pointer(pointer).get(v)) return std::nullopt;
  switch (v.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string s(v.get_string().value_unsafe());
      if (s.empty()) return std::nullopt;
      return s;
    }
    case simdjson::dom::element_type::INT64:
      return std::to_string(v.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64:
      return std::to_string(v.get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:
      return fmt::format("{}", v.get_double().value_unsafe());
    case simdjson::dom::element_type::BOOL:
      return v.get_bool().value_unsafe() ? "true" : "false";
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> int_at(const Page& page, const std::string& pointer) {
  auto s = scalar_at(page, pointer);
  if (!s) return std::nullopt;
  try {
    return std::stoll(*s);
  } catch (...) {
    return std::nullopt;
  }
}

class NoPaginator final : public Paginator {
 public:
  void start(PageRequest&) override {}
  Result<bool> next(const Page&, PageRequest&) override { return false; }
};

class PageNumberPaginator final : public Paginator {
 public:
  PageNumberPaginator(std::string param, int64_t start, std::string total_pages)
      : param_(std::move(param)), page_(start), total_pages_(std::move(total_pages)) {}
  void start(PageRequest& r) override { set_param(r.params, param_, std::to_string(page_)); }
  Result<bool> next(const Page& page, PageRequest& r) override {
    if (page.records == 0) return false;
    if (!total_pages_.empty()) {
      auto total = int_at(page, total_pages_);
      if (total && page_ >= *total) return false;
    }
    set_param(r.params, param_, std::to_string(++page_));
    return true;
  }

 private:
  std::string param_;
  int64_t page_;
  std::string total_pages_;
};

class OffsetPaginator final : public Paginator {
 public:
  OffsetPaginator(std::string param, std::string limit_param, int64_t start,
                  std::optional<int64_t> limit, std::string total)
      : param_(std::move(param)),
        limit_param_(std::move(limit_param)),
        offset_(start),
        limit_(limit),
        total_(std::move(total)) {}
  void start(PageRequest& r) override {
    if (!limit_) {  // the job's own params may carry the page size
      auto given = get_param(r.params, limit_param_);
      try {
        limit_ = given ? std::stoll(*given) : 100;
      } catch (...) {
        limit_ = 100;
      }
    }
    set_param(r.params, param_, std::to_string(offset_));
    set_param(r.params, limit_param_, std::to_string(*limit_));
  }
  Result<bool> next(const Page& page, PageRequest& r) override {
    if (static_cast<int64_t>(page.records) < *limit_) return false;  // a short page is the last
    offset_ += static_cast<int64_t>(page.records);
    if (!total_.empty()) {
      auto total = int_at(page, total_);
      if (total && offset_ >= *total) return false;
    }
    set_param(r.params, param_, std::to_string(offset_));
    return true;
  }

 private:
  std::string param_, limit_param_;
  int64_t offset_;
  std::optional<int64_t> limit_;
  std::string total_;
};

class CursorPaginator final : public Paginator {
 public:
  CursorPaginator(std::string pointer, std::string param)
      : pointer_(std::move(pointer)), param_(std::move(param)) {}
  void start(PageRequest&) override {}
  Result<bool> next(const Page& page, PageRequest& r) override {
    auto cursor = scalar_at(page, pointer_);
    if (!cursor) return false;
    set_param(r.params, param_, *cursor);
    return true;
  }

 private:
  std::string pointer_, param_;
};

class NextUrlPaginator final : public Paginator {
 public:
  explicit NextUrlPaginator(std::string pointer) : pointer_(std::move(pointer)) {}
  void start(PageRequest&) override {}
  Result<bool> next(const Page& page, PageRequest& r) override {
    auto next = scalar_at(page, pointer_);
    if (!next) return false;
    r.url = resolve_url(page.response->effective_url, *next);
    r.params.clear();  // the next URL carries its own query
    return true;
  }

 private:
  std::string pointer_;
};

class LinkHeaderPaginator final : public Paginator {
 public:
  void start(PageRequest&) override {}
  Result<bool> next(const Page& page, PageRequest& r) override {
    auto header = page.response->header("link");
    if (!header) return false;
    auto next = link_next(*header);
    if (!next) return false;
    r.url = resolve_url(page.response->effective_url, *next);
    r.params.clear();
    return true;
  }
};

Result<std::string> text_option(const json& o, const std::string& key, const std::string& def,
                                bool required, const std::string& type) {
  if (!o.contains(key)) {
    if (required) return Status::invalid("paginate type {} needs '{}'", type, key);
    return def;
  }
  const json& v = o[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return Status::invalid("paginate.{} must be a string", key);
}

Result<int64_t> int_option(const json& o, const std::string& key, int64_t def) {
  if (!o.contains(key)) return def;
  const json& v = o[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    try {
      size_t used = 0;
      int64_t n = std::stoll(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return n;
    } catch (...) {
    }
  }
  return Status::invalid("paginate.{} must be an integer, not {}", key, v.dump());
}

Status check_keys(const json& o, const std::string& type, std::vector<std::string> allowed) {
  allowed.push_back("type");
  for (const auto& [k, v] : o.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed)
        list += (list.empty() ? "" : ", ") + a;
      return Status::invalid("paginate type {} has no option '{}' (it has: {})", type, k, list);
    }
  }
  return Status::success();
}

}  // namespace

void set_param(Params& params, const std::string& name, const std::string& value) {
  for (auto& [k, v] : params) {
    if (k == name) {
      v = value;
      return;
    }
  }
  params.emplace_back(name, value);
}

std::optional<std::string> get_param(const Params& params, const std::string& name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Paginator>> make_paginator(const json& p) {
  if (p.is_null()) return std::unique_ptr<Paginator>(std::make_unique<NoPaginator>());
  json o = p;
  if (p.is_string()) o = json{{"type", p}};
  if (!o.is_object()) return Status::invalid("paginate must be a map with a type");
  std::string type = o.value("type", "");
  if (type == "none") {
    FERRY_TRY(check_keys(o, type, {}));
    return std::unique_ptr<Paginator>(std::make_unique<NoPaginator>());
  }
  if (type == "page_number") {
    FERRY_TRY(check_keys(o, type, {"param", "start", "total_pages"}));
    FERRY_ASSIGN(auto param, text_option(o, "param", "page", false, type));
    FERRY_ASSIGN(auto start, int_option(o, "start", 1));
    FERRY_ASSIGN(auto total, text_option(o, "total_pages", "", false, type));
    return std::unique_ptr<Paginator>(std::make_unique<PageNumberPaginator>(param, start, total));
  }
  if (type == "offset") {
    FERRY_TRY(check_keys(o, type, {"param", "limit_param", "start", "limit", "total"}));
    FERRY_ASSIGN(auto param, text_option(o, "param", "offset", false, type));
    FERRY_ASSIGN(auto limit_param, text_option(o, "limit_param", "limit", false, type));
    FERRY_ASSIGN(auto start, int_option(o, "start", 0));
    std::optional<int64_t> limit;
    if (o.contains("limit")) {
      FERRY_ASSIGN(int64_t l, int_option(o, "limit", 0));
      if (l <= 0) return Status::invalid("paginate.limit must be positive");
      limit = l;
    }
    FERRY_ASSIGN(auto total, text_option(o, "total", "", false, type));
    return std::unique_ptr<Paginator>(
        std::make_unique<OffsetPaginator>(param, limit_param, start, limit, total));
  }
  if (type == "cursor") {
    FERRY_TRY(check_keys(o, type, {"cursor", "param"}));
    FERRY_ASSIGN(auto pointer, text_option(o, "cursor", "", true, type));
    FERRY_ASSIGN(auto param, text_option(o, "param", "cursor", false, type));
    return std::unique_ptr<Paginator>(std::make_unique<CursorPaginator>(pointer, param));
  }
  if (type == "next_url") {
    FERRY_TRY(check_keys(o, type, {"next"}));
    FERRY_ASSIGN(auto pointer, text_option(o, "next", "", true, type));
    return std::unique_ptr<Paginator>(std::make_unique<NextUrlPaginator>(pointer));
  }
  if (type == "link_header") {
    FERRY_TRY(check_keys(o, type, {}));
    return std::unique_ptr<Paginator>(std::make_unique<LinkHeaderPaginator>());
  }
  return Status::invalid(
      "paginate type '{}' is not known (none, page_number, offset, cursor, next_url, "
      "link_header)",
      type);
}

std::optional<std::string> link_next(std::string_view header) {
  // Link: <url>; rel="next", <url2>; rel="last"   (several links, params in any order)
  size_t pos = 0;
  while (pos < header.size()) {
    size_t lt = header.find('<', pos);
    if (lt == std::string_view::npos) return std::nullopt;
    size_t gt = header.find('>', lt);
    if (gt == std::string_view::npos) return std::nullopt;
    std::string_view target = header.substr(lt + 1, gt - lt - 1);
    size_t end = header.find('<', gt);  // next link starts at the next '<'
    std::string_view attrs = header.substr(
        gt + 1, end == std::string_view::npos ? std::string_view::npos : end - gt - 1);
    // rel may hold several space-separated types: rel="next last".
    size_t r = attrs.find("rel=");
    if (r != std::string_view::npos) {
      std::string_view v = attrs.substr(r + 4);
      bool quoted = !v.empty() && v[0] == '"';
      if (quoted) v.remove_prefix(1);
      size_t stop = v.find_first_of(quoted ? "\"" : ";, ");
      std::string_view rels = v.substr(0, stop);
      size_t i = 0;
      while (i < rels.size()) {
        size_t sp = rels.find(' ', i);
        std::string_view one = rels.substr(i, sp == std::string_view::npos ? sp : sp - i);
        if (one == "next") return std::string(target);
        if (sp == std::string_view::npos) break;
        i = sp + 1;
      }
    }
    if (end == std::string_view::npos) break;
    pos = end;
  }
  return std::nullopt;
}

std::string resolve_url(const std::string& base, const std::string& ref) {
  if (ref.find("://") != std::string::npos) return ref;
  size_t scheme = base.find("://");
  size_t host_end = scheme == std::string::npos ? 0 : base.find('/', scheme + 3);
  std::string origin = host_end == std::string::npos ? base : base.substr(0, host_end);
  if (ref.starts_with("//")) return base.substr(0, scheme + 1) + ref;
  if (ref.starts_with("/")) return origin + ref;
  std::string path = base.substr(0, base.find_first_of("?#"));
  if (ref.starts_with("?")) return path + ref;
  return path.substr(0, path.rfind('/') + 1) + ref;
}

}  // namespace ferry::rest
