// The IDX reader: known values through every type, plain and gzip, and one
// FormatError naming the file for each way a file can be wrong.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/data/idx.h>
#include "data/fixtures/idx_writer.h"
#include "tg_error_check.h"

namespace test_idx_test {

using namespace tg::data::testing;
using tg::data::load_mnist_images;
using tg::data::load_mnist_labels;
using tg::data::read_idx;

namespace {

template <class T>
std::vector<T> values(const tg::Tensor& t) {
  const T* p = t.data_ptr<T>();
  return std::vector<T>(p, p + t.numel());
}

std::vector<std::int64_t> shape(const tg::Tensor& t) { return t.shape().vec(); }

// Writes `bytes` to `name` in `dir`, plain or gzip, and returns the path.
std::string put(const TempDir& dir, const std::string& name, const Bytes& bytes, bool gzip) {
  const auto path = dir / name;
  if (gzip) write_gzip(path, bytes);
  else write_plain(path, bytes);
  return path.string();
}

}  // namespace

TEST_CASE("read_idx reads unsigned bytes with their shape, plain and gzip") {
  TempDir dir;
  const Bytes file = idx_file(0x08, {2, 2, 3}, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255});
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    const tg::Tensor t = read_idx(put(dir, gzip ? "a.gz" : "a", file, gzip));
    CHECK(t.dtype() == tg::kInt64);
    CHECK(shape(t) == std::vector<std::int64_t>{2, 2, 3});
    CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255});
  }
}

TEST_CASE("read_idx tells gzip from plain by the magic bytes, not the name") {
  TempDir dir;
  const Bytes file = idx_file(0x08, {3}, {7, 8, 9});
  const auto gz_named_plain = put(dir, "labels", file, true);
  const auto plain_named_gz = put(dir, "labels.gz", file, false);
  CHECK(values<std::int64_t>(read_idx(gz_named_plain)) == std::vector<std::int64_t>{7, 8, 9});
  CHECK(values<std::int64_t>(read_idx(plain_named_gz)) == std::vector<std::int64_t>{7, 8, 9});
}

TEST_CASE("read_idx decodes signed and wider types big-endian") {
  TempDir dir;
  SUBCASE("signed byte") {
    const auto t = read_idx(put(dir, "i8", idx_file(0x09, {4}, {0x00, 0x7f, 0x80, 0xff}), false));
    CHECK(t.dtype() == tg::kInt64);
    CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{0, 127, -128, -1});
  }
  SUBCASE("short") {
    // 0x0102 = 258 pins the byte order; 0xff00 as int16 is -256.
    const auto t = read_idx(put(dir, "i16", idx_file(0x0B, {3}, {0x01, 0x02, 0xff, 0x00, 0x7f, 0xff}), true));
    CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{258, -256, 32767});
  }
  SUBCASE("int") {
    const auto t =
        read_idx(put(dir, "i32", idx_file(0x0C, {2, 2}, be_int32({1, -1, 16909060, -2147483647 - 1})), false));
    CHECK(shape(t) == std::vector<std::int64_t>{2, 2});
    CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{1, -1, 0x01020304, -2147483648LL});
    // The same value spelled out as bytes, so the helper's byte order is not taken on trust.
    const auto u = read_idx(put(dir, "i32b", idx_file(0x0C, {1}, {0x01, 0x02, 0x03, 0x04}), false));
    CHECK(values<std::int64_t>(u) == std::vector<std::int64_t>{16909060});
  }
  SUBCASE("float") {
    // 1.5f is 0x3fc00000.
    const auto raw = read_idx(put(dir, "f32b", idx_file(0x0D, {1}, {0x3f, 0xc0, 0x00, 0x00}), false));
    CHECK(raw.dtype() == tg::kFloat32);
    CHECK(values<float>(raw) == std::vector<float>{1.5f});
    const auto t = read_idx(put(dir, "f32", idx_file(0x0D, {1, 3}, be_float({-2.25f, 0.0f, 3.0e38f})), true));
    CHECK(shape(t) == std::vector<std::int64_t>{1, 3});
    CHECK(values<float>(t) == std::vector<float>{-2.25f, 0.0f, 3.0e38f});
  }
  SUBCASE("double") {
    // -0.5 is 0xbfe0000000000000.
    const auto raw = read_idx(put(dir, "f64b", idx_file(0x0E, {1}, {0xbf, 0xe0, 0, 0, 0, 0, 0, 0}), false));
    CHECK(raw.dtype() == tg::kFloat64);
    CHECK(values<double>(raw) == std::vector<double>{-0.5});
    const auto t = read_idx(put(dir, "f64", idx_file(0x0E, {2}, be_double({0.1, -1e300})), false));
    CHECK(values<double>(t) == std::vector<double>{0.1, -1e300});
  }
}

