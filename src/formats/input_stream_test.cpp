#include "formats/input_stream.h"

#include <sys/stat.h>
#include <zlib.h>

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "formats/test_gzip.h"
#include "testing.h"

namespace ferry {
namespace {

using ::ferry::testing::TempDir;

using ::ferry::testing::gzip;

// Reads a stream to the end in reads of `chunk` bytes; the status when a read fails.
Result<std::string> slurp(InputStream& in, size_t chunk = 4096) {
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    FERRY_ASSIGN(size_t n, in.read(buf.data(), buf.size()));
    if (n == 0) return out;
    EXPECT_LE(n, chunk);
    out.append(buf.data(), n);
  }
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Text that compresses well but is not trivial.
std::string text_lines(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += std::to_string(i) + ",name " + std::to_string(i * 7) + ",\"quoted, text\"\n";
  return s;
}

// Serves its data `step` bytes at a time, then fails (when fail_after is set) with kIo.
class TrickleStream final : public InputStream {
 public:
  TrickleStream(std::string data, size_t step, size_t fail_after = std::string::npos)
      : data_(std::move(data)), step_(step), fail_after_(fail_after) {}
  Result<size_t> read(char* buf, size_t n) override {
    if (pos_ >= fail_after_) return Status::io("trickle: connection reset");
    size_t k = std::min({n, step_, data_.size() - pos_, fail_after_ - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  std::string name() const override { return "s3://bucket/key.gz"; }

 private:
  std::string data_;
  size_t step_;
  size_t fail_after_;
  size_t pos_ = 0;
};

TEST(InputStream, MemoryStreamReturnsAllBytesThenZero) {
  auto in = open_memory("hello, world");
  auto got = slurp(*in, 5);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got.value(), "hello, world");
  char c;
  auto again = in->read(&c, 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), 0u);
  EXPECT_EQ(in->name(), "<memory>");
}

TEST(InputStream, FileLargerThanTheChunkRoundTrips) {
  TempDir dir;
  std::string data = random_bytes((3 << 20) + 12345, 7);
  data[0] = 'x';  // not the gzip magic
  auto path = dir.write("blob.bin", data);
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  EXPECT_EQ((*in)->name(), path.string());
  auto got = slurp(**in, 7777);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got.value().size(), data.size());
  EXPECT_TRUE(got.value() == data);
}

TEST(InputStream, EmptyFileIsEmpty) {
  TempDir dir;
  auto in = open_file(dir.write("empty.csv", "").string());
  ASSERT_TRUE(in.ok());
  auto got = slurp(**in);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), "");
}

TEST(InputStream, MissingFileIsNotFoundAndNamesThePath) {
  TempDir dir;
  std::string path = (dir.path() / "nope.csv").string();
  auto in = open_file(path);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), Code::kNotFound);
  EXPECT_NE(in.status().message().find(path), std::string::npos) << in.status().message();
}

TEST(InputStream, DirectoryIsRejected) {
  TempDir dir;
  auto in = open_file(dir.str());
  ASSERT_FALSE(in.ok());
  EXPECT_NE(in.status().message().find(dir.str()), std::string::npos);
}

TEST(InputStream, GzipDetectedByExtension) {
  TempDir dir;
  std::string data = text_lines(50000);
  auto path = dir.write("data.csv.gz", gzip(data));
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  auto got = slurp(**in, 100000);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got.value() == data);
}

TEST(InputStream, GzipDetectedByMagicBytes) {
  TempDir dir;
  std::string data = text_lines(1000);
  auto path = dir.write("data.csv", gzip(data));
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  auto got = slurp(**in);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got.value(), data);
}

TEST(InputStream, GzipThroughAPipeIsSniffedWhileReading) {
  TempDir dir;
  std::string fifo = (dir.path() / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string data = text_lines(20000);
  std::string gz = gzip(data);
  std::thread writer([&] {
    FILE* f = std::fopen(fifo.c_str(), "wb");
    if (f == nullptr) return;
    std::fwrite(gz.data(), 1, gz.size(), f);
    std::fclose(f);
  });
  auto in = open_file(fifo);
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  auto got = slurp(**in);
  writer.join();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got.value() == data);
}

TEST(InputStream, MultiMemberGzipIsOneStream) {
  TempDir dir;
  std::string a = text_lines(30000), b = "second member\n", c = text_lines(10);
  // An empty member in the middle, as some tools write.
  auto path = dir.write("multi.gz", gzip(a) + gzip(b) + gzip("") + gzip(c));
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  auto got = slurp(**in, 3000);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got.value() == a + b + c);
}

