// tg::memory_stats(): tensor storage in use, its peak, the allocator's cache
// and the number of allocations, on known allocation sequences.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif

#include <tapegrad/autograd/tensor.h>  // tg::empty
#include <tapegrad/core/memory.h>
#include <tapegrad/core/storage.h>
#include <tapegrad/core/tensor.h>

namespace test_memory_stats {

TEST_CASE("memory_stats counts each storage's bytes while it lives, and the peak") {
  const tg::MemoryStats before = tg::memory_stats();
  std::optional<tg::Storage> a(std::in_place, 1000, tg::Device{});
  tg::MemoryStats s = tg::memory_stats();
  CHECK(s.allocated_bytes - before.allocated_bytes == 1000);
  CHECK(s.num_allocations - before.num_allocations == 1);
  CHECK(s.num_frees - before.num_frees == 0);

  tg::reset_peak_memory_stats();
  CHECK(tg::memory_stats().peak_allocated_bytes == tg::memory_stats().allocated_bytes);
  {
    tg::Storage b(3000, tg::Device{});
    tg::Storage c(500, tg::Device{});
    CHECK(tg::memory_stats().allocated_bytes - before.allocated_bytes == 4500);
  }
  a.reset();
  s = tg::memory_stats();
  CHECK(s.allocated_bytes == before.allocated_bytes);
  CHECK(s.peak_allocated_bytes - before.allocated_bytes == 4500);
  CHECK(s.num_allocations - before.num_allocations == 3);
  CHECK(s.num_frees - before.num_frees == 3);

  tg::reset_peak_memory_stats();
  CHECK(tg::memory_stats().peak_allocated_bytes == before.allocated_bytes);
}

TEST_CASE(
    "memory_stats: a tensor counts its elements' bytes; a view allocates nothing; borrowed memory is not counted") {
  const tg::MemoryStats before = tg::memory_stats();
  {
    tg::TensorBase t = tg::empty({10, 3}, {.dtype = tg::kFloat64});
    tg::TensorBase v = tg::make_view(t, {30}, {1}, 0);
    CHECK(tg::memory_stats().allocated_bytes - before.allocated_bytes == 240);
    CHECK(tg::memory_stats().num_allocations - before.num_allocations == 1);
    float outside[4] = {};
    tg::Storage borrowed(outside, sizeof outside, tg::Device{}, nullptr, nullptr);
    CHECK(tg::memory_stats().allocated_bytes - before.allocated_bytes == 240);
  }
  CHECK(tg::memory_stats().allocated_bytes == before.allocated_bytes);
}

// Each thread counts its own storages (memory_stats sums them); a storage
// made on one thread and freed on another, and a thread that ends, must
// leave the totals exact.
TEST_CASE("memory_stats: the counts stay exact across threads and after a thread ends") {
  const tg::MemoryStats before = tg::memory_stats();
  std::optional<tg::Storage> made_there;
  std::thread([&] {
    made_there.emplace(100, tg::Device{});
    tg::Storage gone(200, tg::Device{});
  }).join();
  tg::MemoryStats s = tg::memory_stats();
  CHECK(s.num_allocations - before.num_allocations == 2);
  CHECK(s.num_frees - before.num_frees == 1);
  CHECK(s.allocated_bytes - before.allocated_bytes == 100);
  std::optional<tg::Storage> made_here(std::in_place, 300, tg::Device{});
  std::thread([&] {
    made_there.reset();
    made_here.reset();
  }).join();
  s = tg::memory_stats();
  CHECK(s.num_allocations - before.num_allocations == 3);
  CHECK(s.num_frees - before.num_frees == 3);
  CHECK(s.allocated_bytes == before.allocated_bytes);
}

TEST_CASE("memory_stats: cached_bytes is what the allocator keeps after a free, until empty_cache") {
  tg::empty_cache();
  const std::int64_t cached = tg::memory_stats().cached_bytes;  // other threads' caches
  tg::Allocator& cpu = tg::allocator_for(tg::Device{});
  void* p = cpu.allocate(3000);  // a 4096-byte block
  CHECK(tg::memory_stats().cached_bytes == cached);
  cpu.deallocate(p, 3000);
  CHECK(tg::memory_stats().cached_bytes - cached == 4096);
  void* q = cpu.allocate(4000);  // the same block, from the cache
  CHECK(q == p);
  CHECK(tg::memory_stats().cached_bytes == cached);
  cpu.deallocate(q, 4000);
  tg::empty_cache();
  CHECK(tg::memory_stats().cached_bytes == cached);
}

TEST_CASE("storage: up to kInlineBytes live in the Storage, counted and aligned as a block of their own") {
  for (tg::DType dt : {tg::kFloat32, tg::kFloat64, tg::kUInt8, tg::kInt64}) {
    const auto item = static_cast<std::int64_t>(tg::itemsize(dt));
    for (std::int64_t n = 0; n * item <= 2 * static_cast<std::int64_t>(tg::Storage::kInlineBytes); ++n) {
      CAPTURE(tg::dtype_name(dt));
      CAPTURE(n);
      const tg::MemoryStats before = tg::memory_stats();
      {
        tg::Tensor t = tg::empty({n}, dt);
        const tg::MemoryStats s = tg::memory_stats();
        CHECK(s.allocated_bytes - before.allocated_bytes == n * item);
        CHECK(s.num_allocations - before.num_allocations == 1);
        const auto address = reinterpret_cast<std::uintptr_t>(t.storage()->data());
        CHECK(address % 16 == 0);
        if (n * item > static_cast<std::int64_t>(tg::Storage::kInlineBytes)) CHECK(address % 64 == 0);
        // Every byte is the tensor's own: a second tensor's writes leave it alone.
        std::vector<unsigned char> pattern(static_cast<std::size_t>(n * item));
        for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<unsigned char>(i * 7 + 1);
        tg::Tensor u = tg::empty({n}, dt);
        CHECK(u.storage()->data() != t.storage()->data());
        if (!pattern.empty()) {  // memcpy and memcmp take no null pointer, even for 0 bytes
          std::memcpy(t.storage()->data(), pattern.data(), pattern.size());
          std::memset(u.storage()->data(), 0xFF, pattern.size());
          CHECK(std::memcmp(t.storage()->data(), pattern.data(), pattern.size()) == 0);
        }
      }
      const tg::MemoryStats after = tg::memory_stats();
      CHECK(after.allocated_bytes == before.allocated_bytes);
      CHECK(after.num_frees - before.num_frees == 2);
    }
  }
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_MEMORY_STATS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_MEMORY_STATS_ASAN 1
#endif
#ifdef TEST_MEMORY_STATS_ASAN
TEST_CASE("storage: AddressSanitizer sees the bytes past a small tensor's end, until its storage is freed") {
  for (std::int64_t n : {0, 1, 3, 15}) {
    CAPTURE(n);
    const auto* data = [&] {
      tg::Tensor t = tg::empty({n});
      const auto* bytes = static_cast<const char*>(t.storage()->data());
      const std::size_t used = static_cast<std::size_t>(n) * sizeof(float);
      if (n > 0) CHECK_FALSE(__asan_address_is_poisoned(bytes + used - 1));
      CHECK(__asan_address_is_poisoned(bytes + used));
      CHECK(__asan_address_is_poisoned(bytes + tg::Storage::kInlineBytes - 1));
      return bytes;
    }();
    // Freed: the block is back in the allocator's cache, unpoisoned for its next user.
    CHECK_FALSE(__asan_address_is_poisoned(data + tg::Storage::kInlineBytes - 1));
  }
}
#endif

TEST_CASE("allocator: blocks of one size class come back for any request of that class, and only of it") {
  tg::Allocator& cpu = tg::allocator_for(tg::Device{});
  // (request, a request of the same class, one of the next class up)
  struct Edge {
    std::size_t size, same, next;
  };
  for (const Edge& e : {Edge{1, 64, 65}, Edge{0, 64, 65}, Edge{65, 128, 129}, Edge{3000, 4096, 4097},
                        Edge{(std::size_t{1} << 26) - 1, std::size_t{1} << 26, (std::size_t{1} << 26) + 1}}) {
    CAPTURE(e.size);
    tg::empty_cache();
    const std::int64_t cached = tg::memory_stats().cached_bytes;
    void* p = cpu.allocate(e.size);
    cpu.deallocate(p, e.size);
    void* q = cpu.allocate(e.same);
    CHECK(q == p);
    cpu.deallocate(q, e.same);  // cached again: only a request of its class may take it
    void* r = cpu.allocate(e.next);
    CHECK(r != p);
    cpu.deallocate(r, e.next);
    tg::empty_cache();
    CHECK(tg::memory_stats().cached_bytes == cached);
  }
  // Blocks of 2 MiB and more start on a huge page, which the allocator asks
  // the kernel to back them with (transparent huge pages).
  for (std::size_t size : {std::size_t{2} << 20, std::size_t{3} << 20, (std::size_t{1} << 26) + 1}) {
    CAPTURE(size);
    tg::empty_cache();
    void* p = cpu.allocate(size);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % (std::size_t{2} << 20) == 0);
    cpu.deallocate(p, size);
  }
  // Past the largest class (64 MiB) blocks go back to the system at once.
  tg::empty_cache();
  const std::int64_t cached = tg::memory_stats().cached_bytes;
  const std::size_t big = (std::size_t{1} << 26) + 1;
  void* p = cpu.allocate(big);
  static_cast<unsigned char*>(p)[big - 1] = 1;
  cpu.deallocate(p, big);
  CHECK(tg::memory_stats().cached_bytes == cached);
}

}  // namespace test_memory_stats