TEST_CASE("read_idx accepts a dimension of size zero as an empty tensor") {
  TempDir dir;
  const auto t = read_idx(put(dir, "empty", idx_file(0x08, {0, 28, 28}, {}), false));
  CHECK(shape(t) == std::vector<std::int64_t>{0, 28, 28});
  CHECK(t.numel() == 0);
}

TEST_CASE("load_mnist_images scales bytes to [0, 1] as float32") {
  TempDir dir;
  const Bytes file = idx_file(0x08, {2, 1, 3}, {0, 255, 51, 102, 1, 128});
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    const auto t = load_mnist_images(put(dir, "images", file, gzip));
    CHECK(t.dtype() == tg::kFloat32);
    CHECK(shape(t) == std::vector<std::int64_t>{2, 1, 3});
    const auto v = values<float>(t);
    CHECK(v[0] == 0.0f);
    CHECK(v[1] == 1.0f);
    CHECK(v[2] == doctest::Approx(0.2));
    CHECK(v[3] == doctest::Approx(0.4));
    CHECK(v[4] == doctest::Approx(1.0 / 255.0));
    CHECK(v[5] == doctest::Approx(128.0 / 255.0));
  }
}

TEST_CASE("load_mnist_labels gives int64 labels") {
  TempDir dir;
  const auto t = load_mnist_labels(put(dir, "labels", idx_file(0x08, {5}, {9, 0, 3, 3, 7}), true));
  CHECK(t.dtype() == tg::kInt64);
  CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{9, 0, 3, 3, 7});
}

TEST_CASE("read_idx reads a file larger than its read chunk through gzip") {
  // 3 MB of data crosses the reader's 1 MiB chunks and buffer growth.
  TempDir dir;
  const std::uint32_t n = 3'000'000;
  Bytes payload(n);
  for (std::uint32_t i = 0; i < n; ++i) payload[i] = static_cast<unsigned char>((i * 7) % 251);
  const auto t = read_idx(put(dir, "big.gz", idx_file(0x08, {n}, payload), true));
  REQUIRE(t.numel() == n);
  const auto* p = t.data_ptr<std::int64_t>();
  bool all_match = true;
  for (std::uint32_t i = 0; i < n; ++i) all_match = all_match && p[i] == (i * 7) % 251;
  CHECK(all_match);
}

