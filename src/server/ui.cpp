#include "server/ui.h"

#include <httplib.h>

#include <string>

namespace ferry::server {
namespace {

struct Route {
  const char* path;
  const char* file;
  const char* content_type;
};

constexpr Route kRoutes[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/style.css", "style.css", "text/css; charset=utf-8"},
};

const UiAsset* find_asset(std::string_view name) {
  for (const UiAsset& a : ui_assets())
    if (name == a.name) return &a;
  return nullptr;
}

}  // namespace

void register_ui_routes(httplib::Server& server) {
  for (const Route& route : kRoutes) {
    const UiAsset* asset = find_asset(route.file);
    if (asset == nullptr) continue;  // not embedded: the route stays a 404
    std::string type = route.content_type;
    server.Get(route.path, [asset, type](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      // Nothing from elsewhere: no CDN, no external fonts, API calls to this origin only.
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                     "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
      res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, type.c_str());
    });
  }
}

bool is_ui_path(std::string_view path) {
  for (const Route& route : kRoutes)
    if (path == route.path) return true;
  return false;
}

}  // namespace ferry::server
