// Fused scaled dot-product attention (declared in attention.h).
#include <tapegrad/core/kernels/attention.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/dropout.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/storage.h>

namespace tg::kernel {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";
// Query rows and keys per tile above kWholeRowKeys keys: a 64 x 128 score
// tile (32 KiB in float32) stays in L2 beside its operand rows, and each
// GEMM is still large enough for BLAS to run near its peak. 128 keys rather
// than 64 halve the online softmax's rescaling passes and the GEMM calls:
// 3 % at L = 512 and 1024 (64 x 128 x 64 runs in OpenBLAS's small kernels
// as fast as 64 x 64 x 64); 256 gained nothing more.
constexpr std::int64_t kBlockQ = 64;
constexpr std::int64_t kBlockK = 128;
// Up to this many keys, one tile spans them all (a 64 x 256 tile is 64 KiB
// in float32, still in L2): the softmax needs no online rescaling, the GEMMs
// are larger, and the forward can keep the weights for the backward at a
// cost linear in L (at most 256 per query row), which then skips the
// recomputed score GEMM and exps (Plan::whole_rows).
constexpr std::int64_t kWholeRowKeys = 256;
// M N K of the largest tile product wanted (make_plan).
constexpr std::int64_t kSmallGemm = 800'000;

Dims batch_of(const TensorBase& x) {
  Dims b;
  for (int d = 0; d + 2 < x.dim(); ++d) b.push_back(x.size(d));
  return b;
}

Dims with_matrix(Dims batch, std::int64_t rows, std::int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// Element offsets of each flattened batch index of x expanded to
// [*batch, rows, cols] (broadcast dims have stride 0), and its last two strides.
struct BatchedView {
  TensorBase t;
  std::vector<std::int64_t> offsets;
  std::int64_t row_stride = 0, col_stride = 0;
};

BatchedView batched(const TensorBase& x, const Dims& batch, std::int64_t rows, std::int64_t cols) {
  BatchedView view;
  view.t = expand(x, with_matrix(batch, rows, cols));
  const auto strides = view.t.strides();
  const int nb = batch.size();
  const std::int64_t count = batch.product();
  // One offset per batch entry: a batch broadcast from expanded inputs may
  // have more entries than the machine has memory for (a std::bad_alloc).
  check_allocation(static_cast<std::size_t>(count), sizeof(std::int64_t), kOp);
  view.offsets.resize(static_cast<std::size_t>(count));
  for (std::int64_t b = 0; b < count; ++b) {
    std::int64_t rest = b, off = 0;
    for (int d = nb - 1; d >= 0; --d) {
      off += (rest % batch[d]) * strides[d];
      rest /= batch[d];
    }
    view.offsets[static_cast<std::size_t>(b)] = off;
  }
  // A single row's stride means nothing (a view may give it 1 for any
  // width); BLAS wants a leading dimension of at least the row's length.
  view.row_stride = rows <= 1 ? std::max<std::int64_t>(cols, 1) : strides[nb];
  view.col_stride = strides[nb + 1];
  return view;
}

// Runs body(task) for task in [0, tasks), on several threads when the work is
// worth waking them; the first exception is carried out (parallel_for).
template <class Body>
void for_each_task(std::int64_t tasks, double flops, Body body) {
  const bool parallel = tasks > 1 && flops > static_cast<double>(parallel_threshold()) * 16 && !in_parallel_region() &&
                        get_num_threads() > 1;
  // Dynamic: causal tiles differ in length.
  parallel_for(tasks, parallel ? get_num_threads() : 1, body, Schedule::Dynamic);
}

// The geometry shared by forward and backward: q, k, v read per flattened
// batch index as matrices of unit column stride (rows row_stride apart), and
// the mask read through its broadcast strides.
struct Plan {
  Dims batch;
  std::int64_t B = 0, L = 0, S = 0, E = 0, Ev = 0;
  BatchedView q, k, v, mask;
  // k and v transposed, [*batch, E, S] and [*batch, Ev, S], when asked for
  // (make_plan): the products that read keys or values as B^T (the scores
  // q k^T, the backward's dout v^T) read these as B instead. OpenBLAS's
  // small-matrix kernels run those about a third faster (64 x 64 x 24, the
  // char-GPT's heads: 2.77 us as B^T, 1.81 us as B), and one transposed copy
  // per call costs little (omatcopy).
  BatchedView kt, vt;
  bool has_mask = false, bool_mask = false;
  // Keys per tile: all S of them when S <= kWholeRowKeys (one tile per
  // query block, whole_rows), else kBlockK. Query rows per tile: kBlockQ, or
  // fewer for wide tiles (see make_plan).
  std::int64_t block_k = kBlockK, block_q = kBlockQ;
  bool whole_rows = false;
};

// x itself when each of its matrices is one a GEMM reads (unit column stride,
// rows apart by at least a row): the heads of a packed projection, [N, L, 3,
// H, E] viewed as [N, H, L, E], need no copy. Otherwise a contiguous copy.
TensorBase gemm_ready(const TensorBase& x) {
  const std::int64_t cols = x.size(-1), row_stride = x.stride(-2);
  if (x.stride(-1) == 1 && row_stride >= std::max<std::int64_t>(cols, 1)) return x;
  return contiguous(x);
}

// x [..., rows, cols] as [..., cols, rows], contiguous: one transpose per
// matrix of x's own batch. A broadcast operand is transposed once: batch
// dims of stride 0 (an expanded one) are taken as size 1, which batched()
// broadcasts again.
TensorBase transposed(const TensorBase& x) {
  Dims sizes(x.sizes()), strides(x.strides());
  bool expanded = false;
  for (int d = 0; d + 2 < x.dim(); ++d)
    if (strides[d] == 0 && sizes[d] > 1) {
      sizes[d] = 1;
      expanded = true;
    }
  const TensorBase rows = gemm_ready(expanded ? make_view(x, sizes, strides, x.storage_offset()) : x);
  const std::int64_t R = x.size(-2), C = x.size(-1);
  const Dims batch = batch_of(rows);
  const BatchedView in = batched(rows, batch, R, C);
  TensorBase t = make_tensor(with_matrix(batch, C, R), x.dtype());
  const std::size_t width = x.element_size();
  for (std::size_t b = 0; b < in.offsets.size(); ++b)
    transpose(x.dtype(), R, C, static_cast<const char*>(rows.raw_data()) + in.offsets[b] * width, in.row_stride,
              static_cast<char*>(t.raw_data()) + static_cast<std::int64_t>(b) * R * C * width, R, kOp);
  return t;
}

// Plan::kt and Plan::vt are left to the caller (transposed).
Plan make_plan(const TensorBase& q, const TensorBase& k, const TensorBase& v, const AttentionOptions& o) {
  Plan p;
  p.batch = attention_batch_shape(q, k, v, o);
  p.B = p.batch.product();
  p.L = q.size(-2);
  p.S = k.size(-2);
  p.E = q.size(-1);
  p.Ev = v.size(-1);
  p.q = batched(gemm_ready(q), p.batch, p.L, p.E);
  p.k = batched(gemm_ready(k), p.batch, p.S, p.E);
  p.v = batched(gemm_ready(v), p.batch, p.S, p.Ev);
  if (o.mask.defined()) {
    p.has_mask = true;
    p.bool_mask = o.mask.dtype() == kBool;
    p.mask = batched(o.mask, p.batch, p.L, p.S);
  }
  p.whole_rows = p.S > 0 && p.S <= kWholeRowKeys;
  if (p.whole_rows) p.block_k = p.S;
  // OpenBLAS runs a product of up to about 10^6 multiply-adds (M N K) in its
  // small-matrix kernels, which at these shapes are about a fifth faster than
  // its blocked path (64 x 256 x 64: 23.4 us; 32 x 256 x 64 twice: 19.0 us).
  // So a tile's products are kept under that size by taking fewer query rows.
  while (p.block_q > 16 && p.block_q * p.block_k * std::max(p.E, p.Ev) > kSmallGemm) p.block_q /= 2;
  return p;
}

// Scores of one tile, s[r * ld + c] for query i0 + r and key j0 + c:
// scale * q k^T (one GEMM, reading the transposed keys p.kt), then the mask
// (-inf where not attended).
template <class T>
void score_tile(const Plan& p, const AttentionOptions& o, std::int64_t b, std::int64_t i0, std::int64_t rows,
                std::int64_t j0, std::int64_t cols, T* s, std::int64_t ld) {
  const T* qb = p.q.t.data_ptr<T>() + p.q.offsets[b] + i0 * p.q.row_stride;
  const T* kt = p.kt.t.data_ptr<T>() + p.kt.offsets[b] + j0;
  gemm(dtype_of<T>(), rows, cols, p.E, o.scale, qb, {false, p.q.row_stride}, kt, {false, p.kt.row_stride}, 0.0, s, ld,
       kOp);
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  if (o.is_causal) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = std::max<std::int64_t>(0, i0 + r - j0 + 1); c < cols; ++c) s[r * ld + c] = kNegInf;
  } else if (p.has_mask) {
    const std::int64_t off = p.mask.offsets[b] + i0 * p.mask.row_stride + j0 * p.mask.col_stride;
    if (p.bool_mask) {
      const bool* m = p.mask.t.data_ptr<bool>() + off;
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
          if (!m[r * p.mask.row_stride + c * p.mask.col_stride]) s[r * ld + c] = kNegInf;
    } else {
      const T* m = p.mask.t.data_ptr<T>() + off;
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) s[r * ld + c] += m[r * p.mask.row_stride + c * p.mask.col_stride];
    }
  }
}

