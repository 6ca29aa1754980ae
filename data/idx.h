#pragma once
/// @file
/// The IDX file format of MNIST and its relatives (Fashion-MNIST, EMNIST,
/// KMNIST): two zero bytes, a type byte, a byte holding the number of
/// dimensions, the dimensions as big-endian u32, then the values, big-endian.
/// Files may be plain or gzip-compressed; which one is told by the gzip magic
/// bytes (1f 8b), never by the file name.
///
/// Every failure — a missing file, a bad header, dimensions the file cannot
/// hold, truncated or corrupt data, data past what the header describes — is
/// a tg::FormatError whose message names the file and the problem. (Bytes
/// after a gzip stream's last member that do not begin another member are
/// not data: they are ignored, as zlib's gzread and `gzip -d` ignore them.) The reader never allocates more
/// than the file could hold, so garbage input cannot ask for gigabytes.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <tapegrad/autograd/tensor.h>

namespace tg::data {

/// The IDX file at `path` with its own shape. Integer types (unsigned byte,
/// signed byte, short, int) become int64; float and double become float32 and
/// float64. At least one and at most kMaxDims dimensions; a dimension of size
/// zero gives an empty tensor.
Tensor read_idx(const std::string& path);

/// The same for an IDX file already in memory (plain or gzip), with errors
/// naming `source_name` instead of a path: for buffers and fuzzing.
Tensor read_idx_bytes(std::span<const std::uint8_t> bytes, std::string_view source_name = "<memory>");

/// An MNIST-style image file (unsigned bytes, shape [N, rows, cols]) as float32
/// [N, rows, cols] scaled from 0..255 to [0, 1].
Tensor load_mnist_images(const std::string& path);

/// The same images as stored: uint8 [N, rows, cols] in 0..255, a quarter of
/// the memory (torchvision's MNIST.data); `.float() / 255` gives the above.
Tensor load_mnist_images_uint8(const std::string& path);

/// An MNIST-style label file (unsigned bytes, shape [N]) as int64 [N].
Tensor load_mnist_labels(const std::string& path);

}  // namespace tg::data
