#include <tapegrad/core/kernels/loop.h>

#include <algorithm>
#include <exception>

#include <omp.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

Dims broadcast_strides(const TensorBase& t, const Dims& shape) {
  const int n = shape.size(), tn = t.dim();
  Dims out = Dims::filled(n, 0);
  const auto sizes = t.sizes();
  const auto strides = t.strides();
  for (int i = 0; i < tn; ++i) {
    const int o = n - tn + i;
    out[o] = sizes[static_cast<std::size_t>(i)] == 1 ? 0 : strides[static_cast<std::size_t>(i)];
  }
  return out;
}

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

namespace {

// Calls the row for the flat range [begin, end) of the plan.
template <std::size_t N>
void run_rows(const LoopPlan<N>& p, std::int64_t begin, std::int64_t end, RowRef<N> row) {
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
    const std::int64_t count = std::min(inner - idx[nd - 1], end - pos);
    row.call(row.row, ptr, inner_stride, count);
    pos += count;
    idx[nd - 1] += count;
    for (int d = nd - 1; d > 0 && idx[d] == p.shape[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

}  // namespace

template <std::size_t N>
void for_each_row(const LoopPlan<N>& p, RowRef<N> row) {
  if (p.numel == 0) return;
  FlushDenormalGuard flush;
  const int threads = p.numel >= kParallelThreshold && !in_parallel_region() ? detail::team_size() : 1;
  if (threads <= 1) {
    run_rows(p, 0, p.numel, row);
    return;
  }
  const bool keep = detail::keep_denormals > 0;
#pragma omp parallel num_threads(threads)
  {
    const KeepDenormalsGuard inherit(keep && omp_get_thread_num() != 0);
    FlushDenormalGuard worker_flush;  // MXCSR is per thread
    const std::int64_t t = omp_get_thread_num();
    const std::int64_t nt = omp_get_num_threads();
    const std::int64_t chunk = (p.numel + nt - 1) / nt;
    const std::int64_t b = t * chunk, e = std::min(p.numel, b + chunk);
    if (b < e) run_rows(p, b, e, row);
  }
}

void parallel_for(std::int64_t n, int threads, void (*body)(const void* context, std::int64_t i, int thread),
                  const void* context, Schedule schedule) {
  FlushDenormalGuard flush;
  if (threads <= 1 || n <= 1) {
    for (std::int64_t i = 0; i < n; ++i) body(context, i, 0);
    return;
  }
  std::exception_ptr error;
  // Carries the first exception out: one may not leave an OpenMP region.
  const auto run = [&](std::int64_t i, int thread) {
    try {
      body(context, i, thread);
    } catch (...) {
#pragma omp critical(tg_parallel_for_error)
      if (!error) error = std::current_exception();
    }
  };
  const bool keep = detail::keep_denormals > 0;
#pragma omp parallel num_threads(threads)
  {
    const KeepDenormalsGuard inherit(keep && omp_get_thread_num() != 0);
    FlushDenormalGuard worker_flush;  // MXCSR is per thread
    const int thread = omp_get_thread_num();
    if (schedule == Schedule::Dynamic) {
#pragma omp for schedule(dynamic, 1)
      for (std::int64_t i = 0; i < n; ++i) run(i, thread);
    } else {
#pragma omp for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) run(i, thread);
    }
  }
  if (error) std::rethrow_exception(error);
}

// The operand counts the kernels use: map1..map3 and the fill.
template LoopPlan<1> make_plan(const Dims&, const std::array<const TensorBase*, 1>&);
template LoopPlan<2> make_plan(const Dims&, const std::array<const TensorBase*, 2>&);
template LoopPlan<3> make_plan(const Dims&, const std::array<const TensorBase*, 3>&);
template LoopPlan<4> make_plan(const Dims&, const std::array<const TensorBase*, 4>&);
template void for_each_row(const LoopPlan<1>&, RowRef<1>);
template void for_each_row(const LoopPlan<2>&, RowRef<2>);
template void for_each_row(const LoopPlan<3>&, RowRef<3>);
template void for_each_row(const LoopPlan<4>&, RowRef<4>);

}  // namespace tg::kernel