// How many keys of the tile [j0, j0 + cols) query i attends at most: with
// is_causal, keys after i are masked (their weights are 0 unless the row is
// NaN), so the row's maximum, exps and dropout draws stop there (its sum
// still runs over the tile, the masked terms +0, to keep lane_sum's order).
std::int64_t attended(const AttentionOptions& o, std::int64_t i, std::int64_t j0, std::int64_t cols) {
  return o.is_causal ? std::clamp<std::int64_t>(i + 1 - j0, 0, cols) : cols;
}

// The dropout multipliers of a tile, d[r * cols + c] for weight
// (b, i0 + r, j0 + c): 0 or 1 / (1 - p), from draw (b L + i) S + j of the
// stream dropout_seed (dropout.h), as attention_dropout_mask draws them.
template <class T>
void dropout_tile(const Plan& p, const AttentionOptions& o, std::int64_t b, std::int64_t i0, std::int64_t rows,
                  std::int64_t j0, std::int64_t cols, T* d) {
  const T keep = dropout_keep<T>(o.dropout_p);
  const std::uint64_t threshold = dropout_threshold(o.dropout_p);
  for (std::int64_t r = 0; r < rows; ++r) {
    // Masked keys' multipliers are 0: their weights are 0 (or NaN, which
    // stays NaN), so drawing them would change nothing.
    const std::int64_t n = attended(o, i0 + r, j0, cols);
    hashed_dropout_multipliers(o.dropout_seed, static_cast<std::uint64_t>((b * p.L + i0 + r) * p.S + j0), n, threshold,
                               keep, d + r * cols);
    std::fill(d + r * cols + n, d + (r + 1) * cols, T(0));
  }
}

