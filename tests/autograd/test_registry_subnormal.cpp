// Subnormal floats under tapegrad's default float mode (core/float_mode.h),
// for every op of the registry (testing/op_registry.h), so that a kernel that
// forgets the promise is caught by construction instead of by a hunt.
//
// The promise: by default the kernels flush (FTZ/DAZ), and only values below
// FLT_MIN (DBL_MIN) change, reading and writing as zero in arithmetic;
// selections (comparisons, relu, clamp, max, max pooling, where, sorting,
// indexing, copies, dtype conversions, and their gradients) keep subnormals
// as IEEE does. For every entry that is not an alias, in float32 and float64
// where it takes them, on every sample configuration:
//   - the registry's sample, with about a third of the elements of each
//     floating input replaced by subnormals of both signs (of one sign, or
//     none, where the input's domain says so: subnormal_signs), the other
//     values kept within 1e-3..1e3 in magnitude so that normal arithmetic
//     makes no subnormals of its own;
//   - y_flush: the entry in the default mode; y_ieee: the entry in IEEE mode
//     (set_flush_denormal(false)); y_daz: the entry in IEEE mode on the inputs
//     with each subnormal replaced by a zero of its sign;
//   - rule 1, every floating element: y_flush is (bitwise; any NaN equals any
//     NaN, +0 equals -0) one of y_ieee, ftz(y_ieee), y_daz, ftz(y_daz), ftz
//     turning a subnormal into a zero of its sign. The kernels read a
//     subnormal as itself or as zero, and keep a subnormal result or flush
//     it; anything else mixed the two readings (a comparison that kept the
//     subnormal beside arithmetic that read it as 0: NaN from 0/0);
//   - rule 2, the selections (is_selection): they decide as IEEE does, so
//     y_daz is no candidate for them (backward, the gradient in IEEE mode with
//     only the grad_output daz'ed is, since their gradients may sum the
//     grad_output's elements); and forward, a subnormal input that IEEE
//     passes through unchanged comes out unchanged (backward, a gradient
//     routes the grad_output with arithmetic that may flush it, as PyTorch's
//     accumulation does with flushing on). Rule 1 alone accepts a selection that
//     reads subnormals as zero throughout (relu(1e-39) = 0 is ftz(y_ieee);
//     amax's gradient split between 1e-39 and 2e-39 as a tie is y_daz), which
//     is what a selection that forgot KeepDenormalsGuard does;
//   - integer and bool results: exactly y_ieee (integers_may_be_daz);
//   - the same for the gradients of differentiable entries, with a
//     grad_output that holds subnormals too (the daz run daz'es it as well);
//   - a run that throws in any of the three fails, whichever throw (a
//     throw on the daz'ed inputs alone still compares y_flush with y_ieee);
//   - every entry runs, or is on the list of those no subnormal fits.
// The second test case runs the selections and the entries with integer or
// bool results on inputs past parallel_threshold() elements, with two
// threads, so that their parallel loops run on OpenMP's workers.
#include <doctest/doctest.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/testing/op_registry.h>

#include "support/float_modes.h"
#include "support/registry_runs.h"
#include "support/thread_count.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace test_registry_subnormal {

using tg::DType;
using tg::Tensor;
using tg::testing::Domain;
using tg::testing::OpInfo;
using namespace tg_test::registry_runs;

