// The `null` destination: accepts every batch and discards it. For benchmarks
// (normalise-only throughput) and for dry runs that only check a source reads cleanly.
// It keeps job state in memory only, so every run of a job re-reads everything.
#pragma once

#include "destinations/destination.h"

namespace ferry {

DestinationDescriptor null_destination_descriptor();

}  // namespace ferry
