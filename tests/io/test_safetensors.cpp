// Saving and loading safetensors files: round trips, the exact bytes the
// reference writer makes, and what a save leaves on disk.
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/io/atomic_file.h>
#include <tapegrad/io/safetensors.h>
#include "io/io_test_files.h"

namespace test_safetensors {

using tg::test::Bytes;
using tg::test::file_bytes;
using tg::test::read_bytes;
using tg::test::TempDir;
using tg::test::write_bytes;

namespace {

Bytes as_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::int64_t> sizes_of(const tg::Tensor& t) { return {t.sizes().begin(), t.sizes().end()}; }

}  // namespace

TEST_CASE("safetensors: every dtype and shape survives a round trip") {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  const double inf = std::numeric_limits<double>::infinity();

  tg::TensorMap tensors;
  tensors["f32"] = tg::tensor({1.5, -2.25, 0, 3e-8, 1e30, -7}, {2, 3});
  tensors["f64"] = tg::tensor({0.1, -inf, 1e-300}, {3}, {.dtype = tg::kFloat64});
  tensors["i64"] = tg::tensor(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                                        std::numeric_limits<std::int64_t>::max()},
                              {2, 1, 2});
  tensors["mask"] = tg::tensor(std::vector<bool>{true, false, false, true, true}, {5});
  tensors["scalar"] = tg::scalar_tensor(-3.5);
  tensors["empty"] = tg::empty({0, 3});
  tensors["empty_i64"] = tg::empty({2, 0, 4}, {.dtype = tg::kInt64});
  tg::save(path, tensors);

  const tg::TensorMap back = tg::load(path);
  REQUIRE(back.size() == tensors.size());

  CHECK(back.at("f32").dtype() == tg::kFloat32);
  CHECK(sizes_of(back.at("f32")) == std::vector<std::int64_t>{2, 3});
  CHECK(back.at("f32").to_vector<float>() == std::vector<float>{1.5f, -2.25f, 0.f, 3e-8f, 1e30f, -7.f});

  CHECK(back.at("f64").dtype() == tg::kFloat64);
  CHECK(back.at("f64").to_vector<double>() == std::vector<double>{0.1, -inf, 1e-300});

  CHECK(back.at("i64").dtype() == tg::kInt64);
  CHECK(sizes_of(back.at("i64")) == std::vector<std::int64_t>{2, 1, 2});
  CHECK(back.at("i64").to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                  std::numeric_limits<std::int64_t>::max()});

  CHECK(back.at("mask").dtype() == tg::kBool);
  CHECK(back.at("mask").to_vector<bool>() == std::vector<bool>{true, false, false, true, true});

  CHECK(back.at("scalar").dim() == 0);
  CHECK(back.at("scalar").item<double>() == -3.5);

  CHECK(sizes_of(back.at("empty")) == std::vector<std::int64_t>{0, 3});
  CHECK(back.at("empty").dtype() == tg::kFloat32);
  CHECK(sizes_of(back.at("empty_i64")) == std::vector<std::int64_t>{2, 0, 4});
  CHECK(back.at("empty_i64").dtype() == tg::kInt64);
}

TEST_CASE("safetensors: NaN payloads and negative zero are kept bit for bit") {
  TempDir dir;
  const std::string path = dir.file("bits.safetensors");
  const std::uint32_t patterns[] = {0x7fc00001u, 0xffbad000u, 0x80000000u, 0x00000001u};
  tg::Tensor t = tg::empty({4});
  std::memcpy(t.raw_data(), patterns, sizeof patterns);
  tg::save(path, {{"t", t}});
  const tg::Tensor back = tg::load(path).at("t");
  CHECK(std::memcmp(back.raw_data(), patterns, sizeof patterns) == 0);
}