namespace {

#if defined(__SSE__)
constexpr bool kHaveModes = true;
#else
constexpr bool kHaveModes = false;  // set_flush_denormal does nothing: nothing flushes
#endif

// ---- the allowlist ------------------------------------------------------------

// Entries whose result in the default mode may break rule 1 because an
// arithmetic intermediate, not a selection, flushes, each checked by hand.
// `direction` is "forward", "backward" or "" (both). An allowlisted entry is
// still held to everything else: a NaN that neither y_ieee nor y_daz has is
// never excused, and rule 2 has no allowlist.
struct Allowed {
  const char* label;  // OpInfo::label()
  const char* direction;
  const char* reason;
};
constexpr Allowed kAllowlist[] = {
    // LAPACK runs in IEEE mode (only tapegrad's loops and the thread calling
    // GEMM flush), while the entry's own a + 4I (an add, which flushes) hands
    // it A with its subnormals read as 0 and b as it is: A_daz \ b, and the
    // gradient likewise. Neither y_ieee nor y_daz, and no selection.
    {"linalg::solve", "", "the entry's a + 4I flushes A's subnormals; LAPACK then solves with b's kept"},
    {"linalg::cholesky_solve", "", "the entry's tril(l) + 4I flushes; LAPACK then solves with y's kept"},
    {"linalg::cholesky_solve (upper)", "", "the entry's triu(l) + 4I flushes; LAPACK then solves with y's kept"},
    // dx = dy e x^(e-1) and de = dy y log(x): libm's pow and log read a
    // subnormal x as itself (float_mode.h, "libm"), the products read a
    // subnormal dy as 0, so x = 5e-324, e = 0.85, dy = 1e-310 gives 0 where
    // IEEE gives 2.7e-262 (and the daz'ed inputs NaN, from 0^-0.15 * 0).
    {"pow (tensor^tensor)", "backward", "libm keeps a subnormal x while the products flush a subnormal dy"},
    {"Tensor::pow_ (tensor)", "backward", "libm keeps a subnormal x while the products flush a subnormal dy"},
};

const Allowed* allowlisted(const std::string& label, std::string_view direction) {
  for (const auto& a : kAllowlist)
    if (label == a.label && (std::string_view(a.direction).empty() || direction == a.direction)) return &a;
  return nullptr;
}

// ---- the float modes ----------------------------------------------------------

using tg_test::FloatMode;
using tg_test::FloatModeRestore;
using tg_test::set_float_mode;

// ---- elements as bits ---------------------------------------------------------

std::uint64_t sign_bit(DType d) { return d == tg::kFloat32 ? 0x80000000ull : 0x8000000000000000ull; }
std::uint64_t exponent_bits(DType d) { return d == tg::kFloat32 ? 0x7F800000ull : 0x7FF0000000000000ull; }
std::uint64_t magnitude(std::uint64_t b, DType d) { return b & (sign_bit(d) - 1); }
bool is_subnormal(std::uint64_t b, DType d) { return (b & exponent_bits(d)) == 0 && magnitude(b, d) != 0; }
bool is_zero(std::uint64_t b, DType d) { return magnitude(b, d) == 0; }
bool is_nan(std::uint64_t b, DType d) { return magnitude(b, d) > exponent_bits(d); }
// A subnormal becomes a zero of its sign.
std::uint64_t ftz(std::uint64_t b, DType d) { return is_subnormal(b, d) ? b & sign_bit(d) : b; }
bool same_float(std::uint64_t a, std::uint64_t b, DType d) {
  if (is_nan(a, d) && is_nan(b, d)) return true;
  if (is_zero(a, d) && is_zero(b, d)) return true;
  return a == b;
}

std::uint64_t bits_of(double x, DType d) {
  if (d == tg::kFloat32) {
    const float f = static_cast<float>(x);
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
  }
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

std::string show(std::uint64_t b, DType d) {
  char s[64];
  switch (d) {
    case DType::Float32:
      std::snprintf(s, sizeof s, "%.9g", as_double(b, d));
      break;
    case DType::Float64:
      std::snprintf(s, sizeof s, "%.17g", as_double(b, d));
      break;
    case DType::Bool:
      return b ? "true" : "false";
    case DType::Int64:
      std::snprintf(s, sizeof s, "%lld", static_cast<long long>(b));
      break;
    case DType::Int32:
      std::snprintf(s, sizeof s, "%d", static_cast<int>(static_cast<std::int32_t>(b)));
      break;
    case DType::Int16:
      std::snprintf(s, sizeof s, "%d", static_cast<int>(static_cast<std::int16_t>(b)));
      break;
    case DType::Int8:
      std::snprintf(s, sizeof s, "%d", static_cast<int>(static_cast<std::int8_t>(b)));
      break;
    case DType::UInt8:
      std::snprintf(s, sizeof s, "%u", static_cast<unsigned>(b & 0xFF));
      break;
    default:
      std::snprintf(s, sizeof s, "bits 0x%llx", static_cast<unsigned long long>(b));
      break;
  }
  return s;
}

std::string show_all(const Values& v, std::size_t limit = 24) {
  if (!v.defined) return "undefined";
  std::string s = tg::shape_str(v.shape) + " " + std::string(tg::dtype_name(v.dtype)) + " {";
  for (std::size_t i = 0; i < v.bits.size() && i < limit; ++i) s += (i ? ", " : "") + show(v.bits[i], v.dtype);
  if (v.bits.size() > limit) s += ", ...";
  return s + "}";
}

// ---- inputs -------------------------------------------------------------------

// Subnormal magnitudes: the smallest, mid-range ones, and one just below the
// dtype's smallest normal (twice it is normal, so arithmetic on it that
// should give a normal number shows whether it read the subnormal).
const std::vector<double>& subnormals(DType dtype) {
  static const std::vector<double> f32{1e-39, 3e-40, 1e-45, 1.1e-38};
  static const std::vector<double> f64{1e-310, 5e-324, 2e-308};
  return dtype == tg::kFloat32 ? f32 : f64;
}

// Which subnormals an input of this domain may hold: +1 positive only, 0 both
// signs, -1 none. AwayFromZero keeps both: it keeps gradcheck's finite
// differences off the kinks, and relu, abs, sign or a division are defined
// at a subnormal (they are the interesting ones). acosh's domain starts at 1.
int subnormal_signs(Domain d) {
  switch (d) {
    case Domain::Positive:
    case Domain::Probability:
      return 1;
    case Domain::AboveOne:
    case Domain::Index:
      return -1;
    case Domain::Any:
    case Domain::AwayFromZero:
    case Domain::Unit:
      return 0;
  }
  return -1;
}

// v's values kept within [1e-3, 1e3] in magnitude, about a third replaced by
// subnormals of the allowed signs (at least one if `force`).
std::vector<std::uint64_t> with_subnormals(const Values& v, int signs, tg::Generator& gen, bool force, bool& any) {
  std::vector<std::uint64_t> out(v.bits.size());
  const auto& pool = subnormals(v.dtype);
  const auto draw = [&pool, signs, &gen] {
    const double s = signs == 1 || gen.below(2) == 0 ? 1.0 : -1.0;
    return s * pool[gen.below(pool.size())];
  };
  std::size_t placed = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    double x = as_double(v.bits[i], v.dtype);
    if (!(std::abs(x) >= 1e-3)) x = std::copysign(1e-3, x);
    if (std::abs(x) > 1e3) x = std::copysign(1e3, x);
    if (signs != -1 && gen.below(3) == 0) {
      x = draw();
      ++placed;
    }
    out[i] = bits_of(x, v.dtype);
  }
  if (signs != -1 && force && placed == 0 && !out.empty()) {
    out[gen.below(out.size())] = bits_of(draw(), v.dtype);
    placed = 1;
  }
  any = any || placed > 0;
  return out;
}

std::vector<std::uint64_t> daz_bits(std::vector<std::uint64_t> bits, DType dtype) {
  for (auto& b : bits) b = ftz(b, dtype);
  return bits;
}

// The inputs of one run: the values (with subnormals), their daz'ed copy,
// and their bits for the messages.
struct Inputs {
  std::vector<Tensor> values, dazed;
  std::vector<Values> shown;
};

// The inputs of sample `k` with subnormals; false when none of the entry's
// floating inputs may hold one.
bool make_inputs(const OpInfo& op, const std::vector<Tensor>& sample, DType dtype, tg::Generator& gen, Inputs& in) {
  bool any = false;
  for (std::size_t i = 0; i < sample.size(); ++i) {
    const Domain domain = i < op.domains.size() ? op.domains[i] : Domain::Any;
    const Values v = read(sample[i]);
    if (v.dtype != dtype) {  // indices
      in.values.push_back(sample[i]);
      in.dazed.push_back(sample[i]);
      in.shown.push_back(v);
      continue;
    }
    const std::vector<std::uint64_t> bits = with_subnormals(v, subnormal_signs(domain), gen, true, any);
    in.values.push_back(from_bits(bits, v.shape, dtype));
    in.dazed.push_back(from_bits(daz_bits(bits, dtype), v.shape, dtype));
    in.shown.push_back(read(in.values.back()));
    REQUIRE_MESSAGE(in.shown.back().bits == bits, "tg::tensor changed an input's subnormals");
  }
  return any;
}

// A grad_output for each floating output, of normal values with about a
// third subnormal (a one-element output gets one a third of the time).
std::vector<Tensor> make_grad_outputs(const std::vector<Values>& outputs, tg::Generator& gen) {
  std::vector<Tensor> gos;
  for (const auto& y : outputs) {
    if (!y.defined || !is_float(y.dtype)) {
      gos.emplace_back();
      continue;
    }
    Values v = y;
    for (auto& b : v.bits) b = bits_of(gen.normal(), y.dtype);
    bool any = false;
    gos.push_back(from_bits(with_subnormals(v, 0, gen, v.bits.size() > 1, any), y.shape, y.dtype));
  }
  return gos;
}

std::vector<Tensor> daz_tensors(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const auto& t : ts) {
    if (!t.defined() || !is_float(t.dtype())) {
      out.push_back(t);
      continue;
    }
    const Values v = read(t);
    out.push_back(from_bits(daz_bits(v.bits, v.dtype), v.shape, v.dtype));
  }
  return out;
}

