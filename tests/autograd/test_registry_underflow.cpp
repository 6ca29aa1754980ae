// Subnormals that arise inside an op, for every op of the registry
// (testing/op_registry.h). test_registry_subnormal.cpp plants subnormals in
// the inputs; this sweep keeps the inputs normal and scales them so small
// that the op's own intermediates underflow: a product of two inputs, a
// square, a determinant, a sum of squares, a gradient's x * y or 1 / x^2.
// Under tapegrad's default float mode (core/float_mode.h) such an
// intermediate flushes to zero, and what reads it next must not turn the
// zero into a NaN (0 / 0, 0 * inf) or an infinity (x / 0) where IEEE
// gradual underflow gives a finite answer.
//
// For every entry that is not an alias, in float32 and float64 where it
// takes them, on every sample configuration:
//   - the registry's sample, each floating input whose domain admits small
//     values (scaled(): Any, Positive, AwayFromZero, Unit; not Probability,
//     AboveOne or Index) kept at least 0.1 in magnitude and multiplied by s
//     (scales(): float32 1e-10 .. 1e-36, float64 1e-80 .. 1e-300, so that
//     x^4, x^3 or x * y lands among the subnormals, or below them); the
//     inputs themselves stay normal. The inputs the domain keeps
//     (probabilities, acosh's, indices) keep their values, and so do an
//     entry's own arguments (masks, indices, the k I the linalg entries add).
//     An entry with several scaled inputs also runs with each alone scaled
//     (alone_scales());
//   - y_flush: the entry in the default mode; y_ieee: in IEEE mode
//     (set_flush_denormal(false)), on the same inputs;
//   - the property, every floating element: y_ieee not NaN => y_flush not NaN;
//     y_ieee finite => y_flush finite. An infinity in the default mode where
//     IEEE is finite is excused only for an allowlisted entry (allowlist():
//     the infinity is the honest value of the formula with the underflowed
//     intermediate read as zero); a NaN never is;
//   - integer and bool results: identical in both modes;
//   - an entry that throws in one mode or in both (a run that checks
//     nothing), or whose results differ in number, dtype or shape, fails
//     too;
//   - the same for the gradients of differentiable entries, once with a
//     grad_output of ones and once with a grad_output of s (so that the
//     gradient's own products of the grad_output and an input underflow),
//     and, for the twice differentiable ones, for the gradient of the sum of
//     those gradients (create_graph), with the grad_output s.
// Finite but different results (a norm that flushed to 0 and then hit eps,
// a gradient that flushed to 0) are what flushing means and are not checked.
// What checks nothing is named, and held to a known list: the entries with no
// input to scale (known_unscaled), the entry, dtype and direction runs where
// IEEE mode gives no finite element at any scale (known_all_nonfinite); the
// double backward of an entry whose gradient does not depend on its inputs
// ("first gradient constant") is counted apart from the comparisons.
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
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace test_registry_underflow {

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

// Entries whose result in the default mode may be an infinity where IEEE's is
// finite, because the formula, with the intermediate that underflowed read as
// zero, honestly is infinite there (log of a product that underflowed:
// log(0) = -inf), each checked by hand, one line saying why; `direction` is
// "forward", "backward", "double backward" or "" (all three). An infinity
// that only the order of the operations makes (x / (y * y) where
// (x / y) / y is finite) is no such case. Never a NaN where IEEE has a number.
// The second kind (ieee_overflows): IEEE's own result is an infinity, from an
// intermediate that overflows although the true value is finite, and the
// default mode's NaN is that infinity times a product of the grad_output that
// flushed to 0. Neither mode is right there, and making IEEE's finite would
// take another formula for the derivative: only a NaN where IEEE is infinite
// is excused.
struct Allowed {
  const char* label;  // OpInfo::label()
  const char* direction;
  bool ieee_overflows;
  const char* reason;
};
const std::vector<Allowed>& allowlist() {
  static const std::vector<Allowed> entries{
      {"pow (tensor^tensor)", "double backward", true,
       "d2/dx2 x^e = e (e - 1) x^(e - 2): x^(e - 2) overflows (x = e = 1e-20f: 1e40) while dy e x^(e - 2) is "
       "about 1; with dy = 1e-20 the product dy e flushes first"},
      {"Tensor::pow_ (tensor)", "double backward", true, "as pow (tensor^tensor)"},
      {"linalg::svdvals", "double backward", true,
       "the second derivative of the singular values divides by s_i^2 - s_j^2, which overflows at singular "
       "values near 1e-36f (1e-300); the grad_output s times s_i flushes"},
      {"linalg::matrix_norm (ord 2)", "double backward", true, "the largest singular value: as linalg::svdvals"},
  };
  return entries;
}

const Allowed* allowlisted(const std::string& label, std::string_view direction) {
  for (const auto& a : allowlist())
    if (label == a.label && (std::string_view(a.direction).empty() || direction == a.direction)) return &a;
  return nullptr;
}

// ---- the float modes (as in test_registry_subnormal.cpp) ------------------------

using tg_test::FloatMode;
using tg_test::FloatModeRestore;
using tg_test::set_float_mode;

// ---- elements as bits ---------------------------------------------------------

std::string show(std::uint64_t b, DType d) {
  char s[64];
  if (d == tg::kFloat32) std::snprintf(s, sizeof s, "%.9g", as_double(b, d));
  else if (d == tg::kFloat64) std::snprintf(s, sizeof s, "%.17g", as_double(b, d));
  else if (d == tg::kBool) return b ? "true" : "false";
  else std::snprintf(s, sizeof s, "0x%llx", static_cast<unsigned long long>(b));
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

// The scales, chosen so that some power of the inputs lands among the
// subnormals, and beyond: float32's run from FLT_MIN = 1.2e-38 down to
// 1.4e-45, so s = 1e-10 puts x^4, 1e-13 x^3, 1e-20 and 1e-22 x * y there,
// and 1e-25 .. 1e-36 put x * y below them (zero in IEEE too, where what
// reads it next must agree); float64's from DBL_MIN = 2.2e-308 down to
// 4.9e-324: 1e-80 x^4, 1e-105 x^3, 1e-155 and 1e-160 x * y, 1e-170 and
// 1e-300 below.
const std::vector<double>& scales(DType dtype) {
  static const std::vector<double> f32{1e-10, 1e-13, 1e-20, 1e-22, 1e-25, 1e-30, 1e-36};
  static const std::vector<double> f64{1e-80, 1e-105, 1e-155, 1e-160, 1e-170, 1e-300};
  return dtype == tg::kFloat32 ? f32 : f64;
}

// The scales at which an entry with several scaled inputs also runs with
// each of them scaled alone (x tiny beside y normal: x * x underflows while
// x * y does not, a norm of x beside a weight, a variance beside a mean).
const std::vector<double>& alone_scales(DType dtype) {
  static const std::vector<double> f32{1e-13, 1e-20};
  static const std::vector<double> f64{1e-105, 1e-155};
  return dtype == tg::kFloat32 ? f32 : f64;
}

// Whether an input of this domain is scaled. Positive ((0.5, 2): log, sqrt,
// pow's base, a variance, a rate) and AwayFromZero (+-(0.5, 1.5): away from
// a kink or pole, which a tiny nonzero value still is: x / y with both tiny
// is normal) admit small values; Unit ((-0.9, 0.9)) too. Probabilities
// (binary cross-entropy's, multinomial's, kl_div's target) keep theirs, as do
// acosh's (above one) and indices.
bool scaled(Domain d) {
  switch (d) {
    case Domain::Any:
    case Domain::Positive:
    case Domain::AwayFromZero:
    case Domain::Unit:
      return true;
    case Domain::Probability:
    case Domain::AboveOne:
    case Domain::Index:
      return false;
  }
  return false;
}

// The inputs of one run and their values for the messages.
struct Inputs {
  std::vector<Tensor> values;
  std::vector<Values> shown;
};

// The inputs of `sample` that scaled() allows and that are floating: the ones
// a run may scale.
std::vector<std::size_t> scalable(const OpInfo& op, const std::vector<Tensor>& sample, DType dtype) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < sample.size(); ++i)
    if (sample[i].dtype() == dtype && sample[i].numel() > 0 &&
        scaled(i < op.domains.size() ? op.domains[i] : Domain::Any))
      out.push_back(i);
  return out;
}

