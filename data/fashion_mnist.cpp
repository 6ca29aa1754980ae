#include <tapegrad/data/fashion_mnist.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include <tapegrad/data/idx.h>

namespace tg::data {
namespace {

constexpr std::int64_t kClasses = 10;  // labels are 0..9

// The plain file if present, else the gzip one.
std::string find_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path plain = fs::path(dir) / name;
  const fs::path gz = fs::path(dir) / (name + ".gz");
  std::error_code ec;
  if (fs::exists(plain, ec)) return plain.string();
  if (fs::exists(gz, ec)) return gz.string();
  throw FormatError(
      fmt::format("load_fashion_mnist: neither '{}' nor '{}' exists (install Debian's dataset-fashion-mnist or set "
                  "TAPEGRAD_FASHION_MNIST_DIR)",
                  plain.string(), gz.string()));
}

void load_split(const std::string& dir, const char* prefix, DType dtype, Tensor& images, Tensor& labels) {
  const std::string images_path = find_file(dir, fmt::format("{}-images-idx3-ubyte", prefix));
  const std::string labels_path = find_file(dir, fmt::format("{}-labels-idx1-ubyte", prefix));
  images = dtype == kUInt8 ? load_mnist_images_uint8(images_path) : load_mnist_images(images_path);
  labels = load_mnist_labels(labels_path);
  if (images.shape()[0] != labels.shape()[0])
    throw FormatError(fmt::format("load_fashion_mnist: '{}' holds {} images but '{}' holds {} labels", images_path,
                                  images.shape()[0], labels_path, labels.shape()[0]));
  // Ten classes, as FashionMnist promises: a model with ten outputs would
  // read a larger label as an out-of-range class only at its loss.
  const auto* label = labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < labels.numel(); ++i)
    if (label[i] >= kClasses)
      throw FormatError(fmt::format("load_fashion_mnist: '{}' holds label {} at example {}; Fashion-MNIST's are 0..{}",
                                    labels_path, label[i], i, kClasses - 1));
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir, DType images) {
  if (images != kFloat32 && images != kUInt8)
    throw DTypeError(fmt::format("load_fashion_mnist: images load as float32 or uint8, not {}", dtype_name(images)));
  FashionMnist out;
  load_split(dir, "train", images, out.train_images, out.train_labels);
  load_split(dir, "t10k", images, out.test_images, out.test_labels);
  return out;
}

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("TAPEGRAD_FASHION_MNIST_DIR");
  if (env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

}  // namespace tg::data
