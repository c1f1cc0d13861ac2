#include "pipeline/fault.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ferry {
namespace {

struct FaultConfig {
  int64_t kill_after_batches = -1;
  const char* kill_at = nullptr;
  FaultConfig() {
    if (const char* v = std::getenv("FERRY_FAULT_KILL_AFTER_BATCHES"))
      kill_after_batches = std::atoll(v);
    kill_at = std::getenv("FERRY_FAULT_KILL_AT");
  }
};

const FaultConfig& config() {
  static const FaultConfig c;
  return c;
}

}  // namespace

void fault_point_after_batch() {
  static std::atomic<int64_t> written{0};
  if (config().kill_after_batches < 0) return;
  if (written.fetch_add(1) + 1 >= config().kill_after_batches) raise(SIGKILL);
}

void fault_point(const char* name) {
  if (config().kill_at && std::strcmp(config().kill_at, name) == 0) raise(SIGKILL);
}

}  // namespace ferry