TEST_CASE("safetensors: views are written in row-major order of their elements") {
  TempDir dir;
  const std::string path = dir.file("views.safetensors");
  // a = [[1, 2, 3],
  //      [4, 5, 6]]
  const tg::Tensor a = tg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  tg::save(path, {{"transposed", a.t()},
                  {"row", a.select(0, 1)},
                  {"every_other_column", a.slice(1, 0, 3, 2)},
                  {"expanded", tg::tensor({7.0, 8.0}, {2, 1}).expand({2, 3})}});
  const tg::TensorMap back = tg::load(path);
  CHECK(sizes_of(back.at("transposed")) == std::vector<std::int64_t>{3, 2});
  CHECK(back.at("transposed").to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(back.at("row").to_vector<float>() == std::vector<float>{4, 5, 6});
  CHECK(back.at("every_other_column").to_vector<float>() == std::vector<float>{1, 3, 4, 6});
  CHECK(back.at("expanded").to_vector<float>() == std::vector<float>{7, 7, 7, 8, 8, 8});
  // Loaded tensors own fresh contiguous storage.
  CHECK(back.at("transposed").is_contiguous());
}

TEST_CASE("safetensors: metadata survives a round trip, including characters JSON escapes") {
  TempDir dir;
  const std::string path = dir.file("meta.safetensors");
  const tg::Metadata metadata{{"format", "pt"}, {"note", "a \"quoted\" word,\nnew line, tab\t, caf\xC3\xA9"}, {"", ""}};
  tg::save(path, {{"w", tg::ones({2})}}, metadata);
  const tg::LoadedFile back = tg::load_file(path);
  CHECK(back.metadata == metadata);
  CHECK(back.tensors.at("w").to_vector<float>() == std::vector<float>{1, 1});
}

TEST_CASE("safetensors: a file with no tensors") {
  TempDir dir;
  const std::string path = dir.file("none.safetensors");
  tg::save(path, tg::TensorMap{});
  // The reference's own test: "{}" padded to 8 bytes with spaces.
  CHECK(read_bytes(path) == file_bytes("{}      "));
  const tg::LoadedFile back = tg::load_file(path);
  CHECK(back.tensors.empty());
  CHECK(back.metadata.empty());
}

TEST_CASE("safetensors: a 2x2 F32 tensor is written byte for byte as the reference writes it") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  tg::save(path, {{"w", tg::tensor({1.0, 2.0, -0.5, 0.25}, {2, 2})}});

  // Compact JSON, fields in the order dtype, shape, data_offsets: 57 bytes,
  // padded with 7 spaces to 64, a multiple of 8.
  const std::string header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})"
                             "       ";
  REQUIRE(header.size() == 64);
  const Bytes data = {0x00, 0x00, 0x80, 0x3f,   // 1.0f  = 0x3f800000
                      0x00, 0x00, 0x00, 0x40,   // 2.0f  = 0x40000000
                      0x00, 0x00, 0x00, 0xbf,   // -0.5f = 0xbf000000
                      0x00, 0x00, 0x80, 0x3e};  // 0.25f = 0x3e800000
  const Bytes expected = concat({64, 0, 0, 0, 0, 0, 0, 0}, concat(as_bytes(header), data));
  CHECK(read_bytes(path) == expected);
  CHECK(tg::save_to_bytes({{"w", tg::tensor({1.0, 2.0, -0.5, 0.25}, {2, 2})}}) == expected);
}

TEST_CASE("safetensors: the reference's serialization test vector") {
  // From the reference's test suite: "attn.0", F32 [1, 2, 3] holding 0..5; its
  // header is exactly 64 bytes, so there is no padding.
  const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  const Bytes data = {0, 0, 0,    0,    0, 0, 0x80, 0x3f, 0, 0, 0,    0x40,   // 0, 1, 2
                      0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40};  // 3, 4, 5
  CHECK(tg::save_to_bytes({{"attn.0", tg::tensor({0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, {1, 2, 3})}}) ==
        file_bytes(header, data));
}

TEST_CASE("safetensors: metadata comes first, as in the reference's test vector") {
  // The reference writes {"__metadata__":{"framework":"pt"}} (35 bytes) and 5 spaces.
  CHECK(tg::save_to_bytes(tg::TensorMap{}, {{"framework", "pt"}}) == file_bytes(R"({"__metadata__":{"framework":"pt"}})"
                                                                                "     "));

  // A 0-d F64 after two metadata entries in key order: 93 bytes + 3 spaces.
  const std::string header =
      R"({"__metadata__":{"epoch":"3","lr":"0.1"},"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})"
      "   ";
  const Bytes minus_2_5 = {0, 0, 0, 0, 0, 0, 0x04, 0xc0};  // -2.5 = 0xc004000000000000
  CHECK(tg::save_to_bytes({{"s", tg::scalar_tensor(-2.5, {.dtype = tg::kFloat64})}}, {{"lr", "0.1"}, {"epoch", "3"}}) ==
        file_bytes(header, minus_2_5));
}

