#pragma once
// The elementwise loop every kernel shares: N strided operands broadcast to
// one iteration shape, size-1 dims dropped and adjacent dims merged where
// every operand allows it, then rows handed to a typed inner function with a
// contiguous fast path the compiler vectorizes. Large loops split their rows
// (or tiles) across OpenMP threads (loop.cpp).
#include <array>
#include <cstdint>
#include <type_traits>

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
  std::array<std::int64_t, N> itemsize{};
  std::int64_t numel = 1;
  // When >= 0, rows go by tiles of tile_rows x tile_cols over this dim and
  // the innermost one (make_plan says when).
  int tile_dim = -1;
  std::int64_t tile_rows = 0, tile_cols = 0;
  // A tile's rows lie one after another in every operand (or its copy):
  // one call of the row function covers the tile.
  bool tile_rows_as_one_run = false;
};

// A tile is kTileRows rows along tile_dim (more when its rows are one run,
// up to as many elements) by kTileBytes / (the widest operand's element
// size) along the innermost dim. An input whose innermost
// steps are kTileLine bytes or more apart is copied a tile at a time into a
// buffer the rows read contiguously (loop.cpp, run_tiles). Short wide tiles,
// taken down the rows first, measured fastest (a 2048 x 2048 float32
// a.t() + b: 4.5 ms, against 32 x 64 tiles across first 16.6 ms and no
// tiles 22 ms): a column of a tile is 32 or 64 bytes, and the next tile
// down reads the rest of the cache lines this one fetched.
inline constexpr std::int64_t kTileRows = 8;
inline constexpr std::int64_t kTileBytes = 2048;
inline constexpr std::int64_t kTileLine = 64;

// The loop over `shape` of `operands` (at most four; the first is the
// output): size-1 dims dropped, dims ordered as the output lies in memory
// (so an in-place op on a transposed view walks it in memory order), and
// adjacent dims merged where every operand steps through both as one run.
// When an input runs along another dim than the output, the output is larger
// than the L1 cache and its rows are not short, the plan is tiled over those
// two dims: without
// tiles every element of that input is a new cache line (and, past a
// stride of a page, a new TLB entry), 10-30x slower than contiguous.
template <std::size_t N>
LoopPlan<N> make_plan(const Dims& shape, const std::array<const TensorBase*, N>& operands);

// A row function seen through a pointer. The index stepping and the OpenMP
// region of for_each_row are compiled once per operand count in loop.cpp;
// only the row's own loop is instantiated per op and dtype. As templates on
// the row they were a fifth of the library's code (about a thousand copies of
// the same stepping, and as many OpenMP regions), for no speed: a row is
// usually long, and one indirect call per row is nothing beside it.
template <std::size_t N>
struct RowRef {
  using Call = void (*)(const void* row, std::array<char*, N> ptrs, std::array<std::int64_t, N> strides,
                        std::int64_t count);
  const void* row;
  Call call;

  template <class Row>
  static RowRef of(const Row& r) {
    return {&r, [](const void* row, std::array<char*, N> ptrs, std::array<std::int64_t, N> strides,
                   std::int64_t count) { (*static_cast<const Row*>(row))(ptrs, strides, count); }};
  }
};

// Calls row(ptrs, inner_byte_strides, count) for every row of the plan (or
// every row of every tile), on one thread, or with the rows (tiles) split
// into one contiguous part per OpenMP thread when the loop is large (the row
// is called concurrently then, so it must not change any shared state). The
// order rows come in is not the output's flat order; every element is
// visited once.
template <std::size_t N>
void for_each_row(const LoopPlan<N>& p, RowRef<N> row);

template <std::size_t N, class Row>
void for_each_row(const LoopPlan<N>& p, const Row& row) {
  for_each_row(p, RowRef<N>::of(row));
}

// How parallel_for hands out the indices: in equal contiguous parts, or one
// at a time to whichever thread is free (for tasks of unequal length).
enum class Schedule { Static, Dynamic };

// Calls body(i) or body(i, thread) for i in [0, n): on a team of `threads`
// OpenMP threads (each with flush-to-zero as its caller's; `thread` is the
// worker's number, for per-thread scratch) when threads > 1, else in order on
// this thread (thread 0). An exception thrown by the body stops nothing else
// but is rethrown here, the first one if several throw. Not a template on the
// body, so that a kernel instantiated per dtype does not get an OpenMP region
// per dtype.
void parallel_for(std::int64_t n, int threads, void (*body)(const void* context, std::int64_t i, int thread),
                  const void* context, Schedule schedule);

template <class Body>
void parallel_for(std::int64_t n, int threads, const Body& body, Schedule schedule = Schedule::Static) {
  parallel_for(
      n, threads,
      [](const void* context, std::int64_t i, int thread) {
        const Body& f = *static_cast<const Body*>(context);
        if constexpr (std::is_invocable_v<const Body&, std::int64_t, int>) f(i, thread);
        else f(i);
      },
      &body, schedule);
}

// Runs body(i) for every group i (a row, a channel) in [0, count): on the
// team when the tensor has `numel` >= parallel_threshold() elements and no
// parallel region is running yet, else in order on this thread.
template <class Body>
void for_each_group(std::int64_t count, std::int64_t numel, const Body& body) {
  const bool parallel = count > 1 && numel >= parallel_threshold() && !in_parallel_region();
  parallel_for(count, parallel ? detail::team_size() : 1, body);
}