// The calling thread's tile buffer of at least n elements, kept between
// tasks and calls and never zeroed: every element a task reads it wrote
// first (GEMMs with beta 0, the exps, the dropout multipliers). Tasks used to
// make and zero their own std::vectors, about 100 KiB of memset per head in
// forward and backward together: at the char-GPT's L = 64, 2.4 % of its
// training step. Tasks on one thread run one after another, never nested.
template <class T>
T* tile_scratch(std::size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// Keys a query block [i0, i0 + rows) may attend: [0, end).
std::int64_t key_end(const Plan& p, const AttentionOptions& o, std::int64_t i0, std::int64_t rows) {
  return o.is_causal ? std::min(p.S, i0 + rows) : p.S;
}

// Whether a bool mask or is_causal excludes key j from query i: such a
// score is -inf whatever q k^T was, and gets no gradient.
bool excluded(const Plan& p, const AttentionOptions& o, std::int64_t b, std::int64_t i, std::int64_t j) {
  if (o.is_causal) return j > i;
  if (!p.has_mask || !p.bool_mask) return false;
  return !p.mask.t.data_ptr<bool>()[p.mask.offsets[b] + i * p.mask.row_stride + j * p.mask.col_stride];
}

// The output, [*batch, L, Ev], laid out in memory as [*batch[:-1], L, heads,
// Ev] (the last batch dim, the heads, inside the rows), as PyTorch's
// memory-efficient attention lays it out: what usually follows,
// out.transpose(-3, -2).reshape(..., L, heads * Ev) to join the heads, is
// then a view where it was a copy (1.1 % of the char-GPT step), and that
// reshape's gradient reaches the backward in the same layout, read in place.
TensorBase make_output(const Plan& p, DType dtype) {
  const Dims sizes = with_matrix(p.batch, p.L, p.Ev);
  const int n = p.batch.size();
  if (n == 0) return make_tensor(sizes, dtype);
  Dims memory = p.batch;
  memory[n - 1] = p.L;
  memory.push_back(p.batch.back());
  memory.push_back(p.Ev);
  const TensorBase base = make_tensor(memory, dtype);
  Dims strides(base.strides());
  std::swap(strides[n - 1], strides[n]);  // heads and rows trade places
  return make_view(base, sizes, strides, 0);
}

// weights: when not null (whole_rows only), where the forward keeps the
// normalised weights for the backward, [B, L, S]: query i's row at (b L + i)
// S, its first key_end entries written (the kept_weights layout).
template <class T>
void forward_impl(const Plan& p, const AttentionOptions& o, const BatchedView& out, T* lse, T* weights) {
  const std::int64_t qblocks = (p.L + p.block_q - 1) / p.block_q;
  const double flops = 2.0 * static_cast<double>(p.B) * static_cast<double>(p.L) * static_cast<double>(p.S) *
                       static_cast<double>(p.E + p.Ev);
  for_each_task(p.B * qblocks, flops, [&](std::int64_t task) {
    const std::int64_t b = task / qblocks, i0 = (task % qblocks) * p.block_q;
    const std::int64_t rows = std::min(p.block_q, p.L - i0);
    constexpr T kNegInf = -std::numeric_limits<T>::infinity();
    const std::size_t tile = static_cast<std::size_t>(p.block_q * p.block_k);
    T* const scratch = tile_scratch<T>(2 * tile + 2 * p.block_q);  // scores, dropout multipliers, m, l
    T* const drop = scratch + tile;
    T* const m = drop + tile;
    T* const l = m + p.block_q;
    std::fill(m, m + rows, kNegInf);
    std::fill(l, l + rows, T(0));
    // The rows accumulate unnormalised and are divided by l at the end, or,
    // with whole rows, the weights are normalised before their product.
    const std::int64_t ld = out.row_stride;
    T* o_rows = out.t.data_ptr<T>() + out.offsets[b] + i0 * ld;
    const std::int64_t end = key_end(p, o, i0, rows);
    if (end == 0)  // no keys; otherwise the first tile writes the rows
      for (std::int64_t r = 0; r < rows; ++r) std::fill(o_rows + r * ld, o_rows + r * ld + p.Ev, T(0));
    for (std::int64_t j0 = 0; j0 < end; j0 += p.block_k) {
      const std::int64_t cols = std::min(p.block_k, end - j0);
      // The scores, then the weights: row r at s + r * sld.
      T* const s = weights ? weights + (b * p.L + i0) * p.S : scratch;
      const std::int64_t sld = weights ? p.S : cols;
      score_tile(p, o, b, i0, rows, j0, cols, s, sld);
      for (std::int64_t r = 0; r < rows; ++r) {
        T* sr = s + r * sld;
        // Keys from n on are masked (-inf) by is_causal.
        std::int64_t n = attended(o, i0 + r, j0, cols);
        // lane_max skips NaN; NaN scores still reach l (exp(NaN) is NaN), so
        // the row comes out NaN, as softmax gives it. Unless the max is -inf:
        // then only the rare check below tells a NaN row from a masked one.
        T m_new = std::max(m[r], lane_max(sr, n, kNegInf));
        if (m_new == kNegInf) {
          if (std::none_of(sr, sr + n, [](T x) { return std::isnan(x); })) {  // nothing attended yet in this row
            std::fill(sr, sr + cols, T(0));
            continue;
          }
          // NaN from here on: alpha, the tile's weights, l and m are NaN, and
          // so are the row's output and logsumexp (std::max keeps a NaN m).
          m_new = std::numeric_limits<T>::quiet_NaN();
        }
        if (std::isnan(m_new)) n = cols;         // softmax's NaN row: masked keys' weights are NaN too
        const T alpha = std::exp(m[r] - m_new);  // 0 when m[r] was -inf
        vec::exp_shifted(sr, sr, n, m_new);
        std::fill(sr + n, sr + cols, T(0));  // exp(-inf)
        // Over all cols (the masked ones are +0): lane_sum's lanes depend on
        // the length, and the sum must not change with the truncation.
        l[r] = l[r] * alpha + lane_sum<T>(cols, [sr](std::int64_t c) { return sr[c]; });
        m[r] = m_new;
        if (p.whole_rows) {  // the one tile: l is the row's sum, so normalise here
          const T inv = T(1) / l[r];
          for (std::int64_t c = 0; c < n; ++c) sr[c] *= inv;
        } else if (alpha != T(1) && j0 > 0) {  // the first tile's product overwrites the rows
          T* orow = o_rows + r * ld;
          for (std::int64_t e = 0; e < p.Ev; ++e) orow[e] *= alpha;
        }
      }
      const T* w = s;  // what multiplies v
      std::int64_t wld = sld;
      if (o.dropout_p > 0) {
        dropout_tile(p, o, b, i0, rows, j0, cols, drop);
        // The kept weights stay as softmax gave them; the product goes to drop.
        T* const dst = weights ? drop : s;
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t c = 0; c < cols; ++c) dst[r * cols + c] = s[r * sld + c] * drop[r * cols + c];
        w = dst;
        wld = cols;
      }
      const T* vb = p.v.t.data_ptr<T>() + p.v.offsets[b] + j0 * p.v.row_stride;
      gemm(dtype_of<T>(), rows, p.Ev, cols, 1.0, w, {false, wld}, vb, {false, p.v.row_stride}, j0 == 0 ? 0.0 : 1.0,
           o_rows, ld, kOp);
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      T* orow = o_rows + r * ld;
      if (l[r] == T(0)) {  // a row that attends nothing: zeros
        std::fill(orow, orow + p.Ev, T(0));
        lse[b * p.L + i0 + r] = kNegInf;
        continue;
      }
      if (!p.whole_rows) {
        const T inv = T(1) / l[r];
        for (std::int64_t e = 0; e < p.Ev; ++e) orow[e] *= inv;
      }
      lse[b * p.L + i0 + r] = m[r] + std::log(l[r]);
    }
  });
}

