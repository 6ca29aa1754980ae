// Two registry-wide properties (testing/op_registry.h) that the gradient
// checks do not cover:
//
// 1. Layout invariance. The gradient checks (support/registry_gradcheck.h)
//    run float64 differentiable entries on transposed, strided and expanded
//    inputs. Here every entry that is not an alias, in every dtype it lists
//    (float32, float64, float16, bfloat16, the integers, bool), differentiable
//    or not, on every sample configuration, runs on contiguous inputs and on
//    the same values laid out
//      - transposed (the last two dims' strides swapped),
//      - strided (every other element along dim 0 of a buffer twice as large),
//      - expanded (one slice along the first dim of size > 1, repeated with
//        stride 0), against a contiguous copy of those same values,
//    where the entry's flags allow (strided_ok, expand_ok; an in-place entry
//    writes into its first input, which stays contiguous on the expanded
//    layout, where a write would overlap itself). Every forward result must
//    be bitwise the same as the contiguous run's (any NaN equals any NaN,
//    +0 equals -0); for differentiable entries in floating dtypes the
//    gradients with respect to every floating input too, with a fixed
//    grad_output (an in-place entry's first input is cloned first, as
//    gradcheck's pure() does, so its own layout is checked forward only).
//    The entries whose products go through BLAS, oneDNN or LAPACK (uses_blas:
//    a transposed operand changes a GEMM's trans flag, so its blocking and
//    rounding) and the float64 reductions (sums_in_memory_order: they add in
//    memory order) are compared with a tolerance instead, and the ones that
//    needed it are listed in the test's output.
// 2. Inputs with a 0-size dim. Every entry (aliases too), every dtype it
//    lists, every sample: the first dim of size > 1 of the first input that
//    has one is made 0, in that input alone and in every input that holds
//    the same size at the same dim counted from the right (broadcast
//    alignment). The call must throw a tg::Error or return; a floating result
//    with elements must not hold garbage (two runs, each after the result's
//    memory was filled with a different pattern, give the same bits), and
//    differentiable entries' backward must not crash, throw anything but a
//    tg::Error, or return a gradient of another shape than its input's.
#include <doctest/doctest.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/half.h>
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/testing/op_registry.h>

#include "support/registry_gradcheck.h"
#include "support/registry_runs.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test_registry_layouts {

using tg::Dims;
using tg::DType;
using tg::Tensor;
using tg::testing::OpInfo;
using namespace tg_test::registry_runs;