// ---- the rules ----------------------------------------------------------------

// Integer and bool results of floating inputs. Every one in the registry is
// a selection: a comparison or logical op (family compare; isclose and
// allclose too, whose tolerance dwarfs any subnormal), the index of a max,
// min, order statistic or pooling window (reduce, shape, nn), nonzero,
// argwhere, any, all (index), a conversion (Tensor::byte). The promise keeps
// subnormals there, so they must be y_ieee exactly: an argmax over
// [1e-39, 2e-39] that picks the first (both read as 0) is a bug. The one
// exception is sampling (family random: multinomial draws its categories
// through a cumulative sum of the probabilities, arithmetic), where y_daz is
// accepted too.
bool integers_may_be_daz(const OpInfo& op) { return op.family == "random"; }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

// The entries that are selections (rule 2), from the promise's list: each
// element of the result is an element of an input (or of the grad_output,
// backward) or a constant, picked by comparisons. By family:
//   - elementwise: relu, relu6, leaky_relu and hardtanh (leaky_relu's x > 0
//     selects x, as unary.cpp says), clamp, maximum, minimum, where,
//     nan_to_num (a where); not abs or neg, which the promise leaves to
//     arithmetic, nor elu, celu, selu or prelu, whose branches multiply;
//   - reduce: the max and min family, sort and the order statistics;
//   - linalg: the inf norm (a max of |x|);
//   - shape: all but trace (a sum);
//   - index: all but the entries that add, multiply or average (scatter_add,
//     index_add, accumulating index_put, scatter's reduce, scatter_reduce's
//     sum, prod and mean, and "index (mask, repeated rows)", which sums);
//   - inplace: the in-place forms of the above (copy_, fill_, zero_, clamp_,
//     relu_, masked_fill_, index_put_, scatter_, index_copy_, index_fill_);
//   - nn: max pooling, pixel (un)shuffle, nearest interpolation, embedding
//     without padding_idx (which multiplies by a mask), dropout's identities.
// Backward, the same entries: their gradients route the grad_output's
// elements where their forward's comparisons say, and may sum them (repeat,
// expand, overlapping windows, broadcasting), which is arithmetic: the
// grad_output's subnormals may read as zero there, the inputs' may not.
bool is_selection(const OpInfo& op) {
  const std::string& n = op.name;
  const std::string& v = op.variant;
  if (op.family == "elementwise")
    return one_of(n, {"relu", "relu6", "leaky_relu", "hardtanh", "clamp", "clamp_min", "clamp_max", "maximum",
                      "minimum", "where", "nan_to_num"});
  if (op.family == "reduce")
    return one_of(
        n, {"amax", "amin", "max", "min", "sort", "msort", "topk", "kthvalue", "median", "mode", "cummax", "cummin"});
  if (op.family == "linalg") return n == "linalg::vector_norm" && v == "ord inf dim 1";
  if (op.family == "shape") return !one_of(n, {"trace", "Tensor::trace"});
  if (op.family == "index") {
    if (one_of(n, {"scatter_add", "index_add", "Tensor::scatter_add", "Tensor::index_add"})) return false;
    if (n == "scatter_reduce") return starts_with(v, "amax") || starts_with(v, "amin");
    if (v.find("reduce") != std::string::npos || v.find("accumulate") != std::string::npos) return false;
    return !(n == "index" && v == "mask, repeated rows");
  }
  if (op.family == "inplace")
    return one_of(n, {"Tensor::copy_", "Tensor::fill_", "Tensor::zero_", "Tensor::clamp_", "Tensor::relu_",
                      "Tensor::masked_fill_", "Tensor::clamp_min_", "Tensor::clamp_max_", "index_put_",
                      "Tensor::index_copy_", "Tensor::index_fill_"}) ||
           (n == "Tensor::scatter_" && (v == "src" || v == "value"));
  if (op.family == "nn")
    return one_of(n, {"F::max_pool1d", "F::max_pool2d", "F::max_pool1d_with_indices", "F::max_pool2d_with_indices",
                      "F::adaptive_max_pool1d", "F::adaptive_max_pool2d", "F::adaptive_max_pool1d_with_indices",
                      "F::adaptive_max_pool2d_with_indices", "F::pixel_shuffle", "F::pixel_unshuffle"}) ||
           (n == "F::interpolate" && starts_with(v, "nearest")) || (n == "F::embedding" && v.empty()) ||
           (n == "F::dropout" && (v == "p = 0" || v == "eval"));
  return false;
}