// Folds eight partial results into one, pairwise: lanes 0-3 with 4-7, then
// 0-1 with 2-3, then 0 with 1, in that order (with which lane each element
// went to, this fixes a lane-wise reduction's order). Written out because
// GCC did not unroll the loop over halving widths and kept the lanes on the
// stack, where 16-byte loads of lanes just stored 8 bytes at a time missed
// store forwarding: about 60 cycles for a 10-class row of the
// cross-entropy, in registers now.
template <class Acc, class Combine>
Acc fold_eight_lanes(Acc (&lanes)[8], Combine combine) {
  lanes[0] = combine(lanes[0], lanes[4]);
  lanes[1] = combine(lanes[1], lanes[5]);
  lanes[2] = combine(lanes[2], lanes[6]);
  lanes[3] = combine(lanes[3], lanes[7]);
  lanes[0] = combine(lanes[0], lanes[2]);
  lanes[1] = combine(lanes[1], lanes[3]);
  return combine(lanes[0], lanes[1]);
}

// The sum of term(j) for j in [0, n), accumulated in Acc as eight
// interleaved partial sums, and the largest term the same way. One running
// total is a chain of dependent instructions (four cycles per element for an
// add); eight independent ones run side by side and vectorise. The order is
// fixed by n alone, so a result never depends on the thread count. Terms that
// are NaN: the sum is NaN; lane_max skips them, as std::max(m, x) does when m
// is not NaN.
template <class Acc, class Term>
Acc lane_sum(std::int64_t n, Term term) {
  constexpr int kLanes = 8;
  Acc lanes[kLanes] = {};
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
#pragma GCC unroll 1
    for (int k = 0; k < kLanes; ++k) lanes[k] += term(j + k);
  }
  for (; j < n; ++j) lanes[0] += term(j);
  return fold_eight_lanes(lanes, [](Acc a, Acc b) { return a + b; });
}

template <class T>
T lane_max(const T* x, std::int64_t n, T lowest) {
  T lanes[8] = {lowest, lowest, lowest, lowest, lowest, lowest, lowest, lowest};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lanes[k] = lanes[k] < x[j + k] ? x[j + k] : lanes[k];
  for (int k = 0; j < n; ++j, ++k) lanes[k] = lanes[k] < x[j] ? x[j] : lanes[k];
  T m = lanes[0];
  for (int k = 1; k < 8; ++k) m = m < lanes[k] ? lanes[k] : m;
  return m;
}

// Whether a row over these element types takes only the general strided
// loop. A 16-bit float converts through scalar code that does not vectorise,
// so the contiguous and broadcast copies of its loop would be code without
// speed (a sixth of the library, for two rarely hot dtypes).
template <class... T>
inline constexpr bool kStridedRowsOnly = (is_reduced_float_v<T> || ...);

// out[i] = f(a[i]); `a` broadcasts to out's shape.
template <class Out, class A, class F>
void map1(const TensorBase& out, const TensorBase& a, F f) {
  auto plan = make_plan<2>(out.shape(), {&out, &a});
  for_each_row(plan, [f](std::array<char*, 2> p, std::array<std::int64_t, 2> s, std::int64_t n) {
    auto* o = reinterpret_cast<Out*>(p[0]);
    auto* x = reinterpret_cast<const A*>(p[1]);
    if constexpr (!kStridedRowsOnly<Out, A>) {
      if (s[0] == sizeof(Out) && s[1] == sizeof(A)) {
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
        return;
      }
      if (s[0] == sizeof(Out) && s[1] == 0) {
        const Out v = f(*x);
        for (std::int64_t i = 0; i < n; ++i) o[i] = v;
        return;
      }
    }
    for (std::int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const A*>(p[1] + i * s[1]));
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
    if constexpr (!kStridedRowsOnly<Out, A, B>) {
      if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == sizeof(B)) {
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        return;
      }
      if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == 0) {
        const B yv = *y;
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
        return;
      }
      if (s[0] == sizeof(Out) && s[1] == 0 && s[2] == sizeof(B)) {
        const A xv = *x;
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
        return;
      }
    }
    for (std::int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) =
          f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]));
  });
}

// out[i] = f(a[i], b[i], c[i]).
template <class Out, class A, class B, class C, class F>
void map3(const TensorBase& out, const TensorBase& a, const TensorBase& b, const TensorBase& c, F f) {
  auto plan = make_plan<4>(out.shape(), {&out, &a, &b, &c});
  for_each_row(plan, [f](std::array<char*, 4> p, std::array<std::int64_t, 4> s, std::int64_t n) {
    if constexpr (!kStridedRowsOnly<Out, A, B, C>) {
      if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == sizeof(B) && s[3] == sizeof(C)) {
        auto* o = reinterpret_cast<Out*>(p[0]);
        auto* x = reinterpret_cast<const A*>(p[1]);
        auto* y = reinterpret_cast<const B*>(p[2]);
        auto* z = reinterpret_cast<const C*>(p[3]);
        for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
        return;
      }
    }
    for (std::int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) =
          f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]),
            *reinterpret_cast<const C*>(p[3] + i * s[3]));
  });
}

}  // namespace tg::kernel