constexpr std::size_t kAll = static_cast<std::size_t>(-1);

// The sample with its scalable inputs (input `only` alone, or all with kAll)
// at least 0.1 in magnitude and times s (so the smallest, 0.1 s, is normal:
// 1e-37 > FLT_MIN, 1e-301 > DBL_MIN).
void make_inputs(const std::vector<Tensor>& sample, const std::vector<std::size_t>& scalable, std::size_t only,
                 DType dtype, double s, Inputs& in) {
  for (std::size_t i = 0; i < sample.size(); ++i) {
    const Values v = read(sample[i]);
    bool scale = false;
    for (std::size_t j : scalable) scale = scale || (j == i && (only == kAll || only == i));
    if (!scale) {
      in.values.push_back(sample[i]);
      in.shown.push_back(v);
      continue;
    }
    std::vector<double> x(v.bits.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
      const double y = as_double(v.bits[j], dtype);
      x[j] = (std::abs(y) >= 0.1 ? y : std::copysign(0.1, y)) * s;
    }
    in.values.push_back(from_values(x, v.shape, dtype));
    in.shown.push_back(read(in.values.back()));
  }
}

// A grad_output for each floating output, every element `g`; undefined for
// the others.
std::vector<Tensor> grad_outputs(const std::vector<Values>& outs, double g) {
  std::vector<Tensor> gos;
  for (const auto& y : outs) {
    if (!y.defined || !is_float(y.dtype)) {
      gos.emplace_back();
      continue;
    }
    gos.push_back(from_values(std::vector<double>(y.bits.size(), g), y.shape, y.dtype));
  }
  return gos;
}

