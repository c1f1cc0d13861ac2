#include "destinations/null/null_destination.h"

namespace ferry {
namespace {

class NullDestination final : public Destination {
 public:
  Result<nlohmann::json> read_state(const std::string&) override {
    return nlohmann::json::object();
  }
  Status begin(const LoadSpec&) override { return Status::success(); }
  Status write(const Batch& batch, WriteResult* result) override {
    result->rows_written += batch.num_rows();
    return Status::success();
  }
  Status write_rejects(const std::vector<Reject>&) override { return Status::success(); }
  Status commit(const nlohmann::json&, const LoadStats&) override { return Status::success(); }
  void rollback() override {}
  Status execute(const std::string&) override { return Status::success(); }
  Result<std::vector<TableSchema>> tables() override { return std::vector<TableSchema>{}; }
  Result<std::vector<std::vector<std::optional<std::string>>>> query(const std::string&) override {
    return Status::invalid("the null destination holds no data to query");
  }
  Status save_failed_rejects(const LoadSpec&, const std::vector<Reject>&) override {
    return Status::success();
  }
};

}  // namespace

DestinationDescriptor null_destination_descriptor() {
  DestinationDescriptor d;
  d.decl.kind = "null";
  d.decl.description = "Discards every row (benchmarks, dry runs).";
  d.decl.is_destination = true;
  d.create = [](const nlohmann::json&, const std::string&) -> Result<std::unique_ptr<Destination>> {
    return std::unique_ptr<Destination>(std::make_unique<NullDestination>());
  };
  return d;
}

}  // namespace ferry