// The subnormals a run put into `ts` that rule 2 follows through a selection.
// Not the dtype's smallest subnormal: any factor in [0.5, 1.5) rounds a
// product back to it, so arithmetic passes it through as often as a
// selection does.
std::set<std::uint64_t> planted(const std::vector<Values>& ts) {
  std::set<std::uint64_t> out;
  for (const auto& t : ts)
    if (t.defined && is_float(t.dtype))
      for (std::uint64_t b : t.bits)
        if (is_subnormal(b, t.dtype) && magnitude(b, t.dtype) != 1) out.insert(b);
  return out;
}

// ---- checking -----------------------------------------------------------------

struct Tally {
  std::int64_t entries = 0, runs = 0, forward_checks = 0, backward_checks = 0;
  std::int64_t mixed = 0, selection = 0;  // groups of elements off: rule 1 (and integers), rule 2
  std::int64_t excused = 0;               // elements allowlisted
  std::vector<std::string> not_run;       // entries the sweep skipped, each with why
  std::vector<std::string> messages;
};

struct Check {
  const OpInfo& op;
  DType dtype;
  std::size_t sample;
  const char* direction;  // "forward" or "backward"
  const Inputs& inputs;
  bool selection;                         // rule 2 applies
  bool follow;                            // and follows the planted subnormals through
  const std::set<std::uint64_t>& routed;  // those subnormals
  Tally& tally;
};

