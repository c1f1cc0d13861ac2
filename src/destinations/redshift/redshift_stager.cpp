#include "destinations/redshift/redshift_stager.h"

#include <zlib.h>

#include <fmt/format.h>

#include "destinations/redshift/redshift_sql.h"

namespace ferry::redshift {

// A gzip stream into a growing buffer (the compressed part).
struct RedshiftStager::Gzip {
  z_stream z{};
  std::string out;
  bool ok = false;

  Gzip() {
    // 15 + 16: a gzip header and trailer instead of zlib's.
    ok = deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Gzip() { deflateEnd(&z); }

  Status put(std::string_view in, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buf[64 * 1024];
    for (;;) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) return Status::internal("gzip: deflate failed");
      out.append(buf, sizeof(buf) - z.avail_out);
      if (flush == Z_FINISH ? rc == Z_STREAM_END : z.avail_out != 0) return Status::success();
    }
  }
};

RedshiftStager::RedshiftStager(s3::S3Client& client, std::string prefix, size_t part_bytes)
    : client_(client), prefix_(std::move(prefix)), part_bytes_(part_bytes) {}

RedshiftStager::~RedshiftStager() = default;

Status RedshiftStager::set_columns(const std::vector<std::string>& columns) {
  if (finished_) return Status::internal("staging: set_columns() after finish()");
  if (!segments_.empty() && segments_.back().columns == columns) return Status::success();
  FERRY_TRY(close_part());
  StagedSegment s;
  s.columns = columns;
  segments_.push_back(std::move(s));
  return Status::success();
}

Status RedshiftStager::append(std::string_view csv, int64_t rows) {
  if (segments_.empty() || finished_)
    return Status::internal("staging: append() without columns or after finish()");
  if (csv.empty()) return Status::success();
  if (!gz_) {
    gz_ = std::make_unique<Gzip>();
    if (!gz_->ok) return Status::internal("gzip: deflateInit2 failed");
    part_in_ = 0;
  }
  FERRY_TRY(gz_->put(csv, Z_NO_FLUSH));
  part_in_ += csv.size();
  segments_.back().rows += rows;
  if (part_in_ >= part_bytes_) FERRY_TRY(close_part());
  return Status::success();
}

Status RedshiftStager::close_part() {
  if (!gz_) return Status::success();
  std::unique_ptr<Gzip> gz = std::move(gz_);
  FERRY_TRY(gz->put("", Z_FINISH));
  StagedSegment& seg = segments_.back();
  std::string key =
      fmt::format("{}{}-{}.csv.gz", prefix_, segments_.size(), seg.part_keys.size() + 1);
  FERRY_TRY(client_.put_object(key, gz->out, "application/gzip"));
  written_.push_back(key);
  seg.part_keys.push_back(std::move(key));
  return Status::success();
}

Status RedshiftStager::finish() {
  if (finished_) return Status::success();
  FERRY_TRY(close_part());
  for (size_t i = 0; i < segments_.size(); ++i) {
    StagedSegment& seg = segments_[i];
    if (seg.part_keys.empty()) continue;  // columns announced, no row came
    std::string key = fmt::format("{}{}.manifest", prefix_, i + 1);
    FERRY_TRY(client_.put_object(key, manifest_json(client_.bucket(), seg.part_keys),
                                 "application/json"));
    written_.push_back(key);
    seg.manifest_key = std::move(key);
  }
  finished_ = true;
  return Status::success();
}

Status RedshiftStager::remove() {
  gz_.reset();
  Status first;
  for (const std::string& key : written_) {
    Status st = client_.delete_object(key);
    if (!st && first) first = st;
  }
  written_.clear();
  return first;
}

}  // namespace ferry::redshift
