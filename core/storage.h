#pragma once
/// @file
/// Storage: one allocation of raw bytes, shared by every view on it, plus the
/// version counter that in-place ops bump so autograd can detect a saved tensor
/// that was modified after it was saved.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tg {

/// The kinds of device memory (only the CPU so far).
enum class DeviceType : std::uint8_t { CPU };

/// Where a storage's memory lives.
struct Device {
  DeviceType type = DeviceType::CPU;  ///< the kind of device
  friend bool operator==(Device, Device) = default;
};

/// Per-device allocator. The CPU one keeps a per-thread cache of freed blocks in
/// power-of-two size classes, so a training loop that makes the same small
/// tensors every step stops calling malloc after the first step.
class Allocator {
 public:
  virtual ~Allocator() = default;
  /// nbytes of memory.
  /// @throws tg::OutOfMemoryError when they cannot be had.
  virtual void* allocate(std::size_t nbytes) = 0;
  /// Gives back memory from allocate() with the same nbytes.
  virtual void deallocate(void* ptr, std::size_t nbytes) noexcept = 0;
};
/// The allocator of a device.
Allocator& allocator_for(Device device);

/// Releases every cached block of the calling thread back to the system.
void empty_cache();

/// OutOfMemoryError naming `op` when `count` items of `item_bytes` each could
/// never be allocated (more than the machine's memory plus swap, or past
/// size_t). For containers sized by the caller (the pieces of a split, a
/// dataset's index list): operator new cannot report a failure without
/// throwing std::bad_alloc, or aborting under ASan, so they check first.
/// @throws tg::OutOfMemoryError as described.
void check_allocation(std::size_t count, std::size_t item_bytes, const char* op);

/// The CPU allocator itself: 64-byte aligned blocks from a per-thread cache of
/// power-of-two size classes (what allocator_for(CPU) forwards to). Blocks of
/// 2 MiB and more start on a 2 MiB boundary and are advised to the kernel
/// for transparent huge pages (fewer TLB misses when streamed).
/// @throws tg::OutOfMemoryError when the memory cannot be had.
void* cpu_allocate(std::size_t nbytes);
/// Gives a block from cpu_allocate() (with the same nbytes) back to the cache.
void cpu_deallocate(void* ptr, std::size_t nbytes) noexcept;

/// A std allocator over the CPU caching allocator, for the small objects
/// that every op creates (TensorImpl, Storage and autograd nodes, with their
/// shared_ptr control blocks): a thread-local free list is cheaper than
/// malloc/free, which took about a third of a recorded op's instructions.
template <class T>
struct CachingAllocator {
  using value_type = T;          ///< what it allocates
  CachingAllocator() = default;  ///< stateless
  /// Rebinding (stateless: every CachingAllocator is equal).
  template <class U>
  CachingAllocator(const CachingAllocator<U>&) noexcept {}
  /// n objects' worth of memory (cpu_allocate).
  T* allocate(std::size_t n) { return static_cast<T*>(cpu_allocate(n * sizeof(T))); }
  /// Gives back memory from allocate(n).
  void deallocate(T* p, std::size_t n) noexcept { cpu_deallocate(p, n * sizeof(T)); }
  template <class U>
  friend bool operator==(const CachingAllocator&, const CachingAllocator<U>&) noexcept {
    return true;
  }
};

/// One allocation of raw bytes, shared by every tensor viewing it, with the
/// version counter that in-place ops bump.
class Storage {
 public:
  /// Bytes a storage holds inside itself instead of in a block of its own:
  /// up to 16 floats, such as a loss, a scalar or a small bias (see below).
  static constexpr std::size_t kInlineBytes = 64;

  /// nbytes of fresh memory on `device` (uninitialised). At most
  /// kInlineBytes on the CPU live in the Storage object itself (16-byte
  /// aligned; larger ones in a 64-byte aligned block of their own).
  /// @throws tg::OutOfMemoryError when they cannot be had.
  Storage(std::size_t nbytes, Device device);
  /// Wraps memory owned elsewhere (no copy); `deleter`, if given, runs when the
  /// storage dies, otherwise the memory is left alone.
  /// @param data        the memory
  /// @param nbytes      its size
  /// @param device      where it lives
  /// @param deleter     called as deleter(deleter_ctx, data) when the storage dies, or null
  /// @param deleter_ctx the deleter's first argument
  Storage(void* data, std::size_t nbytes, Device device, void (*deleter)(void*, void*), void* deleter_ctx);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }            ///< the first byte
  std::size_t nbytes() const { return nbytes_; }  ///< the size in bytes
  Device device() const { return device_; }       ///< where the memory lives

  /// The number of in-place modifications so far (saved tensors compare it).
  std::uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }  ///< records an in-place modification
  /// This fresh storage takes the place of `old` under a tensor converted in
  /// place (nn::Module::to): its count continues past old's, so a tensor
  /// saved before the conversion never matches it, however many round trips.
  void continue_versions_of(const Storage& old) {
    version_.store(old.version() + 1, std::memory_order_relaxed);
    converted_ = true;
  }
  /// Whether continue_versions_of made it (the error of a saved tensor says so).
  bool converted() const { return converted_; }

  /// Tensors sharing this memory that follow its in-place changes (autograd's
  /// tracked views, which remake their history from their base's): the other
  /// sharers, use_count() beyond these and the one being modified, do not,
  /// and autograd refuses to write a value with history under them. 0 once
  /// forget_followers() was called.
  std::int32_t followers() const {
    return followers_known_.load(std::memory_order_relaxed) ? followers_.load(std::memory_order_relaxed) : 0;
  }
  void add_follower() { followers_.fetch_add(1, std::memory_order_relaxed); }     ///< one more follows
  void remove_follower() { followers_.fetch_sub(1, std::memory_order_relaxed); }  ///< one fewer follows
  /// The tensor the followers followed moved to other memory (nn::Module::to):
  /// they follow nothing here any more.
  void forget_followers() { followers_known_.store(false, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_{};
  std::atomic<std::uint32_t> version_{0};
  std::atomic<std::int32_t> followers_{0};
  bool owns_data_ = true;
  bool converted_ = false;
  std::atomic<bool> followers_known_{true};
  void (*deleter_)(void*, void*) = nullptr;
  void* deleter_ctx_ = nullptr;
  // A small tensor's bytes. Every op makes a fresh output: for one of a few
  // elements a block of its own was one more allocation and free from the
  // cache per op, about 60 of a recorded 1-element add's 1,700 instructions.
  // The Storage (with its shared_ptr's counts) then fills a 128-byte block.
  alignas(16) unsigned char inline_[kInlineBytes];
};

}  // namespace tg
