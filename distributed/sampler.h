#pragma once
/// @file
/// DistributedSampler: which examples of a dataset this rank reads in an
/// epoch, as torch.utils.data.DistributedSampler.
///
/// @code
/// tg::distributed::DistributedSampler sampler(train.size(), {.seed = 7});
/// for (epoch...) {
///   sampler.set_epoch(epoch);
///   auto mine = sampler.indices();   // batch these, e.g. with Dataset::get_batch
/// }
/// @endcode
///
/// Each epoch is a permutation of 0..n-1 that depends only on (seed, epoch),
/// the same on every rank and the same as data::DataLoader's order(epoch) with
/// that seed (so p ranks with batch b/p see, together, the batches of a
/// single-process DataLoader with batch b); rank r takes its elements r, r + world, r + 2 world,
/// ... so the shares are disjoint. Unless drop_last, the permutation is
/// padded with its own first elements to a multiple of the world size, so
/// every rank gets ceil(n / world) indices and all ranks take the same number
/// of steps; with drop_last the tail is dropped instead (floor(n / world)).
/// With pad = false (evaluation) the shares are left uneven instead, so every
/// example is counted exactly once; the ranks then take different numbers of
/// batches, which is fine where nothing communicates per batch.
///
/// Resuming: state_dict() records the epoch, how many of this rank's indices
/// of it are done (set_position), the seed, the dataset size and the world
/// size. A rank's share of an epoch depends on the world size, so a state
/// saved in the middle of an epoch loads only into a job of the same size
/// (anything else would skip or repeat examples, silently): load_state_dict
/// refuses it with a ValueError naming both sizes. At an epoch boundary the
/// permutation depends on (seed, epoch) alone, and any world size resumes.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tg::distributed {

/// Options of DistributedSampler.
struct DistributedSamplerOptions {
  bool shuffle = true;     ///< permute each epoch (else 0..n-1 in order)
  std::uint64_t seed = 0;  ///< the permutations' seed, the same on every rank
  bool drop_last = false;  ///< drop the tail instead of padding
  /// false: uneven shares without repeats (ignored with drop_last).
  bool pad = true;
};

/// This rank's share of a dataset's indices per epoch, as
/// torch.utils.data.DistributedSampler (see the description of sampler.h).
class DistributedSampler {
 public:
  /// A sampler for `rank` of `world_size` processes.
  /// @throws tg::ValueError if world_size < 1 or rank is not in [0, world_size).
  DistributedSampler(std::size_t dataset_size, int world_size, int rank, DistributedSamplerOptions options = {});
  /// The default group's world size and rank (after init()).
  /// @throws tg::ValueError before init().
  explicit DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options = {});

  /// Selects the epoch's permutation; also rewinds the position to the epoch's start.
  void set_epoch(std::uint64_t epoch) {
    epoch_ = epoch;
    position_ = 0;
  }
  std::uint64_t epoch() const { return epoch_; }  ///< the current epoch
  /// How many of this rank's indices of the current epoch are done (the
  /// training loop sets it before saving a mid-epoch checkpoint); indices()
  /// starts after them.
  /// @throws tg::ValueError beyond size().
  void set_position(std::size_t done);
  std::size_t position() const { return position_; }  ///< see set_position()
  /// This rank's indices for the current epoch, from position() on.
  std::vector<std::size_t> indices() const;
  /// This rank's share of a whole epoch: how many indices() returns at position 0.
  std::size_t size() const { return per_rank_; }

  /// Keys epoch, position, seed, dataset_size, world_size (decimal strings,
  /// ready to merge into a safetensors file's metadata, e.g. with a prefix).
  std::map<std::string, std::string> state_dict() const;
  /// Restores epoch and position. ValueError, before changing anything, if the
  /// state is mid-epoch (position > 0) and its world size, dataset size or
  /// seed differ from this sampler's; FormatError if a key is missing or bad.
  /// @throws tg::ValueError or tg::FormatError as described.
  void load_state_dict(const std::map<std::string, std::string>& state);

 private:
  std::size_t n_;
  int world_, rank_;
  DistributedSamplerOptions options_;
  std::uint64_t epoch_ = 0;
  std::size_t position_ = 0;
  std::size_t per_rank_ = 0;
};

}  // namespace tg::distributed
