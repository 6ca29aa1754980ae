#pragma once
/// @file
/// tg::SmallVector: a std::vector that keeps its first N elements inside
/// itself and goes to the heap only past them. Autograd nodes hold their
/// edges, input shapes and gradient lists in one, so recording and running
/// the backward of an op of up to three inputs allocates no vector at all
/// (issue 13: per-op cost).
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace tg {

/// A sequence used like a small std::vector (size, operator[], push_back,
/// emplace_back, reserve, range-for) whose first `N` elements live inline.
/// Pointers to elements are invalidated by growth, as with std::vector.
/// @tparam T the element type
/// @tparam N how many elements are held without a heap allocation
template <class T, std::size_t N>
class SmallVector {
 public:
  using value_type = T;             ///< the element type
  using iterator = T*;              ///< a pointer into the elements
  using const_iterator = const T*;  ///< a const pointer into the elements
  using size_type = std::size_t;    ///< sizes and indices

  /// Empty, with room for N elements inline.
  SmallVector() noexcept = default;
  /// `n` value-initialised elements (inline when n <= N).
  /// @param n how many
  explicit SmallVector(std::size_t n) : SmallVector() { resize(n); }
  /// A copy of `other`'s elements.
  /// @param other the vector copied
  SmallVector(const SmallVector& other) {
    reserve(other.size_);
    for (const T& x : other) push_back(x);
  }
  /// Takes `other`'s elements (moving them one by one when they are inline);
  /// `other` is left empty.
  /// @param other the vector moved from
  SmallVector(SmallVector&& other) noexcept(std::is_nothrow_move_constructible_v<T>) { take(std::move(other)); }
  /// Copy and move assignment, with the constructors' meaning.
  ///@{
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) {
      clear();
      reserve(other.size_);
      for (const T& x : other) push_back(x);
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      clear();
      free_heap();
      take(std::move(other));
    }
    return *this;
  }
  ///@}
  ~SmallVector() {
    clear();
    free_heap();
  }

  /// std::vector-like access.
  ///@{
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T& back() noexcept { return data_[size_ - 1]; }
  const T& back() const noexcept { return data_[size_ - 1]; }
  ///@}

  /// std::vector-like changes. reserve and the appending members may
  /// allocate (and throw std::bad_alloc) once more than N elements are held.
  ///@{
  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }
  void push_back(const T& x) { emplace_back(x); }
  void push_back(T&& x) { emplace_back(std::move(x)); }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) grow(capacity_ * 2);
    T* p = ::new (static_cast<void*>(data_ + size_)) T(std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void pop_back() noexcept { data_[--size_].~T(); }
  /// Value-initialises elements up to `n`, or destroys those past it.
  void resize(std::size_t n) {
    if (n < size_) {
      std::destroy(data_ + n, data_ + size_);
      size_ = n;
      return;
    }
    reserve(n);
    for (; size_ < n; ++size_) ::new (static_cast<void*>(data_ + size_)) T();
  }
  void clear() noexcept {
    std::destroy(data_, data_ + size_);
    size_ = 0;
  }
  ///@}

 private:
  T* inline_data() noexcept { return reinterpret_cast<T*>(inline_); }
  bool on_heap() const noexcept { return capacity_ > N; }
  void free_heap() noexcept {
    if (on_heap()) std::allocator<T>().deallocate(data_, capacity_);
    data_ = inline_data();
    capacity_ = N;
  }
  // Moves the elements to a heap block of `n` (> capacity_) elements.
  void grow(std::size_t n) {
    T* fresh = std::allocator<T>().allocate(n);
    std::size_t moved = 0;
    try {
      for (; moved < size_; ++moved) ::new (static_cast<void*>(fresh + moved)) T(std::move_if_noexcept(data_[moved]));
    } catch (...) {
      std::destroy(fresh, fresh + moved);
      std::allocator<T>().deallocate(fresh, n);
      throw;
    }
    std::destroy(data_, data_ + size_);
    if (on_heap()) std::allocator<T>().deallocate(data_, capacity_);
    data_ = fresh;
    capacity_ = n;
  }
  // Requires this to be empty and inline.
  void take(SmallVector&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (other.on_heap()) {
      data_ = std::exchange(other.data_, other.inline_data());
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, N);
      return;
    }
    for (T& x : other) emplace_back(std::move(x));
    other.clear();
  }

  static_assert(N > 0, "SmallVector needs room for at least one element inline");
  T* data_ = inline_data();
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
  alignas(T) unsigned char inline_[N * sizeof(T)];
};

}  // namespace tg
