#include <tapegrad/core/kernels/loop.h>

#include <algorithm>
#include <cstring>
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
  std::array<Dims, N> bytes;  // each operand's strides over `shape`, in bytes
  for (std::size_t k = 0; k < N; ++k) {
    bytes[k] = broadcast_strides(*operands[k], shape);
    const auto size = static_cast<std::int64_t>(itemsize(operands[k]->dtype()));
    for (int d = 0; d < shape.size(); ++d) bytes[k][d] *= size;
    plan.data[k] = static_cast<char*>(operands[k]->raw_data());
    plan.itemsize[k] = size;
  }
  // The dims of size != 1, outermost first as the output lies in memory. A
  // fresh output is contiguous and keeps the dims' order; an output that is
  // a transposed view (an in-place op on x.t()) is walked in memory order.
  std::array<int, kMaxDims> order{};
  int kept = 0;
  for (int d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) order[static_cast<std::size_t>(kept++)] = d;
  std::stable_sort(order.begin(), order.begin() + kept, [&](int a, int b) { return bytes[0][a] > bytes[0][b]; });
  // Merge a dim into the one outside it when every operand steps through
  // both as one run.
  int nd = 0;
  for (int i = 0; i < kept; ++i) {
    const int d = order[static_cast<std::size_t>(i)];
    bool merge = nd > 0;
    for (std::size_t k = 0; k < N && merge; ++k) merge = plan.strides[k][nd - 1] == bytes[k][d] * shape[d];
    if (merge) {
      plan.shape[nd - 1] *= shape[d];
      for (std::size_t k = 0; k < N; ++k) plan.strides[k][nd - 1] = bytes[k][d];
    } else {
      plan.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k) plan.strides[k].push_back(bytes[k][d]);
      ++nd;
    }
  }
  plan.numel = shape.product();
  if (nd == 0) {
    plan.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
    return plan;
  }
  // Tiles, for an input whose innermost steps are a cache line or more apart
  // while another of its dims steps within a line: the first such input
  // chooses that dim. Below the L1 cache's size (the output's bytes) every
  // line stays anyway.
  constexpr std::int64_t kL1 = 32 * 1024;
  if (nd < 2 || plan.numel * static_cast<std::int64_t>(itemsize(operands[0]->dtype())) < kL1) return plan;
  for (std::size_t k = 1; k < N && plan.tile_dim < 0; ++k) {
    if (plan.strides[k][nd - 1] < kTileLine) continue;
    int best = -1;
    for (int d = 0; d < nd - 1; ++d) {
      const std::int64_t s = plan.strides[k][d];
      if (s > 0 && s < kTileLine && (best < 0 || s < plan.strides[k][best])) best = d;
    }
    plan.tile_dim = best;
  }
  if (plan.tile_dim < 0) return plan;
  const int td = plan.tile_dim;
  plan.tile_cols = kTileBytes / *std::max_element(plan.itemsize.begin(), plan.itemsize.end());
  plan.tile_rows = kTileRows;
  // A short innermost dim ([2, 2000000].t() + b): one tile spans it, and
  // when every operand that is not copied lies row after row there, the
  // tile's rows are one run, handed to the row function at once, and the
  // tile grows to tile_cols elements (2 KiB of float32). Row by row, 2
  // elements a call, [2, 2000000].t() + b took 29 ms; as one run a tile,
  // 1.8 ms (tiles of 4 or 16 times as many elements measured slower, up to
  // 2x at width 64).
  const std::int64_t width = plan.shape[nd - 1];
  bool runs = width <= plan.tile_cols;
  for (std::size_t k = 0; k < N && runs; ++k)
    runs = (k > 0 && plan.strides[k][nd - 1] >= kTileLine) || plan.strides[k][td] == width * plan.strides[k][nd - 1];
  if (runs) {
    plan.tile_rows_as_one_run = true;
    plan.tile_rows = std::max(kTileRows, plan.tile_cols / width);
  }
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

// The tiles of a tiled plan, numbered with the tile's row fastest (down
// tile_dim), then its column, then the other dims (the innermost first).
template <std::size_t N>
struct Tiles {
  std::int64_t rows, cols;  // how many tiles along tile_dim and along the innermost dim
  std::int64_t count;       // tiles in all

  explicit Tiles(const LoopPlan<N>& p)
      : rows((p.shape[p.tile_dim] + p.tile_rows - 1) / p.tile_rows),
        cols((p.shape[p.shape.size() - 1] + p.tile_cols - 1) / p.tile_cols),
        count(p.numel / (p.shape[p.tile_dim] * p.shape[p.shape.size() - 1]) * rows * cols) {}
};

// Copies the rows x count block of an input at `from` (byte strides `down`
// along the rows, `across` along them) to `to`, row after row. Reads go down
// the columns, in the order the input lies in memory.
template <class T>
void gather_tile(const char* from, std::int64_t down, std::int64_t across, std::int64_t rows, std::int64_t count,
                 char* to) {
  T* out = reinterpret_cast<T*>(to);
  for (std::int64_t j = 0; j < count; ++j) {
    const char* column = from + j * across;
    for (std::int64_t i = 0; i < rows; ++i) std::memcpy(out + i * count + j, column + i * down, sizeof(T));
  }
}

