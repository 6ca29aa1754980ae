// load_mnist_images_uint8: MNIST images as stored (torchvision's MNIST.data),
// the same file load_mnist_images reads, checked the same way.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/data/idx.h>
#include "data/fixtures/idx_writer.h"

namespace test_mnist_uint8_test {

using namespace tg::data::testing;
using tg::data::load_mnist_images;
using tg::data::load_mnist_images_uint8;

namespace {

std::string put(const TempDir& dir, const std::string& name, const Bytes& bytes, bool gzip) {
  const auto path = dir / name;
  if (gzip) write_gzip(path, bytes);
  else write_plain(path, bytes);
  return path.string();
}

}  // namespace

TEST_CASE("load_mnist_images_uint8 keeps the bytes as uint8 [N, rows, cols], plain and gzip") {
  TempDir dir;
  const Bytes payload{0, 255, 51, 102, 1, 128, 7, 200, 254, 3, 128, 64};
  const Bytes file = idx_file(0x08, {2, 2, 3}, payload);
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    const std::string path = put(dir, gzip ? "images.gz" : "images", file, gzip);
    const tg::Tensor t = load_mnist_images_uint8(path);
    CHECK(t.dtype() == tg::kUInt8);
    CHECK(t.shape() == tg::Dims{2, 2, 3});
    CHECK(t.numel() * static_cast<std::int64_t>(tg::itemsize(t.dtype())) == 12);
    const std::uint8_t* p = t.data_ptr<std::uint8_t>();
    CHECK(std::vector<std::uint8_t>(p, p + t.numel()) == std::vector<std::uint8_t>(payload.begin(), payload.end()));
    // What load_mnist_images gives, with one conversion and one division (as
    // torchvision's ToTensor does with MNIST.data).
    const tg::Tensor scaled = t.to(tg::kFloat32) / 255;
    CHECK(tg::equal(scaled, load_mnist_images(path)));
  }
}

TEST_CASE("load_mnist_images_uint8 reads an empty image file as an empty uint8 tensor") {
  TempDir dir;
  const tg::Tensor t = load_mnist_images_uint8(put(dir, "empty", idx_file(0x08, {0, 28, 28}, {}), false));
  CHECK(t.dtype() == tg::kUInt8);
  CHECK(t.shape() == tg::Dims{0, 28, 28});
}

TEST_CASE("load_mnist_images_uint8 refuses what load_mnist_images refuses, naming itself and the file") {
  TempDir dir;
  const auto labels = put(dir, "labels-idx1", idx_file(0x08, {3}, {1, 2, 3}), false);
  const auto floats = put(dir, "floats-idx3", idx_file(0x0D, {1, 1, 1}, be_float({0.5f})), false);
  const auto truncated = put(dir, "short-idx3", idx_file(0x08, {1, 2, 2}, {1, 2, 3}), false);
  const auto missing = (dir / "no-such-images-idx3").string();
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(labels), doctest::Contains("load_mnist_images_uint8"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(labels), doctest::Contains("labels-idx1"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(labels), doctest::Contains("expected 3 dimensions"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(floats), doctest::Contains("found float (0x0d)"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(truncated), doctest::Contains("short-idx3"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(missing), doctest::Contains("no-such-images-idx3"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load_mnist_images_uint8(dir.path().string()), doctest::Contains("directory"), tg::FormatError);
}

}  // namespace test_mnist_uint8_test
