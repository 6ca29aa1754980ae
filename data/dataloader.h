#pragma once
/// @file
/// DataLoader: batches of a Dataset, in order or shuffled, for range-for.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

#include <tapegrad/data/dataset.h>

namespace tg::data {

/// How a DataLoader batches: `{.batch_size = 32, .shuffle = true, .seed = 7}`.
struct DataLoaderOptions {
  std::size_t batch_size = 1;  ///< Examples per batch (the last may have fewer).
  bool shuffle = false;        ///< Visit the examples in a new random order each epoch.
  bool drop_last = false;      ///< Drop a final batch smaller than batch_size instead of yielding it.
  std::uint64_t seed = 0;      ///< The shuffling seed (with the epoch, it fixes the order).
};

/// Batches of a Dataset, in order or shuffled, for range-for (as
/// torch.utils.data.DataLoader, in the calling thread).
///
/// @code
/// tg::data::DataLoader loader(train, {.batch_size = 32, .shuffle = true, .seed = 7});
/// for (int epoch = 0; epoch < 10; ++epoch)
///   for (auto& batch : loader) step(batch.input, batch.target);
/// @endcode
///
/// Epochs: every begin() starts an epoch and advances an internal counter, so
/// the loop above sees a new permutation each epoch. The permutation of epoch
/// e depends only on (seed, e): two loaders with one seed give the same
/// sequence of orders, and set_epoch(e) before a loop replays epoch e (to
/// resume a run, or to drive the loader from an outer loop as PyTorch's
/// DistributedSampler.set_epoch does).
class DataLoader {
 public:
  /// Batches of `dataset`, drawn in order or shuffled as `options` say.
  /// @param dataset the examples, shared (the loader and its iterators keep it alive)
  /// @param options batch size, shuffling, seed
  /// @throws tg::ValueError for a null dataset or a batch size of zero.
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  /// The same, with `dataset` moved into a shared pointer.
  template <std::derived_from<Dataset> D>
  DataLoader(D dataset, DataLoaderOptions options = {})
      : DataLoader(std::make_shared<const D>(std::move(dataset)), options) {}

  /// Batches per epoch.
  std::size_t size() const;
  /// The options given at construction.
  const DataLoaderOptions& options() const { return options_; }
  /// The dataset batched.
  const Dataset& dataset() const { return *dataset_; }

  /// The epoch that the next begin() starts.
  std::uint64_t epoch() const { return epoch_; }
  /// Makes the next begin() start `epoch` (to replay it when resuming a run).
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }

  /// The order in which `epoch` visits the examples: 0..n-1 without shuffling,
  /// else a permutation that depends only on the seed and `epoch`.
  std::vector<std::size_t> order(std::uint64_t epoch) const;

  /// An input iterator over one epoch's batches; each is loaded when reached.
  class Iterator {
   public:
    using value_type = Batch;                ///< What dereferencing gives.
    using difference_type = std::ptrdiff_t;  ///< For std::input_iterator.

    /// The current batch.
    ///@{
    Batch& operator*() { return batch_; }
    const Batch& operator*() const { return batch_; }
    Batch* operator->() { return &batch_; }
    const Batch* operator->() const { return &batch_; }
    ///@}
    /// Loads the next batch.
    ///@{
    Iterator& operator++();
    void operator++(int) { ++*this; }
    ///@}
    /// Whether the epoch is over.
    bool operator==(std::default_sentinel_t) const { return index_ >= count_; }
    /// Index of the current batch within the epoch.
    std::size_t index() const { return index_; }

   private:
    friend class DataLoader;
    Iterator(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const std::vector<std::size_t>> order,
             std::size_t batch_size, std::size_t count);
    void load();

    std::shared_ptr<const Dataset> dataset_;
    std::shared_ptr<const std::vector<std::size_t>> order_;
    std::size_t batch_size_ = 0;
    std::size_t count_ = 0;
    std::size_t index_ = 0;
    Batch batch_;
  };

  /// Starts epoch epoch() and advances the counter; the iterator keeps the
  /// dataset alive and loads each batch as it is reached.
  Iterator begin();
  /// The end of any epoch.
  std::default_sentinel_t end() const { return {}; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::uint64_t epoch_ = 0;
};

}  // namespace tg::data
