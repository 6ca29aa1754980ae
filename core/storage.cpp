#include <tapegrad/core/storage.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/core/export.h>
#include <tapegrad/core/memory.h>
#include <tapegrad/core/profiler.h>

namespace tg {
namespace {

constexpr std::size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like
constexpr int kMinClass = 6;            // 64 bytes
constexpr int kMaxClass = 26;           // 64 MiB: larger blocks go straight to the system
// Blocks kept per class: 64, or as many as fill 256 KiB for the small
// classes, which hold the graph objects (TensorImpl, Storage, nodes, autograd
// state) of which a recorded forward keeps hundreds alive at once. With 64 a
// 100-op chain sent most of them back to malloc every step.
constexpr std::size_t kMinCachedPerClass = 64;
constexpr std::size_t kSmallClassCacheBytes = std::size_t{256} << 10;
constexpr std::size_t max_cached(int c) {
  return std::max(kMinCachedPerClass, kSmallClassCacheBytes >> static_cast<unsigned>(c));
}
// max_cached per class, read by the free path instead of computed there.
constexpr auto kMaxCached = [] {
  std::array<std::size_t, kMaxClass + 1> limits{};
  for (int c = 0; c <= kMaxClass; ++c) limits[static_cast<std::size_t>(c)] = max_cached(c);
  return limits;
}();
constexpr std::size_t kMaxCachedBytes = std::size_t{512} << 20;

// The power-of-two class of a block of nbytes, at least kMinClass; above
// kMaxClass for sizes the cache does not keep. Without branches: nbytes - 1
// (0 for 0) with the bits of the smallest class set has the class's width.
constexpr int size_class(std::size_t nbytes) {
  constexpr std::size_t kMinBits = (std::size_t{1} << kMinClass) - 1;
  return std::bit_width((nbytes - (nbytes != 0)) | kMinBits);
}
static_assert(size_class(0) == kMinClass && size_class(64) == kMinClass && size_class(65) == kMinClass + 1 &&
              size_class(128) == kMinClass + 1 && size_class(std::size_t{1} << kMaxClass) == kMaxClass &&
              size_class((std::size_t{1} << kMaxClass) + 1) == kMaxClass + 1 && size_class(SIZE_MAX) == 64);

// Blocks of at least a huge page (2 MiB on x86-64) start on one and ask the
// kernel for transparent huge pages, which Debian grants on request only
// (enabled=madvise). Weights, gradients and optimizer state of a wide model
// are such blocks; streamed through 4 KiB pages, every 4 KiB of them cost a
// TLB miss.
constexpr std::size_t kHugePage = std::size_t{2} << 20;

// nbytes: a multiple of kAlignment (a size class, or round_up's result).
void* system_alloc(std::size_t nbytes) {
  const bool huge = nbytes >= kHugePage;
  if (huge && nbytes > std::numeric_limits<std::size_t>::max() - kHugePage)
    throw OutOfMemoryError(detail::in_current_op(fmt::format("out of memory: cannot allocate {} bytes", nbytes)));
  // A size that is a multiple of the alignment: C11's rule for aligned_alloc,
  // which AddressSanitizer's enforces (glibc's and C17 accept any size).
  const std::size_t align = huge ? kHugePage : kAlignment;
  const std::size_t bytes = (nbytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, bytes);
  if (!p) throw OutOfMemoryError(detail::in_current_op(fmt::format("out of memory: cannot allocate {} bytes", nbytes)));
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice: a failure changes nothing
#endif
  return p;
}

// Physical memory plus swap, read once: no allocation larger than this can
// be backed, whatever the overcommit policy promises.
std::size_t memory_limit() {
  static const std::size_t limit = [] {
    struct sysinfo info {};
    if (sysinfo(&info) != 0) return std::numeric_limits<std::size_t>::max();
    const unsigned __int128 total =
        (static_cast<unsigned __int128>(info.totalram) + info.totalswap) * std::max<unsigned>(info.mem_unit, 1);
    return total > std::numeric_limits<std::size_t>::max() ? std::numeric_limits<std::size_t>::max()
                                                           : static_cast<std::size_t>(total);
  }();
  return limit;
}

// Freed blocks, per thread, by power-of-two size class. Blocks are rounded
// up to their class so any block of a class fits any request of it. Each bin
// is an intrusive list threaded through the free blocks themselves (every
// block holds at least 64 bytes), so caching a block never allocates.
struct ThreadCache {
  // Per class: the first free block and how many are kept, side by side,
  // so a block taken or given back touches one cache line of the cache.
  struct Bin {
    void* head = nullptr;
    std::size_t count = 0;
  };
  std::array<Bin, kMaxClass + 1> bins{};
  // Written by its thread only; atomic so memory_stats() may read it from
  // another (a relaxed load and store cost what a plain one does).
  std::atomic<std::size_t> cached_bytes{0};
  // This thread's tensor storages made and freed (memory_stats() sums the
  // threads', one after another: exact only while no other thread allocates
  // or frees; a thread's exit folds its counts into the global ones). Kept
  // here because a locked increment per storage, two per tensor, was 5 % of a
  // recorded op.
  std::atomic<std::int64_t> allocations{0};
  std::atomic<std::int64_t> frees{0};
  static void bump(std::atomic<std::int64_t>& count) {
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  ~ThreadCache() { release(); }
  void release() {
    for (Bin& bin : bins) {
      while (void* p = bin.head) {
        bin.head = next_of(p);
        std::free(p);
      }
      bin.count = 0;
    }
    cached_bytes.store(0, std::memory_order_relaxed);
  }
  static void*& next_of(void* block) { return *static_cast<void**>(block); }
};

// The cache is reached through a trivially destructible pointer, so storage
// freed during thread exit (after the cache is gone) sees null and falls back
// to free() instead of touching a destroyed object.
thread_local ThreadCache* tl_cache TG_TLS_FAST = nullptr;
thread_local bool tl_cache_dead TG_TLS_FAST = false;

// Tensor storage counters (memory_stats). Relaxed: they are statistics, not
// synchronisation. The counts of storages are the threads' (in their caches)
// plus these, which hold those of threads that ended or had no cache.
std::atomic<std::int64_t> g_allocated_bytes{0};
std::atomic<std::int64_t> g_peak_bytes{0};
std::atomic<std::int64_t> g_num_allocations{0};
std::atomic<std::int64_t> g_num_frees{0};

// Every live thread cache, for memory_stats() to sum. Never destroyed:
// threads may exit after static destructors ran.
struct CacheList {
  std::mutex mutex;
  std::vector<ThreadCache*> caches;
};
CacheList& cache_list() {
  static CacheList* list = new CacheList;
  return *list;
}

struct ThreadCacheOwner {
  ThreadCache cache;
  ThreadCacheOwner() {
    tl_cache = &cache;
    std::lock_guard lock(cache_list().mutex);
    cache_list().caches.push_back(&cache);
  }
  ~ThreadCacheOwner() {
    tl_cache = nullptr;
    tl_cache_dead = true;
    std::lock_guard lock(cache_list().mutex);
    std::erase(cache_list().caches, &cache);
    g_num_allocations.fetch_add(cache.allocations.load(std::memory_order_relaxed), std::memory_order_relaxed);
    g_num_frees.fetch_add(cache.frees.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
};

// The first call on a thread makes its cache; out of line, so the common
// path (a load of tl_cache) saves no registers (it was ≈ 20 instructions per
// call, ten calls per recorded op).
[[gnu::noinline]] ThreadCache* make_thread_cache() {
  if (!tl_cache_dead) {
    // On the heap, so that the library's thread-local block stays small:
    // initial-exec TLS (TG_TLS_FAST) puts all of it in glibc's static TLS,
    // whose reserve a dlopen()ed library shares with others.
    thread_local std::unique_ptr<ThreadCacheOwner> owner = std::make_unique<ThreadCacheOwner>();
  }
  return tl_cache;
}

inline ThreadCache* thread_cache() {
  if (ThreadCache* cache = tl_cache) [[likely]]
    return cache;
  return make_thread_cache();
}

void count_allocation(std::size_t nbytes) {
  const auto n = static_cast<std::int64_t>(nbytes);
  const std::int64_t now = g_allocated_bytes.fetch_add(n, std::memory_order_relaxed) + n;
  std::int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {}
  if (ThreadCache* cache = thread_cache()) [[likely]]
    ThreadCache::bump(cache->allocations);
  else g_num_allocations.fetch_add(1, std::memory_order_relaxed);
#ifndef TAPEGRAD_PROFILER_OFF
  if (profiler::enabled()) [[unlikely]]
    profiler::detail::note_allocation(nbytes);
#endif
}

void count_free(std::size_t nbytes) {
  g_allocated_bytes.fetch_sub(static_cast<std::int64_t>(nbytes), std::memory_order_relaxed);
  if (ThreadCache* cache = thread_cache()) [[likely]]
    ThreadCache::bump(cache->frees);
  else g_num_frees.fetch_add(1, std::memory_order_relaxed);
}

std::size_t round_up(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override { return cpu_allocate(nbytes); }
  void deallocate(void* ptr, std::size_t nbytes) noexcept override { cpu_deallocate(ptr, nbytes); }
};

// The paths of cpu_allocate and cpu_deallocate that leave the thread's
// cache: blocks above kMaxClass, an empty bin, a full cache, the thread's
// first call, a thread that is exiting. Out of line, so the cached paths (ten
// calls per recorded op) save no registers and stay a few instructions.
[[gnu::noinline]] void* allocate_uncached(std::size_t nbytes) {
  const int c = size_class(nbytes);
  if (c > kMaxClass) {
    // round_up would wrap to a tiny block.
    if (nbytes > std::numeric_limits<std::size_t>::max() - kAlignment)
      throw OutOfMemoryError(detail::in_current_op(fmt::format("out of memory: cannot allocate {} bytes", nbytes)));
    return system_alloc(round_up(nbytes));
  }
  if (!tl_cache) {
    // The thread's first block: make its cache, then take from it as usual.
    if (make_thread_cache()) return cpu_allocate(nbytes);
  }
  return system_alloc(std::size_t{1} << c);
}

[[gnu::noinline]] void deallocate_uncached(void* ptr, std::size_t nbytes) noexcept {
  if (!ptr) return;
  if (!tl_cache && size_class(nbytes) <= kMaxClass && make_thread_cache()) {
    cpu_deallocate(ptr, nbytes);
    return;
  }
  std::free(ptr);
}

}  // namespace

void* cpu_allocate(std::size_t nbytes) {
  const int c = size_class(nbytes);
  ThreadCache* cache = tl_cache;
  if (c > kMaxClass || !cache) [[unlikely]]
    return allocate_uncached(nbytes);
  ThreadCache::Bin& bin = cache->bins[static_cast<std::size_t>(c)];
  void* p = bin.head;
  if (!p) [[unlikely]]
    return allocate_uncached(nbytes);
  bin.head = ThreadCache::next_of(p);
  --bin.count;
  cache->cached_bytes.store(cache->cached_bytes.load(std::memory_order_relaxed) - (std::size_t{1} << c),
                            std::memory_order_relaxed);
  return p;
}

void cpu_deallocate(void* ptr, std::size_t nbytes) noexcept {
  const int c = size_class(nbytes);
  ThreadCache* cache = tl_cache;
  if (c > kMaxClass || !cache || !ptr) [[unlikely]]
    return deallocate_uncached(ptr, nbytes);
  const auto k = static_cast<std::size_t>(c);
  ThreadCache::Bin& bin = cache->bins[k];
  const std::size_t cached = cache->cached_bytes.load(std::memory_order_relaxed) + (std::size_t{1} << c);
  if (bin.count >= kMaxCached[k] || cached > kMaxCachedBytes) [[unlikely]]
    return deallocate_uncached(ptr, nbytes);
  ThreadCache::next_of(ptr) = bin.head;
  bin.head = ptr;
  ++bin.count;
  cache->cached_bytes.store(cached, std::memory_order_relaxed);
}

Allocator& allocator_for(Device device) {
  static CachingCpuAllocator cpu;
  switch (device.type) {
    case DeviceType::CPU:
      return cpu;
  }
  return cpu;
}

void check_allocation(std::size_t count, std::size_t item_bytes, const char* op) {
  std::size_t bytes = 0;
  const bool wraps = __builtin_mul_overflow(count, item_bytes, &bytes);
  if (wraps || bytes > memory_limit())
    throw OutOfMemoryError(
        fmt::format("{}: out of memory: {} items of {} bytes ({} bytes) exceed the {} bytes of "
                    "memory and swap of this machine",
                    op, count, item_bytes, wraps ? std::string("over 2^64") : std::to_string(bytes), memory_limit()));
}

MemoryStats memory_stats() {
  MemoryStats s;
  s.allocated_bytes = g_allocated_bytes.load(std::memory_order_relaxed);
  s.peak_allocated_bytes = std::max(g_peak_bytes.load(std::memory_order_relaxed), s.allocated_bytes);
  std::lock_guard lock(cache_list().mutex);
  s.num_allocations = g_num_allocations.load(std::memory_order_relaxed);
  s.num_frees = g_num_frees.load(std::memory_order_relaxed);
  for (const ThreadCache* c : cache_list().caches) {
    s.cached_bytes += static_cast<std::int64_t>(c->cached_bytes.load(std::memory_order_relaxed));
    s.num_allocations += c->allocations.load(std::memory_order_relaxed);
    s.num_frees += c->frees.load(std::memory_order_relaxed);
  }
  return s;
}

void reset_peak_memory_stats() { g_peak_bytes.store(g_allocated_bytes.load(std::memory_order_relaxed)); }

void empty_cache() {
  if (ThreadCache* cache = thread_cache()) cache->release();
}

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  // CPU directly: the virtual call showed up in the per-op profile.
  if (device.type != DeviceType::CPU) data_ = allocator_for(device).allocate(nbytes);
  else data_ = nbytes <= kInlineBytes ? inline_ : cpu_allocate(nbytes);
  count_allocation(nbytes);
  // AddressSanitizer reports a read past a small tensor's bytes (a no-op
  // without it). After the count, which may throw: a constructor that
  // throws runs no destructor to unpoison the block before it is reused.
  if (data_ == inline_) ASAN_POISON_MEMORY_REGION(inline_ + nbytes, kInlineBytes - nbytes);
}

Storage::Storage(void* data, std::size_t nbytes, Device device, void (*deleter)(void*, void*), void* deleter_ctx)
    : data_(data), nbytes_(nbytes), device_(device), owns_data_(false), deleter_(deleter), deleter_ctx_(deleter_ctx) {}

Storage::~Storage() {
  if (owns_data_) count_free(nbytes_);
  if (deleter_) deleter_(deleter_ctx_, data_);
  else if (owns_data_ && device_.type == DeviceType::CPU) {
    if (data_ != inline_) cpu_deallocate(data_, nbytes_);
    else ASAN_UNPOISON_MEMORY_REGION(inline_, kInlineBytes);
  } else if (owns_data_) allocator_for(device_).deallocate(data_, nbytes_);
}

}  // namespace tg