namespace {

// ---- layouts: support/registry_gradcheck.h's, as the gradient checks make them --

using tg_test::in_layout;  // undefined where the shape has no room for the layout
using tg_test::Layout;
using tg_test::layout_name;

// ---- the entries compared with a tolerance -------------------------------------

// Products that OpenBLAS, oneDNN or LAPACK compute: a transposed or strided
// operand changes the GEMM's trans flag or leading dimension (or a copy to a
// packed buffer), so its blocking, and the rounding of its sums.
bool uses_blas(const OpInfo& op) {
  const std::string& n = op.name;
  // tg::linalg's norms are reductions (held to the same bits as sum), except
  // the nuclear and spectral norms, which take an SVD.
  if (n == "linalg::vector_norm") return false;
  if (n == "linalg::matrix_norm") return op.variant.starts_with("nuc") || op.variant == "ord 2";
  if (n.starts_with("linalg::")) return true;
  // outer and kron multiply without summing: exact whatever the layout.
  for (const char* p : {"mm", "mv", "matmul", "linear", "conv", "einsum", "tensordot", "attention", "cell", "lstm",
                        "gru", "rnn", "dot", "inner", "cdist", "multi_dot", "bilinear"})
    if (n.find(p) != std::string::npos) return true;
  return false;
}

// float64 reductions over several dims or all elements: the kernel
// (core/kernels/reduce.cpp) folds each contiguous run of the input on its
// own, in memory order and in lanes, then adds the runs, so a transposed or
// strided input, whose runs are shorter or in another order, sums in another
// order and may differ in the last bits (1 to 3 ulp measured; PyTorch's sums
// depend on the layout too). float32 and the 16-bit floats accumulate in
// double and round once, and stay bitwise. Only the thread count is promised
// not to matter (docs/performance.md, "Reproducible results").
bool sums_in_memory_order(const OpInfo& op, DType dtype) {
  if (dtype != tg::kFloat64) return false;
  return op.family == "reduce" || op.name == "reduce_loss" || op.name == "linalg::vector_norm" ||
         op.name == "linalg::matrix_norm";
}

double rel_tolerance(DType d) {
  switch (d) {
    case tg::kFloat32:
      return 1e-5;
    case tg::kFloat64:
      return 1e-12;
    case tg::kFloat16:  // a float32 product rounded to half: one ulp of the result
      return 1e-3;
    case tg::kBFloat16:
      return 8e-3;
    default:
      return 0;
  }
}

// ---- bits -------------------------------------------------------------------------

// Bitwise, except that any NaN equals any NaN and +0 equals -0 (floating).
bool same(std::uint64_t a, std::uint64_t b, DType d) {
  if (a == b) return true;
  if (!tg::is_floating(d)) return false;
  const double x = as_double(a, d), y = as_double(b, d);
  return (std::isnan(x) && std::isnan(y)) || (x == 0 && y == 0);
}

std::string show(std::uint64_t b, DType d) {
  char s[80];
  if (tg::is_floating(d))
    std::snprintf(s, sizeof s, "%.17g (0x%llx)", as_double(b, d), static_cast<unsigned long long>(b));
  else std::snprintf(s, sizeof s, "%.0f", as_double(b, d));
  return s;
}

std::string shapes_str(const std::vector<Dims>& shapes) {
  std::string s;
  for (const auto& d : shapes) {
    if (!s.empty()) s += ' ';
    s += tg::shape_str(d);
  }
  return s;
}

std::string dname(DType d) { return std::string(tg::dtype_name(d)); }

// ---- comparing ------------------------------------------------------------------

struct Compared {
  std::string message;     // the first difference beyond what is allowed ("" if none)
  bool tolerated = false;  // differed bitwise, within the tolerance
  double worst = 0;        // the largest relative difference tolerated
};

// `got` against `want`; `tolerance` for floating elements (0: bitwise).
Compared compare(const Result& want, const Result& got, const char* direction, bool tolerance) {
  Compared c;
  const std::string dir = direction;
  if (want.threw != got.threw) {
    c.message = dir + " throws " +
                (want.threw ? "on contiguous inputs only: " + want.error : "on this layout only: " + got.error);
    return c;
  }
  if (want.threw) return c;  // both threw (counted by the caller)
  if (want.outs.size() != got.outs.size()) {
    c.message = dir + ": " + std::to_string(want.outs.size()) + " results on contiguous inputs, " +
                std::to_string(got.outs.size()) + " here";
    return c;
  }
  const std::string which = dir == "forward" ? "output " : "gradient ";
  for (std::size_t o = 0; o < want.outs.size(); ++o) {
    const Values& a = want.outs[o];
    const Values& b = got.outs[o];
    if (a.defined != b.defined || a.dtype != b.dtype || a.shape != b.shape) {
      c.message = dir + ": " + which + std::to_string(o) + " is " +
                  (a.defined ? tg::shape_str(a.shape) + " " + dname(a.dtype) : "undefined") + " contiguous, " +
                  (b.defined ? tg::shape_str(b.shape) + " " + dname(b.dtype) : "undefined") + " here";
      return c;
    }
    if (!a.defined) continue;
    const double rtol = tolerance ? rel_tolerance(a.dtype) : 0;
    double scale = 0;  // the largest finite magnitude of the contiguous result
    if (rtol > 0)
      for (std::uint64_t bits : a.bits) {
        const double x = std::abs(as_double(bits, a.dtype));
        if (std::isfinite(x)) scale = std::max(scale, x);
      }
    for (std::size_t i = 0; i < a.bits.size(); ++i) {
      if (same(a.bits[i], b.bits[i], a.dtype)) continue;
      if (rtol > 0) {
        const double x = as_double(a.bits[i], a.dtype), y = as_double(b.bits[i], a.dtype);
        const double diff = std::abs(x - y);
        // Relative to the element, or to the result's largest element (a sum
        // that cancels has no relative precision of its own).
        if (std::isfinite(diff) && (diff <= rtol * std::max(std::abs(x), std::abs(y)) || diff <= rtol * scale)) {
          c.tolerated = true;
          c.worst = std::max(c.worst, diff / std::max({std::abs(x), std::abs(y), scale}));
          continue;
        }
      }
      std::size_t count = 0;
      for (std::size_t j = i; j < a.bits.size(); ++j) count += !same(a.bits[j], b.bits[j], a.dtype);
      c.message = dir + ": " + which + std::to_string(o) + " (" + tg::shape_str(a.shape) + ") differs" +
                  (rtol > 0 ? " beyond the tolerance" : "") + " at " + std::to_string(count) + " of " +
                  std::to_string(a.bits.size()) + " elements (or fewer), first at " + index_str(i, a.shape) +
                  ": contiguous " + show(a.bits[i], a.dtype) + ", here " + show(b.bits[i], a.dtype);
      return c;
    }
  }
  return c;
}

// ---- 1. layouts -------------------------------------------------------------------

struct LayoutTally {
  std::int64_t entries = 0, runs = 0, forward_checks = 0, backward_checks = 0, both_threw = 0;
  std::vector<std::string> violations;
  std::map<std::string, double> tolerated;  // label dtype -> worst relative difference
};

// The inputs of one run: `values` in `layout`, fresh, and `reference`, a
// contiguous copy of the same values (the expanded layout repeats one slice
// of `values`); `changed` says whether any input's layout differs from
// contiguous.
struct Inputs {
  std::vector<Tensor> laid_out, reference;
  bool changed = false;
};

Inputs make_inputs(const OpInfo& op, const std::vector<Tensor>& values, Layout layout) {
  Inputs in;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Tensor& v = values[i];
    Tensor t;
    // An in-place entry writes into its first input: an expanded one would
    // overlap itself.
    if (!(layout == Layout::Expanded && op.in_place && i == 0)) t = in_layout(v, layout);
    tg::NoGradGuard no_grad;
    if (t.defined()) {
      in.changed = true;
      in.laid_out.push_back(t);
      in.reference.push_back(t.contiguous().clone());
    } else {
      in.laid_out.push_back(v.clone());
      in.reference.push_back(v.clone());
    }
  }
  return in;
}