TEST_CASE("safetensors: mixed dtypes go largest dtype first, then by name, so every tensor is aligned") {
  // The reference sorts by its dtype order descending (I64, F64, F32, ...,
  // BOOL) and then by name; every offset is then a multiple of its element size.
  tg::TensorMap tensors;
  tensors["a"] = tg::tensor(std::vector<bool>{true, false, true});
  tensors["b"] = tg::tensor({0.5}, {1});
  tensors["c"] = tg::tensor(std::vector<std::int64_t>{-2});
  tensors["d"] = tg::tensor({0.5}, {1}, {.dtype = tg::kFloat64});
  const std::string header = R"({"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                             R"("d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},)"
                             R"("a":{"dtype":"BOOL","shape":[3],"data_offsets":[20,23]}})"
                             "     ";                                  // 219 bytes + 5 = 224
  const Bytes data = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // -2 as int64
                      0,    0,    0,    0,    0,    0,    0xe0, 0x3f,  // 0.5 = 0x3fe0000000000000
                      0,    0,    0,    0x3f,                          // 0.5f = 0x3f000000
                      1,    0,    1};
  const Bytes bytes = tg::save_to_bytes(tensors);
  CHECK(bytes == file_bytes(header, data));

  const tg::TensorMap back = tg::load_from_bytes(bytes).tensors;
  CHECK(back.at("a").to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(back.at("c").to_vector<std::int64_t>() == std::vector<std::int64_t>{-2});
  CHECK(back.at("d").to_vector<double>() == std::vector<double>{0.5});
}

TEST_CASE("safetensors: loads a file built by hand with its own key order and spacing") {
  TempDir dir;
  const std::string path = dir.file("by_hand.safetensors");
  // Tensors listed out of offset order, fields reordered, spaces and newlines,
  // an unknown field (which the reference ignores), and no padding.
  const std::string header =
      "{ \"b\" : {\"data_offsets\": [8, 24], \"shape\": [2], \"dtype\": \"F64\", \"note\": \"extra\"},\n"
      "  \"__metadata__\": {\"who\": \"hand\"},\n"
      "  \"a\" : {\"shape\": [2, 1], \"dtype\": \"F32\", \"data_offsets\": [0, 8]} }";
  const Bytes data = {0, 0, 0x80, 0x3f, 0, 0, 0,    0xc0,   // F32 1, -2
                      0, 0, 0,    0,    0, 0, 0x04, 0xc0,   // F64 -2.5
                      0, 0, 0,    0,    0, 0, 0x10, 0x40};  // F64 4 = 0x4010000000000000
  write_bytes(path, file_bytes(header, data));

  const tg::LoadedFile back = tg::load_file(path);
  CHECK(back.metadata == tg::Metadata{{"who", "hand"}});
  REQUIRE(back.tensors.size() == 2);
  CHECK(sizes_of(back.tensors.at("a")) == std::vector<std::int64_t>{2, 1});
  CHECK(back.tensors.at("a").to_vector<float>() == std::vector<float>{1, -2});
  CHECK(back.tensors.at("b").dtype() == tg::kFloat64);
  CHECK(back.tensors.at("b").to_vector<double>() == std::vector<double>{-2.5, 4});
}

