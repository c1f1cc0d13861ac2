// The `rest` source over an `http` connection: JSON APIs, paginated, authenticated,
// incremental, with retries per request.
//
// A job reads one endpoint (`path` under the connection's base_url, or an absolute `url`),
// walks its pages (sources/rest/paginator.h) and hands the records on:
//   format documents    records (at the `records` JSON pointer, or the body when it is an
//                       array) go through the normaliser: nested objects become columns,
//                       arrays child tables;
//   format jsonl        a JSON Lines body, one record per line;
//   format schema_rows  the body carries its own schema (sources/rest/schema_rows.h).
//
// `for_each` fans one job out over a list: `{name: store_id, values: [1, 2]}` or
// `{name: store_id, from: {path: /stores, records: /data, field: /id}}`; `{store_id}` in the
// path, params, headers and body is replaced by each value in turn, and the rows get a
// `store_id` column (rename it with `column`, or `column: ""` for none).
//
// Incremental loads need no code here: `{{watermark}}` in params is filled before the run and
// the pipeline tracks the new watermark from the rows. A param whose value is empty (e.g. a
// first run without `initial`) is not sent.
//
// Failures: each request is retried per the connection (net/retry.h); a status >= 400 that
// remains, a body that is not JSON, or records missing at their pointer fails the run with a
// message naming the URL without secrets. Nothing of a failed run is committed.
#pragma once

#include "sources/source.h"

namespace ferry {

SourceDescriptor rest_source_descriptor();

}  // namespace ferry
