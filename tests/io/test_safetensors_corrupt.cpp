// Damaged and forged safetensors files: each is a tg::FormatError that names
// the file and the problem, never a crash or a huge allocation.
#include <string>

#include <doctest/doctest.h>

#include <tapegrad/io/safetensors.h>
#include "io/io_test_files.h"

namespace test_safetensors_corrupt {

using tg::test::Bytes;
using tg::test::file_bytes;
using tg::test::TempDir;
using tg::test::write_bytes;

namespace {

// Writes `bytes` to a file, loads it and returns the FormatError's message
// (any other exception fails the test).
std::string load_error(const Bytes& bytes, const std::string& file_name = "broken.safetensors") {
  TempDir dir;
  const std::string path = dir.file(file_name);
  write_bytes(path, bytes);
  try {
    tg::load(path);
  } catch (const tg::FormatError& e) {
    const std::string message = e.what();
    CHECK_MESSAGE(message.find(path) != std::string::npos, "the message should name the file: " << message);
    return message;
  }
  FAIL_CHECK("loading did not throw");
  return "";
}

// A header with one tensor entry whose text is `entry`, followed by `data`.
Bytes one_tensor(const std::string& entry, const Bytes& data = {}) { return file_bytes("{\"w\":" + entry + "}", data); }

const Bytes kFourFloats(16, 0);

}  // namespace

#define CHECK_LOAD_ERROR(bytes, fragment)                                                                            \
  do {                                                                                                               \
    const std::string message_ = load_error(bytes);                                                                  \
    CHECK_MESSAGE(message_.find(fragment) != std::string::npos, "expected \"" << fragment << "\" in: " << message_); \
  } while (false)

TEST_CASE("safetensors corrupt: too short for the header length") {
  CHECK_LOAD_ERROR(Bytes{}, "has 0 bytes");
  CHECK_LOAD_ERROR(Bytes(7, 0), "has 7 bytes");
}

TEST_CASE("safetensors corrupt: a header length past the end of the file") {
  Bytes bytes = file_bytes("{}      ");
  bytes[0] = 9;  // one byte more than there is
  CHECK_LOAD_ERROR(bytes, "header length 9 is larger than the rest of the file (8 bytes)");
  // 2^63: must be refused without trying to allocate it.
  Bytes huge = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
  CHECK_LOAD_ERROR(huge, "over the 100000000-byte limit");
}

TEST_CASE("safetensors corrupt: a header that is not a JSON object") {
  CHECK_LOAD_ERROR(file_bytes("{\"w\":"), "not valid JSON");
  CHECK_LOAD_ERROR(file_bytes("not json"), "not valid JSON");
  // nlohmann stops at a NUL byte and would accept anything after it.
  CHECK_LOAD_ERROR(file_bytes(std::string("{}\0junk", 7)), "holds a NUL byte at offset 2");
  CHECK_LOAD_ERROR(file_bytes("{\"\xff\":1}"), "not valid JSON");  // not UTF-8
  CHECK_LOAD_ERROR(file_bytes("[1, 2]"), "header is a JSON array");
  CHECK_LOAD_ERROR(file_bytes("\"w\""), "header is string instead of a JSON object");
  CHECK_LOAD_ERROR(file_bytes("42"), "header is number instead of a JSON object");
}

TEST_CASE("safetensors corrupt: entries that are not objects") {
  CHECK_LOAD_ERROR(one_tensor("5"), "tensor 'w': entry is number instead of an object");
  CHECK_LOAD_ERROR(one_tensor("\"F32\""), "tensor 'w': entry is string instead of an object");
  CHECK_LOAD_ERROR(one_tensor("[1]"), "entry 'w' is an array instead of an object");
  // Deep nesting is stopped at the first level too deep.
  CHECK_LOAD_ERROR(one_tensor(std::string(100000, '[') + std::string(100000, ']')), "entry 'w' is an array");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":{"a":{}}})"), "entry 'w' holds a nested object");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[[2]],"data_offsets":[0,8]})"), "entry 'w' nests arrays");
}

