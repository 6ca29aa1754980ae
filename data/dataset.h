#pragma once
// Datasets hand out (input, target) examples by index; a DataLoader batches
// them. Nothing here touches the autograd tape: examples are plain tensors.
#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::data {

struct Example {
  Tensor input, target;
};

// Inputs and targets of several examples, stacked along a new first dimension.
struct Batch {
  Tensor input, target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::size_t size() const = 0;
  virtual Example get(std::size_t index) const = 0;

  // The examples at `indices`, stacked. This default calls get() once per
  // index and copies each example into the batch, so every example must have
  // the shape and dtype of the first; datasets that can gather a batch in one
  // pass override it.
  virtual Batch get_batch(std::span<const std::size_t> indices) const;

 protected:
  // Copyable only as part of a derived class, so a Dataset cannot be sliced.
  Dataset() = default;
  Dataset(const Dataset&) = default;
  Dataset& operator=(const Dataset&) = default;
};

// Example i is (inputs[i], targets[i]), both indexed along dim 0. Batches are
// gathered with one row copy per example straight into the batch tensors,
// with no per-example tensors in between.
class TensorDataset : public Dataset {
 public:
  // ShapeError unless both tensors have at least one dimension and agree on
  // the size of dim 0. Non-contiguous tensors are copied once, here.
  TensorDataset(Tensor inputs, Tensor targets);

  std::size_t size() const override;
  Example get(std::size_t index) const override;  // views, no copy
  Batch get_batch(std::span<const std::size_t> indices) const override;

  // Examples [start, start + length) as a dataset sharing this one's storage.
  TensorDataset narrow(std::size_t start, std::size_t length) const;

  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
};

// The examples of `base` at `indices`, in that order (repeats allowed).
// Batches are forwarded to base->get_batch, so a subset of a TensorDataset
// keeps the fast path.
class Subset : public Dataset {
 public:
  // IndexError if an index is out of range for `base`.
  Subset(std::shared_ptr<const Dataset> base, std::vector<std::size_t> indices);
  template <std::derived_from<Dataset> D>
  Subset(D base, std::vector<std::size_t> indices)
      : Subset(std::make_shared<const D>(std::move(base)), std::move(indices)) {}

  std::size_t size() const override { return indices_.size(); }
  Example get(std::size_t index) const override;
  Batch get_batch(std::span<const std::size_t> indices) const override;

  const Dataset& base() const { return *base_; }
  const std::vector<std::size_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<std::size_t> indices_;
};

// The first n examples of `base`; IndexError if it has fewer.
Subset first_n(std::shared_ptr<const Dataset> base, std::size_t n);
template <std::derived_from<Dataset> D>
Subset first_n(D base, std::size_t n) {
  return first_n(std::make_shared<const D>(std::move(base)), n);
}

}  // namespace tg::data
