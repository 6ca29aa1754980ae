#include <tapegrad/distributed/sampler.h>

#include <numeric>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>
#include <tapegrad/distributed/distributed.h>

namespace tg::distributed {

namespace {

// SplitMix64's output function, as data/dataloader.cpp folds (seed, epoch).
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

DistributedSampler::DistributedSampler(std::size_t dataset_size, int world_size, int rank,
                                       DistributedSamplerOptions options)
    : n_(dataset_size), world_(world_size), rank_(rank), options_(options) {
  if (world_size < 1) throw ValueError(fmt::format("DistributedSampler: world_size must be >= 1, got {}", world_size));
  if (rank < 0 || rank >= world_size)
    throw ValueError(fmt::format("DistributedSampler: rank {} is not in [0, {})", rank, world_size));
  const auto w = static_cast<std::size_t>(world_size);
  per_rank_ = options.drop_last ? n_ / w : (n_ + w - 1) / w;
}

DistributedSampler::DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options)
    : DistributedSampler(dataset_size, world_size(), rank(), options) {}

std::vector<std::size_t> DistributedSampler::indices() const {
  std::vector<std::size_t> order(n_);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (options_.shuffle) {
    // Fisher-Yates from a generator of (seed, epoch) alone: every rank draws
    // the same permutation without communicating. The same permutation as
    // data::DataLoader's with that seed and epoch, so the ranks' k-th batches
    // together hold exactly the single-process run's k-th batch.
    Generator gen(mix64(options_.seed) ^ epoch_);
    for (std::size_t i = n_; i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
  }
  const std::size_t total = per_rank_ * static_cast<std::size_t>(world_);
  std::vector<std::size_t> mine;
  mine.reserve(per_rank_);
  for (std::size_t k = static_cast<std::size_t>(rank_); k < total; k += static_cast<std::size_t>(world_))
    mine.push_back(n_ == 0 ? 0 : order[k % n_]);  // k >= n: padding from the start
  return mine;
}

}  // namespace tg::distributed