std::string header(const Check& c) {
  std::string shapes;
  for (const auto& d : c.op.samples[c.sample]) shapes += (shapes.empty() ? "" : " ") + tg::shape_str(d);
  return c.op.label() + ", " + std::string(tg::dtype_name(c.dtype)) + ", sample " + std::to_string(c.sample) + " (" +
         shapes + "), " + c.direction;
}

void report(const Check& c, bool selection, const std::string& what) {
  ++(selection ? c.tally.selection : c.tally.mixed);
  std::string m = header(c) + (selection ? ", a selection not as IEEE: " : ": ") + what;
  for (std::size_t i = 0; i < c.inputs.shown.size(); ++i)
    m += "\n    input " + std::to_string(i) + ": " + show_all(c.inputs.shown[i]);
  c.tally.messages.push_back(m);
}

// y_flush against y_ieee and y_daz, output by output.
// `quiet_g`, backward only: the gradient in IEEE mode on the inputs as they
// are but the grad_output daz'ed, what a selection's gradient gives when it
// decides as IEEE does and sums the grad_output's subnormals as zeros.
void compare(const Check& c, const Result& flush, const Result& ieee, const Result& daz,
             const Result& quiet_g = Result()) {
  if (flush.threw || ieee.threw || daz.threw) {
    // Every pattern of throws is reported. A sample the registry gives must
    // run: a throw in every mode is a fault of this test (a grad_output of
    // the wrong shape) or of the entry, and would otherwise check nothing.
    const auto error = [](const Result& r) { return r.threw ? r.error : std::string("(no throw)"); };
    const std::string errors = "\n    default mode: " + error(flush) + "\n    IEEE mode: " + error(ieee) +
                               "\n    IEEE mode, daz'ed inputs: " + error(daz);
    if (flush.threw && ieee.threw && daz.threw) report(c, false, "throws in every mode:" + errors);
    else if (flush.threw && !ieee.threw && !daz.threw) report(c, false, "throws only in the default mode:" + errors);
    else if (flush.threw && ieee.threw)
      report(c, false, "throws in the default and IEEE modes, not on the daz'ed inputs:" + errors);
    else if (flush.threw)
      report(c, false, "throws in the default mode and on the daz'ed inputs, not in IEEE mode:" + errors);
    else if (ieee.threw && daz.threw)
      report(c, false, "throws in IEEE mode (on both inputs) but not in the default mode:" + errors);
    else if (ieee.threw) report(c, false, "throws only in IEEE mode (not on the daz'ed inputs):" + errors);
    else report(c, false, "throws only on the daz'ed inputs:" + errors);
    // The default mode and IEEE mode both ran (only the daz'ed run threw):
    // their results are still compared, with no y_daz to accept.
    if (flush.threw || ieee.threw) return;
    compare(c, flush, ieee, Result(), quiet_g);
    return;
  }
  if (flush.outs.size() != ieee.outs.size()) {
    report(c, false,
           std::to_string(flush.outs.size()) + " results in the default mode, " + std::to_string(ieee.outs.size()) +
               " in IEEE mode");
    return;
  }
  const bool forward = std::string_view(c.direction) == "forward";
  const bool excusable = allowlisted(c.op.label(), c.direction) != nullptr;
  for (std::size_t o = 0; o < flush.outs.size(); ++o) {
    const Values& f = flush.outs[o];
    const auto fits = [&f](const std::vector<Values>& outs, std::size_t i) -> const Values* {
      if (i >= outs.size()) return nullptr;
      const Values& v = outs[i];
      return v.defined == f.defined && v.dtype == f.dtype && v.shape == f.shape ? &v : nullptr;
    };
    const Values* yi = fits(ieee.outs, o);
    const Values* yd = fits(daz.outs, o);
    const Values* yq = fits(quiet_g.outs, o);
    const std::string which = (forward ? "output " : "gradient of input ") + std::to_string(o);
    const bool floating = f.defined && is_float(f.dtype);
    if (!yi && !(yd && (floating || integers_may_be_daz(c.op)))) {
      report(c, false,
             which + " is " + show_all(f, 4) + " in the default mode, " +
                 (o < ieee.outs.size() ? show_all(ieee.outs[o], 4) : std::string("missing")) + " in IEEE mode");
      continue;
    }
    if (!f.defined) continue;
    std::int64_t bad[2] = {0, 0};  // rule 1 (and integers), rule 2
    std::string details[2];
    for (std::size_t i = 0; i < f.bits.size(); ++i) {
      const std::uint64_t x = f.bits[i];
      bool ok, selection = false;
      if (floating) {
        const auto near = [x, &f](const Values* y, std::size_t j) {
          return y && (same_float(x, y->bits[j], f.dtype) || same_float(x, ftz(y->bits[j], f.dtype), f.dtype));
        };
        const bool as_ieee = near(yi, i) || near(yq, i);
        ok = as_ieee || near(yd, i);
        // Rule 2: a selection decides as IEEE does (not as on the daz'ed
        // inputs), and passes a planted subnormal through unchanged.
        if (ok && c.selection && (!as_ieee || (c.follow && yi && c.routed.contains(yi->bits[i]) && x != yi->bits[i]))) {
          ok = false;
          selection = true;
        }
        if (!ok && !selection && excusable &&
            !(is_nan(x, f.dtype) && !(yi && is_nan(yi->bits[i], f.dtype)) && !(yd && is_nan(yd->bits[i], f.dtype)))) {
          ++c.tally.excused;
          continue;
        }
      } else {
        ok = (yi && x == yi->bits[i]) || (integers_may_be_daz(c.op) && yd && x == yd->bits[i]);
      }
      if (ok) continue;
      if (bad[selection]++ >= 3) continue;
      std::string& d = details[selection];
      d += "\n    " + which + " at " + index_str(i, f.shape) + ": default mode " + show(x, f.dtype);
      if (yi)
        d += ", ieee " + show(yi->bits[i], f.dtype) +
             (floating ? ", ftz(ieee) " + show(ftz(yi->bits[i], f.dtype), f.dtype) : std::string());
      if (yd)
        d += ", daz " + show(yd->bits[i], f.dtype) +
             (floating ? ", ftz(daz) " + show(ftz(yd->bits[i], f.dtype), f.dtype) : std::string());
      if (yq) d += ", ieee with the grad_output daz'ed " + show(yq->bits[i], f.dtype);
      // The inputs' elements at the same position, where the shapes agree.
      for (std::size_t k = 0; k < c.inputs.shown.size(); ++k) {
        const Values& in = c.inputs.shown[k];
        if (in.shape == f.shape) d += "; input " + std::to_string(k) + " there " + show(in.bits[i], in.dtype);
      }
    }
    for (int s = 0; s < 2; ++s)
      if (bad[s]) report(c, s == 1, std::to_string(bad[s]) + " element(s) of " + which + " off" + details[s]);
  }
}