TEST_CASE("safetensors: narrower integer dtypes load as themselves, U16 and U32 widened to int64") {
  const std::string header = R"({"i32":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
                             R"("i16":{"dtype":"I16","shape":[1],"data_offsets":[8,10]},)"
                             R"("i8":{"dtype":"I8","shape":[2],"data_offsets":[10,12]},)"
                             R"("u32":{"dtype":"U32","shape":[1],"data_offsets":[12,16]},)"
                             R"("u16":{"dtype":"U16","shape":[1],"data_offsets":[16,18]},)"
                             R"("u8":{"dtype":"U8","shape":[2],"data_offsets":[18,20]}})";
  const Bytes data = {0xff, 0xff, 0xff, 0xff, 0x07, 0, 0, 0,  // I32 -1, 7
                      0x00, 0x80,                             // I16 -32768
                      0x80, 0x7f,                             // I8 -128, 127
                      0xff, 0xff, 0xff, 0xff,                 // U32 4294967295
                      0xff, 0xff,                             // U16 65535
                      0xff, 0x00};                            // U8 255, 0
  const tg::TensorMap t = tg::load_from_bytes(file_bytes(header, data)).tensors;
  CHECK(t.at("i32").dtype() == tg::kInt32);
  CHECK(t.at("i16").dtype() == tg::kInt16);
  CHECK(t.at("i8").dtype() == tg::kInt8);
  CHECK(t.at("u8").dtype() == tg::kUInt8);
  CHECK(t.at("u32").dtype() == tg::kInt64);
  CHECK(t.at("u16").dtype() == tg::kInt64);
  CHECK(t.at("i32").to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 7});
  CHECK(t.at("i16").to_vector<std::int64_t>() == std::vector<std::int64_t>{-32768});
  CHECK(t.at("i8").to_vector<std::int64_t>() == std::vector<std::int64_t>{-128, 127});
  CHECK(t.at("u32").to_vector<std::int64_t>() == std::vector<std::int64_t>{4294967295});
  CHECK(t.at("u16").to_vector<std::int64_t>() == std::vector<std::int64_t>{65535});
  CHECK(t.at("u8").to_vector<std::int64_t>() == std::vector<std::int64_t>{255, 0});
}

TEST_CASE("safetensors: any nonzero BOOL byte loads as true") {
  const Bytes data = {0, 1, 2, 0xff};
  const tg::Tensor t =
      tg::load_from_bytes(file_bytes(R"({"m":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}})", data))
          .tensors.at("m");
  CHECK(t.to_vector<bool>() == std::vector<bool>{false, true, true, true});
  const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
  CHECK(std::vector<int>(bytes, bytes + 4) == std::vector<int>{0, 1, 1, 1});
}

TEST_CASE("safetensors: a tensor that requires grad is saved by value") {
  tg::Tensor w = tg::tensor({1.0, 2.0}, {2}).set_requires_grad(true);
  const tg::TensorMap back = tg::load_from_bytes(tg::save_to_bytes({{"w", w}})).tensors;
  CHECK(back.at("w").to_vector<float>() == std::vector<float>{1, 2});
  CHECK_FALSE(back.at("w").requires_grad());
}

TEST_CASE("safetensors: saving over an existing file replaces it and leaves no temporary file") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  write_bytes(path, as_bytes("an old, longer file that is not a checkpoint at all"));
  tg::save(path, {{"x", tg::tensor({3.0}, {1})}});
  CHECK(tg::load(path).at("x").to_vector<float>() == std::vector<float>{3});
  tg::save(path, {{"y", tg::tensor({4.0, 5.0}, {2})}});
  const tg::TensorMap back = tg::load(path);
  CHECK(back.size() == 1);
  CHECK(back.at("y").to_vector<float>() == std::vector<float>{4, 5});
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("safetensors: a saved file gets the usual permissions, not a temporary file's 0600") {
  TempDir dir;
  const std::string path = dir.file("perm.safetensors");
  const mode_t mask = ::umask(022);
  tg::save(path, {{"x", tg::ones({1})}});
  ::umask(mask);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
}

// Replacing a file keeps its permission bits (a private checkpoint stays
// private), and a name near the 255-byte limit still saves (the temporary
// file's name is cut short to fit).
TEST_CASE("safetensors: saving over a file keeps its permissions; long names save") {
  TempDir dir;
  const std::string path = dir.file("private.safetensors");
  tg::save(path, {{"x", tg::ones({1})}});
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  tg::save(path, {{"x", tg::zeros({1})}});
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(tg::load(path).at("x").item<float>() == 0.0f);

  const std::string long_path = dir.file(std::string(250, 'n'));
  tg::save(long_path, {{"x", tg::ones({2})}});
  CHECK(tg::load(long_path).at("x").numel() == 2);
  tg::save(long_path, {{"x", tg::ones({3})}});
  CHECK(tg::load(long_path).at("x").numel() == 3);
  CHECK(dir.entries().size() == 2);
}

