// RedshiftStager: one table's rows of one load, staged in S3 as gzip CSV parts for COPY.
//
// The rows (CSV text, whole rows, from the destination) are gzip-compressed as they come in;
// a part is closed and uploaded (PutObject) once `part_bytes` of CSV went into it (64 MiB by
// default; a part ends on a row boundary, so it is at most one append() bigger), so memory is
// bounded by one compressed part whatever the load's size. Rows with other columns (the
// table's schema evolved mid-load) start a new segment: a COPY lists its columns, so each
// segment gets its own manifest and COPY.
//
// Keys: <prefix><load>/<table>/<segment>-<part>.csv.gz and <prefix><load>/<table>/<segment>.
// manifest. finish() closes the last part and writes every segment's manifest; remove() deletes
// every object the stager wrote (after the commit, or when the load is rolled back).
//
// Thread-safety: one instance per table per load, used by one thread. Failure: an upload
// failure is returned by the append() or finish() that triggered it (S3 client wording,
// never a credential); the stager is then unusable but remove() still cleans up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "s3/s3_client.h"

namespace ferry::redshift {

struct StagedSegment {
  std::vector<std::string> columns;  // as COPY lists them, _ferry_seq last
  std::vector<std::string> part_keys;
  std::string manifest_key;
  int64_t rows = 0;
};

class RedshiftStager {
 public:
  // `prefix` ends with '/' or is "". `client` must outlive the stager.
  RedshiftStager(s3::S3Client& client, std::string prefix, size_t part_bytes);
  ~RedshiftStager();
  RedshiftStager(const RedshiftStager&) = delete;
  RedshiftStager& operator=(const RedshiftStager&) = delete;

  // The rows that follow have these columns; a new segment when they differ from the
  // current one's.
  Status set_columns(const std::vector<std::string>& columns);
  // Appends `rows` CSV rows (each ending with '\n').
  Status append(std::string_view csv, int64_t rows);
  // Uploads the last part and the manifests. After it, segments() is complete.
  Status finish();
  const std::vector<StagedSegment>& segments() const { return segments_; }
  // Every key written so far (parts and manifests).
  const std::vector<std::string>& written() const { return written_; }
  // Deletes every object written; the first failure is returned, the rest still tried.
  Status remove();

 private:
  struct Gzip;
  Status close_part();

  s3::S3Client& client_;
  std::string prefix_;
  size_t part_bytes_;
  std::vector<StagedSegment> segments_;
  std::unique_ptr<Gzip> gz_;  // the open part, or null
  size_t part_in_ = 0;        // CSV bytes in the open part
  std::vector<std::string> written_;
  bool finished_ = false;
};

}  // namespace ferry::redshift
