#pragma once
/// @file
/// Datasets hand out (input, target) examples by index; a DataLoader batches
/// them. Nothing here touches the autograd tape: examples are plain tensors.
#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::data {

/// One example: an input and its target (a label, a regression value, ...).
struct Example {
  Tensor input;   ///< The model's input.
  Tensor target;  ///< What the model should output for it.
};

/// Inputs and targets of several examples, stacked along a new first dimension.
struct Batch {
  Tensor input;   ///< The examples' inputs, stacked: shape [batch, ...].
  Tensor target;  ///< The examples' targets, stacked: shape [batch, ...].
};

/// A collection of examples read by index (as PyTorch's map-style
/// torch.utils.data.Dataset). Derive and implement size() and get();
/// override get_batch() when a batch can be gathered faster than one example
/// at a time.
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// The number of examples.
  virtual std::size_t size() const = 0;
  /// Example `index` (0 <= index < size()).
  /// @throws tg::IndexError when `index` is out of range.
  virtual Example get(std::size_t index) const = 0;

  /// The examples at `indices`, stacked. This default calls get() once per
  /// index and copies each example into the batch, so every example must have
  /// the shape and dtype of the first; datasets that can gather a batch in one
  /// pass override it.
  /// @throws tg::IndexError for an index out of range, tg::ShapeError or
  ///   tg::DTypeError when an example differs from the first.
  virtual Batch get_batch(std::span<const std::size_t> indices) const;

 protected:
  /// Copyable only as part of a derived class, so a Dataset cannot be sliced.
  ///@{
  Dataset() = default;
  Dataset(const Dataset&) = default;
  Dataset& operator=(const Dataset&) = default;
  ///@}
};

/// What a TensorDataset does to an input row on its way into an example or
/// a batch.
enum class InputTransform {
  kNone,         ///< the row as stored
  kToUnitFloat,  ///< uint8 pixels to float32 in [0, 1], byte / 255 (torchvision's ToTensor())
};

/// Example i is (inputs[i], targets[i]), both indexed along dim 0. Batches are
/// gathered with one row copy per example straight into the batch tensors,
/// with no per-example tensors in between.
///
/// Images can stay bytes until they are batched: with
/// InputTransform::kToUnitFloat the inputs are uint8 and each batch is
/// converted while it is gathered, to the same floats load_mnist_images
/// gives. A quarter of the memory, and a shuffled batch reads a quarter as
/// many bytes from a dataset too large for the caches.
///
/// @code
/// tg::data::TensorDataset train(tg::randn({1000, 20}), tg::randint(0, 10, {1000}));
/// tg::data::Example e = train.get(3);  // views of row 3
/// const auto fashion = tg::data::load_fashion_mnist(dir, tg::kUInt8);
/// tg::data::TensorDataset images(fashion.train_images, fashion.train_labels,
///                                tg::data::InputTransform::kToUnitFloat);
/// @endcode
class TensorDataset : public Dataset {
 public:
  /// Pairs inputs[i] with targets[i].
  /// @param inputs    example i is inputs[i]
  /// @param targets   target i is targets[i]
  /// @param transform what get and get_batch do to the inputs
  /// @throws tg::ShapeError unless both tensors have at least one dimension and
  ///   agree on the size of dim 0; tg::DTypeError for kToUnitFloat on inputs
  ///   that are not uint8. Non-contiguous tensors are copied once, here.
  TensorDataset(Tensor inputs, Tensor targets, InputTransform transform = InputTransform::kNone);

  /// The size of dim 0 of the inputs.
  std::size_t size() const override;
  /// (inputs[index], targets[index]) as views, no copy (the input converted,
  /// a new tensor, with kToUnitFloat).
  Example get(std::size_t index) const override;
  /// The rows at `indices`, gathered (and converted) in one pass.
  Batch get_batch(std::span<const std::size_t> indices) const override;

  /// Examples [start, start + length) as a dataset sharing this one's storage.
  /// @throws tg::IndexError when the range does not fit.
  TensorDataset narrow(std::size_t start, std::size_t length) const;

  /// All inputs, stacked along dim 0, as stored (before the transform).
  const Tensor& inputs() const { return inputs_; }
  /// All targets, stacked along dim 0.
  const Tensor& targets() const { return targets_; }
  /// What get and get_batch do to the inputs.
  InputTransform transform() const { return transform_; }

 private:
  Tensor inputs_, targets_;
  InputTransform transform_ = InputTransform::kNone;
};

/// The examples of `base` at `indices`, in that order (repeats allowed), as
/// torch.utils.data.Subset. Batches are forwarded to base->get_batch, so a
/// subset of a TensorDataset keeps the fast path.
class Subset : public Dataset {
 public:
  /// The examples of `base` at `indices`, in that order.
  /// @param base    the dataset to take examples from, shared
  /// @param indices example i of the subset is example indices[i] of `base`
  /// @throws tg::IndexError if an index is out of range for `base`.
  Subset(std::shared_ptr<const Dataset> base, std::vector<std::size_t> indices);
  /// The same, with `base` moved into a shared pointer.
  template <std::derived_from<Dataset> D>
  Subset(D base, std::vector<std::size_t> indices)
      : Subset(std::make_shared<const D>(std::move(base)), std::move(indices)) {}

  /// The number of indices.
  std::size_t size() const override { return indices_.size(); }
  /// Example indices()[index] of base().
  Example get(std::size_t index) const override;
  /// base().get_batch() of the mapped indices.
  Batch get_batch(std::span<const std::size_t> indices) const override;

  /// The dataset the examples come from.
  const Dataset& base() const { return *base_; }
  /// The indices into base(), in order.
  const std::vector<std::size_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<std::size_t> indices_;
};

/// The first n examples of `base`. @throws tg::IndexError if it has fewer.
///@{
Subset first_n(std::shared_ptr<const Dataset> base, std::size_t n);
template <std::derived_from<Dataset> D>
Subset first_n(D base, std::size_t n) {
  return first_n(std::make_shared<const D>(std::move(base)), n);
}
///@}

}  // namespace tg::data
