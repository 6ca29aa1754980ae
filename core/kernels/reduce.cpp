#include <tapegrad/core/kernels/reduce.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/kernels/wrapping.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

// ---- dims ------------------------------------------------------------------------

DimMask reduction_mask(IntArrayRef dims, int ndim, const char* op) {
  const DimMask all = ndim == 0 ? 0 : (DimMask{1} << ndim) - 1;
  if (dims.empty()) return all;
  DimMask mask = 0;
  for (auto dim : dims) {
    const int d = wrap_dim(dim, ndim, op);
    if (mask & (DimMask{1} << d))
      throw ValueError(fmt::format("{}: dim {} appears more than once in the list of dims {}", op, d, shape_str(dims)));
    mask |= DimMask{1} << d;
  }
  return mask & all;  // a 0-d tensor accepts dim 0 but has nothing to reduce
}

Dims reduced_shape(const Dims& shape, DimMask mask, bool keepdim) {
  Dims out;
  for (int d = 0; d < shape.size(); ++d) {
    if (!(mask & (DimMask{1} << d))) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

std::int64_t reduced_count(const Dims& shape, DimMask mask) {
  std::int64_t n = 1;
  for (int d = 0; d < shape.size(); ++d)
    if (mask & (DimMask{1} << d)) n *= shape[d];
  return n;
}

namespace {

bool is_reduced(DimMask mask, int d) { return (mask & (DimMask{1} << d)) != 0; }

// Max, min and argmax have no identity: an empty slice has no answer.
void check_nonempty(const TensorBase& x, DimMask mask, const char* op) {
  for (int d = 0; d < x.dim(); ++d)
    if (is_reduced(mask, d) && x.size(d) == 0)
      throw IndexError(fmt::format("{}: cannot reduce over a zero-size dimension (dim {} of shape {})", op, d,
                                   shape_str(x.sizes())));
}

// ---- the reduction engine ---------------------------------------------------------
//
// The input is seen as kept dims (in output order, so the contiguous output
// is walked in order) and reduced dims; size-1 dims are dropped and adjacent
// dims that step through memory as one run are merged. Three loops:
//  - rows: each output folds its reduced elements; the innermost reduced dim
//    is a contiguous row when its stride is 1 (sum over the last dim).
//  - columns: when the innermost kept dim is contiguous and the reduced ones
//    are not (sum over dim 0 of [N, C], the bias gradient), whole rows of C
//    outputs are folded at once into C accumulators: a vectorized row add.
//  - strided rows: anything else, without copying the input.
// Large reductions split their outputs across threads, or, when there are too
// few outputs, the reduced range, with one partial accumulator per thread.

struct ReducePlan {
  Dims kept_sizes, kept_strides;  // input strides, in elements
  Dims red_sizes, red_strides;    // innermost last
  std::int64_t num_out = 1, num_red = 1;
};

// `reorder` sorts the reduced dims by stride so more of them merge; ops that
// report an index into the reduced dims keep them in row-major order.
ReducePlan make_reduce_plan(const TensorBase& x, DimMask mask, bool reorder) {
  ReducePlan p;
  std::array<std::pair<std::int64_t, std::int64_t>, kMaxDims> red{};
  int nred = 0;
  for (int d = 0; d < x.dim(); ++d) {
    const std::int64_t size = x.size(d), stride = x.stride(d);
    if (is_reduced(mask, d)) {
      p.num_red *= size;
      if (size != 1) red[static_cast<std::size_t>(nred++)] = {size, stride};
      continue;
    }
    p.num_out *= size;
    if (size == 1) continue;
    if (!p.kept_sizes.empty() && p.kept_strides.back() == stride * size) {
      p.kept_sizes[p.kept_sizes.size() - 1] *= size;
      p.kept_strides[p.kept_strides.size() - 1] = stride;
    } else {
      p.kept_sizes.push_back(size);
      p.kept_strides.push_back(stride);
    }
  }
  // Largest stride first, ties in dim order: an insertion sort (stable, as
  // std::stable_sort, whose buffer was a heap block for every reduction).
  if (reorder)
    for (int i = 1; i < nred; ++i)
      for (int j = i; j > 0 && red[static_cast<std::size_t>(j)].second > red[static_cast<std::size_t>(j - 1)].second;
           --j)
        std::swap(red[static_cast<std::size_t>(j)], red[static_cast<std::size_t>(j - 1)]);
  for (int i = 0; i < nred; ++i) {
    const auto [size, stride] = red[static_cast<std::size_t>(i)];
    if (!p.red_sizes.empty() && p.red_strides.back() == stride * size) {
      p.red_sizes[p.red_sizes.size() - 1] *= size;
      p.red_strides[p.red_strides.size() - 1] = stride;
    } else {
      p.red_sizes.push_back(size);
      p.red_strides.push_back(stride);
    }
  }
  if (p.red_sizes.empty()) {
    p.red_sizes.push_back(1);
    p.red_strides.push_back(0);
  }
  return p;
}

// Element offset of flat index `flat` over the first `nd` dims of (sizes, strides).
std::int64_t offset_of(const Dims& sizes, const Dims& strides, int nd, std::int64_t flat) {
  std::int64_t off = 0;
  for (int d = nd - 1; d >= 0; --d) {
    off += flat % sizes[d] * strides[d];
    flat /= sizes[d];
  }
  return off;
}

// Walks a multi-index in row-major order, keeping its element offset.
class Cursor {
 public:
  Cursor(const Dims& sizes, const Dims& strides, std::int64_t start) : sizes_(sizes), strides_(strides) {
    idx_ = Dims::filled(sizes.size(), 0);
    for (int d = sizes.size() - 1; d >= 0; --d) {
      idx_[d] = start % sizes[d];
      start /= sizes[d];
      offset_ += idx_[d] * strides[d];
    }
  }
  std::int64_t offset() const { return offset_; }
  void next() {
    for (int d = sizes_.size() - 1; d >= 0; --d) {
      offset_ += strides_[d];
      if (++idx_[d] < sizes_[d]) return;
      offset_ -= strides_[d] * sizes_[d];
      idx_[d] = 0;
    }
  }

 private:
  const Dims& sizes_;
  const Dims& strides_;
  Dims idx_;
  std::int64_t offset_ = 0;
};

// Calls f(offset, first_flat_index, count, stride) for each run of the
// innermost reduced dim within the flat range [begin, end).
template <class F>
void for_each_run(const Dims& sizes, const Dims& strides, std::int64_t begin, std::int64_t end, F&& f) {
  const int nd = sizes.size();
  const std::int64_t inner = sizes[nd - 1], inner_stride = strides[nd - 1];
  std::int64_t pos = begin;
  while (pos < end) {
    const std::int64_t i = pos % inner;
    const std::int64_t count = std::min(inner - i, end - pos);
    f(offset_of(sizes, strides, nd - 1, pos / inner) + i * inner_stride, pos, count, inner_stride);
    pos += count;
  }
}

// Folds n elements. Contiguous rows go through eight independent
// accumulators (a long float32 sum through 32: sum_float_row below), which the
// compiler vectorizes and which also cut the rounding error; blocks of 4096
// are folded separately for the same reason.
template <class Op, class T>
typename Op::Acc reduce_row(const Op& op, const T* p, std::int64_t n, std::int64_t stride, std::int64_t idx0) {
  using Acc = typename Op::Acc;
  if (stride != 1 || n < 16) {
    Acc a = op.init();
    for (std::int64_t i = 0; i < n; ++i) a = op.step(a, p[i * stride], idx0 + i);
    return a;
  }
  constexpr int kLanes = 8;
  constexpr std::int64_t kBlock = 4096;
  Acc total = op.init();
  for (std::int64_t b = 0; b < n; b += kBlock) {
    const std::int64_t m = std::min(kBlock, n - b);
    const T* q = p + b;
    const std::int64_t base = idx0 + b;
    Acc lanes[kLanes];
    for (auto& l : lanes) l = op.init();
    std::int64_t i = 0;
    for (; i + kLanes <= m; i += kLanes) {
      // Kept as a loop (not unrolled) so the loop vectorizer takes it: the
      // unrolled form defeats GCC's if-conversion for max and min.
#pragma GCC unroll 1
      for (int k = 0; k < kLanes; ++k) lanes[k] = op.step(lanes[k], q[i + k], base + i + k);
    }
    for (; i < m; ++i) lanes[0] = op.step(lanes[0], q[i], base + i);
    total = op.combine(total, fold_eight_lanes(lanes, [&op](const Acc& a, const Acc& b) { return op.combine(a, b); }));
  }
  return total;
}

// A float32 sum of a contiguous row through 32 lanes (vec::sum_to_double),
// in blocks of 4096 as reduce_row: run_reduce takes it for rows of 128 or
// more, where the 32 lanes are filled a few times over (a short row's fold
// would cost more than its additions).
double sum_float_row(const float* p, std::int64_t n) {
  constexpr std::int64_t kBlock = 4096;
  double total = 0;
  for (std::int64_t b = 0; b < n; b += kBlock) total += vec::sum_to_double(p + b, std::min(kBlock, n - b));
  return total;
}

// How many pieces a large reduction is cut into, whatever the team size: few
// enough that the partials are cheap, enough to keep 16 cores busy.
constexpr std::int64_t kReduceBlocks = 16;
// Outputs up to which a column reduction keeps kReduceBlocks partials of a
// whole row each (8 MiB of double accumulators at most).
constexpr std::int64_t kMaxColumnPartials = std::int64_t{1} << 16;

template <class T>
struct SumOp;

// Runs `op` over x with the plan, calling store(output_index, acc) once per output.

template <class T, class Op, class Store>
void run_reduce(const TensorBase& x, const ReducePlan& p, const Op& op, Store store) {
  using Acc = typename Op::Acc;
  if (p.num_out == 0) return;
  if (p.num_red == 0) {
    for (std::int64_t o = 0; o < p.num_out; ++o) store(o, op.init());
    return;
  }
  FlushDenormalGuard flush;
  const T* in = x.data_ptr<T>();
  const int nk = p.kept_sizes.size();
  const bool columns = nk > 0 && p.kept_strides[nk - 1] == 1 && p.red_strides.back() != 1;

  // Folds outputs [ob, oe) over reduced indices [rb, re), into acc (a
  // partial per output) or, when acc is null, straight into store.
  auto process = [&](std::int64_t ob, std::int64_t oe, std::int64_t rb, std::int64_t re, Acc* acc) {
    if (ob >= oe || rb >= re) return;
    if (columns) {
      const std::int64_t C = p.kept_sizes[nk - 1];
      // Accumulators for one row of outputs: on the stack when they fit
      // (not a std::vector: Acc may be bool).
      constexpr std::int64_t kStackAccs = 256;
      Acc stack_buf[kStackAccs];
      const std::int64_t width = std::min(C, oe - ob);
      std::unique_ptr<Acc[]> heap_buf(acc || width <= kStackAccs ? nullptr : new Acc[static_cast<std::size_t>(width)]);
      Acc* buf = heap_buf ? heap_buf.get() : stack_buf;
      for (std::int64_t o = ob; o < oe;) {
        const std::int64_t j0 = o % C, len = std::min(C - j0, oe - o);
        const T* base = in + offset_of(p.kept_sizes, p.kept_strides, nk - 1, o / C) + j0;
        Acc* a = acc ? acc + (o - ob) : buf;
        if (!acc) std::fill(a, a + len, op.init());
        for_each_run(p.red_sizes, p.red_strides, rb, re,
                     [&](std::int64_t off, std::int64_t idx0, std::int64_t n, std::int64_t stride) {
                       const T* row = base + off;
                       if constexpr (std::is_same_v<Op, SumOp<float>>)
                         if (vec::add_rows_to_double(row, n, stride, len, a)) return;
                       for (std::int64_t i = 0; i < n; ++i, row += stride)
                         for (std::int64_t j = 0; j < len; ++j) a[j] = op.step(a[j], row[j], idx0 + i);
                     });
        if (!acc)
          for (std::int64_t j = 0; j < len; ++j) store(o + j, a[j]);
        o += len;
      }
      return;
    }
    auto fold_run = [&](Acc& a, const T* row, std::int64_t idx0, std::int64_t n, std::int64_t stride) {
      if constexpr (std::is_same_v<Op, SumOp<float>>)
        if (stride == 1 && n >= 128) {
          a = op.combine(a, sum_float_row(row, n));
          return;
        }
      a = op.combine(a, reduce_row(op, row, n, stride, idx0));
    };
    if (p.red_sizes.size() == 1 && rb == 0 && re == p.num_red && nk <= 1) {
      // Each output folds one whole run (a sum over the last dim, or over
      // one strided dim), its start one step of the single kept dim from the
      // last: for_each_run's and the cursor's divisions per output were most
      // of the time of a short row (16 floats: 14 ns a row). Same calls, so
      // the same bits.
      const std::int64_t step = nk == 1 ? p.kept_strides[0] : 0;
      const std::int64_t n = p.red_sizes[0], stride = p.red_strides[0];
      const T* row = in + ob * step;
      for (std::int64_t o = ob; o < oe; ++o, row += step) {
        Acc a = op.init();
        fold_run(a, row, 0, n, stride);
        if (acc) acc[o - ob] = op.combine(acc[o - ob], a);
        else store(o, a);
      }
      return;
    }
    Cursor out(p.kept_sizes, p.kept_strides, ob);
    for (std::int64_t o = ob; o < oe; ++o, out.next()) {
      Acc a = op.init();
      for_each_run(p.red_sizes, p.red_strides, rb, re,
                   [&](std::int64_t off, std::int64_t idx0, std::int64_t n, std::int64_t stride) {
                     fold_run(a, in + out.offset() + off, idx0, n, stride);
                   });
      if (acc) acc[o - ob] = op.combine(acc[o - ob], a);
      else store(o, a);
    }
  };

  // The bits of a result must not depend on the team size, which follows
  // the machine's load (core/parallel.h), nor on OpenMP's wait policy: the
  // split of the work is fixed by the shape alone (and the constant
  // threshold), and threads only decide who computes which piece.
  const std::int64_t total = p.num_out * p.num_red;
  if (total < kParallelThreshold) {
    process(0, p.num_out, 0, p.num_red, nullptr);
    return;
  }
  const int threads = total < parallel_threshold() || in_parallel_region() ? 1 : detail::team_size();
  // Columns (a bias gradient: [N, C] summed over N) with rows to spare: the
  // rows in blocks, each over whole rows, so the inner loop runs along C.
  // Split by outputs instead, each block strode down all N rows for a few
  // columns, a cache line at a time: five times slower than LibTorch.
  const bool row_blocks = columns && p.num_red >= 4 * kReduceBlocks && p.num_out <= kMaxColumnPartials;
  if (p.num_out >= kReduceBlocks && !row_blocks) {
    // Many outputs: each is reduced whole, by one thread.
    const std::int64_t chunk = (p.num_out + kReduceBlocks - 1) / kReduceBlocks;
    parallel_for(kReduceBlocks, threads, [&](std::int64_t b) {
      process(std::min(p.num_out, b * chunk), std::min(p.num_out, (b + 1) * chunk), 0, p.num_red, nullptr);
    });
    return;
  }
  // Few outputs (a full sum, say): the reduced range in kReduceBlocks blocks,
  // each folded into its own partials, combined afterwards in block order.
  const std::int64_t blocks = std::min(kReduceBlocks, p.num_red);
  const std::int64_t chunk = (p.num_red + blocks - 1) / blocks;
  const auto num_partial = static_cast<std::size_t>(blocks * p.num_out);
  std::unique_ptr<Acc[]> partial(new Acc[num_partial]);
  std::fill(partial.get(), partial.get() + num_partial, op.init());
  parallel_for(blocks, threads, [&](std::int64_t b) {
    process(0, p.num_out, std::min(p.num_red, b * chunk), std::min(p.num_red, (b + 1) * chunk),
            partial.get() + b * p.num_out);
  });
  for (std::int64_t o = 0; o < p.num_out; ++o) {
    Acc a = partial[static_cast<std::size_t>(o)];
    for (std::int64_t b = 1; b < blocks; ++b) a = op.combine(a, partial[static_cast<std::size_t>(b * p.num_out + o)]);
    store(o, a);
  }
}

// ---- the ops the engine folds ------------------------------------------------------

// float32 accumulates in double; integers and bool in int64.
template <class T>
using WideAcc = std::conditional_t<is_floating_v<T>, double, std::int64_t>;
// The result type of sum and prod: integers and bool give int64.
template <class T>
using SumOut = std::conditional_t<is_floating_v<T>, T, std::int64_t>;

template <class T>
struct SumOp {
  using Acc = WideAcc<T>;
  Acc init() const { return 0; }
  Acc step(Acc a, T x, std::int64_t) const { return wrap_add(a, static_cast<Acc>(x)); }
  Acc combine(Acc a, Acc b) const { return wrap_add(a, b); }
};

template <class T>
struct ProdOp {
  using Acc = WideAcc<T>;
  Acc init() const { return 1; }
  Acc step(Acc a, T x, std::int64_t) const { return wrap_mul(a, static_cast<Acc>(x)); }
  Acc combine(Acc a, Acc b) const { return wrap_mul(a, b); }
};

// x beats a for max (Max) or min; NaN beats everything, as PyTorch.
template <bool Max, class T>
bool beats(T x, T a) {
  if constexpr (is_floating_v<T>) {
    if (a != a) return false;
    if (x != x) return true;
  }
  if constexpr (Max) return x > a;
  else return x < a;
}

template <bool Max, class T>
T extreme_init() {
  if constexpr (std::is_same_v<T, bool>) return !Max;
  else if constexpr (is_floating_v<T>)
    return Max ? T(-std::numeric_limits<T>::infinity()) : std::numeric_limits<T>::infinity();
  else return Max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

template <bool Max, class T>
struct ExtremeOp {
  using Acc = T;
  Acc init() const { return extreme_init<Max, T>(); }
  Acc step(Acc a, T x, std::int64_t) const {
    if constexpr (is_floating_v<T>) {
      // Written so that it vectorizes: no short-circuit. A NaN x is taken,
      // and a NaN a stays, since every comparison with it is false.
      const bool take = static_cast<bool>(static_cast<int>(Max ? (x > a) : (x < a)) | static_cast<int>(x != x));
      return take ? x : a;
    } else {
      return beats<Max>(x, a) ? x : a;
    }
  }
  Acc combine(Acc a, Acc b) const { return step(a, b, 0); }
};

template <class T>
struct ValueIndex {
  T value{};
  std::int64_t index = -1;  // -1: nothing seen yet
};

// Value and index of the max (min); ties and repeated NaNs keep the first
// index, whatever order the partials are combined in.
template <bool Max, class T>
struct ArgExtremeOp {
  using Acc = ValueIndex<T>;
  Acc init() const { return {}; }
  Acc step(Acc a, T x, std::int64_t i) const { return a.index < 0 || beats<Max>(x, a.value) ? Acc{x, i} : a; }
  Acc combine(Acc a, Acc b) const {
    if (b.index < 0) return a;
    if (a.index < 0 || beats<Max>(b.value, a.value)) return b;
    if (beats<Max>(a.value, b.value)) return a;
    return b.index < a.index ? b : a;
  }
};

// sum of f(x) for the p-norms.
template <class T, class F>
struct SumOfOp {
  using Acc = double;
  F f;
  Acc init() const { return 0; }
  Acc step(Acc a, T x, std::int64_t) const { return a + f(static_cast<double>(x)); }
  Acc combine(Acc a, Acc b) const { return a + b; }
};
template <class T, class F>
SumOfOp<T, F> sum_of(F f) {
  return {f};
}

template <bool Max, class T>
struct AbsExtremeOp {
  using Acc = T;
  ExtremeOp<Max, T> base;
  Acc init() const { return Max ? T(0) : std::numeric_limits<T>::infinity(); }
  Acc step(Acc a, T x, std::int64_t i) const { return base.step(a, std::abs(x), i); }
  Acc combine(Acc a, Acc b) const { return base.step(a, b, 0); }
};

// A reduction over an expanded tensor of 2^62 elements would run for
// centuries. Its stride-0 reduced dims repeat the same elements, so once the
// work is past what any materialised tensor could need, those dims are folded
// once (size 1) and the result scaled by the repeat count (sums) or kept
// as is (max, min). Below the bound nothing changes, so results stay bit for
// bit what they were.
constexpr std::int64_t kCollapseBroadcastAbove = std::int64_t{1} << 34;

struct Collapsed {
  TensorBase x;
  std::int64_t repeat = 1;  // how many times each element of x stands for itself
};

Collapsed collapse_broadcast(const TensorBase& x, DimMask mask) {
  if (x.numel() <= kCollapseBroadcastAbove) return {x, 1};
  Dims sizes(x.sizes());
  std::int64_t repeat = 1;
  for (int d = 0; d < x.dim(); ++d)
    if (is_reduced(mask, d) && x.stride(d) == 0 && sizes[d] > 1) {
      repeat *= sizes[d];  // no overflow: the product of sizes is numel
      sizes[d] = 1;
    }
  if (repeat == 1) return {x, 1};
  return {make_view(x, sizes, Dims(x.strides()), x.storage_offset()), repeat};
}

// The flat index (row-major over the reduced dims) in x of the element at
// flat index `index` over the reduced dims of `folded`, its collapsed dims at
// 0: the first of the copies, which is the one argmax reports on ties.
std::int64_t unfolded_index(const TensorBase& x, const TensorBase& folded, DimMask mask, std::int64_t index) {
  std::int64_t out = 0, scale = 1;
  for (int d = x.dim() - 1; d >= 0; --d) {
    if (!is_reduced(mask, d)) continue;
    const std::int64_t folded_size = folded.size(d);
    out += index % folded_size * scale;
    index /= folded_size;
    scale *= x.size(d);
  }
  return out;
}

// a added to itself `repeat` times; integers wrap as the plain sum would.
template <class A>
A repeated_sum(A a, std::int64_t repeat) {
  if constexpr (std::is_same_v<A, std::int64_t>) return wrap_mul(a, repeat);
  else return a * static_cast<A>(repeat);
}

// a multiplied by itself `repeat` times, by squaring.
template <class A>
A repeated_prod(A a, std::int64_t repeat) {
  if constexpr (std::is_same_v<A, std::int64_t>) {
    A result = 1;
    for (auto n = static_cast<std::uint64_t>(repeat); n > 0; n >>= 1) {
      if (n & 1) result = wrap_mul(result, a);
      a = wrap_mul(a, a);
    }
    return result;
  } else {
    return std::pow(a, static_cast<A>(repeat));
  }
}

// ---- the dtypes the reductions compute in ---------------------------------------------
//
// Only float32, float64 and int64 (kernel::widen, copy.h): for the folds this
// is bit for bit what computing in a narrower type gave, since every
// accumulator was float32, float64 or int64 already and a result went to
// float before it was rounded to 16 bits (Half(double) rounds through float).
// Elementwise steps (softmax's exponentials, var's squares, logsumexp) are now
// rounded once at the end instead of at every step, as PyTorch computes
// 16-bit types in float.

// Output of the reduction of x over mask: a fresh contiguous tensor.
TensorBase make_output(const TensorBase& x, DimMask mask, bool keepdim, DType dtype) {
  return make_tensor(reduced_shape(x.shape(), mask, keepdim), dtype);
}

template <class T, class Op, class Out, class Finish>
TensorBase reduce_into(const TensorBase& x, DimMask mask, bool keepdim, DType dtype, const Op& op, Finish finish,
                       bool reorder = true) {
  TensorBase out = make_output(x, mask, keepdim, dtype);
  Out* o = out.data_ptr<Out>();
  run_reduce<T>(x, make_reduce_plan(x, mask, reorder), op,
                [&](std::int64_t i, const typename Op::Acc& a) { o[i] = finish(a); });
  return out;
}

template <bool Max>
TensorBase extreme(const TensorBase& x, IntArrayRef dims, bool keepdim, const char* op) {
  const DimMask mask = reduction_mask(dims, x.dim(), op);
  check_nonempty(x, mask, op);
  const TensorBase folded = collapse_broadcast(x, mask).x;
  return dispatch_compute(x.dtype(), op, [&]<class T>() {
    return reduce_into<T, ExtremeOp<Max, T>, T>(folded, mask, keepdim, x.dtype(), ExtremeOp<Max, T>{},
                                                [](T a) { return a; });
  });
}

template <bool Max>
std::tuple<TensorBase, TensorBase> extreme_dim(const TensorBase& x, std::int64_t dim, bool keepdim, const char* op) {
  const int d = wrap_dim(dim, x.dim(), op);
  const DimMask mask = reduction_mask(Dims{d}, x.dim(), op);
  check_nonempty(x, mask, op);
  TensorBase values = make_output(x, mask, keepdim, x.dtype());
  TensorBase indices = make_output(x, mask, keepdim, kInt64);
  // Named members, not a structured binding: Clang 14 cannot capture one in
  // the lambdas below.
  const Collapsed collapsed = collapse_broadcast(x, mask);
  const TensorBase& folded = collapsed.x;
  const std::int64_t repeat = collapsed.repeat;
  dispatch_compute(x.dtype(), op, [&]<class T>() {
    T* v = values.data_ptr<T>();
    std::int64_t* i = indices.data_ptr<std::int64_t>();
    run_reduce<T>(folded, make_reduce_plan(folded, mask, false), ArgExtremeOp<Max, T>{},
                  [&, &f = folded, r = repeat](std::int64_t o, const ValueIndex<T>& a) {
                    v[o] = a.value;
                    i[o] = r == 1 ? a.index : unfolded_index(x, f, mask, a.index);
                  });
  });
  return {values, indices};
}

template <bool Max>
TensorBase arg_extreme(const TensorBase& x, std::optional<std::int64_t> dim, bool keepdim, const char* op) {
  const DimMask mask =
      dim ? reduction_mask(Dims{wrap_dim(*dim, x.dim(), op)}, x.dim(), op) : reduction_mask({}, x.dim(), op);
  check_nonempty(x, mask, op);
  const Collapsed collapsed = collapse_broadcast(x, mask);
  const TensorBase& folded = collapsed.x;
  const std::int64_t repeat = collapsed.repeat;
  return dispatch_compute(x.dtype(), op, [&]<class T>() {
    return reduce_into<T, ArgExtremeOp<Max, T>, std::int64_t>(
        folded, mask, keepdim, kInt64, ArgExtremeOp<Max, T>{},
        [&, &f = folded, r = repeat](const ValueIndex<T>& a) {
          return r == 1 ? a.index : unfolded_index(x, f, mask, a.index);
        },
        /*reorder=*/false);
  });
}

TensorBase reshape_contiguous(const TensorBase& t, const Dims& shape) {
  return make_view(t, shape, contiguous_strides(shape), t.storage_offset());
}

}  // namespace

// ---- public kernels ------------------------------------------------------------------

TensorBase sum(const TensorBase& x, IntArrayRef dims, bool keepdim) {
  if (!is_compute_dtype(x.dtype())) {
    TensorBase s = sum(widen(x), dims, keepdim);  // integers and bool sum to int64
    return is_floating(x.dtype()) ? to(s, x.dtype()) : s;
  }
  const DimMask mask = reduction_mask(dims, x.dim(), "sum");
  const Collapsed collapsed = collapse_broadcast(x, mask);
  const TensorBase& folded = collapsed.x;
  const std::int64_t repeat = collapsed.repeat;
  return dispatch_compute(x.dtype(), "sum", [&]<class T>() {
    using Out = SumOut<T>;
    return reduce_into<T, SumOp<T>, Out>(folded, mask, keepdim, dtype_of<Out>(), SumOp<T>{},
                                         [r = repeat](WideAcc<T> a) { return static_cast<Out>(repeated_sum(a, r)); });
  });
}

TensorBase mean(const TensorBase& x, IntArrayRef dims, bool keepdim) {
  if (is_reduced_float(x.dtype())) return to(mean(widen(x), dims, keepdim), x.dtype());
  const DimMask mask = reduction_mask(dims, x.dim(), "mean");
  const std::int64_t n = reduced_count(x.shape(), mask);
  const Collapsed collapsed = collapse_broadcast(x, mask);
  const TensorBase& folded = collapsed.x;
  const std::int64_t repeat = collapsed.repeat;
  return dispatch_compute_floating(x.dtype(), "mean", [&]<class T>() {
    return reduce_into<T, SumOp<T>, T>(folded, mask, keepdim, x.dtype(), SumOp<T>{}, [n, r = repeat](double a) {
      if (r != 1) a = repeated_sum(a, r);
      return static_cast<T>(n == 0 ? std::numeric_limits<double>::quiet_NaN() : a / static_cast<double>(n));
    });
  });
}

namespace {

// The sum of squared deviations from the mean over max(0, n - correction),
// or (root) its square root, taken in double before the one rounding to T.
// Two passes: subtracting the mean first keeps the sum exact enough when the
// values sit far from zero. The squares are doubles for float32 too: float32
// squares of deviations below about 1e-19 are subnormal and flushed, which
// made std([1e-20, 3e-20]) 0 (PyTorch, which accumulates in double, gives
// 1.4e-20), and std's root is taken before rounding, as the variance of such
// values (2e-40) is itself subnormal in float32. float64 gives the bits it
// gave before.
template <class T>
TensorBase variance(const TensorBase& x, IntArrayRef dims, double correction, bool keepdim, bool root) {
  const DimMask mask = reduction_mask(dims, x.dim(), root ? "std" : "var");
  const std::int64_t n = reduced_count(x.shape(), mask);
  const TensorBase m = mean(x, dims, /*keepdim=*/true);
  TensorBase sq = make_tensor(x.shape(), kFloat64);
  map2<double, T, T>(sq, x, m, [](T a, T b) {
    const double c = static_cast<double>(a) - static_cast<double>(b);
    return c * c;
  });
  const double denom = std::max(0.0, static_cast<double>(n) - correction);
  return reduce_into<double, SumOp<double>, T>(sq, mask, keepdim, x.dtype(), SumOp<double>{}, [denom, root](double a) {
    const double v = a / denom;
    return static_cast<T>(root ? std::sqrt(v) : v);
  });
}

}  // namespace

TensorBase var(const TensorBase& x, IntArrayRef dims, double correction, bool keepdim) {
  if (is_reduced_float(x.dtype())) return to(var(widen(x), dims, correction, keepdim), x.dtype());
  reduction_mask(dims, x.dim(), "var");
  return dispatch_compute_floating(
      x.dtype(), "var", [&]<class T>() { return variance<T>(x, dims, correction, keepdim, /*root=*/false); });
}

TensorBase std(const TensorBase& x, IntArrayRef dims, double correction, bool keepdim) {
  if (!x.is_floating_point()) throw_not_floating("std", x.dtype());
  // Checked here too, so that a bad dim names std rather than the var under it.
  reduction_mask(dims, x.dim(), "std");
  if (!is_compute_dtype(x.dtype())) return to(std(widen(x), dims, correction, keepdim), x.dtype());
  return dispatch_compute_floating(x.dtype(), "std",
                                   [&]<class T>() { return variance<T>(x, dims, correction, keepdim, /*root=*/true); });
}

// The widened values are exact, so the extremes round back exactly.
TensorBase amax(const TensorBase& x, IntArrayRef dims, bool keepdim, const char* op) {
  // Comparisons: a subnormal is not 0 (float_mode.h).
  const KeepDenormalsGuard exact;
  return to(extreme<true>(widen(x), dims, keepdim, op), x.dtype());
}
TensorBase amin(const TensorBase& x, IntArrayRef dims, bool keepdim, const char* op) {
  const KeepDenormalsGuard exact;
  return to(extreme<false>(widen(x), dims, keepdim, op), x.dtype());
}

std::tuple<TensorBase, TensorBase> max(const TensorBase& x, std::int64_t dim, bool keepdim) {
  const KeepDenormalsGuard exact;
  auto [values, indices] = extreme_dim<true>(widen(x), dim, keepdim, "max");
  return {to(values, x.dtype()), indices};
}
std::tuple<TensorBase, TensorBase> min(const TensorBase& x, std::int64_t dim, bool keepdim) {
  const KeepDenormalsGuard exact;
  auto [values, indices] = extreme_dim<false>(widen(x), dim, keepdim, "min");
  return {to(values, x.dtype()), indices};
}

// argmax and argmin refuse bool, as PyTorch's ("argmax_cpu" not implemented
// for 'Bool'); max, min, amax and amin take it.
TensorBase argmax(const TensorBase& x, std::optional<std::int64_t> dim, bool keepdim) {
  const KeepDenormalsGuard exact;
  refuse_bool(x, "argmax");
  return arg_extreme<true>(widen(x), dim, keepdim, "argmax");
}
TensorBase argmin(const TensorBase& x, std::optional<std::int64_t> dim, bool keepdim) {
  const KeepDenormalsGuard exact;
  refuse_bool(x, "argmin");
  return arg_extreme<false>(widen(x), dim, keepdim, "argmin");
}

TensorBase logsumexp(const TensorBase& x, IntArrayRef dims, bool keepdim) {
  const DimMask mask = reduction_mask(dims, x.dim(), "logsumexp");
  if (!x.is_floating_point()) return logsumexp(to(x, kFloat32), dims, keepdim);
  if (!is_compute_dtype(x.dtype())) return to(logsumexp(widen(x), dims, keepdim), x.dtype());
  if (reduced_count(x.shape(), mask) == 0)
    return full(reduced_shape(x.shape(), mask, keepdim), -std::numeric_limits<double>::infinity(), {x.dtype()});
  return dispatch_compute_floating(x.dtype(), "logsumexp", [&]<class T>() {
    // An infinite max shifts by 0 instead: inf - inf would be NaN.
    TensorBase shift = extreme<true>(x, dims, /*keepdim=*/true, "logsumexp");
    map1<T, T>(shift, shift, [](T m) { return std::isfinite(m) ? m : T(0); });
    TensorBase e = make_tensor(x.shape(), x.dtype());
    map2<T, T, T>(e, x, shift, [](T a, T m) { return std::exp(a - m); });
    TensorBase s = reduce_into<T, SumOp<T>, T>(e, mask, /*keepdim=*/true, x.dtype(), SumOp<T>{},
                                               [](double a) { return static_cast<T>(a); });
    map2<T, T, T>(s, s, shift, [](T a, T m) { return std::log(a) + m; });
    return keepdim ? s : reshape_contiguous(s, reduced_shape(x.shape(), mask, false));
  });
}

TensorBase prod(const TensorBase& x, IntArrayRef dims, bool keepdim) {
  if (!is_compute_dtype(x.dtype())) {
    TensorBase p = prod(widen(x), dims, keepdim);  // integers and bool multiply in int64
    return is_floating(x.dtype()) ? to(p, x.dtype()) : p;
  }
  const DimMask mask = reduction_mask(dims, x.dim(), "prod");
  const Collapsed collapsed = collapse_broadcast(x, mask);
  const TensorBase& folded = collapsed.x;
  const std::int64_t repeat = collapsed.repeat;
  return dispatch_compute(x.dtype(), "prod", [&]<class T>() {
    using Out = SumOut<T>;
    return reduce_into<T, ProdOp<T>, Out>(
        folded, mask, keepdim, dtype_of<Out>(), ProdOp<T>{},
        [r = repeat](WideAcc<T> a) { return static_cast<Out>(r == 1 ? a : repeated_prod(a, r)); });
  });
}

TensorBase norm(const TensorBase& x, double p, IntArrayRef dims, bool keepdim, const char* op) {
  const DimMask mask = reduction_mask(dims, x.dim(), op);
  if (is_reduced_float(x.dtype())) return to(norm(widen(x), p, dims, keepdim, op), x.dtype());
  if (x.numel() > kCollapseBroadcastAbove && is_floating(x.dtype())) {
    const Collapsed collapsed = collapse_broadcast(x, mask);
    const TensorBase& folded = collapsed.x;
    const std::int64_t repeat = collapsed.repeat;
    if (repeat != 1) {
      if (std::isinf(p)) return norm(folded, p, dims, keepdim, op);
      // sum |x|^p over the repeats is repeat times that over one copy.
      const double scale = p == 0 ? static_cast<double>(repeat) : std::pow(static_cast<double>(repeat), 1.0 / p);
      TensorBase out = norm(folded, p, dims, keepdim, op);
      dispatch_compute_floating(out.dtype(), op, [&]<class T>() {
        map1<T, T>(out, out, [scale](T a) { return static_cast<T>(a * scale); });
      });
      return out;
    }
  }
  return dispatch_compute_floating(x.dtype(), op, [&]<class T>() {
    auto done = [](double a) { return static_cast<T>(a); };
    // A max, a min, or (p < 0) a sum of |x|^p that is infinite for nothing
    // summed: no identity, so an empty slice has no norm (as
    // torch.linalg.vector_norm refuses it; an empty -1 norm was inf).
    if ((std::isinf(p) || p < 0) && reduced_count(x.shape(), mask) == 0)
      throw IndexError(fmt::format("{}: the {} norm of an empty slice is undefined (input shape {})", op,
                                   std::isinf(p) ? (p < 0 ? "-inf" : "inf") : fmt::format("{}", p),
                                   shape_str(x.sizes())));
    if (std::isinf(p)) {
      const KeepDenormalsGuard exact;  // a max or min of |x|, as amax (float_mode.h)
      auto same = [](T a) { return a; };
      return p > 0 ? reduce_into<T, AbsExtremeOp<true, T>, T>(x, mask, keepdim, x.dtype(), {}, same)
                   : reduce_into<T, AbsExtremeOp<false, T>, T>(x, mask, keepdim, x.dtype(), {}, same);
    }
    if (p == 2) {
      auto op = sum_of<T>([](double v) { return v * v; });
      return reduce_into<T, decltype(op), T>(x, mask, keepdim, x.dtype(), op,
                                             [](double a) { return static_cast<T>(std::sqrt(a)); });
    }
    if (p == 1) {
      auto op = sum_of<T>([](double v) { return std::abs(v); });
      return reduce_into<T, decltype(op), T>(x, mask, keepdim, x.dtype(), op, done);
    }
    if (p == 0) {
      auto op = sum_of<T>([](double v) { return v != 0 ? 1.0 : 0.0; });
      return reduce_into<T, decltype(op), T>(x, mask, keepdim, x.dtype(), op, done);
    }
    auto op = sum_of<T>([p](double v) { return std::pow(std::abs(v), p); });
    return reduce_into<T, decltype(op), T>(x, mask, keepdim, x.dtype(), op,
                                           [p](double a) { return static_cast<T>(std::pow(a, 1.0 / p)); });
  });
}

double power_sum(const TensorBase& x, double p) {
  if (is_reduced_float(x.dtype())) return power_sum(widen(x), p);
  const TensorBase xc = contiguous(x);
  return dispatch_compute_floating(x.dtype(), "power_sum", [&]<class T>() {
    const T* d = xc.data_ptr<T>();
    const std::int64_t n = xc.numel();
    if (p == 2) return reduce_row(sum_of<T>([](double v) { return v * v; }), d, n, 1, 0);
    // Other orders are rare: one plain loop (eight lanes each would cost text, not time that matters).
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double a = std::abs(static_cast<double>(d[i]));
      total += p == 1 ? a : std::pow(a, p);
    }
    return total;
  });
}

// ---- softmax -----------------------------------------------------------------------
//
// The tensor is seen contiguous as [outer, D, inner] with softmax over D.
// With inner == 1 each row is one contiguous run. Otherwise a block of inner
// positions is processed together, walking the D rows so the loops stay
// contiguous (no strided column walk).

namespace {

struct SoftmaxShape {
  std::int64_t outer = 1, dim = 1, inner = 1;
};

SoftmaxShape softmax_shape(const TensorBase& x, int d) {
  SoftmaxShape s;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < d) s.outer *= x.size(i);
    else if (i == d) s.dim = x.size(i);
    else s.inner *= x.size(i);
  }
  return s;
}

constexpr std::int64_t kSoftmaxBlock = 256;

// Calls f(outer_index, inner_begin, inner_len) for every block, in parallel when large.
template <class F>
void for_each_softmax_block(const SoftmaxShape& s, F f) {
  const std::int64_t blocks_per_outer = s.inner == 1 ? 1 : (s.inner + kSoftmaxBlock - 1) / kSoftmaxBlock;
  const std::int64_t units = s.outer * blocks_per_outer;
  const bool parallel = s.outer * s.dim * s.inner >= parallel_threshold() && units > 1 && !in_parallel_region();
  auto run = [&](std::int64_t u) {
    const std::int64_t o = u / blocks_per_outer, b = u % blocks_per_outer;
    const std::int64_t j0 = b * kSoftmaxBlock;
    f(o, j0, s.inner == 1 ? 1 : std::min(kSoftmaxBlock, s.inner - j0));
  };
  parallel_for(units, parallel ? detail::team_size() : 1, run);
}

// log_softmax's exponentials over the last dim go through a stack buffer of this many.
constexpr std::int64_t kSoftmaxRun = 256;

// The sum of n values, and of n products, in double, over eight independent
// accumulators. A single chain of dependent adds retires one add per four
// cycles, and it was most of a last-dim softmax's time (1.6x LibTorch's).
template <class T>
double sum_double(const T* p, std::int64_t n) {
  return reduce_row(sum_of<T>([](double v) { return v; }), p, n, 1, 0);
}

template <class T>
double dot_double(const T* a, const T* b, std::int64_t n) {
  return lane_sum<double>(n, [a, b](std::int64_t i) { return static_cast<double>(a[i]) * static_cast<double>(b[i]); });
}

template <class T, bool Log>
void softmax_forward(const T* x, T* y, const SoftmaxShape& s) {
  const std::int64_t D = s.dim, inner = s.inner;
  for_each_softmax_block(s, [&](std::int64_t o, std::int64_t j0, std::int64_t len) {
    const T* xb = x + o * D * inner + j0;
    T* yb = y + o * D * inner + j0;
    if (inner == 1) {
      const ExtremeOp<true, T> maxop;
      const T m = reduce_row(maxop, xb, D, 1, 0);
      double sum = 0;
      if constexpr (Log) {
        // The exponentials only for their sum, a run at a time.
        T e[kSoftmaxRun];
        for (std::int64_t k0 = 0; k0 < D; k0 += kSoftmaxRun) {
          const std::int64_t n = std::min(kSoftmaxRun, D - k0);
          vec::exp_shifted(xb + k0, e, n, m);
          sum += sum_double(e, n);
        }
      } else {
        vec::exp_shifted(xb, yb, D, m);
        sum = sum_double(yb, D);
      }
      if constexpr (Log) {
        // (x - m) - log(sum), not x - (m + log(sum)): m + log(sum) would round
        // to m's precision when m is large.
        const T log_sum = static_cast<T>(std::log(sum));
        for (std::int64_t k = 0; k < D; ++k) yb[k] = (xb[k] - m) - log_sum;
      } else {
        const T scale = static_cast<T>(1.0 / sum);
        for (std::int64_t k = 0; k < D; ++k) yb[k] *= scale;
      }
      return;
    }
    T m[kSoftmaxBlock];
    double sum[kSoftmaxBlock];
    const ExtremeOp<true, T> maxop;
    for (std::int64_t j = 0; j < len; ++j) {
      m[j] = maxop.init();
      sum[j] = 0;
    }
    for (std::int64_t k = 0; k < D; ++k)
      for (std::int64_t j = 0; j < len; ++j) m[j] = maxop.step(m[j], xb[k * inner + j], 0);
    for (std::int64_t k = 0; k < D; ++k)
      for (std::int64_t j = 0; j < len; ++j) {
        const T e = std::exp(xb[k * inner + j] - m[j]);
        if constexpr (!Log) yb[k * inner + j] = e;
        sum[j] += e;
      }
    if constexpr (Log) {
      T log_sum[kSoftmaxBlock];
      for (std::int64_t j = 0; j < len; ++j) log_sum[j] = static_cast<T>(std::log(sum[j]));
      for (std::int64_t k = 0; k < D; ++k)
        for (std::int64_t j = 0; j < len; ++j) yb[k * inner + j] = (xb[k * inner + j] - m[j]) - log_sum[j];
    } else {
      for (std::int64_t j = 0; j < len; ++j) sum[j] = 1.0 / sum[j];
      for (std::int64_t k = 0; k < D; ++k)
        for (std::int64_t j = 0; j < len; ++j) yb[k * inner + j] *= static_cast<T>(sum[j]);
    }
  });
}

// softmax: dx = y * (dy - sum(dy * y));  log_softmax: dx = dy - exp(y) * sum(dy).
template <class T, bool Log>
void softmax_backward_impl(const T* y, const T* dy, T* dx, const SoftmaxShape& s) {
  const std::int64_t D = s.dim, inner = s.inner;
  for_each_softmax_block(s, [&](std::int64_t o, std::int64_t j0, std::int64_t len) {
    const std::int64_t base = o * D * inner + j0;
    const T* yb = y + base;
    const T* gb = dy + base;
    T* db = dx + base;
    double dot[kSoftmaxBlock];
    if (inner == 1) {
      // One row, contiguous: no chain of dependent adds (sum_double).
      dot[0] = Log ? sum_double(gb, D) : dot_double(gb, yb, D);
      for (std::int64_t k = 0; k < D; ++k) {
        if constexpr (Log) db[k] = gb[k] - std::exp(yb[k]) * static_cast<T>(dot[0]);
        else db[k] = yb[k] * (gb[k] - static_cast<T>(dot[0]));
      }
      return;
    }
    for (std::int64_t j = 0; j < len; ++j) dot[j] = 0;
    for (std::int64_t k = 0; k < D; ++k)
      for (std::int64_t j = 0; j < len; ++j) {
        if constexpr (Log) dot[j] += gb[k * inner + j];
        else dot[j] += static_cast<double>(gb[k * inner + j]) * yb[k * inner + j];
      }
    for (std::int64_t k = 0; k < D; ++k)
      for (std::int64_t j = 0; j < len; ++j) {
        const std::int64_t i = k * inner + j;
        if constexpr (Log) db[i] = gb[i] - std::exp(yb[i]) * static_cast<T>(dot[j]);
        else db[i] = yb[i] * (gb[i] - static_cast<T>(dot[j]));
      }
  });
}

template <bool Log>
TensorBase softmax_op(const TensorBase& x, std::int64_t dim, const char* op) {
  const int d = wrap_dim(dim, x.dim(), op);
  if (is_reduced_float(x.dtype())) return to(softmax_op<Log>(to(x, kFloat32), dim, op), x.dtype());
  return dispatch_compute_floating(x.dtype(), op, [&]<class T>() {
    TensorBase xc = contiguous(x);
    TensorBase y = make_tensor(x.shape(), x.dtype());
    softmax_forward<T, Log>(xc.data_ptr<T>(), y.data_ptr<T>(), softmax_shape(x, d));
    return y;
  });
}

template <bool Log>
TensorBase softmax_backward_op(const TensorBase& y, const TensorBase& dy, std::int64_t dim, const char* op) {
  if (y.shape() != dy.shape())
    throw ShapeError(fmt::format("{}: gradient of shape {} for an output of shape {}", op, shape_str(dy.sizes()),
                                 shape_str(y.sizes())));
  if (y.dtype() != dy.dtype())
    throw DTypeError(fmt::format("{}: gradient of dtype {} for an output of dtype {}", op, dtype_name(dy.dtype()),
                                 dtype_name(y.dtype())));
  const int d = wrap_dim(dim, y.dim(), op);
  if (is_reduced_float(y.dtype()))
    return to(softmax_backward_op<Log>(to(y, kFloat32), to(dy, kFloat32), dim, op), y.dtype());
  return dispatch_compute_floating(y.dtype(), op, [&]<class T>() {
    TensorBase yc = contiguous(y), gc = contiguous(dy);
    TensorBase dx = make_tensor(y.shape(), y.dtype());
    softmax_backward_impl<T, Log>(yc.data_ptr<T>(), gc.data_ptr<T>(), dx.data_ptr<T>(), softmax_shape(y, d));
    return dx;
  });
}

}  // namespace