// ---- checking -----------------------------------------------------------------

struct Tally {
  std::int64_t entries = 0, runs = 0, comparisons = 0;
  std::int64_t violations = 0;  // groups of elements off (or a throw, or a mismatch)
  std::int64_t excused = 0;     // infinities allowlisted
  std::int64_t nonfinite = 0;   // elements IEEE itself gives as inf or NaN (not checked)
  // Runs with nothing to compare in either mode, by Result::nothing (the
  // double backward of an entry whose gradient does not depend on its
  // inputs): not comparisons.
  std::map<std::string, std::int64_t> nothing;
  // The floating elements of the IEEE results, and the finite ones (the ones
  // the property checks), by entry, dtype and direction: where none is finite
  // at any scale, that direction checked nothing.
  struct Elements {
    std::int64_t all = 0, finite = 0;
  };
  std::map<std::string, Elements> elements;
  std::vector<std::string> unscaled;  // entries with no input scaled() allows: not run
  std::vector<std::string> messages;
  // Violations by entry, dtype and direction: the first two of each are
  // shown in full, the count of all in the summary.
  std::map<std::string, std::int64_t> by_entry;
};

struct Check {
  const OpInfo& op;
  DType dtype;
  std::size_t sample;
  double scale;
  const char* scaled_inputs;  // "all", an input's number, or "" (the entry's only one)
  const char* direction;      // "forward", "backward" or "double backward"
  const char* grad;           // the grad_output, backward: "1" or "s"
  const Inputs& inputs;
  Tally& tally;
};

void report(const Check& c, const std::string& what) {
  ++c.tally.violations;
  std::string shapes;
  for (const auto& d : c.op.samples[c.sample]) shapes += (shapes.empty() ? "" : " ") + tg::shape_str(d);
  char scale[32];
  std::snprintf(scale, sizeof scale, "%g", c.scale);
  std::string m = c.op.label() + ", " + std::string(tg::dtype_name(c.dtype)) + ", sample " + std::to_string(c.sample) +
                  " (" + shapes + "), " +
                  (*c.scaled_inputs == '\0'                     ? std::string()
                   : std::string_view(c.scaled_inputs) == "all" ? std::string("all inputs ")
                                                                : std::string("input ") + c.scaled_inputs + " alone ") +
                  "scaled by " + scale + ", " + c.direction +
                  (std::string_view(c.direction) != "forward" ? std::string(" (grad_output ") + c.grad + ")" : "") +
                  ": " + what;
  for (std::size_t i = 0; i < c.inputs.shown.size(); ++i)
    m += "\n    input " + std::to_string(i) + ": " + show_all(c.inputs.shown[i]);
  if (++c.tally.by_entry[c.op.label() + ", " + std::string(tg::dtype_name(c.dtype)) + ", " + c.direction] <= 2)
    c.tally.messages.push_back(m);
}