// Leaves that require grad (floating inputs) keeping each input's layout.
std::vector<Tensor> leaves_of(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const auto& t : inputs) {
    Tensor l = t.detach();
    if (tg::is_floating(l.dtype())) l.set_requires_grad(true);
    out.push_back(l);
  }
  return out;
}

void layout_entry(const OpInfo& op, DType dtype, std::uint64_t seed, LayoutTally& tally) {
  const bool tolerance = uses_blas(op) || sums_in_memory_order(op, dtype);
  const bool grads = op.differentiable && tg::is_floating(dtype);
  for (std::size_t k = 0; k < op.samples.size(); ++k) {
    tg::Generator gen(seed + k);
    std::vector<Tensor> values;
    try {
      values = op.sample(k, dtype, gen);
    } catch (const std::exception& e) {
      tally.violations.push_back(op.label() + ", " + dname(dtype) + ": sample " + std::to_string(k) +
                                 " cannot be made: " + e.what());
      continue;
    }
    const std::string where = op.label() + ", " + dname(dtype) + " (" + shapes_str(op.samples[k]) + ")";
    for (Layout layout : {Layout::Transposed, Layout::Strided, Layout::Expanded}) {
      if (!op.strided_ok) continue;
      if (!op.expand_ok && layout == Layout::Expanded) continue;
      Inputs in = make_inputs(op, values, layout);
      if (!in.changed) continue;
      ++tally.runs;
      // Forward: fresh copies of the reference, and the laid-out inputs
      // (made anew for the backward: an in-place entry wrote into them).
      const Result want = forward_on(op, fresh(in.reference, false));
      const Result got = forward_on(op, in.laid_out);
      ++tally.forward_checks;
      const std::string at = where + ", " + layout_name(layout) + ", ";
      if (want.threw && got.threw) ++tally.both_threw;
      if (not_tg_error(want) || not_tg_error(got))
        tally.violations.push_back(at + "forward throws " + (not_tg_error(want) ? want.error : got.error));
      Compared c = compare(want, got, "forward", tolerance);
      if (!c.message.empty()) tally.violations.push_back(at + c.message);
      if (c.tolerated) {
        double& w = tally.tolerated[op.label() + " " + dname(dtype)];
        w = std::max(w, c.worst);
      }
      if (!grads || want.threw) continue;
      const std::vector<Tensor> gos = normal_grad_outputs(want.outs, seed + 7919 * (k + 1));
      const std::vector<Tensor> reference = leaves_of(fresh(in.reference, false));
      const Result bwant = gradients(op, reference, requiring_grad(reference), gos);
      in = make_inputs(op, values, layout);
      const std::vector<Tensor> laid_out = leaves_of(in.laid_out);
      const Result bgot = gradients(op, laid_out, requiring_grad(laid_out), gos);
      if (not_tg_error(bwant) || not_tg_error(bgot))
        tally.violations.push_back(at + "backward throws " + (not_tg_error(bwant) ? bwant.error : bgot.error));
      if (!bwant.nothing.empty() && !bwant.threw) continue;
      ++tally.backward_checks;
      c = compare(bwant, bgot, "backward", tolerance);
      if (!c.message.empty()) tally.violations.push_back(at + c.message);
      if (c.tolerated) {
        double& w = tally.tolerated[op.label() + " " + dname(dtype) + " (backward)"];
        w = std::max(w, c.worst);
      }
    }
  }
}