TEST_CASE("safetensors: a save that fails throws and leaves nothing behind") {
  TempDir dir;
  SUBCASE("into a folder that does not exist") {
    const std::string path = dir.file("missing/ckpt.safetensors");
    CHECK_THROWS_WITH_AS(tg::save(path, {{"x", tg::ones({2})}}), doctest::Contains(path.c_str()), tg::Error);
    CHECK_THROWS_WITH_AS(tg::save(path, {{"x", tg::ones({2})}}), doctest::Contains("No such file or directory"),
                         tg::Error);
  }
  SUBCASE("onto a folder (the rename fails after the data were written)") {
    const std::string path = dir.file("a_folder");
    std::filesystem::create_directory(path);
    CHECK_THROWS_WITH_AS(tg::save(path, {{"x", tg::ones({2})}}), doctest::Contains("a_folder"), tg::Error);
    CHECK(dir.entries() == std::vector<std::string>{"a_folder"});
    CHECK(std::filesystem::is_empty(path));
  }
  SUBCASE("an undefined tensor") {
    CHECK_THROWS_WITH_AS(tg::save(dir.file("x.safetensors"), {{"ghost", tg::Tensor()}}), doctest::Contains("ghost"),
                         tg::ValueError);
  }
  SUBCASE("a tensor named __metadata__") {
    CHECK_THROWS_WITH_AS(tg::save(dir.file("x.safetensors"), {{"__metadata__", tg::ones({1})}}),
                         doctest::Contains("__metadata__"), tg::ValueError);
  }
  SUBCASE("a name that is not UTF-8") {
    CHECK_THROWS_WITH_AS(tg::save(dir.file("x.safetensors"), {{"bad\xff", tg::ones({1})}}),
                         doctest::Contains("not valid UTF-8"), tg::ValueError);
    CHECK_THROWS_WITH_AS(tg::save(dir.file("x.safetensors"), tg::TensorMap{}, {{"k", "\xc3"}}),
                         doctest::Contains("metadata value"), tg::ValueError);
  }
  CHECK(dir.entries().size() <= 1);  // only the folder made by the second subcase
  for (const auto& name : dir.entries()) CHECK(name == "a_folder");
}

TEST_CASE("safetensors: a failed save keeps the old file intact") {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  tg::save(path, {{"old", tg::tensor({1.0}, {1})}});
  const Bytes before = read_bytes(path);
  CHECK_THROWS_AS(tg::save(path, {{"new", tg::Tensor()}}), tg::ValueError);
  {
    // An abandoned writer (as when an exception cuts a save short) removes its temporary file.
    tg::AtomicFileWriter writer(path);
    writer.write("partial", 7);
    CHECK(std::filesystem::exists(writer.temp_path()));
  }
  CHECK(read_bytes(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"keep.safetensors"});
}

// load_file refuses a header over 100 MB, as the reference reader does. A
// save that wrote one reported success and left a file nothing can read back.
TEST_CASE("safetensors: save refuses a header over load's limit, before touching the file") {
  TempDir dir;
  const std::string path = dir.file("vocab.safetensors");
  const tg::TensorMap tensors{{"w", tg::ones({2})}};
  tg::save(path, tensors);
  const Bytes before = read_bytes(path);
  const tg::Metadata huge{{"vocab", std::string(100'000'000, 'x')}};
  std::string message;
  try {
    tg::save(path, tensors, huge);
  } catch (const tg::ValueError& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("the header would be at least 100000006 bytes") != std::string::npos);
  CHECK(message.find("over the 100000000-byte limit") != std::string::npos);
  CHECK(read_bytes(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"vocab.safetensors"});
  // Under the limit as given, over it once escaped: a control character
  // takes six bytes in JSON ("\u0001").
  const tg::Metadata escaped{{"k", std::string(16'700'000, '\x01')}};
  CHECK_THROWS_WITH_AS(tg::save_to_bytes(tensors, escaped),
                       doctest::Contains("save_to_bytes: the header would be 100200"), tg::ValueError);
}

TEST_CASE("safetensors: loading a file that does not exist names it") {
  TempDir dir;
  const std::string path = dir.file("nope.safetensors");
  CHECK_THROWS_WITH_AS(tg::load(path), doctest::Contains(path.c_str()), tg::Error);
  CHECK_THROWS_WITH_AS(tg::load(dir.path().string()), doctest::Contains("not a regular file"), tg::Error);
}

}  // namespace test_safetensors