// One batch index per task: the key-block loop is outer (dk, dv of a block
// accumulate over the query blocks), and dq of the whole batch index belongs
// to this task, so no two threads write one gradient row. With the weights
// the forward kept (whole_rows), the tiles' scores and exps are not
// recomputed.
template <class T>
void backward_impl(const Plan& p, const AttentionOptions& o, const BatchedView& dout, const BatchedView& out,
                   const T* lse, const T* kept, T* dq, T* dk, T* dv) {
  const double flops = 4.0 * static_cast<double>(p.B) * static_cast<double>(p.L) * static_cast<double>(p.S) *
                       static_cast<double>(p.E + p.Ev);
  for_each_task(p.B, flops, [&](std::int64_t b) {
    const std::int64_t dld = dout.row_stride, old = out.row_stride;
    const T* dob = dout.t.data_ptr<T>() + dout.offsets[b];
    const T* ob = out.t.data_ptr<T>() + out.offsets[b];
    const T* lb = lse + b * p.L;
    const T* qb = p.q.t.data_ptr<T>() + p.q.offsets[b];
    const T* kb = p.k.t.data_ptr<T>() + p.k.offsets[b];
    T* dqb = dq + b * p.L * p.E;
    T* dkb = dk + b * p.S * p.E;
    T* dvb = dv + b * p.S * p.Ev;
    // The gradients are not zeroed first: the first product into each block
    // of rows writes it (beta 0), and only blocks no product reaches are
    // filled with zeros. Except causal whole rows, where each query block
    // reaches a few more keys than the one before: zeros, then all beta 1.
    if (p.S == 0) std::fill(dqb, dqb + p.L * p.E, T(0));
    const bool growing = p.whole_rows && o.is_causal;
    if (growing) {
      std::fill(dkb, dkb + p.S * p.E, T(0));
      std::fill(dvb, dvb + p.S * p.Ev, T(0));
    }
    const std::size_t tile = static_cast<std::size_t>(p.block_q * p.block_k);
    T* const scratch = tile_scratch<T>(4 * tile + static_cast<std::size_t>(p.L));
    T* const Pd = scratch + tile;  // P times the dropout multipliers
    T* const drop = Pd + tile;
    T* const dP = drop + tile;
    // D_i = dout_i . out_i = sum_j P_ij dP_ij (also with dropout), the
    // softmax backward's row term.
    T* const D = dP + tile;
    for (std::int64_t i = 0; i < p.L; ++i) {
      const T* dor = dob + i * dld;
      const T* orow = ob + i * old;
      D[i] = lane_sum<T>(p.Ev, [dor, orow](std::int64_t e) { return dor[e] * orow[e]; });
    }
    for (std::int64_t j0 = 0; j0 < p.S; j0 += p.block_k) {
      // Causal: query blocks wholly above the diagonal attend none of these keys.
      const std::int64_t first = o.is_causal ? (j0 / p.block_q) * p.block_q : 0;
      if (first >= p.L) {  // no query attends these keys
        const std::int64_t cols = std::min(p.block_k, p.S - j0);
        std::fill(dkb + j0 * p.E, dkb + (j0 + cols) * p.E, T(0));
        std::fill(dvb + j0 * p.Ev, dvb + (j0 + cols) * p.Ev, T(0));
      }
      const std::int64_t tile_cols = std::min(p.block_k, p.S - j0);
      const T* vt = p.vt.t.data_ptr<T>() + p.vt.offsets[b] + j0;  // the value tile, transposed
      for (std::int64_t i0 = first; i0 < p.L; i0 += p.block_q) {
        const std::int64_t rows = std::min(p.block_q, p.L - i0);
        // A whole-row tile stops at the block's last attended key, as the forward's did.
        const std::int64_t cols = p.whole_rows ? key_end(p, o, i0, rows) : tile_cols;
        const double dkv_beta = i0 == first && !growing ? 0.0 : 1.0, dq_beta = j0 == 0 ? 0.0 : 1.0;
        // The weights, row r at P + r * pld.
        const T* P = nullptr;
        std::int64_t pld = cols;
        bool nan_rows = false;  // a NaN row's weights are all NaN, excluded keys' too
        for (std::int64_t r = 0; r < rows; ++r) nan_rows = nan_rows || std::isnan(lb[i0 + r]);
        if (kept) {
          P = kept + (b * p.L + i0) * p.S;
          pld = p.S;
        } else {
          T* const s = scratch;
          score_tile(p, o, b, i0, rows, j0, cols, s, cols);
          for (std::int64_t r = 0; r < rows; ++r) {
            const T l = lb[i0 + r];
            T* pr = s + r * cols;
            if (std::isinf(l) && l < 0) {
              std::fill(pr, pr + cols, T(0));
            } else {
              // Keys from n on are masked by is_causal: weight 0, or NaN in a NaN row.
              const std::int64_t n = std::isnan(l) ? cols : attended(o, i0 + r, j0, cols);
              vec::exp_shifted(pr, pr, n, l);
              std::fill(pr + n, pr + cols, T(0));
            }
          }
          P = s;
        }
        const T* weights = P;  // what multiplied v in the forward
        std::int64_t wld = pld;
        if (o.dropout_p > 0) {  // the tile's multipliers, drawn once for both products
          dropout_tile(p, o, b, i0, rows, j0, cols, drop);
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < cols; ++c) Pd[r * cols + c] = P[r * pld + c] * drop[r * cols + c];
          weights = Pd;
          wld = cols;
        }
        // dv_j += weights^T dout_i
        gemm(dtype_of<T>(), cols, p.Ev, rows, 1.0, weights, {true, wld}, dob + i0 * dld, {false, dld}, dkv_beta,
             dvb + j0 * p.Ev, p.Ev, kOp);
        // dP = dout_i v_j^T (times the dropout multipliers)
        gemm(dtype_of<T>(), rows, cols, p.Ev, 1.0, dob + i0 * dld, {false, dld}, vt, {false, p.vt.row_stride}, 0.0, dP,
             cols, kOp);
        if (o.dropout_p > 0)
          for (std::int64_t i = 0; i < rows * cols; ++i) dP[i] *= drop[i];
        // dS = P * (dP - D_i), written over dP
        for (std::int64_t r = 0; r < rows; ++r) {
          const T d = D[i0 + r];
          const T* pr = P + r * pld;
          T* dr = dP + r * cols;
          for (std::int64_t c = 0; c < cols; ++c) dr[c] = pr[c] * (dr[c] - d);
        }
        // Rare: in a NaN row dS is NaN, but a key that the mask excludes had
        // its score replaced by -inf, which passes no gradient back (the math
        // path's where). Keys after the row's block are never visited.
        if (nan_rows)
          for (std::int64_t r = 0; r < rows; ++r)
            if (std::isnan(lb[i0 + r]))
              for (std::int64_t c = 0; c < cols; ++c)
                if (excluded(p, o, b, i0 + r, j0 + c)) dP[r * cols + c] = T(0);
        // dq_i += scale dS k_j;  dk_j += scale dS^T q_i
        gemm(dtype_of<T>(), rows, p.E, cols, o.scale, dP, {false, cols}, kb + j0 * p.k.row_stride,
             {false, p.k.row_stride}, dq_beta, dqb + i0 * p.E, p.E, kOp);
        gemm(dtype_of<T>(), cols, p.E, rows, o.scale, dP, {true, cols}, qb + i0 * p.q.row_stride,
             {false, p.q.row_stride}, dkv_beta, dkb + j0 * p.E, p.E, kOp);
      }
    }
  });
}

}  // namespace