TEST_CASE("safetensors corrupt: missing fields") {
  CHECK_LOAD_ERROR(one_tensor(R"({"shape":[4],"data_offsets":[0,16]})", kFourFloats),
                   "tensor 'w': \"dtype\" is missing");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","data_offsets":[0,16]})", kFourFloats), "\"shape\" is missing");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4]})", kFourFloats), "\"data_offsets\" is missing");
}

TEST_CASE("safetensors corrupt: fields of the wrong JSON type") {
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":32,"shape":[4],"data_offsets":[0,16]})", kFourFloats),
                   "\"dtype\" is number instead of a string");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":"4","data_offsets":[0,16]})", kFourFloats),
                   "\"shape\" is string instead of an array");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4.0],"data_offsets":[0,16]})", kFourFloats),
                   "\"shape\" [4.0] holds 4.0, which is not a non-negative integer");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":["4"],"data_offsets":[0,16]})", kFourFloats),
                   "\"shape\" [\"4\"] holds \"4\", which is not");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0]})", kFourFloats),
                   "\"data_offsets\" [0] is not an array [begin, end]");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":"0-16"})", kFourFloats),
                   "is not an array [begin, end]");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,null]})", kFourFloats),
                   "\"data_offsets\" [0,null] holds null, which is not");
}

TEST_CASE("safetensors corrupt: dtypes tapegrad cannot load name the tensor and the dtype") {
  // F16 and BF16 load since tapegrad has those dtypes (tests/core/test_dtypes_new.cpp).
  for (const char* dtype : {"U64", "F8_E4M3", "C64", "f32", ""}) {
    const std::string message = load_error(
        one_tensor(std::string(R"({"dtype":")") + dtype + R"(","shape":[4],"data_offsets":[0,8]})", Bytes(8, 0)));
    CHECK(message.find(std::string("tensor 'w': dtype '") + dtype + "' is not one tapegrad can load") !=
          std::string::npos);
  }
}

TEST_CASE("safetensors corrupt: negative or absurd shapes") {
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[-4],"data_offsets":[0,16]})", kFourFloats),
                   "\"shape\" [-4] holds -4, which is not a non-negative integer");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,4],"data_offsets":[0,16]})", kFourFloats),
                   "longer than 8");
  // The product of the nonzero sizes overflows int64, even though the 0 makes it empty.
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]})"),
                   "is absurdly large");
  // Within int64 but past what a tensor may hold in bytes (make_tensor's bound): the file is named too.
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[0,2147483648,2147483648],"data_offsets":[0,0]})"),
                   "is absurdly large");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]})"),
                   "is absurdly large");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,16]})", kFourFloats),
                   "is absurdly large");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[100000000000000000000],"data_offsets":[0,16]})", kFourFloats),
                   "holds 1e+20, which is not");  // beyond uint64, JSON gives a float
  // Large but representable: a size mismatch, found without allocating.
  CHECK_LOAD_ERROR(
      one_tensor(R"({"dtype":"F64","shape":[1000000,1000000,1000000],"data_offsets":[0,16]})", kFourFloats),
      "is 1000000000000000000 elements of 8 bytes, but data_offsets [0, 16] hold 16 bytes");
}

TEST_CASE("safetensors corrupt: data offsets that do not fit the tensor or the file") {
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[16,0]})", kFourFloats),
                   "data_offsets [16, 0] end before they begin");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[-16,0]})", kFourFloats),
                   "holds -16, which is not a non-negative integer");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", Bytes(12, 0)),
                   "data_offsets [0, 16] reach past the end of the data section (12 bytes)");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]})", kFourFloats),
                   "reach past the end");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,16]})", kFourFloats),
                   "shape [3] of F32 is 3 elements of 4 bytes, but data_offsets [0, 16] hold 16 bytes");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F64","shape":[4],"data_offsets":[0,16]})", kFourFloats),
                   "shape [4] of F64 is 4 elements of 8 bytes");
}

