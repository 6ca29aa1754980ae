// Gradients that do not depend on which other inputs require grad, for every
// differentiable entry of the registry (testing/op_registry.h) with two or
// more floating inputs.
//
// An op's backward often saves an input only when another input requires
// grad (addcdiv saves tensor2 only when tensor1 or tensor2 does), and a
// backward that then reads the unsaved tensor throws ("div: tensor is
// undefined") or computes with the wrong values. The registry gradcheck makes
// every floating input require grad, so it never runs such a backward. Here,
// for every entry that is not an alias, in float64, on every sample:
//   - F: the sample's floating inputs. With |F| >= 2, the gradients of all of
//     F (a fixed grad_output of standard normals per floating output,
//     tg::grad with allow_unused), every input requiring grad;
//   - then, for each non-empty proper subset S of F (at most kMaxSubsets per
//     sample: every single input, every input but one, then the others in
//     order), the same with only S requiring grad (the other inputs plain
//     tensors of the same values), and the gradients of S: no exception, and
//     each the same bits as in the run with all of F (any NaN equals any
//     NaN; defined in both or in neither);
//   - for the twice differentiable entries, the double backward too: the
//     gradients with respect to S of the sum of S's first gradients (recorded
//     with create_graph), in the run with only S requiring grad against the
//     run with all of F (whose first gradients of S are summed alike). The
//     two graphs may sum in a different order, so there within kRelTolerance
//     of the larger magnitude (an undefined gradient reads as zeros: a first
//     gradient that is constant in the subset run may still hang on the other
//     inputs in the full run).
// An in-place entry gets a copy of its first input (as gradcheck's pure()
// in support/registry_gradcheck.h), so with input 0 outside S the op writes
// into a plain tensor and the other inputs make it require grad. The default
// generator is reseeded alike before each run (random ops draw the same).
// Every violation is named: entry, sample, subset, what happened.
#include <doctest/doctest.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/testing/op_registry.h>

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
#include <string>
#include <vector>