TEST_CASE("read_idx: every malformed file is a FormatError naming the file") {
  TempDir dir;
  const auto check_fails = [&](const std::string& name, const Bytes& bytes, const std::string& problem) {
    for (bool gzip : {false, true}) {
      CAPTURE(gzip);
      const std::string file = name + (gzip ? "-gz" : "-plain");
      const auto path = put(dir, file, bytes, gzip);
      CHECK_THROWS_WITH_AS(read_idx(path), doctest::Contains(file.c_str()), tg::FormatError);
      CHECK_THROWS_WITH_AS(read_idx(path), doctest::Contains(problem.c_str()), tg::FormatError);
    }
  };
  SUBCASE("empty file") { check_fails("empty", {}, "empty"); }
  SUBCASE("short magic") { check_fails("short-magic", {0, 0}, "truncated header"); }
  SUBCASE("bad magic") {
    check_fails("bad-magic", {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 5}, "bad magic number 0x12340801");
  }
  SUBCASE("unsupported type byte") {
    check_fails("type", {0, 0, 0x0A, 1, 0, 0, 0, 1, 5}, "unsupported type byte 0x0a");
  }
  SUBCASE("no dimensions") { check_fails("nodims", {0, 0, 0x08, 0}, "no dimensions"); }
  SUBCASE("too many dimensions") {
    check_fails("ninedims", idx_file(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {3}), "9 dimensions");
  }
  SUBCASE("truncated dimensions") { check_fails("halfdims", {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0}, "truncated header"); }
  SUBCASE("truncated data") {
    check_fails("truncated", idx_file(0x08, {2, 3}, {1, 2, 3, 4}), "truncated");
    check_fails("truncated-int", idx_file(0x0C, {2}, {0, 0, 0, 1, 0, 0}), "dimensions [2] of int need");
  }
  SUBCASE("trailing data") { check_fails("trailing", idx_file(0x08, {2}, {1, 2, 3}), "trailing data"); }
  SUBCASE("huge dimensions against a small file") {
    // 60000 x 4000 x 4000 bytes would be 960 GB; the file holds 4 bytes.
    check_fails("huge", idx_file(0x08, {60000, 4000, 4000}, {1, 2, 3, 4}), "need 960000000000 bytes");
    check_fails("short", idx_file(0x08, {100, 100}, {1, 2, 3, 4}), "10000 bytes");  // exact, not 1e+04
    // A product of eight maximal dims overflows 64 bits; it must still be rejected, not wrapped.
    const std::uint32_t m = 0xffffffffu;
    check_fails("overflow", idx_file(0x0E, {m, m, m, m, m, m, m, m}, {1}), "[4294967295, 4294967295");
    // Overflow that wraps to a small number, were it computed naively: 2^32 * 2^32 = 2^64 = 0 mod 2^64.
    check_fails("wrap", idx_file(0x08, {65536, 65536, 65536, 65536}, {1}), "need");
  }
}

TEST_CASE("read_idx: corrupt gzip data is a FormatError naming the file") {
  TempDir dir;
  const Bytes file = idx_file(0x08, {64}, Bytes(64, 42));
  write_gzip(dir / "good.gz", file);
  Bytes gz = read_plain(dir / "good.gz");
  REQUIRE(gz.size() > 20);
  SUBCASE("gzip magic followed by garbage") {
    write_plain(dir / "garbage.gz", {0x1f, 0x8b, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7});
    CHECK_THROWS_WITH_AS(read_idx((dir / "garbage.gz").string()), doctest::Contains("garbage.gz"), tg::FormatError);
  }
  SUBCASE("gzip stream cut short") {
    const Bytes cut(gz.begin(), gz.end() - 12);  // the trailer and the end of the deflate data
    write_plain(dir / "cut.gz", cut);
    CHECK_THROWS_WITH_AS(read_idx((dir / "cut.gz").string()), doctest::Contains("cut.gz"), tg::FormatError);
  }
  SUBCASE("wrong checksum") {
    gz[gz.size() - 8] ^= 0xff;  // first byte of the CRC-32 trailer
    write_plain(dir / "crc.gz", gz);
    CHECK_THROWS_WITH_AS(read_idx((dir / "crc.gz").string()), doctest::Contains("crc.gz"), tg::FormatError);
    // zlib's own name for the stream ("<fd:5>: ") is left out: the message names the file.
    const std::string message =
        tg_test::require_tg_error<tg::FormatError>([&] { read_idx((dir / "crc.gz").string()); }, "crc.gz");
    CHECK(message.find("<fd:") == std::string::npos);
    CHECK(message.find("corrupt gzip data: incorrect data check") != std::string::npos);
  }
}

TEST_CASE("read_idx: a missing file or a directory is a FormatError naming it") {
  TempDir dir;
  const auto missing = (dir / "no-such-file-idx1-ubyte").string();
  CHECK_THROWS_WITH_AS(read_idx(missing), doctest::Contains("no-such-file-idx1-ubyte"), tg::FormatError);
  CHECK_THROWS_WITH_AS(read_idx(missing), doctest::Contains("cannot open"), tg::FormatError);
  CHECK_THROWS_WITH_AS(read_idx(dir.path().string()), doctest::Contains("directory"), tg::FormatError);
}