TEST(InputStream, MultiMemberGzipFedOneByteAtATime) {
  std::string a = "id,name\n1,a", b = "bc\n2,def\n";
  auto in = wrap_gzip(std::make_unique<TrickleStream>(gzip(a) + gzip(b), 1));
  auto got = slurp(*in, 3);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got.value(), a + b);
}

TEST(InputStream, TrailingZeroPaddingAfterAMemberIsIgnored) {
  std::string data = "a,b\n1,2\n";
  auto in = open_memory(gzip(data) + std::string(1000, '\0'));
  auto got = slurp(*in);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got.value(), data);
}

TEST(InputStream, TrailingGarbageAfterAMemberIsAnError) {
  TempDir dir;
  auto path = dir.write("junk.gz", gzip("a,b\n1,2\n") + "this is not gzip");
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  auto got = slurp(**in);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalid);
  EXPECT_NE(got.status().message().find(path.string()), std::string::npos);
}

TEST(InputStream, TruncatedGzipIsAnErrorNamingTheFile) {
  TempDir dir;
  std::string gz = gzip(text_lines(5000));
  // Cut inside the header, the deflate data and the 8-byte trailer.
  for (size_t cut : {size_t{5}, gz.size() / 2, gz.size() - 1, gz.size() - 7}) {
    auto path = dir.write("cut" + std::to_string(cut) + ".csv.gz", gz.substr(0, cut));
    auto in = open_file(path.string());
    ASSERT_TRUE(in.ok());
    auto got = slurp(**in);
    ASSERT_FALSE(got.ok()) << "cut at " << cut;
    EXPECT_EQ(got.status().code(), Code::kInvalid);
    EXPECT_NE(got.status().message().find(path.string()), std::string::npos)
        << got.status().message();
    EXPECT_NE(got.status().message().find("truncated"), std::string::npos)
        << got.status().message();
    // The stream stays failed.
    char c;
    EXPECT_FALSE((*in)->read(&c, 1).ok());
  }
}

TEST(InputStream, CorruptGzipIsAnErrorNamingTheFile) {
  TempDir dir;
  std::string data = text_lines(5000);
  std::string gz = gzip(data);
  std::string bad_crc = gz;
  bad_crc[gz.size() - 6] ^= 0x55;  // inside the CRC32 of the trailer
  std::string bad_data = gz;
  for (size_t i = 20; i < 60; ++i)
    bad_data[i] = static_cast<char>(0xFF);
  for (const auto& [name, bytes] : {std::pair{"crc.gz", bad_crc}, std::pair{"data.gz", bad_data}}) {
    auto path = dir.write(name, bytes);
    auto in = open_file(path.string());
    ASSERT_TRUE(in.ok());
    auto got = slurp(**in);
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_EQ(got.status().code(), Code::kInvalid);
    EXPECT_NE(got.status().message().find(path.string()), std::string::npos)
        << got.status().message();
    EXPECT_NE(got.status().message().find("corrupt gzip"), std::string::npos)
        << got.status().message();
  }
}

TEST(InputStream, PlainFileNamedGzIsAnError) {
  TempDir dir;
  auto path = dir.write("plain.csv.gz", "a,b\n1,2\n");
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  auto got = slurp(**in);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find(path.string()), std::string::npos);
}

TEST(InputStream, EmptyGzFileIsEmpty) {
  TempDir dir;
  auto in = open_file(dir.write("empty.csv.gz", "").string());
  ASSERT_TRUE(in.ok());
  auto got = slurp(**in);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got.value(), "");
}

TEST(InputStream, OpenMemoryGunzipsOnlyGzipData) {
  auto gz = open_memory(gzip("x,y\n"));
  auto got = slurp(*gz);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), "x,y\n");
  // A single 0x1f byte is not the magic.
  auto plain = open_memory("\x1f");
  got = slurp(*plain);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), "\x1f");
}

TEST(InputStream, MaybeGunzipPassesPlainDataThrough) {
  for (std::string data : {std::string(""), std::string("x"), std::string("\x1f"),
                           std::string("plain text that is longer than two bytes")}) {
    auto in = maybe_gunzip(std::make_unique<TrickleStream>(data, 1));
    auto got = slurp(*in, 4);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(got.value(), data);
  }
  auto gz = maybe_gunzip(std::make_unique<TrickleStream>(gzip("zipped"), 1));
  auto got = slurp(*gz);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), "zipped");
}

TEST(InputStream, WrappedStreamErrorsPropagate) {
  std::string gz = gzip(text_lines(20000));
  auto in = wrap_gzip(std::make_unique<TrickleStream>(gz, 4096, gz.size() / 2));
  EXPECT_EQ(in->name(), "s3://bucket/key.gz");
  auto got = slurp(*in);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kIo);
  EXPECT_NE(got.status().message().find("connection reset"), std::string::npos);
}

}  // namespace
}  // namespace ferry
