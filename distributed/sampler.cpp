#include <tapegrad/distributed/sampler.h>

#include <charconv>
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

std::uint64_t parse_key(const std::map<std::string, std::string>& state, const char* key) {
  auto it = state.find(key);
  if (it == state.end())
    throw FormatError(fmt::format("DistributedSampler::load_state_dict: the state has no '{}'", key));
  const std::string& text = it->second;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw FormatError(
        fmt::format("DistributedSampler::load_state_dict: '{}' must be a non-negative integer, got '{}'", key, text));
  return value;
}

}  // namespace

DistributedSampler::DistributedSampler(std::size_t dataset_size, int world_size, int rank,
                                       DistributedSamplerOptions options)
    : n_(dataset_size), world_(world_size), rank_(rank), options_(options) {
  if (world_size < 1) throw ValueError(fmt::format("DistributedSampler: world_size must be >= 1, got {}", world_size));
  if (rank < 0 || rank >= world_size)
    throw ValueError(fmt::format("DistributedSampler: rank {} is not in [0, {})", rank, world_size));
  const auto w = static_cast<std::size_t>(world_size), r = static_cast<std::size_t>(rank);
  if (options.drop_last) per_rank_ = n_ / w;
  else if (options.pad) per_rank_ = (n_ + w - 1) / w;
  else per_rank_ = n_ > r ? (n_ - r + w - 1) / w : 0;  // elements r, r + w, ... below n
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
  const auto w = static_cast<std::size_t>(world_);
  const std::size_t total = options_.pad || options_.drop_last ? per_rank_ * w : n_;
  std::vector<std::size_t> mine;
  mine.reserve(per_rank_ - position_);
  for (std::size_t k = static_cast<std::size_t>(rank_) + position_ * w; k < total; k += w)
    mine.push_back(n_ == 0 ? 0 : order[k % n_]);  // k >= n: padding from the start
  return mine;
}

void DistributedSampler::set_position(std::size_t done) {
  if (done > per_rank_)
    throw ValueError(fmt::format("DistributedSampler::set_position: {} is beyond this rank's {} indices per epoch",
                                 done, per_rank_));
  position_ = done;
}

std::map<std::string, std::string> DistributedSampler::state_dict() const {
  return {{"epoch", std::to_string(epoch_)},
          {"position", std::to_string(position_)},
          {"seed", std::to_string(options_.seed)},
          {"dataset_size", std::to_string(n_)},
          {"world_size", std::to_string(world_)}};
}

void DistributedSampler::load_state_dict(const std::map<std::string, std::string>& state) {
  const std::uint64_t epoch = parse_key(state, "epoch");
  const std::uint64_t position = parse_key(state, "position");
  const std::uint64_t seed = parse_key(state, "seed");
  const std::uint64_t n = parse_key(state, "dataset_size");
  const std::uint64_t world = parse_key(state, "world_size");
  if (world == 0) throw FormatError("DistributedSampler::load_state_dict: 'world_size' must be >= 1, got 0");
  if (position > 0) {
    // Mid-epoch: the indices done are this rank's of a world of `world`.
    // Another world size partitions the epoch differently, so no position in
    // it would take up exactly the examples not yet seen.
    const std::string where =
        fmt::format("the state was saved in the middle of epoch {} ({} indices per rank done)", epoch, position);
    if (world != static_cast<std::uint64_t>(world_))
      throw ValueError(fmt::format(
          "DistributedSampler: world size mismatch on resume: {} by a job of {} ranks, but this job has {} "
          "ranks; each rank's share of an epoch depends on the number of ranks, so resuming there would skip "
          "or repeat examples. Resume with {} ranks, or from a state saved at the end of an epoch (any number "
          "of ranks)",
          where, world, world_, world));
    if (n != n_)
      throw ValueError(
          fmt::format("DistributedSampler: {} over a dataset of {} examples, but this sampler has {}", where, n, n_));
    if (seed != options_.seed)
      throw ValueError(
          fmt::format("DistributedSampler: {} with seed {}, but this sampler has seed {}", where, seed, options_.seed));
    if (position > per_rank_)
      throw ValueError(
          fmt::format("DistributedSampler: {}, beyond this rank's {} indices per epoch", where, per_rank_));
  }
  epoch_ = epoch;
  position_ = static_cast<std::size_t>(position);
}

}  // namespace tg::distributed
