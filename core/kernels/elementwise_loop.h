#pragma once
// Internals of the elementwise kernels (unary.cpp, binary.cpp, compare.cpp):
// a fast path in front of loop.h's general loop, operand conversion to the
// dtype an op computes in, and integer arithmetic that wraps instead of
// overflowing (signed overflow is undefined behaviour; PyTorch wraps).
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/wrapping.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel::ew {

// The broadcast shape of two operands; the common same-shape case skips the rule.
inline Dims binary_shape(const TensorBase& a, const TensorBase& b, const char* op) {
  return a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
}

// `t` seen in dtype `d`: `t` itself when it already has it, else a converted copy.
class As {
 public:
  As(const TensorBase& t, DType d) : ptr_(&t) {
    if (t.dtype() != d) {
      copy_ = to(t, d);
      ptr_ = &copy_;
    }
  }
  As(const As&) = delete;
  As& operator=(const As&) = delete;
  const TensorBase& operator*() const { return *ptr_; }

 private:
  TensorBase copy_;
  const TensorBase* ptr_;
};

// A scalar operand in the dtype an op computes in. A whole number goes to a
// narrow integer type modulo 2^bits, as PyTorch's (uint8 + 300 adds 44).
template <class T>
T scalar_as(double v) {
  if constexpr (is_int_v<T> && !std::is_same_v<T, std::int64_t>) {
    if (v >= -0x1p63 && v < 0x1p63 && v == static_cast<double>(static_cast<std::int64_t>(v)))
      return static_cast<T>(static_cast<std::int64_t>(v));
  }
  return cast_floating<T>(v);
}

// The type an op's scalar parameters (a slope, a weight, a beta) are kept
// in for elements of type T: float for the 16-bit floats, as PyTorch's
// opmath_type, so that a parameter is not rounded to 8 bits before use
// (bfloat16 lerp(0, 100, 0.3) gave 30.125, PyTorch 30); T otherwise.
template <class T>
using param_t = std::conditional_t<is_reduced_float_v<T>, float, T>;

// Whole numbers that fit in int64: the scalars integer tensors keep their dtype with.
bool is_whole(double v);

// out[i] = f(x[i]); x has type X and out type O, x broadcasts to out's shape.
// body(begin, count) over [0, n) under the flush guard: at once when small
// or already on the team, else in blocks of 16384 on the team (parallel_for
// guards each worker). For the vec:: loops over flat contiguous data (same-
// shape arithmetic, float32 relu and its gradient), which run 8 or 16 floats
// at a time where the portable loops here run the library's SSE2 baseline.
template <class Body>
void in_flat_blocks(std::int64_t n, const Body& body) {
  if (n < parallel_threshold() || in_parallel_region()) {
    FlushDenormalGuard flush;
    body(0, n);
    return;
  }
  constexpr std::int64_t kBlock = 16384;
  parallel_for((n + kBlock - 1) / kBlock, detail::team_size(), [&](std::int64_t k) {
    const std::int64_t begin = k * kBlock;
    body(begin, std::min(kBlock, n - begin));
  });
}

template <class O, class X, class F>
void unary_into(const TensorBase& out, const TensorBase& x, F f) {
  // Same element count and both contiguous: the flat indices line up.
  if constexpr (!kStridedRowsOnly<O, X>) {
    const std::int64_t n = out.numel();
    if (n < parallel_threshold() && x.numel() == n && out.is_contiguous() && x.is_contiguous()) {
      FlushDenormalGuard flush;
      // Outputs are fresh tensors, so `o` never aliases an input.
      O* __restrict o = static_cast<O*>(out.raw_data());
      const X* p = static_cast<const X*>(x.raw_data());
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(p[i]);
      return;
    }
  }
  map1<O, X>(out, x, f);
}

// out[i] = f(a[i], b[i]), with fast paths for same-shape contiguous operands
// and for a one-element operand, before the general plan (not for 16-bit
// floats: see kStridedRowsOnly).
template <class O, class A, class B, class F>
void binary_into(const TensorBase& out, const TensorBase& a, const TensorBase& b, F f) {
  if constexpr (!kStridedRowsOnly<O, A, B>) {
    const std::int64_t n = out.numel();
    if (n < parallel_threshold() && out.is_contiguous()) {
      FlushDenormalGuard flush;
      O* __restrict o = static_cast<O*>(out.raw_data());
      const A* x = static_cast<const A*>(a.raw_data());
      const B* y = static_cast<const B*>(b.raw_data());
      const std::int64_t na = a.numel(), nb = b.numel();
      if (na == n && nb == n && a.is_contiguous() && b.is_contiguous()) {
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        return;
      }
      if (nb == 1 && na == n && a.is_contiguous()) {
        const B yv = *y;
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
        return;
      }
      if (na == 1 && nb == n && b.is_contiguous()) {
        const A xv = *x;
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
        return;
      }
    }
  }
  map2<O, A, B>(out, a, b, f);
}

// Runs f over a and b seen as T (converted copies where their dtype differs).
template <class T, class O = T, class F>
void binary_compute(const TensorBase& out, const TensorBase& a, const TensorBase& b, F f) {
  As ca(a, dtype_of<T>()), cb(b, dtype_of<T>());
  binary_into<O, T, T>(out, *ca, *cb, f);
}

template <class T, class O = T, class F>
void unary_compute(const TensorBase& out, const TensorBase& x, F f) {
  As cx(x, dtype_of<T>());
  unary_into<O, T>(out, *cx, f);
}

}  // namespace tg::kernel::ew