Dims attention_batch_shape(const TensorBase& q, const TensorBase& k, const TensorBase& v, const AttentionOptions& o) {
  if (!q.defined() || !k.defined() || !v.defined())
    throw ValueError(fmt::format("{}: query, key and value must be defined tensors", kOp));
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2)
    throw ShapeError(
        fmt::format("{}: query, key and value need at least 2 dims ([..., L, E], [..., S, E], "
                    "[..., S, Ev]), got {}, {} and {}",
                    kOp, shape_str(q.sizes()), shape_str(k.sizes()), shape_str(v.sizes())));
  if (!q.is_floating_point() || k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw DTypeError(fmt::format("{}: query, key and value must share one floating dtype, got {}, {} and {}", kOp,
                                 dtype_name(q.dtype()), dtype_name(k.dtype()), dtype_name(v.dtype())));
  if (k.size(-1) != q.size(-1))
    throw ShapeError(fmt::format("{}: query {} and key {} differ in their last dim (the embedding size E)", kOp,
                                 shape_str(q.sizes()), shape_str(k.sizes())));
  if (v.size(-2) != k.size(-2))
    throw ShapeError(fmt::format("{}: key {} and value {} differ in the sequence length S (dim -2)", kOp,
                                 shape_str(k.sizes()), shape_str(v.sizes())));
  const Dims batch = broadcast_shapes(broadcast_shapes(batch_of(q), batch_of(k), kOp), batch_of(v), kOp);
  checked_numel(batch, kOp);  // batch dims broadcast from different inputs: [2^40, 1] and [1, 2^40]
  if (o.mask.defined()) {
    if (o.is_causal)
      throw ValueError(
          fmt::format("{}: give either attn_mask ({}) or is_causal, not both", kOp, shape_str(o.mask.sizes())));
    if (o.mask.dtype() != kBool && o.mask.dtype() != q.dtype())
      throw DTypeError(fmt::format("{}: attn_mask must be bool or of the query's dtype {}, got {}", kOp,
                                   dtype_name(q.dtype()), dtype_name(o.mask.dtype())));
    const Dims target = with_matrix(batch, q.size(-2), k.size(-2));
    bool fits = o.mask.dim() <= target.size();
    for (int d = 1; fits && d <= o.mask.dim(); ++d) {
      const std::int64_t m = o.mask.size(-d), t = target[target.size() - d];
      fits = m == t || m == 1;
    }
    if (!fits)
      throw ShapeError(fmt::format("{}: attn_mask {} does not broadcast to the scores' shape {}", kOp,
                                   shape_str(o.mask.sizes()), shape_str(target)));
  }
  if (!(o.dropout_p >= 0 && o.dropout_p <= 1))
    throw ValueError(fmt::format("{}: dropout_p has to be between 0 and 1, got {}", kOp, o.dropout_p));
  if (std::isnan(o.scale)) throw ValueError(fmt::format("{}: scale is NaN", kOp));
  return batch;
}