namespace test_registry_grad_subsets {

using tg::DType;
using tg::Tensor;
using tg::testing::OpInfo;
using namespace tg_test::registry_runs;

namespace {

constexpr std::size_t kMaxSubsets = 16;  // per sample
constexpr double kRelTolerance = 1e-12;  // double backward only

// ---- entries that take another path by design ------------------------------------

// Entries whose backward takes a different route, by design, when some
// input requires grad, so that the gradients of the others round
// differently in their last bits. Their first gradients are held to
// kRelTolerance instead of the same bits (a throw, a gradient defined in one
// run only, or a larger difference still fails); what differed is shown.
struct OtherPath {
  const char* label;  // OpInfo::label()
  const char* reason;
};
constexpr OtherPath kOtherPath[] = {
    // autograd/ops/attention.cpp: a float mask that wants its gradient takes
    // the math path's backward (the attention weights materialised, dS kept
    // for the mask); otherwise the fused kernel's backward recomputes the
    // score tiles. dq and dk differ by ~1e-14 relative (measured).
    {"scaled_dot_product_attention (float mask)",
     "a float mask requiring grad takes the math backward, else the fused kernel's"},
};

const OtherPath* other_path(const std::string& label) {
  for (const auto& o : kOtherPath)
    if (label == o.label) return &o;
  return nullptr;
}

// ---- values -------------------------------------------------------------------

double as_double(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

bool same_bits(std::uint64_t a, std::uint64_t b) {
  return a == b || (std::isnan(as_double(a)) && std::isnan(as_double(b)));
}

std::string show(std::uint64_t b) {
  char s[64];
  std::snprintf(s, sizeof s, "%.17g", as_double(b));
  return s;
}

std::string shapes_str(const std::vector<tg::Dims>& shapes) {
  std::string s;
  for (const auto& d : shapes) {
    if (!s.empty()) s += ' ';
    s += tg::shape_str(d);
  }
  return s;
}

std::string set_str(const std::vector<std::size_t>& inputs) {
  std::string s = "{";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(inputs[i]);
  }
  return s + "}";
}

// ---- running an entry ---------------------------------------------------------

// The entry on copies of `values`, the inputs in `requiring` requiring grad
// (gradients() in support/registry_runs.h). Once: the gradients with respect
// to `wrt` (input indices) of the outputs that require grad (grad_outputs
// `gos`). Twice: the first gradients with respect to every input in
// `requiring`, recorded, and the gradients with respect to `wrt` of the sum
// of the first gradients of `wrt`. One gradient per index of `wrt` where it
// does not throw, undefined where unused or where nothing was differentiated.
Result run(const OpInfo& op, const std::vector<Tensor>& values, const std::vector<std::size_t>& requiring,
           const std::vector<std::size_t>& wrt, const std::vector<Tensor>& gos, bool twice) {
  std::vector<Tensor> leaves;
  {
    tg::NoGradGuard no_grad;
    for (const auto& v : values) leaves.push_back(v.clone().detach());
    for (std::size_t i : requiring) leaves[i].set_requires_grad(true);
  }
  // The first gradients: of `wrt` once; of every input requiring grad twice
  // (the full run's double backward differentiates S's part of them).
  const std::vector<std::size_t>& first = twice ? requiring : wrt;
  std::vector<Tensor> first_wrt;
  for (std::size_t i : first) first_wrt.push_back(leaves[i]);
  GradRun how{.twice = twice};
  if (twice) {
    for (std::size_t j = 0; j < first.size(); ++j)
      if (std::find(wrt.begin(), wrt.end(), first[j]) != wrt.end()) how.summed.push_back(j);
    for (std::size_t i : wrt) how.second_wrt.push_back(leaves[i]);
  }
  Result r = gradients(op, leaves, first_wrt, gos, how);
  if (!r.threw && r.outs.empty()) r.outs.resize(wrt.size());
  return r;
}

// A fixed grad_output for each floating output (standard normals), from a
// forward without recording; false where the forward throws.
bool make_grad_outputs(const OpInfo& op, const std::vector<Tensor>& values, std::uint64_t seed,
                       std::vector<Tensor>& gos, std::string& error) {
  const Result f = forward(op, values);
  if (f.threw) {
    error = f.error;
    return false;
  }
  gos = normal_grad_outputs(f.outs, seed);
  return true;
}

// The subsets of `floating` to run: every single input, every input but one,
// then the others by their bit patterns, at most kMaxSubsets.
std::vector<std::vector<std::size_t>> subsets_of(const std::vector<std::size_t>& floating) {
  const std::size_t n = floating.size();
  std::vector<std::uint64_t> masks;
  const std::uint64_t all = n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  auto add = [&](std::uint64_t m) {
    if (m == 0 || m == all || masks.size() >= kMaxSubsets) return;
    if (std::find(masks.begin(), masks.end(), m) == masks.end()) masks.push_back(m);
  };
  for (std::size_t i = 0; i < n && i < 64; ++i) add(std::uint64_t{1} << i);
  for (std::size_t i = 0; i < n && i < 64; ++i) add(all & ~(std::uint64_t{1} << i));
  if (n < 20)
    for (std::uint64_t m = 1; m < all && masks.size() < kMaxSubsets; ++m) add(m);
  std::vector<std::vector<std::size_t>> out;
  for (std::uint64_t m : masks) {
    std::vector<std::size_t> s;
    for (std::size_t i = 0; i < n && i < 64; ++i)
      if (m & (std::uint64_t{1} << i)) s.push_back(floating[i]);
    out.push_back(s);
  }
  return out;
}

// ---- comparing ----------------------------------------------------------------

struct Tally {
  std::int64_t entries = 0, samples = 0, subsets = 0, comparisons = 0, double_comparisons = 0;
  std::int64_t single_input_samples = 0;         // samples with fewer than two floating inputs: nothing to vary
  std::int64_t constant = 0;                     // double backward runs with no first gradient to differentiate
  std::int64_t defined_pairs = 0, elements = 0;  // gradient pairs defined in both runs, and their elements
  std::vector<std::string> violations;
  std::vector<std::string> notes;  // kOtherPath's differences within kRelTolerance
};

// "" where `got` (the subset run's gradient of input `input`) agrees with
// `want` (the full run's); else what differs. `tolerance` 0: bitwise.
// `zero_undefined`: an undefined gradient reads as zeros.
std::string compare(const Values& want, const Values& got, std::size_t input, double tolerance, bool zero_undefined,
                    Tally& tally) {
  const std::string which = "gradient of input " + std::to_string(input);
  if (want.defined && got.defined && (want.dtype != got.dtype || want.shape != got.shape))
    return which + " is " + tg::shape_str(got.shape) + " " + std::string(tg::dtype_name(got.dtype)) +
           ", with every input requiring grad " + tg::shape_str(want.shape) + " " +
           std::string(tg::dtype_name(want.dtype));
  if (want.defined != got.defined) {
    // Tolerant: an undefined gradient reads as zeros.
    const Values& d = want.defined ? want : got;
    bool zero = true;
    for (std::uint64_t b : d.bits) zero = zero && as_double(b) == 0.0;
    if (zero_undefined && zero) return "";
    return which + (got.defined ? " is defined" : " is undefined") + ", with every input requiring grad " +
           (want.defined ? "defined" : "undefined") + (zero ? " (all zeros)" : "");
  }
  if (!want.defined) return "";
  ++tally.defined_pairs;
  tally.elements += static_cast<std::int64_t>(want.bits.size());
  if (want.dtype != tg::kFloat64) return "";  // gradients of float64 inputs are float64
  double scale = 0;
  for (std::uint64_t b : want.bits)
    if (std::isfinite(as_double(b))) scale = std::max(scale, std::abs(as_double(b)));
  std::size_t count = 0, first = 0;
  double worst = 0;
  for (std::size_t i = 0; i < want.bits.size(); ++i) {
    const double a = as_double(want.bits[i]), b = as_double(got.bits[i]);
    bool ok = same_bits(want.bits[i], got.bits[i]);
    if (!ok && tolerance > 0 && std::isfinite(a) && std::isfinite(b)) {
      const double bound = tolerance * std::max({std::abs(a), std::abs(b), 1e-3 * scale});
      ok = std::abs(a - b) <= bound;
    }
    if (ok) continue;
    if (count++ == 0) first = i;
    if (std::isfinite(a) && std::isfinite(b) && std::max(std::abs(a), std::abs(b)) > 0)
      worst = std::max(worst, std::abs(a - b) / std::max(std::abs(a), std::abs(b)));
  }
  if (count == 0) return "";
  char rel[48];
  std::snprintf(rel, sizeof rel, "%.3g", worst);
  return which + " (" + tg::shape_str(want.shape) + ") differs at " + std::to_string(count) + " of " +
         std::to_string(want.bits.size()) + " elements, first at " + index_str(first, want.shape) + ": " +
         show(got.bits[first]) + ", with every input requiring grad " + show(want.bits[first]) +
         " (largest relative difference " + rel + ")";
}

void check_subset(const OpInfo& op, const std::vector<Tensor>& values, const std::vector<Tensor>& gos,
                  const std::vector<std::size_t>& floating, const std::vector<std::size_t>& subset,
                  const Result& full_once, const std::string& where, Tally& tally) {
  ++tally.subsets;
  const std::string at = where + ", only inputs " + set_str(subset) + " of " + set_str(floating) + " requiring grad, ";
  // Backward: S's gradients against the full run's.
  const Result once = run(op, values, subset, subset, gos, false);
  if (once.threw) {
    tally.violations.push_back(at + "backward throws: " + once.error);
  } else {
    for (std::size_t j = 0; j < subset.size(); ++j) {
      const std::size_t at_full =
          static_cast<std::size_t>(std::find(floating.begin(), floating.end(), subset[j]) - floating.begin());
      const Values& want = full_once.outs[at_full];
      const std::string m = compare(want, once.outs[j], subset[j], 0, false, tally);
      ++tally.comparisons;
      if (m.empty()) continue;
      const std::string message = at + "backward: " + m + (once.nothing.empty() ? "" : " [" + once.nothing + "]");
      const OtherPath* other = other_path(op.label());
      Tally uncounted;
      if (other && compare(want, once.outs[j], subset[j], kRelTolerance, false, uncounted).empty())
        tally.notes.push_back(message + " [" + other->reason + "]");
      else tally.violations.push_back(message);
    }
  }
  if (!op.twice_differentiable) return;
  // Double backward: the full run's second derivatives of S's first
  // gradients' sum against the subset run's.
  const Result full_twice = run(op, values, floating, subset, gos, true);
  const Result twice = run(op, values, subset, subset, gos, true);
  if (full_twice.threw) {
    // Not the subset's doing; the registry gradgradcheck covers it. Named
    // all the same, since nothing here is then compared.
    tally.violations.push_back(at + "double backward throws with every input requiring grad: " + full_twice.error);
    return;
  }
  if (twice.threw) {
    tally.violations.push_back(at + "double backward throws: " + twice.error);
    return;
  }
  if (!twice.nothing.empty()) ++tally.constant;
  for (std::size_t j = 0; j < subset.size(); ++j) {
    const std::string m = compare(full_twice.outs[j], twice.outs[j], subset[j], kRelTolerance, true, tally);
    ++tally.double_comparisons;
    if (!m.empty())
      tally.violations.push_back(at + "double backward: " + m +
                                 (twice.nothing.empty() ? "" : " [" + twice.nothing + "]"));
  }
}

void run_entry(const OpInfo& op, std::uint64_t seed, Tally& tally) {
  bool counted = false;
  for (std::size_t k = 0; k < op.samples.size(); ++k) {
    tg::Generator gen(seed + k);
    const std::vector<Tensor> values = op.sample(k, tg::kFloat64, gen);
    std::vector<std::size_t> floating;
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i].defined() && is_float(values[i].dtype())) floating.push_back(i);
    if (floating.size() < 2) {
      ++tally.single_input_samples;
      continue;
    }
    if (!counted) ++tally.entries;
    counted = true;
    ++tally.samples;
    const std::string where = op.label() + ", sample " + std::to_string(k) + " (" + shapes_str(op.samples[k]) + ")";
    std::vector<Tensor> gos;
    std::string error;
    if (!make_grad_outputs(op, values, seed * 7919 + k, gos, error)) {
      tally.violations.push_back(where + ": the forward throws: " + error);
      continue;
    }
    const Result full = run(op, values, floating, floating, gos, false);
    if (full.threw) {
      tally.violations.push_back(where + ": backward throws with every input requiring grad: " + full.error);
      continue;
    }
    for (const auto& subset : subsets_of(floating)) check_subset(op, values, gos, floating, subset, full, where, tally);
  }
}

}  // namespace

TEST_CASE("registry: gradients do not depend on which other inputs require grad") {
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  std::int64_t considered = 0;
  std::uint64_t seed = 26000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (!op.alias_of.empty() || !op.differentiable || op.samples.empty()) continue;
    ++considered;
    run_entry(op, seed, tally);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char time[32];
  std::snprintf(time, sizeof time, "%.2f s", seconds);
  MESSAGE("grad subsets, float64: " << considered << " differentiable entries, " << tally.entries
                                    << " with two or more floating inputs; " << tally.samples << " samples, "
                                    << tally.subsets << " subsets, " << tally.comparisons << " backward and "
                                    << tally.double_comparisons << " double backward comparisons (" << tally.constant
                                    << " subset runs with a constant first gradient; " << tally.defined_pairs
                                    << " gradient pairs defined in both, " << tally.elements << " elements); "
                                    << tally.violations.size() << " violation(s), " << tally.notes.size()
                                    << " difference(s) excused; " << time);
  for (const auto& n : tally.notes) MESSAGE(n);
  for (const auto& v : tally.violations) FAIL_CHECK(v);
  CHECK(tally.violations.empty());
  CHECK(tally.entries > 0);
}

}  // namespace test_registry_grad_subsets