// y_flush against y_ieee: the property, element by element.
void compare(const Check& c, const Result& flush, const Result& ieee) {
  if (!flush.threw && !ieee.threw && !flush.nothing.empty() && flush.nothing == ieee.nothing) {
    ++c.tally.nothing[flush.nothing];
    return;
  }
  ++c.tally.comparisons;
  if (flush.threw || ieee.threw) {
    if (flush.threw && !ieee.threw) report(c, "throws only in the default mode: " + flush.error);
    if (!flush.threw && ieee.threw) report(c, "throws only in IEEE mode: " + ieee.error);
    // A sample the registry gives must run: a throw in both modes is a
    // fault of this sweep (a grad_output of the wrong shape) or of the
    // entry, and would otherwise check nothing.
    if (flush.threw && ieee.threw) report(c, "throws in every mode: " + ieee.error);
    return;
  }
  if (flush.outs.size() != ieee.outs.size()) {
    report(c, std::to_string(flush.outs.size()) + " results in the default mode, " + std::to_string(ieee.outs.size()) +
                  " in IEEE mode");
    return;
  }
  const bool forward = std::string_view(c.direction) == "forward";
  const Allowed* allowed = allowlisted(c.op.label(), c.direction);
  Tally::Elements& counted =
      c.tally.elements[c.op.label() + ", " + std::string(tg::dtype_name(c.dtype)) + ", " + c.direction];
  for (std::size_t o = 0; o < flush.outs.size(); ++o) {
    const Values& f = flush.outs[o];
    const Values& y = ieee.outs[o];
    const std::string which = (forward ? "output " : "gradient of input ") + std::to_string(o);
    if (f.defined != y.defined || f.dtype != y.dtype || f.shape != y.shape) {
      report(c, which + " is " + show_all(f, 4) + " in the default mode, " + show_all(y, 4) + " in IEEE mode");
      continue;
    }
    if (!f.defined) continue;
    const bool floating = is_float(f.dtype);
    std::int64_t bad = 0;
    std::string details;
    for (std::size_t i = 0; i < f.bits.size(); ++i) {
      bool ok;
      if (floating) {
        const double xf = as_double(f.bits[i], f.dtype), xi = as_double(y.bits[i], f.dtype);
        ++counted.all;
        if (std::isfinite(xi)) ++counted.finite;
        else ++c.tally.nonfinite;
        ok = (std::isnan(xi) || !std::isnan(xf)) && (!std::isfinite(xi) || std::isfinite(xf));
        if (!ok && allowed && (allowed->ieee_overflows ? std::isinf(xi) && std::isnan(xf) : std::isinf(xf))) {
          ++c.tally.excused;
          continue;
        }
      } else {
        ok = f.bits[i] == y.bits[i];
      }
      if (ok || bad++ >= 3) continue;
      details += "\n    " + which + " at " + index_str(i, f.shape) + ": default mode " + show(f.bits[i], f.dtype) +
                 ", ieee " + show(y.bits[i], f.dtype);
      for (std::size_t k = 0; k < c.inputs.shown.size(); ++k) {
        const Values& in = c.inputs.shown[k];
        if (in.shape == f.shape) details += "; input " + std::to_string(k) + " there " + show(in.bits[i], in.dtype);
      }
    }
    if (bad) report(c, std::to_string(bad) + " element(s) of " + which + " off" + details);
  }
}

bool takes(const OpInfo& op, DType dtype) {
  for (DType d : op.dtypes)
    if (d == dtype) return true;
  return false;
}