// float16 and bfloat16 attention computes in float32: the inputs widen
// exactly, the results round back once, and a float mask widens with them.
// The 16-bit copy of the tiled kernels kept the online softmax's running
// sums in 16 bits, and was 16 KB of the library.
namespace {
AttentionOptions widened(const AttentionOptions& o) {
  AttentionOptions wide = o;
  if (o.mask.defined() && o.mask.dtype() != kBool) wide.mask = widen(o.mask);
  return wide;
}
}  // namespace

AttentionForward attention_forward(const TensorBase& q, const TensorBase& k, const TensorBase& v,
                                   const AttentionOptions& o, bool keep_weights) {
  if (is_reduced_float(q.dtype())) {
    attention_batch_shape(q, k, v, o);  // the checks, on the dtypes as given
    // The logsumexp stays in float32: the backward's weights exp(s - lse)
    // are off by as much as the lse is. Rounded to bfloat16, an lse of 40.69
    // was 40.75 (weights 6 % off); float16 rounded 65536 to inf (all weights
    // and gradients 0). So do kept weights.
    AttentionForward wide = attention_forward(widen(q), widen(k), widen(v), widened(o), keep_weights);
    wide.out = to(wide.out, q.dtype());
    return wide;
  }
  Plan p = make_plan(q, k, v, o);
  p.kt = batched(transposed(k), p.batch, p.E, p.S);
  AttentionForward result;
  result.out = make_output(p, q.dtype());
  Dims lse_shape = p.batch;
  lse_shape.push_back(p.L);
  result.logsumexp = make_tensor(lse_shape, q.dtype());
  if (keep_weights && p.whole_rows) result.weights = make_tensor(with_matrix(p.batch, p.L, p.S), q.dtype());
  dispatch_compute_floating(q.dtype(), kOp, [&]<class T>() {
    forward_impl<T>(p, o, batched(result.out, p.batch, p.L, p.Ev), result.logsumexp.data_ptr<T>(),
                    result.weights.defined() ? result.weights.data_ptr<T>() : nullptr);
  });
  return result;
}

