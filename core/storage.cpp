#include "core/storage.h"

#include <array>
#include <bit>
#include <cstdlib>
#include <new>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace tg {
namespace {

constexpr std::size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like
constexpr int kMinClass = 6;            // 64 bytes
constexpr int kMaxClass = 26;           // 64 MiB: larger blocks go straight to the system
constexpr std::size_t kMaxCachedPerClass = 64;
constexpr std::size_t kMaxCachedBytes = std::size_t{512} << 20;

int size_class(std::size_t nbytes) {
  const int c = std::bit_width(std::max<std::size_t>(nbytes, 1) - 1);
  return std::max(c, kMinClass);
}

void* system_alloc(std::size_t nbytes) {
  void* p = std::aligned_alloc(kAlignment, nbytes);
  if (!p) throw Error(fmt::format("out of memory: cannot allocate {} bytes", nbytes));
  return p;
}

// Freed blocks, per thread, by power-of-two size class. Blocks are rounded
// up to their class so any block of a class fits any request of it.
struct ThreadCache {
  std::array<std::vector<void*>, kMaxClass + 1> bins;
  std::size_t cached_bytes = 0;
  ~ThreadCache() { release(); }
  void release() {
    for (auto& bin : bins) {
      for (void* p : bin) std::free(p);
      bin.clear();
    }
    cached_bytes = 0;
  }
};

// The cache is reached through a trivially destructible pointer, so storage
// freed during thread exit (after the cache is gone) sees null and falls back
// to free() instead of touching a destroyed object.
thread_local ThreadCache* tl_cache = nullptr;
thread_local bool tl_cache_dead = false;

struct ThreadCacheOwner {
  ThreadCache cache;
  ThreadCacheOwner() { tl_cache = &cache; }
  ~ThreadCacheOwner() {
    tl_cache = nullptr;
    tl_cache_dead = true;
  }
};

ThreadCache* thread_cache() {
  if (!tl_cache && !tl_cache_dead) {
    thread_local ThreadCacheOwner owner;
  }
  return tl_cache;
}

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    const int c = size_class(nbytes);
    if (c > kMaxClass) return system_alloc(round_up(nbytes));
    if (ThreadCache* cache = thread_cache()) {
      auto& bin = cache->bins[static_cast<std::size_t>(c)];
      if (!bin.empty()) {
        void* p = bin.back();
        bin.pop_back();
        cache->cached_bytes -= std::size_t{1} << c;
        return p;
      }
    }
    return system_alloc(std::size_t{1} << c);
  }
  void deallocate(void* ptr, std::size_t nbytes) noexcept override {
    if (!ptr) return;
    const int c = size_class(nbytes);
    if (c <= kMaxClass) {
      ThreadCache* cache = thread_cache();
      const std::size_t block = std::size_t{1} << c;
      if (cache) {
        auto& bin = cache->bins[static_cast<std::size_t>(c)];
        if (bin.size() < kMaxCachedPerClass && cache->cached_bytes + block <= kMaxCachedBytes) {
          try {
            bin.push_back(ptr);
            cache->cached_bytes += block;
            return;
          } catch (...) {
          }
        }
      }
    }
    std::free(ptr);
  }

 private:
  static std::size_t round_up(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }
};

}  // namespace

Allocator& allocator_for(Device device) {
  static CachingCpuAllocator cpu;
  switch (device.type) {
    case DeviceType::CPU: return cpu;
  }
  return cpu;
}

void empty_cache() {
  if (ThreadCache* cache = thread_cache()) cache->release();
}

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = allocator_for(device).allocate(nbytes);
}

Storage::Storage(void* data, std::size_t nbytes, Device device, void (*deleter)(void*, void*), void* deleter_ctx)
    : data_(data), nbytes_(nbytes), device_(device), owns_data_(false), deleter_(deleter), deleter_ctx_(deleter_ctx) {}

Storage::~Storage() {
  if (deleter_) deleter_(deleter_ctx_, data_);
  else if (owns_data_) allocator_for(device_).deallocate(data_, nbytes_);
}

}  // namespace tg
