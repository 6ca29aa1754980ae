#pragma once
/// @file
/// Fashion-MNIST (Zalando's drop-in replacement for MNIST): 60,000 training and
/// 10,000 test images of 28x28 grey pixels in ten classes of clothing.
#include <array>
#include <string>
#include <string_view>

#include <tapegrad/autograd/tensor.h>

namespace tg::data {

/// The Fashion-MNIST training and test sets, as load_fashion_mnist() reads them.
/// Images are float32 [N, 28, 28] in [0, 1] (rows and columns as the files
/// hold them); labels are int64 [N] in 0..9, checked.
struct FashionMnist {
  Tensor train_images;  ///< float32 [60000, 28, 28] in [0, 1] (or the uint8 pixels, if asked)
  Tensor train_labels;  ///< int64 [60000] in 0..9
  Tensor test_images;   ///< float32 [10000, 28, 28] in [0, 1] (or the uint8 pixels, if asked)
  Tensor test_labels;   ///< int64 [10000] in 0..9
};

/// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte from `dir`, each either
/// plain or with a .gz suffix. A missing file, images and labels that
/// disagree on the number of examples, or a label past 9, is a FormatError
/// naming the files.
/// @param dir    the directory that holds the four files
/// @param images kFloat32: pixels / 255 (load_mnist_images); kUInt8: the
///   pixels themselves (load_mnist_images_uint8), a quarter of the memory,
///   for a TensorDataset with InputTransform::kToUnitFloat.
/// @throws tg::FormatError as above, and for a file that is not valid IDX;
///   tg::DTypeError for another `images` dtype.
FashionMnist load_fashion_mnist(const std::string& dir, DType images = kFloat32);

/// $TAPEGRAD_FASHION_MNIST_DIR if set and non-empty, otherwise
/// /usr/share/datasets/fashion-mnist, where Debian's dataset-fashion-mnist
/// package installs the files.
std::string default_fashion_mnist_dir();

/// Class names, indexed by label.
inline constexpr std::array<std::string_view, 10> kFashionMnistClasses{
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

}  // namespace tg::data
