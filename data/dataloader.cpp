#include <tapegrad/data/dataloader.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include <tapegrad/core/random.h>

namespace tg::data {
namespace {

// The shuffle draws from its own generator rather than tg's default one, so
// that loading data neither disturbs nor depends on the random stream that
// initialises a model and draws its dropout masks.
//
// SplitMix64's output function, to fold (seed, epoch) into one generator seed
// so that neighbouring seeds and epochs give unrelated permutations.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  if (!dataset_) throw ValueError("DataLoader: the dataset is null");
  if (options_.batch_size == 0) throw ValueError("DataLoader: batch_size must be at least 1, got 0");
}

std::size_t DataLoader::size() const {
  const std::size_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : n / b + (n % b != 0);
}

std::vector<std::size_t> DataLoader::order(std::uint64_t epoch) const {
  const std::size_t n = dataset_->size();
  // The visiting order holds one index per example: a dataset reporting more
  // examples than memory can index is an error here, not std::bad_alloc.
  check_allocation(n, sizeof(std::size_t), "DataLoader");
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!options_.shuffle) return order;
  // Fisher-Yates.
  Generator gen(mix64(options_.seed) ^ epoch);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
  return order;
}

DataLoader::Iterator DataLoader::begin() {
  auto visit = std::make_shared<const std::vector<std::size_t>>(order(epoch_++));
  return Iterator(dataset_, std::move(visit), options_.batch_size, size());
}

DataLoader::Iterator::Iterator(std::shared_ptr<const Dataset> dataset,
                               std::shared_ptr<const std::vector<std::size_t>> order, std::size_t batch_size,
                               std::size_t count)
    : dataset_(std::move(dataset)), order_(std::move(order)), batch_size_(batch_size), count_(count) {
  load();
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++index_;
  load();
  return *this;
}

void DataLoader::Iterator::load() {
  if (index_ >= count_) {
    batch_ = {};  // release the last batch's memory
    return;
  }
  const std::size_t first = index_ * batch_size_;
  const std::size_t n = std::min(batch_size_, order_->size() - first);
  batch_ = dataset_->get_batch(std::span<const std::size_t>(order_->data() + first, n));
}

}  // namespace tg::data