// ---- 2. 0-size inputs --------------------------------------------------------------

struct EmptyTally {
  std::int64_t calls = 0, threw = 0, returned = 0, nonempty_floating = 0, backward_runs = 0, backward_threw = 0;
  std::vector<std::string> violations;
  std::int64_t nonempty = 0;
  std::vector<std::string> values;  // returned floating results with elements: what they hold
  std::vector<std::string> shape_suspects;
};

// Sample `shapes` with a 0-size dim: the first dim of size > 1 of the first
// input that has one, in that input alone (every_input false) or in every
// input with that size at that dim counted from the right. `shapes` empty if
// no input has a dim > 1, or (every_input) no other input shares it.
struct Emptied {
  std::vector<Dims> shapes;
  std::vector<std::pair<std::size_t, int>> where;  // (input, dim) made 0
  std::int64_t size = 0;                           // their size in the sample
};

Emptied emptied(const std::vector<Dims>& shapes, bool every_input) {
  Emptied e;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Dims& s = shapes[i];
    const int nd = static_cast<int>(s.size());
    for (int d = 0; d < nd; ++d) {
      if (s[d] <= 1) continue;
      e.size = s[d];
      e.where.emplace_back(i, d);
      if (every_input) {
        const int from_right = nd - d;
        for (std::size_t j = 0; j < shapes.size(); ++j) {
          const int ndj = static_cast<int>(shapes[j].size());
          if (j != i && ndj >= from_right && shapes[j][ndj - from_right] == s[d])
            e.where.emplace_back(j, ndj - from_right);
        }
        if (e.where.size() == 1) return {};
      }
      e.shapes = shapes;
      for (const auto& w : e.where) e.shapes[w.first][w.second] = 0;
      return e;
    }
  }
  return {};
}

// `e`'s shapes with the emptied dims of size n.
std::vector<Dims> with_size(const Emptied& e, std::int64_t n) {
  std::vector<Dims> out = e.shapes;
  for (const auto& w : e.where) out[w.first][w.second] = n;
  return out;
}

// Fills freed memory of each result's size with `pattern` bytes, so that a
// kernel that leaves an element unwritten returns a different value in each
// of two runs (the allocator hands a freed block of the same size back).
void poison(const Result& r, unsigned char pattern) {
  for (const auto& v : r.outs) {
    if (!v.defined || v.bits.empty()) continue;
    const Tensor t = tg::empty(v.shape, {.dtype = v.dtype});
    std::memset(t.raw_data(), pattern, static_cast<std::size_t>(t.numel()) * t.element_size());
  }
}

std::string values_str(const Values& v) {
  std::set<std::string> distinct;
  for (std::uint64_t b : v.bits) {
    char s[32];
    std::snprintf(s, sizeof s, "%g", as_double(b, v.dtype));
    distinct.insert(s);
    if (distinct.size() > 4) break;
  }
  std::string s;
  for (const auto& d : distinct) {
    if (!s.empty()) s += ", ";
    s += d;
  }
  return s + (distinct.size() > 4 ? ", ..." : "");
}

// The entry's result shapes on a sample of `shapes`, nothing if it throws.
std::vector<Dims> result_shapes(const OpInfo& op, const std::vector<Dims>& shapes, DType dtype, bool& threw) {
  OpInfo probe = op;
  probe.samples = {shapes};
  std::vector<Dims> out;
  threw = false;
  try {
    tg::Generator gen(1);
    const std::vector<Tensor> in = probe.sample(0, dtype, gen);
    tg::manual_seed(kGlobalSeed);
    tg::NoGradGuard no_grad;
    for (const auto& t : op(in)) out.push_back(t.defined() ? t.shape() : Dims{-1});
  } catch (const std::exception&) {
    threw = true;
  }
  return out;
}

