#include <tapegrad/data/dataset.h>

#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/data/pixels.h>

namespace tg::data {
namespace {

void check_index(const char* op, std::size_t index, std::size_t size) {
  if (index >= size)
    throw IndexError(fmt::format("{}: index {} is out of range for a dataset of {} examples", op, index, size));
}

// The sizes of `t` with its first dimension replaced by `n`, or dropped;
// the strides of `t` without the first.
Dims sizes_with_first(const Tensor& t, std::optional<std::int64_t> n) {
  Dims d;
  if (n) d.push_back(*n);
  for (int i = 1; i < t.dim(); ++i) d.push_back(t.sizes()[static_cast<std::size_t>(i)]);
  return d;
}
Dims row_strides(const Tensor& t) {
  Dims d;
  for (int i = 1; i < t.dim(); ++i) d.push_back(t.strides()[static_cast<std::size_t>(i)]);
  return d;
}

// Row `index` of `t` along dim 0, as a view.
Tensor row_view(const Tensor& t, std::size_t index) {
  return make_view(t, sizes_with_first(t, std::nullopt), row_strides(t),
                   t.storage_offset() + static_cast<std::int64_t>(index) * t.strides()[0]);
}

// Rows `indices` of the contiguous tensor `t`, copied into a new tensor of
// shape [indices.size(), ...]. A run of consecutive indices is one memcpy, so
// an unshuffled batch costs a single copy.
Tensor gather_rows(const Tensor& t, std::span<const std::size_t> indices) {
  Tensor out = kernel::empty(sizes_with_first(t, static_cast<std::int64_t>(indices.size())), {.dtype = t.dtype()});
  const std::size_t row_bytes =
      static_cast<std::size_t>(sizes_with_first(t, std::nullopt).product()) * t.element_size();
  if (indices.empty() || row_bytes == 0) return out;
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  std::size_t i = 0;
  while (i < indices.size()) {
    std::size_t run = 1;
    while (i + run < indices.size() && indices[i + run] == indices[i] + run) ++run;
    std::memcpy(dst + i * row_bytes, src + indices[i] * row_bytes, run * row_bytes);
    i += run;
  }
  return out;
}

// Rows `indices` of the contiguous uint8 tensor `t`, converted to float32 in
// [0, 1] as they are copied (byte / 255, the floats load_mnist_images gives).
Tensor gather_unit_floats(const Tensor& t, std::span<const std::size_t> indices) {
  Tensor out = kernel::empty(sizes_with_first(t, static_cast<std::int64_t>(indices.size())), {.dtype = kFloat32});
  const auto row = static_cast<std::size_t>(sizes_with_first(t, std::nullopt).product());
  const auto* src = static_cast<const unsigned char*>(t.raw_data());
  float* dst = row == 0 ? nullptr : out.data_ptr<float>();
  // Shuffled rows of a dataset larger than the caches: ask for every line of
  // every row first (a batch of Fashion-MNIST is 25 KB), so their misses
  // overlap instead of coming one row at a time.
  constexpr std::size_t kLine = 64;
  for (std::size_t i = 0; i < indices.size() && row != 0; ++i)
    for (std::size_t b = 0; b < row; b += kLine) __builtin_prefetch(src + indices[i] * row + b);
  for (std::size_t i = 0; i < indices.size() && row != 0; ++i)
    detail::pixels_to_unit_floats(src + indices[i] * row, row, dst + i * row);
  return out;
}

// Copies one field (input or target) of every example into a new tensor with
// a leading batch dimension.
Tensor stack_field(const std::vector<Example>& examples, Tensor Example::*field, const char* name,
                   std::span<const std::size_t> indices) {
  const Tensor& first = examples.front().*field;
  for (std::size_t k = 0; k < examples.size(); ++k)
    if (!(examples[k].*field).defined())
      throw ValueError(fmt::format("Dataset::get_batch: example {} has an undefined {}", indices[k], name));
  Dims shape = first.shape();
  shape.insert(0, static_cast<std::int64_t>(examples.size()));
  Tensor out = kernel::empty(shape, {.dtype = first.dtype()});
  const std::size_t bytes = static_cast<std::size_t>(first.numel()) * first.element_size();
  char* dst = bytes == 0 ? nullptr : static_cast<char*>(out.raw_data());
  for (std::size_t k = 0; k < examples.size(); ++k) {
    const Tensor& t = examples[k].*field;
    if (t.dtype() != first.dtype())
      throw DTypeError(
          fmt::format("Dataset::get_batch: example {}'s {} is {} but example {}'s is {}; a batch needs "
                      "one dtype",
                      indices[k], name, dtype_name(t.dtype()), indices[0], dtype_name(first.dtype())));
    if (!(t.shape() == first.shape()))
      throw ShapeError(
          fmt::format("Dataset::get_batch: example {}'s {} has shape {} but example {}'s has {}; a "
                      "batch needs one shape",
                      indices[k], name, shape_str(t.shape()), indices[0], shape_str(first.shape())));
    if (bytes == 0) continue;
    const Tensor src = kernel::contiguous(t);
    std::memcpy(dst + k * bytes, src.raw_data(), bytes);
  }
  return out;
}

}  // namespace

Batch Dataset::get_batch(std::span<const std::size_t> indices) const {
  if (indices.empty()) throw ValueError("Dataset::get_batch: a batch needs at least one index");
  const std::size_t n = size();
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (auto i : indices) {
    check_index("Dataset::get_batch", i, n);
    examples.push_back(get(i));
  }
  return {stack_field(examples, &Example::input, "input", indices),
          stack_field(examples, &Example::target, "target", indices)};
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets, InputTransform transform) : transform_(transform) {
  if (!inputs.defined() || !targets.defined())
    throw ValueError("TensorDataset: inputs and targets must be defined tensors");
  if (inputs.dim() == 0 || targets.dim() == 0)
    throw ShapeError(fmt::format("TensorDataset: inputs {} and targets {} both need a first dimension to index",
                                 shape_str(inputs.shape()), shape_str(targets.shape())));
  if (inputs.shape()[0] != targets.shape()[0])
    throw ShapeError(
        fmt::format("TensorDataset: inputs {} and targets {} disagree on the number of examples ({} != {})",
                    shape_str(inputs.shape()), shape_str(targets.shape()), inputs.shape()[0], targets.shape()[0]));
  if (transform == InputTransform::kToUnitFloat && inputs.dtype() != kUInt8)
    throw DTypeError(
        fmt::format("TensorDataset: InputTransform::kToUnitFloat converts uint8 pixels, but the inputs {} "
                    "are {}",
                    shape_str(inputs.shape()), dtype_name(inputs.dtype())));
  inputs_ = kernel::contiguous(inputs);
  targets_ = kernel::contiguous(targets);
}

std::size_t TensorDataset::size() const { return static_cast<std::size_t>(inputs_.shape()[0]); }

Example TensorDataset::get(std::size_t index) const {
  check_index("TensorDataset::get", index, size());
  if (transform_ == InputTransform::kToUnitFloat) {
    const std::size_t one[] = {index};
    return {kernel::reshape(gather_unit_floats(inputs_, one), sizes_with_first(inputs_, std::nullopt)),
            row_view(targets_, index)};
  }
  return {row_view(inputs_, index), row_view(targets_, index)};
}

Batch TensorDataset::get_batch(std::span<const std::size_t> indices) const {
  const std::size_t n = size();
  for (auto i : indices) check_index("TensorDataset::get_batch", i, n);
  Tensor inputs =
      transform_ == InputTransform::kToUnitFloat ? gather_unit_floats(inputs_, indices) : gather_rows(inputs_, indices);
  return {std::move(inputs), gather_rows(targets_, indices)};
}

TensorDataset TensorDataset::narrow(std::size_t start, std::size_t length) const {
  const std::size_t n = size();
  if (start > n || length > n - start)
    // Start and length as given: start + length may wrap around.
    throw IndexError(
        fmt::format("TensorDataset::narrow: start {} and length {} are out of range for a dataset of {} examples",
                    start, length, n));
  const auto part = [&](const Tensor& t) {
    return make_view(t, sizes_with_first(t, static_cast<std::int64_t>(length)), t.strides(),
                     t.storage_offset() + static_cast<std::int64_t>(start) * t.strides()[0]);
  };
  return TensorDataset(part(inputs_), part(targets_), transform_);
}

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<std::size_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  if (!base_) throw ValueError("Subset: the base dataset is null");
  const std::size_t n = base_->size();
  for (auto i : indices_) check_index("Subset", i, n);
}

Example Subset::get(std::size_t index) const {
  check_index("Subset::get", index, indices_.size());
  return base_->get(indices_[index]);
}

Batch Subset::get_batch(std::span<const std::size_t> indices) const {
  std::vector<std::size_t> mapped(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    check_index("Subset::get_batch", indices[k], indices_.size());
    mapped[k] = indices_[indices[k]];
  }
  return base_->get_batch(mapped);
}

Subset first_n(std::shared_ptr<const Dataset> base, std::size_t n) {
  if (!base) throw ValueError("first_n: the base dataset is null");
  if (n > base->size())
    throw IndexError(fmt::format("first_n: asked for {} examples of a dataset of {}", n, base->size()));
  check_allocation(n, sizeof(std::size_t), "first_n");
  std::vector<std::size_t> indices(n);
  std::iota(indices.begin(), indices.end(), std::size_t{0});
  return Subset(std::move(base), std::move(indices));
}

}  // namespace tg::data
