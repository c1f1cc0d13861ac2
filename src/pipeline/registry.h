// The registry: every source and destination kind this binary knows, by name.
//
// Registration is explicit, in one function (registry.cpp), not by static constructors:
// adding a kind touches its own folder and one line there. Connection kinds that are neither
// source nor destination (smtp) are declared too, so project files using them validate.
//
// Thread-safety: built once on first use, read-only afterwards.
#pragma once

#include <map>
#include <string>

#include "core/plugin.h"
#include "destinations/destination.h"
#include "sources/source.h"

namespace ferry {

struct Registry {
  std::map<std::string, SourceDescriptor> sources;
  std::map<std::string, DestinationDescriptor> destinations;
  PluginCatalog catalog;  // merged declarations of every kind

  const SourceDescriptor* source(const std::string& kind) const;
  const DestinationDescriptor* destination(const std::string& kind) const;
};

const Registry& registry();

}  // namespace ferry
