#pragma once
/// @file
/// How much memory tensors use (like torch.cuda.memory_stats, for the CPU
/// allocator of core/storage.h). Counted where storage is allocated and
/// freed, for every thread of the process.
#include <cstdint>

namespace tg {

/// Counters of tensor memory, from memory_stats().
struct MemoryStats {
  std::int64_t allocated_bytes = 0;       ///< bytes of tensor storage alive now (as requested)
  std::int64_t peak_allocated_bytes = 0;  ///< the most alive at once since start or reset_peak_memory_stats()
  std::int64_t cached_bytes = 0;          ///< freed blocks the allocator keeps for reuse (all threads' caches)
  std::int64_t num_allocations = 0;       ///< tensor storages allocated so far
  std::int64_t num_frees = 0;             ///< ... and freed
};

/// The counters now (as torch.cuda.memory_stats for the CPU allocator).
///
/// Exact when no other thread is allocating or freeing tensor storage at the
/// same time. Otherwise it is not a snapshot: num_allocations, num_frees and
/// cached_bytes sum per-thread counters read one after another, and the byte
/// counts are read apart from them, so the fields may disagree with each
/// other and with any single instant (a storage made on a thread already read
/// and freed on one not yet read counts as a free without its allocation).
///
/// @code
/// tg::reset_peak_memory_stats();
/// train_step();
/// fmt::print("peak {} MiB\n", tg::memory_stats().peak_allocated_bytes >> 20);
/// @endcode
MemoryStats memory_stats();
/// Sets the peak to what is allocated now, to measure the peak of one step.
void reset_peak_memory_stats();

}  // namespace tg