// Whether y_flush is y_ieee or ftz(y_ieee) everywhere (then rule 1 holds
// without y_daz, and rule 2 needs y_ieee only).
bool near_ieee(const Result& flush, const Result& ieee) {
  if (flush.threw || ieee.threw || flush.outs.size() != ieee.outs.size()) return false;
  for (std::size_t o = 0; o < flush.outs.size(); ++o) {
    const Values &f = flush.outs[o], &y = ieee.outs[o];
    if (f.defined != y.defined || f.dtype != y.dtype || f.shape != y.shape) return false;
    for (std::size_t i = 0; i < f.bits.size(); ++i)
      if (is_float(f.dtype)
              ? !same_float(f.bits[i], y.bits[i], f.dtype) && !same_float(f.bits[i], ftz(y.bits[i], f.dtype), f.dtype)
              : f.bits[i] != y.bits[i])
        return false;
  }
  return true;
}

// The runs forward and, for a differentiable entry, backward, checked; the
// run on the daz'ed inputs only where y_flush is not near y_ieee.
void run_inputs(const OpInfo& op, DType dtype, std::size_t k, const Inputs& in, std::uint64_t seed, Tally& tally) {
  ++tally.runs;
  const bool selection = is_selection(op);
  const Result flush = forward(op, in.values, FloatMode::Flush);
  const Result ieee = forward(op, in.values, FloatMode::Ieee);
  const Result daz = near_ieee(flush, ieee) ? Result() : forward(op, in.dazed, FloatMode::Ieee);
  const std::set<std::uint64_t> from_inputs = planted(in.shown);
  compare({op, dtype, k, "forward", in, selection, selection, from_inputs, tally}, flush, ieee, daz);
  ++tally.forward_checks;
  if (!op.differentiable || ieee.threw) return;
  tg::Generator gen(seed ^ 0x9e3779b97f4a7c15ull);
  set_float_mode(FloatMode::Ieee);
  const std::vector<Tensor> gos = make_grad_outputs(ieee.outs, gen);
  const std::vector<Tensor> gos_daz = daz_tensors(gos);
  const Result gflush = backward(op, in.values, gos, {.mode = FloatMode::Flush});
  const Result gieee = backward(op, in.values, gos, {.mode = FloatMode::Ieee});
  const bool near = near_ieee(gflush, gieee);
  const Result gdaz = near ? Result() : backward(op, in.dazed, gos_daz, {.mode = FloatMode::Ieee});
  const Result quiet_g = near || !selection ? Result() : backward(op, in.values, gos_daz, {.mode = FloatMode::Ieee});
  // Not followed through backward: a gradient routes the grad_output's
  // elements with arithmetic (a product by a 0/1 mask, a sum into a window),
  // which may flush its subnormals, as PyTorch's accumulation does with
  // flushing on; the decisions (where each element goes) must still be IEEE's.
  compare({op, dtype, k, "backward", in, selection, false, {}, tally}, gflush, gieee, gdaz, quiet_g);
  ++tally.backward_checks;
}

