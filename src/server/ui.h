// The web UI of `ferry serve`: plain HTML, CSS and JavaScript from src/server/ui/, compiled
// into the binary at build time (cmake/embed_files.cmake), served at `/`, `/app.js` and
// `/style.css`. The page holds no data: it asks for the API token and every /api call it
// makes carries it, so the UI's own routes need no token.
//
// Thread-safety: the assets are immutable; handlers may run on any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace httplib {
class Server;
}

namespace ferry::server {

// One embedded file: its name in src/server/ui/ and its bytes.
struct UiAsset {
  const char* name;
  const unsigned char* data;
  size_t size;
};

// Every embedded file, sorted by name (defined by the generated ui_assets.cpp).
std::span<const UiAsset> ui_assets();

// Adds GET `/` (index.html), `/app.js` and `/style.css` to `server`, each with its content
// type and `Cache-Control: no-cache`.
void register_ui_routes(httplib::Server& server);

// True for the paths register_ui_routes serves (the API's token check lets them through).
bool is_ui_path(std::string_view path);

}  // namespace ferry::server