TEST_CASE("load_mnist_images and load_mnist_labels check the type and rank") {
  TempDir dir;
  const auto labels = put(dir, "labels-idx1", idx_file(0x08, {3}, {1, 2, 3}), false);
  const auto floats = put(dir, "floats-idx3", idx_file(0x0D, {1, 1, 1}, be_float({0.5f})), false);
  CHECK_THROWS_WITH_AS(load_mnist_images(labels), doctest::Contains("labels-idx1"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images(labels), doctest::Contains("expected 3 dimensions"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images(floats), doctest::Contains("found float (0x0d)"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_labels(floats), doctest::Contains("floats-idx3"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_labels(floats), doctest::Contains("load_mnist_labels"), tg::FormatError);
}

TEST_CASE("read_idx_bytes reads from memory what read_idx reads from a file, plain and gzip") {
  TempDir dir;
  const Bytes file = idx_file(0x0B, {2, 2}, be_int16({-32768, -1, 1, 32767}));
  write_gzip(dir / "a.gz", file);
  const Bytes gz = read_plain(dir / "a.gz");
  for (const Bytes* bytes : {&file, &gz}) {
    const tg::Tensor t = tg::data::read_idx_bytes(*bytes, "buffer");
    CHECK(shape(t) == std::vector<std::int64_t>{2, 2});
    CHECK(values<std::int64_t>(t) == std::vector<std::int64_t>{-32768, -1, 1, 32767});
  }
  // Two gzip members one after the other are one stream, as for gzread.
  Bytes twice(gz);
  twice.insert(twice.end(), gz.begin(), gz.end());
  CHECK_THROWS_WITH_AS(tg::data::read_idx_bytes(twice, "twice"), doctest::Contains("trailing data"), tg::FormatError);
}

TEST_CASE("read_idx_bytes: malformed data is a FormatError naming the source") {
  TempDir dir;
  const auto check_fails = [&](const Bytes& bytes, const std::string& problem) {
    CHECK_THROWS_WITH_AS(tg::data::read_idx_bytes(bytes, "the-buffer"), doctest::Contains("the-buffer"),
                         tg::FormatError);
    CHECK_THROWS_WITH_AS(tg::data::read_idx_bytes(bytes, "the-buffer"), doctest::Contains(problem.c_str()),
                         tg::FormatError);
  };
  check_fails({}, "empty");
  check_fails({0, 0, 0x08, 0}, "no dimensions");
  check_fails(idx_file(0x08, {2, 3}, {1, 2, 3, 4}), "truncated");
  check_fails(idx_file(0x08, {2}, {1, 2, 3}), "trailing data");
  check_fails(idx_file(0x08, {60000, 4000, 4000}, {1, 2, 3, 4}), "need 960000000000 bytes");
  write_gzip(dir / "good.gz", idx_file(0x08, {64}, Bytes(64, 42)));
  Bytes gz = read_plain(dir / "good.gz");
  REQUIRE(gz.size() > 20);
  check_fails({0x1f, 0x8b, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7}, "gzip");
  check_fails(Bytes(gz.begin(), gz.end() - 12), "truncated gzip stream");
  gz[gz.size() - 8] ^= 0xff;  // the CRC-32 trailer
  check_fails(gz, "corrupt gzip data");
}

TEST_CASE("read_idx_bytes: a zero dimension beside dimensions too large for any tensor is an error") {
  // Found by fuzz_idx: [0, 2^32 - 1, 2^32 - 1, 2^32 - 1] passed the size check
  // (it holds no data) and then overflowed the strides.
  const std::uint32_t m = 0xffffffffu;
  CHECK_THROWS_WITH_AS(tg::data::read_idx_bytes(idx_file(0x08, {0, m, m, m}, {}), "zero"),
                       doctest::Contains("even an empty one"), tg::FormatError);
  CHECK(tg::data::read_idx_bytes(idx_file(0x08, {0, m}, {}), "fine").numel() == 0);
}

}  // namespace test_idx_test
