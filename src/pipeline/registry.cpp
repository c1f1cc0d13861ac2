#include "pipeline/registry.h"

#include "destinations/null/null_destination.h"
#include "destinations/postgres/postgres_destination.h"
#include "destinations/redshift/redshift_destination.h"
#include "destinations/sqlite/sqlite_destination.h"
#include "sources/file/file_source.h"
#include "sources/postgres/postgres_source.h"
#include "sources/rest/rest_source.h"
#include "sources/s3/s3_source.h"

namespace ferry {
namespace {

void merge_decl(PluginCatalog& catalog, const PluginDecl& d) {
  auto [it, inserted] = catalog.emplace(d.kind, d);
  if (inserted) return;
  PluginDecl& m = it->second;
  m.is_source = m.is_source || d.is_source;
  m.is_destination = m.is_destination || d.is_destination;
  auto add = [](std::vector<OptionDecl>& into, const std::vector<OptionDecl>& from) {
    for (const auto& o : from) {
      bool have = false;
      for (const auto& x : into)
        have = have || x.name == o.name;
      if (!have) into.push_back(o);
    }
  };
  add(m.connection_options, d.connection_options);
  add(m.source_options, d.source_options);
  add(m.target_options, d.target_options);
  if (m.description.empty()) m.description = d.description;
}

void add_source(Registry& r, SourceDescriptor d) {
  merge_decl(r.catalog, d.decl);
  r.sources.emplace(d.decl.kind, std::move(d));
}

void add_destination(Registry& r, DestinationDescriptor d) {
  merge_decl(r.catalog, d.decl);
  r.destinations.emplace(d.decl.kind, std::move(d));
}

// Connection kinds that later issues implement; declared so that project files naming them
// validate and `ferry help` describes them.
void add_declared_only(Registry& r) {
  PluginDecl smtp;
  smtp.kind = "smtp";
  smtp.description = "An SMTP server for control-table e-mails.";
  smtp.connection_options = {
      {"url", OptionType::kString, "", "smtp://host:port or smtps://host:port", true, false},
      {"username", OptionType::kString, "", "Login name.", false, false},
      {"password", OptionType::kString, "", "Password (from ${ENV}).", false, true},
      {"from", OptionType::kString, "", "Sender address.", true, false},
  };
  merge_decl(r.catalog, smtp);
}

Registry build() {
  Registry r;
  add_source(r, file_source_descriptor());
  add_source(r, rest_source_descriptor());
  add_source(r, s3_source_descriptor());
  add_source(r, postgres_source_descriptor());
  add_destination(r, sqlite_destination_descriptor());
  add_destination(r, null_destination_descriptor());
  add_destination(r, postgres_destination_descriptor());
  add_destination(r, redshift_destination_descriptor());
  add_declared_only(r);
  return r;
}

}  // namespace

const SourceDescriptor* Registry::source(const std::string& kind) const {
  auto it = sources.find(kind);
  return it == sources.end() ? nullptr : &it->second;
}

const DestinationDescriptor* Registry::destination(const std::string& kind) const {
  auto it = destinations.find(kind);
  return it == destinations.end() ? nullptr : &it->second;
}

const Registry& registry() {
  static const Registry r = build();
  return r;
}

}  // namespace ferry