// The result shapes on the emptied inputs against those the sample's size n
// and n + 1 extrapolate to (each result dim affine in n); "" if they agree or
// nothing extrapolates.
std::string shape_suspect(const OpInfo& op, const Emptied& e, DType dtype, const std::vector<Values>& got) {
  bool t1 = false, t2 = false;
  const std::vector<Dims> a = result_shapes(op, with_size(e, e.size), dtype, t1);
  const std::vector<Dims> b = result_shapes(op, with_size(e, e.size + 1), dtype, t2);
  if (t1 || t2 || a.size() != b.size() || a.size() != got.size()) return "";
  for (std::size_t o = 0; o < a.size(); ++o) {
    if (a[o].size() != b[o].size() || !got[o].defined) continue;
    const Dims& g = got[o].shape;
    std::string predicted = "[";
    bool differ = g.size() != a[o].size();
    for (int d = 0; d < static_cast<int>(a[o].size()); ++d) {
      const std::int64_t p = a[o][d] - e.size * (b[o][d] - a[o][d]);
      if (d) predicted += ", ";
      predicted += std::to_string(p);
      differ = differ || (d < static_cast<int>(g.size()) && g[d] != p);
    }
    if (differ)
      return "output " + std::to_string(o) + " is " + tg::shape_str(g) + "; " + tg::shape_str(a[o]) + " at size " +
             std::to_string(e.size) + " and " + tg::shape_str(b[o]) + " at " + std::to_string(e.size + 1) +
             " extrapolate to " + predicted + "]";
  }
  return "";
}

void empty_case(const OpInfo& op, DType dtype, const Emptied& e, const char* how, std::uint64_t seed,
                EmptyTally& tally) {
  const std::vector<Dims>& shapes = e.shapes;
  OpInfo probe = op;
  probe.samples = {shapes};
  const std::string at = op.label() + ", " + dname(dtype) + " (" + shapes_str(shapes) + ", " + how + "): ";
  INFO(at);
  std::vector<Tensor> inputs;
  try {
    tg::Generator gen(seed);
    inputs = probe.sample(0, dtype, gen);
  } catch (const std::exception& e) {
    tally.violations.push_back(at + "its sample cannot be made: " + e.what());
    return;
  }
  ++tally.calls;
  const Result first = forward(op, inputs);
  if (not_tg_error(first)) tally.violations.push_back(at + "forward throws " + first.error);
  if (first.threw) {
    ++tally.threw;
    return;
  }
  ++tally.returned;
  // Result shapes: as the sample's sizes extrapolate (reviewed by hand: the
  // extrapolation is a heuristic).
  if (dtype == op.dtypes.front()) {
    const std::string suspect = shape_suspect(op, e, dtype, first.outs);
    if (!suspect.empty()) tally.shape_suspects.push_back(at + suspect);
  }
  // Garbage: two more runs, after the results' memory held different bytes.
  bool elements = false, floating_elements = false;
  for (const auto& v : first.outs) {
    elements = elements || !v.bits.empty();
    floating_elements = floating_elements || (tg::is_floating(v.dtype) && !v.bits.empty());
  }
  tally.nonempty_floating += floating_elements;
  if (elements) {
    ++tally.nonempty;
    Result runs[2];
    const unsigned char patterns[2] = {0x7F, 0xC3};
    for (int r = 0; r < 2; ++r) {
      poison(first, patterns[r]);
      runs[r] = forward(op, inputs);
    }
    const Compared c = compare(runs[0], runs[1], "forward", false);
    if (!c.message.empty()) tally.violations.push_back(at + "garbage (two runs differ): " + c.message);
    for (std::size_t o = 0; o < first.outs.size(); ++o)
      if (tg::is_floating(first.outs[o].dtype) && !first.outs[o].bits.empty())
        tally.values.push_back(at + "output " + std::to_string(o) + " " + tg::shape_str(first.outs[o].shape) + " = {" +
                               values_str(first.outs[o]) + "}");
  }
  if (!op.differentiable || !tg::is_floating(dtype)) return;
  // Backward on the (empty or not) results: must not crash, may throw a
  // tg::Error, must give each input's shape.
  ++tally.backward_runs;
  const std::vector<Tensor> gos = normal_grad_outputs(first.outs, seed + 1);
  const Result back = backward(op, inputs, gos);
  if (not_tg_error(back)) tally.violations.push_back(at + "backward throws " + back.error);
  if (back.threw) {
    ++tally.backward_threw;
    return;
  }
  std::vector<Dims> floating;  // the shapes of the inputs backward() differentiates by
  for (const auto& t : inputs)
    if (is_float(t.dtype())) floating.push_back(t.shape());
  for (std::size_t i = 0; i < back.outs.size(); ++i) {
    const Values& g = back.outs[i];
    if (!g.defined) continue;
    if (g.shape != floating[i])
      tally.violations.push_back(at + "backward: the gradient of floating input " + std::to_string(i) + " is " +
                                 tg::shape_str(g.shape) + ", the input " + tg::shape_str(floating[i]));
    for (std::uint64_t b : g.bits)
      if (!std::isfinite(as_double(b, g.dtype))) {
        tally.values.push_back(at + "backward: gradient " + std::to_string(i) + " " + tg::shape_str(g.shape) + " = {" +
                               values_str(g) + "}");
        break;
      }
  }
}