TensorBase softmax(const TensorBase& x, std::int64_t dim) { return softmax_op<false>(x, dim, "softmax"); }
TensorBase log_softmax(const TensorBase& x, std::int64_t dim) { return softmax_op<true>(x, dim, "log_softmax"); }
TensorBase softmax_backward(const TensorBase& y, const TensorBase& dy, std::int64_t dim) {
  return softmax_backward_op<false>(y, dy, dim, "softmax_backward");
}
TensorBase log_softmax_backward(const TensorBase& y, const TensorBase& dy, std::int64_t dim) {
  return softmax_backward_op<true>(y, dy, dim, "log_softmax_backward");
}

// ---- gradient helpers ----------------------------------------------------------------

TensorBase tie_weights(const TensorBase& x, const TensorBase& y, DimMask mask) {
  if (is_reduced_float(x.dtype())) return to(tie_weights(to(x, kFloat32), to(y, kFloat32), mask), x.dtype());
  // Which elements equal the extreme is a selection: subnormals compare as
  // IEEE says (amax kept them), so 1e-39 and 2e-39 are no tie.
  const KeepDenormalsGuard exact;
  return dispatch_compute_floating(x.dtype(), "tie_weights", [&]<class T>() {
    TensorBase hit = make_tensor(x.shape(), x.dtype());
    map2<T, T, T>(hit, x, y, [](T a, T b) { return a == b || (a != a && b != b) ? T(1) : T(0); });
    TensorBase count = reduce_into<T, SumOp<T>, T>(hit, mask, /*keepdim=*/true, x.dtype(), SumOp<T>{},
                                                   [](double a) { return static_cast<T>(a); });
    map2<T, T, T>(hit, hit, count, [](T h, T c) { return h / c; });
    return hit;
  });
}

TensorBase index_mask(const Dims& shape, int dim, const TensorBase& indices, DType dtype) {
  TensorBase out = make_tensor(shape, dtype);
  if (shape.empty()) {
    fill_(out, 1);
    return out;
  }
  TensorBase positions = make_tensor({shape[dim]}, kInt64);
  std::int64_t* p = positions.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < shape[dim]; ++i) p[i] = i;
  Dims along = Dims::filled(shape.size(), 1);
  along[dim] = shape[dim];
  TensorBase ramp = reshape_contiguous(positions, along);
  dispatch(dtype, [&]<class T>() {
    map2<T, std::int64_t, std::int64_t>(out, ramp, indices,
                                        [](std::int64_t a, std::int64_t b) { return a == b ? T(1) : T(0); });
  });
  return out;
}

}  // namespace tg::kernel