bool takes(const OpInfo& op, DType dtype) {
  for (DType d : op.dtypes)
    if (d == dtype) return true;
  return false;
}

void run_entry(const OpInfo& op, std::uint64_t seed, Tally& tally) {
  bool counted = false;
  for (DType dtype : {tg::kFloat32, tg::kFloat64}) {
    if (!takes(op, dtype)) continue;
    for (std::size_t k = 0; k < op.samples.size(); ++k) {
      tg::Generator gen(seed + 10 * k + (dtype == tg::kFloat64 ? 5 : 0));
      set_float_mode(FloatMode::Ieee);
      const std::vector<Tensor> sample = op.sample(k, dtype, gen);
      Inputs in;
      if (!make_inputs(op, sample, dtype, gen, in)) continue;
      if (!counted) ++tally.entries;
      counted = true;
      run_inputs(op, dtype, k, in, seed + 10 * k, tally);
    }
  }
  if (!counted && (takes(op, tg::kFloat32) || takes(op, tg::kFloat64)))
    tally.not_run.push_back(op.label() + " (no input may hold a subnormal)");
}

// The entries the first sweep is for: not aliases, taking float32 or float64.
std::int64_t expected_entries() {
  std::int64_t n = 0;
  for (const auto& op : tg::testing::op_registry())
    n += op.alias_of.empty() && (takes(op, tg::kFloat32) || takes(op, tg::kFloat64));
  return n;
}

// The entries a sweep knows it skips (Tally::not_run), which the test checks
// exactly so that an entry lost from it fails.
void check_not_run(const Tally& t, const std::vector<std::string>& known) {
  std::string all;
  for (const auto& n : t.not_run) all += "\n    " + n;
  MESSAGE("not run: " << (all.empty() ? std::string("none") : all));
  for (const auto& n : t.not_run)
    if (std::find(known.begin(), known.end(), n) == known.end()) FAIL_CHECK("not run, and not known to be: " << n);
  CHECK(t.not_run.size() == known.size());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void print_tally(const std::string& what, const Tally& t, double seconds) {
  char time[32];
  std::snprintf(time, sizeof time, "%.2f s", seconds);
  const std::string summary = what + ": " + std::to_string(t.entries) + " entries, " + std::to_string(t.runs) +
                              " runs, " + std::to_string(t.forward_checks) + " forward and " +
                              std::to_string(t.backward_checks) + " backward comparisons; " + std::to_string(t.mixed) +
                              " mixed reading(s), " + std::to_string(t.selection) + " selection(s) not as IEEE, " +
                              std::to_string(t.excused) + " allowlisted element(s); " + time;
  MESSAGE(summary);
  for (const auto& m : t.messages) FAIL_CHECK(m);
  CHECK(t.mixed == 0);
  CHECK(t.selection == 0);
}

}  // namespace

TEST_CASE("registry: subnormals read as themselves or as zero, selections keep them (default float mode)") {
  if (!kHaveModes) return;
  FloatModeRestore restore;
  tg_test::start_float_modes();
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  std::uint64_t seed = 5000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (op.alias_of.empty()) run_entry(op, seed, tally);
  }
  print_tally("subnormal sweep", tally, seconds_since(start));
  // Every entry the sweep is for ran, or is one no subnormal fits.
  CHECK(tally.entries + static_cast<std::int64_t>(tally.not_run.size()) == expected_entries());
  // one_hot's input is indices, acosh's above one.
  check_not_run(tally,
                {"one_hot (no input may hold a subnormal)", "one_hot (num_classes 5) (no input may hold a subnormal)",
                 "acosh (no input may hold a subnormal)"});
}