std::tuple<TensorBase, TensorBase, TensorBase> attention_backward(const TensorBase& dout, const TensorBase& q,
                                                                  const TensorBase& k, const TensorBase& v,
                                                                  const TensorBase& out, const TensorBase& logsumexp,
                                                                  const TensorBase& weights,
                                                                  const AttentionOptions& o) {
  const Dims out_shape = with_matrix(attention_batch_shape(q, k, v, o), q.size(-2), v.size(-1));
  if (dout.shape() != out_shape || dout.dtype() != q.dtype())
    throw ShapeError(fmt::format("{}_backward: the output gradient is {} {}, expected {} {}", kOp,
                                 shape_str(dout.sizes()), dtype_name(dout.dtype()), shape_str(out_shape),
                                 dtype_name(q.dtype())));
  if (is_reduced_float(q.dtype())) {  // in float32, as the forward
    auto [dq, dk, dv] = attention_backward(widen(dout), widen(q), widen(k), widen(v), widen(out), widen(logsumexp),
                                           weights, widened(o));
    return {to(dq, q.dtype()), to(dk, q.dtype()), to(dv, q.dtype())};
  }
  Plan p = make_plan(q, k, v, o);
  const bool use_kept = weights.defined() && p.whole_rows;
  if (!use_kept) p.kt = batched(transposed(k), p.batch, p.E, p.S);
  p.vt = batched(transposed(v), p.batch, p.Ev, p.S);
  if (use_kept && (weights.shape() != with_matrix(p.batch, p.L, p.S) || weights.dtype() != q.dtype() ||
                   (weights.numel() > 0 && !weights.is_contiguous())))
    throw ShapeError(fmt::format("{}_backward: kept weights are {} {}, expected contiguous {} {}", kOp,
                                 shape_str(weights.sizes()), dtype_name(weights.dtype()),
                                 shape_str(with_matrix(p.batch, p.L, p.S)), dtype_name(q.dtype())));
  // dout and out read in place when their rows can be (make_output's layout).
  const BatchedView dout_rows = batched(gemm_ready(dout), p.batch, p.L, p.Ev);
  const BatchedView out_rows = batched(gemm_ready(out), p.batch, p.L, p.Ev);
  const TensorBase lse_c = contiguous(logsumexp);
  TensorBase dq = make_tensor(with_matrix(p.batch, p.L, p.E), q.dtype());
  TensorBase dk = make_tensor(with_matrix(p.batch, p.S, p.E), q.dtype());
  TensorBase dv = make_tensor(with_matrix(p.batch, p.S, p.Ev), q.dtype());
  dispatch_compute_floating(q.dtype(), kOp, [&]<class T>() {
    backward_impl<T>(p, o, dout_rows, out_rows, lse_c.data_ptr<T>(), use_kept ? weights.data_ptr<T>() : nullptr,
                     dq.data_ptr<T>(), dk.data_ptr<T>(), dv.data_ptr<T>());
  });
  return {dq, dk, dv};
}

TensorBase attention_dropout_mask(const Dims& batch, std::int64_t L, std::int64_t S, DType dtype, double p,
                                  std::uint64_t seed) {
  TensorBase mask = make_tensor(with_matrix(batch, L, S), dtype);
  dispatch_floating(dtype, kOp, [&]<class T>() {
    const T keep = dropout_keep<T>(p);
    hashed_dropout_multipliers(seed, 0, mask.numel(), dropout_threshold(p), keep, mask.data_ptr<T>());
  });
  return mask;
}

}  // namespace tg::kernel