// One run: the entry forward, and backward with grad_outputs of 1 and of s,
// in both modes, checked.
void run_inputs(const OpInfo& op, DType dtype, std::size_t k, double s, const char* scaled_inputs, const Inputs& in,
                Tally& tally) {
  ++tally.runs;
  const Result flush = forward(op, in.values, FloatMode::Flush);
  const Result ieee = forward(op, in.values, FloatMode::Ieee);
  compare({op, dtype, k, s, scaled_inputs, "forward", "", in, tally}, flush, ieee);
  if (!op.differentiable || ieee.threw) return;
  for (const double g : {1.0, s}) {
    const std::vector<Tensor> gos = grad_outputs(ieee.outs, g);
    const Result gflush = backward(op, in.values, gos, {.mode = FloatMode::Flush});
    const Result gieee = backward(op, in.values, gos, {.mode = FloatMode::Ieee});
    compare({op, dtype, k, s, scaled_inputs, "backward", g == 1.0 ? "1" : "s", in, tally}, gflush, gieee);
    // Differentiated again with the grad_output s only: with 1 too it found
    // no entry more, and cost seconds of a Debug build's run.
    if (!op.twice_differentiable || g == 1.0) continue;
    const Result hflush = backward(op, in.values, gos, {.mode = FloatMode::Flush, .twice = true});
    const Result hieee = backward(op, in.values, gos, {.mode = FloatMode::Ieee, .twice = true});
    compare({op, dtype, k, s, scaled_inputs, "double backward", "s", in, tally}, hflush, hieee);
  }
}

void run_entry(const OpInfo& op, std::uint64_t seed, Tally& tally) {
  bool counted = false;
  for (DType dtype : {tg::kFloat32, tg::kFloat64}) {
    if (!takes(op, dtype)) continue;
    for (std::size_t k = 0; k < op.samples.size(); ++k) {
      tg::Generator gen(seed + 10 * k + (dtype == tg::kFloat64 ? 5 : 0));
      set_float_mode(FloatMode::Ieee);
      const std::vector<Tensor> sample = op.sample(k, dtype, gen);
      const std::vector<std::size_t> inputs = scalable(op, sample, dtype);
      if (inputs.empty()) continue;
      if (!counted) ++tally.entries;
      counted = true;
      for (double s : scales(dtype)) {
        Inputs in;
        make_inputs(sample, inputs, kAll, dtype, s, in);
        run_inputs(op, dtype, k, s, inputs.size() > 1 ? "all" : "", in, tally);
      }
      if (inputs.size() < 2) continue;
      for (std::size_t i : inputs)
        for (double s : alone_scales(dtype)) {
          Inputs in;
          make_inputs(sample, inputs, i, dtype, s, in);
          const std::string which = std::to_string(i);
          run_inputs(op, dtype, k, s, which.c_str(), in, tally);
        }
    }
  }
  if (!counted && (takes(op, tg::kFloat32) || takes(op, tg::kFloat64))) tally.unscaled.push_back(op.label());
}

// The entries the sweep is for: not aliases, taking float32 or float64.
std::int64_t expected_entries() {
  std::int64_t n = 0;
  for (const auto& op : tg::testing::op_registry())
    n += op.alias_of.empty() && (takes(op, tg::kFloat32) || takes(op, tg::kFloat64));
  return n;
}

// The entries no input of which scaled() allows, which the sweep cannot run:
// acosh's input is above one, one_hot's are indices, binary_cross_entropy's
// and multinomial's probabilities.
const std::vector<std::string>& known_unscaled() {
  static const std::vector<std::string> labels{"one_hot",
                                               "one_hot (num_classes 5)",
                                               "F::binary_cross_entropy",
                                               "F::binary_cross_entropy (weight, sum)",
                                               "acosh",
                                               "multinomial (with replacement)",
                                               "multinomial (without replacement)"};
  return labels;
}

