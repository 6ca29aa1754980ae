// Fashion-MNIST: the loader on small fake files, and on the real data set
// when Debian's dataset-fashion-mnist is installed.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/data/fashion_mnist.h>
#include "data/fixtures/idx_writer.h"

namespace test_fashion_mnist_test {

using namespace tg::data::testing;

namespace {

// Sets an environment variable for one scope and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// n images of 2x2 pixels, image i filled with byte i.
Bytes images(std::uint32_t n) {
  Bytes pixels;
  for (std::uint32_t i = 0; i < n; ++i) pixels.insert(pixels.end(), 4, static_cast<unsigned char>(i));
  return idx_file(0x08, {n, 2, 2}, pixels);
}

Bytes labels(const Bytes& values) { return idx_file(0x08, {static_cast<std::uint32_t>(values.size())}, values); }

}  // namespace

TEST_CASE("load_fashion_mnist reads plain and gzip files from a directory") {
  TempDir dir;
  write_gzip(dir / "train-images-idx3-ubyte.gz", images(3));
  write_plain(dir / "train-labels-idx1-ubyte", labels({4, 0, 9}));
  write_plain(dir / "t10k-images-idx3-ubyte", images(2));
  write_gzip(dir / "t10k-labels-idx1-ubyte.gz", labels({1, 2}));

  const auto data = tg::data::load_fashion_mnist(dir.path().string());
  CHECK(data.train_images.shape().vec() == std::vector<std::int64_t>{3, 2, 2});
  CHECK(data.test_images.shape().vec() == std::vector<std::int64_t>{2, 2, 2});
  CHECK(data.train_images.dtype() == tg::kFloat32);
  CHECK(data.train_labels.dtype() == tg::kInt64);
  const float* px = data.train_images.data_ptr<float>();
  CHECK(px[4] == doctest::Approx(1.0 / 255.0));  // first pixel of image 1
  CHECK(px[8] == doctest::Approx(2.0 / 255.0));
  const std::int64_t* train = data.train_labels.data_ptr<std::int64_t>();
  CHECK(std::vector<std::int64_t>(train, train + 3) == std::vector<std::int64_t>{4, 0, 9});
  const std::int64_t* test = data.test_labels.data_ptr<std::int64_t>();
  CHECK(std::vector<std::int64_t>(test, test + 2) == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("load_fashion_mnist(dir, kUInt8) keeps the pixels; the float load is those pixels / 255") {
  TempDir dir;
  write_plain(dir / "train-images-idx3-ubyte", images(3));
  write_plain(dir / "train-labels-idx1-ubyte", labels({4, 0, 9}));
  write_plain(dir / "t10k-images-idx3-ubyte", images(2));
  write_plain(dir / "t10k-labels-idx1-ubyte", labels({1, 2}));
  const auto bytes = tg::data::load_fashion_mnist(dir.path().string(), tg::kUInt8);
  const auto floats = tg::data::load_fashion_mnist(dir.path().string());
  CHECK(bytes.train_images.dtype() == tg::kUInt8);
  CHECK(bytes.test_images.dtype() == tg::kUInt8);
  CHECK(bytes.train_images.shape().vec() == std::vector<std::int64_t>{3, 2, 2});
  const std::uint8_t* b = bytes.train_images.data_ptr<std::uint8_t>();
  const float* f = floats.train_images.data_ptr<float>();
  for (int i = 0; i < 12; ++i) {
    CHECK(b[i] == i / 4);
    CHECK(f[i] == static_cast<float>(b[i]) / 255.0f);
  }
  CHECK(tg::equal(bytes.train_labels, floats.train_labels));
  CHECK_THROWS_WITH_AS(tg::data::load_fashion_mnist(dir.path().string(), tg::kFloat64),
                       doctest::Contains("float32 or uint8, not float64"), tg::DTypeError);
}

TEST_CASE("load_fashion_mnist: a count mismatch names both files and both counts") {
  TempDir dir;
  write_plain(dir / "train-images-idx3-ubyte", images(3));
  write_plain(dir / "train-labels-idx1-ubyte", labels({1, 2, 3, 4}));
  write_plain(dir / "t10k-images-idx3-ubyte", images(1));
  write_plain(dir / "t10k-labels-idx1-ubyte", labels({1}));
  const auto load = [&] { return tg::data::load_fashion_mnist(dir.path().string()); };
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("train-images-idx3-ubyte' holds 3 images"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("train-labels-idx1-ubyte' holds 4 labels"), tg::FormatError);
}

TEST_CASE("load_fashion_mnist: a label past 9 names the file, the label and the example") {
  TempDir dir;
  write_plain(dir / "train-images-idx3-ubyte", images(3));
  write_plain(dir / "train-labels-idx1-ubyte", labels({1, 9, 2}));
  write_plain(dir / "t10k-images-idx3-ubyte", images(2));
  write_plain(dir / "t10k-labels-idx1-ubyte", labels({3, 200}));
  CHECK_THROWS_WITH_AS(tg::data::load_fashion_mnist(dir.path().string()),
                       doctest::Contains("t10k-labels-idx1-ubyte' holds label 200 at example 1"), tg::FormatError);
  write_plain(dir / "t10k-labels-idx1-ubyte", labels({3, 10}));
  CHECK_THROWS_AS(tg::data::load_fashion_mnist(dir.path().string()), tg::FormatError);
  write_plain(dir / "t10k-labels-idx1-ubyte", labels({3, 9}));
  CHECK(tg::data::load_fashion_mnist(dir.path().string()).test_labels.numel() == 2);
}

TEST_CASE("load_fashion_mnist: a missing file names both names it looked for") {
  TempDir dir;
  write_plain(dir / "train-images-idx3-ubyte", images(1));
  write_plain(dir / "train-labels-idx1-ubyte", labels({1}));
  const auto load = [&] { return tg::data::load_fashion_mnist(dir.path().string()); };
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("t10k-images-idx3-ubyte'"), tg::FormatError);
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("t10k-images-idx3-ubyte.gz'"), tg::FormatError);
}

TEST_CASE("default_fashion_mnist_dir honours TAPEGRAD_FASHION_MNIST_DIR") {
  {
    ScopedEnv env("TAPEGRAD_FASHION_MNIST_DIR", "/tmp/somewhere");
    CHECK(tg::data::default_fashion_mnist_dir() == "/tmp/somewhere");
  }
  {
    ScopedEnv env("TAPEGRAD_FASHION_MNIST_DIR", "");
    CHECK(tg::data::default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
  }
  ScopedEnv env("TAPEGRAD_FASHION_MNIST_DIR", nullptr);
  CHECK(tg::data::default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
}

TEST_CASE("Fashion-MNIST class names") {
  REQUIRE(tg::data::kFashionMnistClasses.size() == 10);
  CHECK(tg::data::kFashionMnistClasses[0] == "T-shirt/top");
  CHECK(tg::data::kFashionMnistClasses[1] == "Trouser");
  CHECK(tg::data::kFashionMnistClasses[6] == "Shirt");
  CHECK(tg::data::kFashionMnistClasses[9] == "Ankle boot");
}

namespace {

void check_split(const tg::Tensor& images, const tg::Tensor& labels, std::int64_t n) {
  REQUIRE(images.shape().vec() == std::vector<std::int64_t>{n, 28, 28});
  REQUIRE(labels.shape().vec() == std::vector<std::int64_t>{n});
  const float* px = images.data_ptr<float>();
  float lo = px[0], hi = px[0];
  for (std::int64_t i = 0; i < images.numel(); ++i) {
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  // Every split has black background pixels and some fully white ones.
  CHECK(lo == 0.0f);
  CHECK(hi == 1.0f);
  // Both splits are balanced: a tenth of the examples in each class.
  std::array<std::int64_t, 10> histogram{};
  const std::int64_t* y = labels.data_ptr<std::int64_t>();
  bool in_range = true;
  for (std::int64_t i = 0; i < n; ++i) {
    in_range = in_range && y[i] >= 0 && y[i] < 10;
    if (in_range) ++histogram[static_cast<std::size_t>(y[i])];
  }
  REQUIRE(in_range);
  for (std::size_t c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(histogram[c] == n / 10);
  }
}

}  // namespace

TEST_CASE("the installed Fashion-MNIST has 60000 + 10000 balanced images in [0, 1]") {
  const std::string dir = tg::data::default_fashion_mnist_dir();
  if (!std::filesystem::exists(std::filesystem::path(dir) / "train-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(std::filesystem::path(dir) / "train-images-idx3-ubyte")) {
    MESSAGE("Fashion-MNIST not found in " << dir << " (apt-get install dataset-fashion-mnist); skipped");
    return;
  }
  const auto data = tg::data::load_fashion_mnist(dir);
  check_split(data.train_images, data.train_labels, 60000);
  check_split(data.test_images, data.test_labels, 10000);
}

}  // namespace test_fashion_mnist_test
