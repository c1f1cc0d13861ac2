// The OpenAPI 3.0 description of ferry serve's HTTP API, served at /api/openapi.json.
#pragma once

#include <nlohmann/json.hpp>

namespace ferry::server {

nlohmann::json openapi_document();

}  // namespace ferry::server