// Every dtype is 1, 2, 4 or 8 bytes (dtype.h).
void gather_tile(std::int64_t size, const char* from, std::int64_t down, std::int64_t across, std::int64_t rows,
                 std::int64_t count, char* to) {
  switch (size) {
    case 1:
      return gather_tile<std::uint8_t>(from, down, across, rows, count, to);
    case 2:
      return gather_tile<std::uint16_t>(from, down, across, rows, count, to);
    case 4:
      return gather_tile<std::uint32_t>(from, down, across, rows, count, to);
    default:
      return gather_tile<std::uint64_t>(from, down, across, rows, count, to);
  }
}

// Calls the row for every row of tiles [begin, end) of a tiled plan. An
// input that runs across the rows (its innermost stride a cache line or
// more) is first copied into a buffer the rows then read contiguously: the
// copy reads its cache lines in order, and the row meets its fast path.
template <std::size_t N>
void run_tiles(const LoopPlan<N>& p, const Tiles<N>& tiles, std::int64_t begin, std::int64_t end, RowRef<N> row) {
  const int nd = p.shape.size(), td = p.tile_dim, inner = nd - 1;
  std::array<std::int64_t, N> inner_stride;
  std::array<bool, N> gather{};
  for (std::size_t k = 0; k < N; ++k) {
    gather[k] = k > 0 && p.strides[k][inner] >= kTileLine;
    inner_stride[k] = gather[k] ? p.itemsize[k] : p.strides[k][inner];
  }
  alignas(64) char buffers[N > 1 ? N - 1 : 1][kTileRows * kTileBytes];  // for the inputs
  for (std::int64_t t = begin; t < end; ++t) {
    std::int64_t rest = t;
    const std::int64_t i0 = rest % tiles.rows * p.tile_rows;
    rest /= tiles.rows;
    const std::int64_t j0 = rest % tiles.cols * p.tile_cols;
    rest /= tiles.cols;
    std::array<char*, N> base = p.data;
    for (int d = inner - 1; d >= 0; --d) {
      if (d == td) continue;
      const std::int64_t at = rest % p.shape[d];
      rest /= p.shape[d];
      for (std::size_t k = 0; k < N; ++k) base[k] += at * p.strides[k][d];
    }
    const std::int64_t rows = std::min(p.shape[td] - i0, p.tile_rows);
    const std::int64_t count = std::min(p.shape[inner] - j0, p.tile_cols);
    for (std::size_t k = 0; k < N; ++k) base[k] += i0 * p.strides[k][td] + j0 * p.strides[k][inner];
    for (std::size_t k = 1; k < N; ++k)
      if (gather[k])
        gather_tile(p.itemsize[k], base[k], p.strides[k][td], p.strides[k][inner], rows, count, buffers[k - 1]);
    if (p.tile_rows_as_one_run) {
      std::array<char*, N> ptr = base;
      for (std::size_t k = 1; k < N; ++k)
        if (gather[k]) ptr[k] = buffers[k - 1];
      row.call(row.row, ptr, inner_stride, rows * count);
      continue;
    }
    for (std::int64_t i = 0; i < rows; ++i) {
      std::array<char*, N> ptr;
      ptr[0] = base[0] + i * p.strides[0][td];
      for (std::size_t k = 1; k < N; ++k)
        ptr[k] = gather[k] ? buffers[k - 1] + i * count * p.itemsize[k] : base[k] + i * p.strides[k][td];
      row.call(row.row, ptr, inner_stride, count);
    }
  }
}

// The rows of [begin, end) of the plan's work units: elements, or tiles.
template <std::size_t N>
void run_units(const LoopPlan<N>& p, std::int64_t begin, std::int64_t end, RowRef<N> row) {
  if (p.tile_dim >= 0) run_tiles(p, Tiles<N>(p), begin, end, row);
  else run_rows(p, begin, end, row);
}

}  // namespace

template <std::size_t N>
void for_each_row(const LoopPlan<N>& p, RowRef<N> row) {
  if (p.numel == 0) return;
  FlushDenormalGuard flush;
  const int threads = p.numel >= parallel_threshold() && !in_parallel_region() ? detail::team_size() : 1;
  const std::int64_t units = p.tile_dim >= 0 ? Tiles<N>(p).count : p.numel;
  if (threads <= 1) {
    run_units(p, 0, units, row);
    return;
  }
  const bool keep = detail::keep_denormals > 0;
#pragma omp parallel num_threads(threads)
  {
    const KeepDenormalsGuard inherit(keep && omp_get_thread_num() != 0);
    FlushDenormalGuard worker_flush;  // MXCSR is per thread
    const std::int64_t t = omp_get_thread_num();
    const std::int64_t nt = omp_get_num_threads();
    const std::int64_t chunk = (units + nt - 1) / nt;
    const std::int64_t b = t * chunk, e = std::min(units, b + chunk);
    if (b < e) run_units(p, b, e, row);
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