std::string seconds_since(std::chrono::steady_clock::time_point start) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return s;
}

}  // namespace

TEST_CASE("registry: the same results on transposed, strided and expanded inputs as on contiguous ones") {
  const auto start = std::chrono::steady_clock::now();
  LayoutTally tally;
  std::uint64_t seed = 260000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (!op.alias_of.empty() || op.samples.empty()) continue;
    ++tally.entries;
    for (std::size_t t = 0; t < op.dtypes.size(); ++t) layout_entry(op, op.dtypes[t], seed + 10 * t, tally);
  }
  MESSAGE("layout sweep: " << tally.entries << " entries, " << tally.runs << " runs, " << tally.forward_checks
                           << " forward and " << tally.backward_checks << " backward comparisons (" << tally.both_threw
                           << " where both layouts threw); " << tally.violations.size() << " violation(s); "
                           << seconds_since(start));
  std::string tolerated = "compared with a tolerance, and differing bitwise:";
  for (const auto& t : tally.tolerated) {
    char w[32];
    std::snprintf(w, sizeof w, "%.2g", t.second);
    tolerated += "\n    " + t.first + ": at most " + w + " relative";
  }
  MESSAGE(tolerated);
  for (const auto& v : tally.violations) FAIL_CHECK(v);
  CHECK(tally.violations.empty());
  CHECK(tally.forward_checks > 0);
}

TEST_CASE("registry: inputs with a 0-size dim throw a tg::Error or give a well-defined result") {
  const auto start = std::chrono::steady_clock::now();
  EmptyTally tally;
  std::uint64_t seed = 520000;
  std::int64_t entries = 0;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    ++entries;
    for (std::size_t k = 0; k < op.samples.size(); ++k)
      for (DType dtype : op.dtypes) {
        const Emptied first = emptied(op.samples[k], false), every = emptied(op.samples[k], true);
        if (!first.shapes.empty()) empty_case(op, dtype, first, "first input", seed + k, tally);
        if (!every.shapes.empty() && every.shapes != first.shapes)
          empty_case(op, dtype, every, "every input", seed + k, tally);
      }
  }
  MESSAGE("0-size sweep: " << entries << " entries, " << tally.calls << " calls, " << tally.threw
                           << " threw a tg::Error, " << tally.returned << " returned (" << tally.nonempty
                           << " with elements, " << tally.nonempty_floating << " floating); " << tally.backward_runs
                           << " backward runs, " << tally.backward_threw << " threw; " << tally.violations.size()
                           << " violation(s); " << seconds_since(start));
  std::string suspects = "result shapes unlike the extrapolation from the sample's sizes (review):";
  for (const auto& v : tally.shape_suspects) suspects += "\n    " + v;
  MESSAGE(suspects);
  std::string values = "results with elements from 0-size inputs:";
  for (const auto& v : tally.values) values += "\n    " + v;
  MESSAGE(values);
  for (const auto& v : tally.violations) FAIL_CHECK(v);
  CHECK(tally.violations.empty());
}

}  // namespace test_registry_layouts
