#pragma once
// The elementwise loop every kernel shares: N strided operands broadcast to
// one iteration shape, size-1 dims dropped and adjacent dims merged where
// every operand allows it, then rows handed to a typed inner function with a
// contiguous fast path the compiler vectorizes. Large loops split their flat
// index range across OpenMP threads.
#include <algorithm>
#include <array>
#include <cstdint>

#include <omp.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Strides of `t` (in elements) as seen from the iteration shape `shape`:
// dims that broadcasting added or stretched get stride 0.
Dims broadcast_strides(const TensorBase& t, const Dims& shape);

template <std::size_t N>
struct LoopPlan {
  Dims shape;
  std::array<Dims, N> strides;  // bytes
  std::array<char*, N> data{};
  std::int64_t numel = 1;
};

template <std::size_t N>
LoopPlan<N> make_plan(const Dims& shape, const std::array<const TensorBase*, N>& operands) {
  LoopPlan<N> plan;
  std::array<Dims, N> elem;
  for (std::size_t k = 0; k < N; ++k) {
    elem[k] = broadcast_strides(*operands[k], shape);
    plan.data[k] = static_cast<char*>(operands[k]->raw_data());
  }
  // Keep dims of size != 1, innermost last, merging a dim into the one
  // inside it when every operand steps through both as one run.
  int nd = 0;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = nd > 0;
    for (std::size_t k = 0; k < N && merge; ++k)
      merge =
          plan.strides[k][nd - 1] == elem[k][d] * shape[d] * static_cast<std::int64_t>(itemsize(operands[k]->dtype()));
    if (merge) {
      plan.shape[nd - 1] *= shape[d];
      for (std::size_t k = 0; k < N; ++k)
        plan.strides[k][nd - 1] = elem[k][d] * static_cast<std::int64_t>(itemsize(operands[k]->dtype()));
    } else {
      plan.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k)
        plan.strides[k].push_back(elem[k][d] * static_cast<std::int64_t>(itemsize(operands[k]->dtype())));
      ++nd;
    }
  }
  if (nd == 0) {
    plan.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
  }
  plan.numel = shape.product();
  return plan;
}

// Calls row(ptrs, inner_byte_strides, count) for the flat range [begin, end).
template <std::size_t N, class Row>
void run_rows(const LoopPlan<N>& p, std::int64_t begin, std::int64_t end, Row& row) {
  const int nd = p.shape.size();
  const std::int64_t inner = p.shape[nd - 1];
  std::array<std::int64_t, N> inner_stride;
  for (std::size_t k = 0; k < N; ++k) inner_stride[k] = p.strides[k][nd - 1];
  // Multi-index of `begin`.
  Dims idx = Dims::filled(nd, 0);
  std::int64_t rest = begin;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rest % p.shape[d];
    rest /= p.shape[d];
  }
  std::int64_t pos = begin;
  while (pos < end) {
    std::array<char*, N> ptr;
    for (std::size_t k = 0; k < N; ++k) {
      std::int64_t off = 0;
      for (int d = 0; d < nd; ++d) off += idx[d] * p.strides[k][d];
      ptr[k] = p.data[k] + off;
    }
    std::int64_t count = std::min(inner - idx[nd - 1], end - pos);
    row(ptr, inner_stride, count);
    pos += count;
    idx[nd - 1] += count;
    for (int d = nd - 1; d > 0 && idx[d] == p.shape[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

template <std::size_t N, class Row>
void for_each_row(const LoopPlan<N>& p, Row row) {
  if (p.numel == 0) return;
  FlushDenormalGuard flush;
  const int threads = p.numel >= kParallelThreshold && !in_parallel_region() ? detail::team_size() : 1;
  if (threads <= 1) {
    run_rows(p, 0, p.numel, row);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    FlushDenormalGuard worker_flush;  // MXCSR is per thread
    const std::int64_t t = omp_get_thread_num();
    const std::int64_t nt = omp_get_num_threads();
    const std::int64_t chunk = (p.numel + nt - 1) / nt;
    const std::int64_t b = t * chunk, e = std::min(p.numel, b + chunk);
    Row local = row;
    if (b < e) run_rows(p, b, e, local);
  }
}

// out[i] = f(a[i]); `a` broadcasts to out's shape.
template <class Out, class A, class F>
void map1(const TensorBase& out, const TensorBase& a, F f) {
  auto plan = make_plan<2>(out.shape(), {&out, &a});
  for_each_row(plan, [f](std::array<char*, 2> p, std::array<std::int64_t, 2> s, std::int64_t n) {
    auto* o = reinterpret_cast<Out*>(p[0]);
    auto* x = reinterpret_cast<const A*>(p[1]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(A)) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else if (s[0] == sizeof(Out) && s[1] == 0) {
      const Out v = f(*x);
      for (std::int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const A*>(p[1] + i * s[1]));
    }
  });
}

// out[i] = f(a[i], b[i]); a and b broadcast to out's shape.
template <class Out, class A, class B, class F>
void map2(const TensorBase& out, const TensorBase& a, const TensorBase& b, F f) {
  auto plan = make_plan<3>(out.shape(), {&out, &a, &b});
  for_each_row(plan, [f](std::array<char*, 3> p, std::array<std::int64_t, 3> s, std::int64_t n) {
    auto* o = reinterpret_cast<Out*>(p[0]);
    auto* x = reinterpret_cast<const A*>(p[1]);
    auto* y = reinterpret_cast<const B*>(p[2]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == sizeof(B)) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == 0) {
      const B yv = *y;
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == sizeof(Out) && s[1] == 0 && s[2] == sizeof(B)) {
      const A xv = *x;
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]));
    }
  });
}

// out[i] = f(a[i], b[i], c[i]).
template <class Out, class A, class B, class C, class F>
void map3(const TensorBase& out, const TensorBase& a, const TensorBase& b, const TensorBase& c, F f) {
  auto plan = make_plan<4>(out.shape(), {&out, &a, &b, &c});
  for_each_row(plan, [f](std::array<char*, 4> p, std::array<std::int64_t, 4> s, std::int64_t n) {
    if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == sizeof(B) && s[3] == sizeof(C)) {
      auto* o = reinterpret_cast<Out*>(p[0]);
      auto* x = reinterpret_cast<const A*>(p[1]);
      auto* y = reinterpret_cast<const B*>(p[2]);
      auto* z = reinterpret_cast<const C*>(p[3]);
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
      return;
    }
    for (std::int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) =
          f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]),
            *reinterpret_cast<const C*>(p[3] + i * s[3]));
  });
}

}  // namespace tg::kernel