// The entry, dtype and direction runs where IEEE mode gives no finite element
// at any scale, so that the property compares nothing there. The svd entries
// run on x s + 2I, which at every scale here is 2I to the last bit (2 + 1e-10
// is 2 in float32): its singular values all tie, and svd's derivatives divide
// by s_i^2 - s_j^2 = 0 (inf or NaN in IEEE mode, as in PyTorch, whose svd
// backward is not defined at repeated singular values; svdvals' first
// derivative is, its second is not). A milder scale does not help while the
// shift is 2; the registry's gradcheck covers these entries at scale 1.
const std::vector<std::string>& known_all_nonfinite() {
  static const std::vector<std::string> keys{
      "linalg::svd (full_matrices), float32, backward", "linalg::svd (full_matrices), float32, double backward",
      "linalg::svd (full_matrices), float64, backward", "linalg::svd (full_matrices), float64, double backward",
      "linalg::svdvals, float64, double backward"};
  return keys;
}

}  // namespace

TEST_CASE("registry: intermediates that underflow give no NaN or infinity IEEE does not (default float mode)") {
  if (!kHaveModes) return;
  FloatModeRestore restore;
  // One thread: the samples are far below parallel_threshold(), and OpenBLAS's
  // team, on a loaded machine, made each LAPACK call wait 10-20 ms.
  tg::set_num_threads(1);
  tg_test::start_float_modes();
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  std::uint64_t seed = 7000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (op.alias_of.empty()) run_entry(op, seed, tally);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char time[32];
  std::snprintf(time, sizeof time, "%.2f s", seconds);
  std::string nothing;
  for (const auto& n : tally.nothing)
    nothing += (nothing.empty() ? "" : ", ") + std::to_string(n.second) + " with " + n.first;
  // Entry, dtype and direction runs where IEEE mode gave no finite element at
  // any scale: the property checked nothing there.
  std::vector<std::string> all_nonfinite;
  for (const auto& e : tally.elements)
    if (e.second.all > 0 && e.second.finite == 0) all_nonfinite.push_back(e.first);
  std::string unscaled, nonfinite;
  for (const auto& u : tally.unscaled) unscaled += (unscaled.empty() ? "" : ", ") + u;
  for (const auto& n : all_nonfinite) nonfinite += "\n    " + n;
  const std::string summary =
      "underflow sweep: " + std::to_string(tally.entries) + " entries, " + std::to_string(tally.runs) + " runs, " +
      std::to_string(tally.comparisons) + " comparisons; " + std::to_string(tally.violations) + " violation(s), " +
      std::to_string(tally.excused) + " allowlisted element(s), " + std::to_string(tally.nonfinite) +
      " element(s) inf or NaN in IEEE mode too; not compared (nothing in either mode): " +
      (nothing.empty() ? std::string("none") : nothing) +
      "; not run (no input scaled): " + (unscaled.empty() ? std::string("none") : unscaled) + "; " + time +
      "\n  checked nothing (every element inf or NaN in IEEE mode at every scale): " +
      (nonfinite.empty() ? std::string("none") : nonfinite);
  MESSAGE(summary);
  for (const auto& m : tally.messages) FAIL_CHECK(m);
  std::string counts = "violations by entry, dtype and direction (all scales and grad_outputs):";
  for (const auto& entry : tally.by_entry) counts += "\n    " + entry.first + ": " + std::to_string(entry.second);
  if (!tally.by_entry.empty()) FAIL_CHECK(counts);
  CHECK(tally.violations == 0);
  // Every entry the sweep is for ran, or is one it knows it cannot run; and
  // the runs that checked nothing are the known ones.
  CHECK(tally.entries + static_cast<std::int64_t>(tally.unscaled.size()) == expected_entries());
  for (const auto& u : tally.unscaled)
    if (std::find(known_unscaled().begin(), known_unscaled().end(), u) == known_unscaled().end())
      FAIL_CHECK(u << ": no input the sweep scales, so it does not run");
  CHECK(tally.unscaled.size() == known_unscaled().size());
  for (const auto& n : all_nonfinite)
    if (std::find(known_all_nonfinite().begin(), known_all_nonfinite().end(), n) == known_all_nonfinite().end())
      FAIL_CHECK(n << ": every element inf or NaN in IEEE mode at every scale, so nothing checked");
  CHECK(all_nonfinite.size() == known_all_nonfinite().size());
}

}  // namespace test_registry_underflow
