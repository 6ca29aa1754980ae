#pragma once
// DistributedSampler: which examples of a dataset this rank reads in an
// epoch, as torch.utils.data.DistributedSampler.
//
//   tg::distributed::DistributedSampler sampler(train.size(), {.seed = 7});
//   for (epoch...) {
//     sampler.set_epoch(epoch);
//     auto mine = sampler.indices();   // batch these, e.g. with Dataset::get_batch
//   }
//
// Each epoch is a permutation of 0..n-1 that depends only on (seed, epoch),
// the same on every rank and the same as data::DataLoader's order(epoch) with
// that seed (so p ranks with batch b/p see, together, the batches of a
// single-process DataLoader with batch b); rank r takes its elements r, r + world, r + 2 world,
// ... so the shares are disjoint. Unless drop_last, the permutation is
// padded with its own first elements to a multiple of the world size, so
// every rank gets ceil(n / world) indices and all ranks take the same number
// of steps; with drop_last the tail is dropped instead (floor(n / world)).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tg::distributed {

struct DistributedSamplerOptions {
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool drop_last = false;
};

class DistributedSampler {
 public:
  // ValueError if world_size < 1 or rank is not in [0, world_size).
  DistributedSampler(std::size_t dataset_size, int world_size, int rank, DistributedSamplerOptions options = {});
  // The default group's world size and rank (after init()).
  explicit DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options = {});

  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
  std::uint64_t epoch() const { return epoch_; }
  // This rank's indices for the current epoch.
  std::vector<std::size_t> indices() const;
  // How many indices() returns.
  std::size_t size() const { return per_rank_; }

 private:
  std::size_t n_;
  int world_, rank_;
  DistributedSamplerOptions options_;
  std::uint64_t epoch_ = 0;
  std::size_t per_rank_ = 0;
};

}  // namespace tg::distributed