// The selections and the entries with integer or bool results (the
// kernels that keep subnormals, whose OpenMP workers must keep them as the
// calling thread does) on inputs past parallel_threshold() elements, with two
// threads, so that their parallel loops run: one entry per op name, the first
// variant that takes the larger inputs, which are its first sample with dim 0
// of every input multiplied until one input has more elements than the
// threshold (entries that then refuse them, their indices or shapes fixed
// inside, are skipped). Arithmetic kernels are not run here: a worker that
// failed to flush would give y_ieee, which rule 1 accepts, and the
// arithmetic of the selections' gradients runs anyway.
TEST_CASE("registry: subnormals on two threads, past the parallel threshold") {
  if (!kHaveModes) return;
  FloatModeRestore restore;
  tg::set_num_threads(2);
  tg_test::start_float_modes();
  const auto start = std::chrono::steady_clock::now();
  // Inputs drawn once per shape, position and domain.
  std::map<std::tuple<std::vector<std::int64_t>, std::size_t, int>, Inputs> drawn;
  const auto input = [&drawn](const tg::Dims& shape, std::size_t position, Domain domain) -> const Inputs& {
    const auto key =
        std::make_tuple(std::vector<std::int64_t>(shape.begin(), shape.end()), position, static_cast<int>(domain));
    auto it = drawn.find(key);
    if (it == drawn.end()) {
      OpInfo one;
      one.samples = {{shape}};
      one.domains = {domain};
      tg::Generator gen(777 + 10 * position + static_cast<std::uint64_t>(domain));
      set_float_mode(FloatMode::Ieee);
      const std::vector<Tensor> sample = one.sample(0, tg::kFloat32, gen);
      Inputs in;
      make_inputs(one, sample, tg::kFloat32, gen, in);
      it = drawn.emplace(key, std::move(in)).first;
    }
    return it->second;
  };
  Tally tally;
  std::set<std::string> done, candidates;
  std::map<std::string, std::vector<std::string>> skipped;  // op name -> its entries skipped, each with why
  std::uint64_t seed = 90000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (!op.alias_of.empty() || op.samples.empty() || !takes(op, tg::kFloat32) || done.contains(op.name)) continue;
    if (!is_selection(op) && op.differentiable) continue;
    candidates.insert(op.name);
    const std::string label = op.label();
    std::vector<tg::Dims> shapes = op.samples[0];
    std::int64_t most = 0;
    bool scalable = true;
    for (const auto& d : shapes) {
      scalable = scalable && !d.empty() && d[0] > 0;
      most = std::max(most, d.product());
    }
    if (!scalable || most == 0) {
      skipped[op.name].push_back(label + " (a 0-d or empty input: no dim 0 to grow)");
      continue;
    }
    // Not where the result grows faster than the inputs (diag of a vector,
    // meshgrid: at this size it would not fit in memory), nor where the
    // number of results grows (split into pieces of 2).
    const auto result_size = [&op](std::vector<tg::Dims> dims, std::int64_t times) {
      for (auto& d : dims) d[0] *= times;
      OpInfo probe = op;
      probe.samples = {dims};
      tg::Generator gen(1);
      set_float_mode(FloatMode::Ieee);
      const Result r = forward(probe, probe.sample(0, tg::kFloat32, gen), FloatMode::Ieee);
      std::int64_t n = 0;
      for (const auto& v : r.outs) n += static_cast<std::int64_t>(v.bits.size());
      return std::make_pair(r.threw ? std::int64_t{-1} : n, r.outs.size());
    };
    const auto once = result_size(shapes, 1), more = result_size(shapes, 4);
    if (once.first < 0 || more.first < 0) {
      skipped[op.name].push_back(label + " (refuses dim 0 grown 4 times)");
      continue;
    }
    if (more.first > 4 * once.first + 16 || more.second != once.second) {
      skipped[op.name].push_back(label + " (its results grow faster than its inputs)");
      continue;
    }
    const std::int64_t factor = tg::parallel_threshold() / most + 1;
    for (auto& d : shapes) d[0] *= factor;
    OpInfo big = op;
    big.samples = {shapes};
    Inputs in;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const Domain domain = i < op.domains.size() ? op.domains[i] : Domain::Any;
      const Inputs& one = input(shapes[i], i, domain);
      in.values.push_back(one.values[0]);
      in.dazed.push_back(one.dazed[0]);
      in.shown.push_back(one.shown[0]);
    }
    bool floating = false;
    for (const auto& t : in.values) floating = floating || t.dtype() == tg::kFloat32;
    if (!floating) {
      skipped[op.name].push_back(label + " (no float32 input)");
      continue;
    }
    if (forward(big, in.values, FloatMode::Ieee).threw) {
      skipped[op.name].push_back(label + " (refuses the inputs past the threshold)");
      continue;
    }
    done.insert(op.name);
    ++tally.entries;
    run_inputs(big, tg::kFloat32, 0, in, seed, tally);
  }
  print_tally("subnormal sweep, two threads, inputs past " + std::to_string(tg::parallel_threshold()) + " elements",
              tally, seconds_since(start));
  // Every op name the test is for ran with one of its entries, or is known to
  // take no larger inputs.
  std::int64_t names_not_run = 0;
  for (const auto& name : candidates)
    if (!done.contains(name)) {
      ++names_not_run;
      for (const auto& why : skipped[name]) tally.not_run.push_back(why);
    }
  CHECK(tally.entries + names_not_run == static_cast<std::int64_t>(candidates.size()));
  // index_copy_ and index_put take fixed indices; meshgrid's result is the
  // product of its inputs' sizes; one_hot takes indices only.
  check_not_run(tally, {"Tensor::index_copy_ (refuses dim 0 grown 4 times)",
                        "index_put (tensors, distinct) (refuses dim 0 grown 4 times)",
                        "meshgrid (ij) (its results grow faster than its inputs)",
                        "meshgrid (xy, three) (its results grow faster than its inputs)", "one_hot (no float32 input)",
                        "one_hot (num_classes 5) (no float32 input)"});
}

}  // namespace test_registry_subnormal