TEST_CASE("safetensors corrupt: tensors must tile the data section without holes or overlaps") {
  const Bytes data(16, 0);
  CHECK_LOAD_ERROR(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              Bytes(12, 0)),
                   "tensors 'a' (bytes [0, 8]) and 'b' (bytes [4, 12]) overlap");
  // Two names for the same bytes.
  CHECK_LOAD_ERROR(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                              Bytes(8, 0)),
                   "overlap");
  // An empty tensor placed inside another one.
  CHECK_LOAD_ERROR(file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                              R"("e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})",
                              data),
                   "overlap");
  CHECK_LOAD_ERROR(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                              data),
                   "bytes [8, 12] of the data section belong to no tensor (a hole before 'b')");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", Bytes(8, 0)),
                   "bytes [0, 4] of the data section belong to no tensor");
  // Bytes after the last tensor.
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", data),
                   "the data section has 16 bytes but the tensors cover only the first 8");
  CHECK_LOAD_ERROR(file_bytes("{}", Bytes(1, 0)), "has 1 bytes but the tensors cover only the first 0");
}

TEST_CASE("safetensors corrupt: metadata that is not an object of strings") {
  CHECK_LOAD_ERROR(file_bytes(R"({"__metadata__":"pt"})"), "\"__metadata__\" is string instead of an object");
  CHECK_LOAD_ERROR(file_bytes(R"({"__metadata__":{"epoch":3}})"),
                   "\"__metadata__\" entry 'epoch' is number instead of a string");
  CHECK_LOAD_ERROR(file_bytes(R"({"__metadata__":{"steps":[1,2]}})"), "instead of a string");
}

// nlohmann keeps the last of repeated keys; a repeated name or field is
// ambiguous and refused. A null "__metadata__" is no metadata, as the
// reference reader takes it.
TEST_CASE("safetensors corrupt: a name or a field given twice") {
  CHECK_LOAD_ERROR(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                              kFourFloats),
                   "header: the name 'w' appears twice");
  CHECK_LOAD_ERROR(one_tensor(R"({"dtype":"F32","shape":[4],"shape":[2],"data_offsets":[0,16]})", kFourFloats),
                   "header: entry 'w' gives 'shape' twice");
  TempDir dir;
  const std::string path = dir.file("null_metadata.safetensors");
  write_bytes(
      path, file_bytes(R"({"__metadata__":null,"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kFourFloats));
  const tg::LoadedFile loaded = tg::load_file(path);
  CHECK(loaded.metadata.empty());
  CHECK(loaded.tensors.at("w").numel() == 4);
}

TEST_CASE("safetensors corrupt: a very long tensor name is shortened in the message") {
  const std::string name(5000, 'n');
  const std::string message = load_error(file_bytes("{\"" + name + "\":7}"));
  CHECK(message.find("(5000 bytes)") != std::string::npos);
  CHECK(message.size() < 1000);
}

TEST_CASE("safetensors corrupt: every truncation of a valid file is a FormatError") {
  tg::TensorMap tensors;
  tensors["a"] = tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  tensors["b"] = tg::tensor(std::vector<std::int64_t>{5, 6, 7});
  tensors["c"] = tg::tensor(std::vector<bool>{true, false});
  const Bytes whole = tg::save_to_bytes(tensors, {{"k", "v"}});
  for (std::size_t n = 0; n < whole.size(); ++n) {
    const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(tg::load_from_bytes(cut, "cut"), tg::FormatError);
  }
  CHECK(tg::load_from_bytes(whole).tensors.size() == 3);
}

TEST_CASE("safetensors corrupt: changed bytes load or throw FormatError, never crash") {
  tg::TensorMap tensors;
  tensors["weight"] = tg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  tensors["mask"] = tg::tensor(std::vector<bool>{true, false, true});
  const Bytes whole = tg::save_to_bytes(tensors);
  int loaded = 0, refused = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    for (std::uint8_t value : {std::uint8_t{0}, std::uint8_t{'1'}, std::uint8_t{'-'}, std::uint8_t{'['},
                               std::uint8_t{'"'}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
      Bytes changed = whole;
      changed[i] = value;
      try {
        tg::load_from_bytes(changed, "changed");
        ++loaded;
      } catch (const tg::FormatError&) {
        ++refused;
      }
    }
  }
  CHECK(loaded > 0);   // changes to the data section load
  CHECK(refused > 0);  // changes to the length and the header mostly do not
}

}  // namespace test_safetensors_corrupt
