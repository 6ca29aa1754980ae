#pragma once
// The registry's gradient checks (tests/autograd/test_registry_gradcheck*.cpp):
// gradcheck and gradgradcheck, in float64, of every differentiable entry of
// one family on every sample configuration, on contiguous inputs and on three
// other layouts of the same values (transposed, sliced with step 2, expanded).
// The families are split over two test files so that ctest runs them on two
// cores at once.
#include <doctest/doctest.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/random.h>
#include <tapegrad/testing/op_registry.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tg_test {

using tg::Dims;
using tg::Tensor;
using tg::testing::OpInfo;

// The sanitized tree checks projections of the Jacobians (gradcheck's
// fast_mode): the same forwards and backwards, on the same inputs and
// layouts, run under the sanitizers, in a few evaluations per check instead of
// two per input element (these two files took 100 of the sanitized suite's
// 290 CPU-s). The plain tree compares every Jacobian entry.
#if defined(TAPEGRAD_TEST_SANITIZED)
constexpr bool kFastGradcheck = true;
#else
constexpr bool kFastGradcheck = false;
#endif

enum class Layout { Contiguous, Transposed, Strided, Expanded };

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous:
      return "contiguous";
    case Layout::Transposed:
      return "transposed";
    case Layout::Strided:
      return "sliced with step 2";
    case Layout::Expanded:
      return "expanded";
  }
  return "?";
}

// The values `c` in the given layout, or an undefined tensor when the shape
// has no room for it (0-d, or no dim to transpose or expand).
inline Tensor in_layout(const Tensor& c, Layout layout) {
  tg::NoGradGuard no_grad;
  const int nd = c.dim();
  switch (layout) {
    case Layout::Contiguous:
      return c;
    case Layout::Transposed:
      if (nd < 2 || (c.size(-1) == 1 && c.size(-2) == 1)) return {};
      return c.transpose(-1, -2).contiguous().transpose(-1, -2);
    case Layout::Strided: {
      if (nd < 1) return {};
      Dims big = c.shape();
      big[0] *= 2;
      Tensor base = tg::zeros(big, {.dtype = c.dtype()});
      Tensor view = base.slice(0, 0, big[0], 2);
      view.copy_(c);
      return view;
    }
    case Layout::Expanded:
      for (int d = 0; d < nd; ++d)
        if (c.size(d) > 1) return c.narrow(d, 0, 1).contiguous().expand(c.shape());
      return {};
  }
  return {};
}

// The entry as a pure function: an in-place op gets a copy of its first input.
inline tg::GradcheckFunction pure(const OpInfo& op) {
  return [&op](const std::vector<Tensor>& in) {
    if (!op.in_place) return op(in);
    std::vector<Tensor> copy = in;
    copy[0] = in[0].clone();
    return op(copy);
  };
}

inline std::string shapes_str(const std::vector<Dims>& shapes) {
  std::string s;
  for (const auto& d : shapes) s += (s.empty() ? "" : " ") + tg::shape_str(d);
  return s;
}

// Normal grad_outputs for op's floating outputs on `inputs`, 0 at every even
// flat index (undefined for the outputs gradients are not taken of).
inline std::vector<Tensor> seeds_with_zeros(const OpInfo& op, const std::vector<Tensor>& inputs, std::uint64_t seed) {
  tg::Generator gen(seed);
  std::vector<Tensor> seeds;
  tg::NoGradGuard no_grad;
  for (const Tensor& out : pure(op)(inputs)) {
    if (!out.defined() || !out.is_floating_point()) {
      seeds.push_back(Tensor());
      continue;
    }
    const std::int64_t n = out.numel();
    const Tensor odd = tg::remainder(tg::arange(n), 2) == 1;
    const Tensor r = tg::randn({n}, {.dtype = tg::kFloat64}, &gen);
    seeds.push_back(tg::where(odd, r, 0.0).reshape(out.shape()).detach().set_requires_grad(true));
  }
  return seeds;
}

inline void run_entry(const OpInfo& op, std::uint64_t seed, std::int64_t& checks) {
  for (std::size_t k = 0; k < op.samples.size(); ++k) {
    tg::Generator gen(seed + k);
    const std::vector<Tensor> values = op.sample(k, tg::kFloat64, gen);
    for (Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Expanded}) {
      if (!op.strided_ok && layout != Layout::Contiguous) continue;
      // expand_ok false: the expanded layout's repeated values tie where the
      // op picks one element along the repeated dim (max, min, amax, amin,
      // median, mode, kthvalue, sort, msort, topk or cummax over it: the
      // gradient goes to one of the tied elements, the finite differences
      // move them all), the nuclear norm's repeated columns give a zero
      // singular value (a kink), ord -inf's row sums tie, and a std over the
      // repeated dim is sqrt(0) (a kink). The max-like entries whose ties do
      // not arise there (pooling, max or min over the other dim,
      // scatter_reduce, the std of other dims, det, the ord 1 and inf norms)
      // run on it.
      if (!op.expand_ok && layout == Layout::Expanded) continue;
      std::vector<Tensor> inputs;
      bool any_changed = layout == Layout::Contiguous;
      for (const auto& v : values) {
        Tensor t = in_layout(v, layout);
        any_changed = any_changed || t.defined();
        // Leaves of their own, so the shared values never require grad.
        inputs.push_back((t.defined() ? t : v.clone()).detach().set_requires_grad(true));
      }
      if (!any_changed) continue;  // the same as the contiguous run
      const std::string op_label = op.label();
      const std::string shapes = shapes_str(op.samples[k]);
      INFO("op: ", op_label, ", shapes: ", shapes, ", layout: ", std::string(layout_name(layout)));
      tg::GradcheckOptions options = op.tolerance;
      options.fast_mode = kFastGradcheck;
      const auto first = tg::gradcheck_result(pure(op), inputs, options);
      CHECK_MESSAGE(first.ok, first.message);
      ++checks;
      if (!op.twice_differentiable) continue;
      const auto second = tg::gradgradcheck_result(pure(op), inputs, {}, options);
      CHECK_MESSAGE(second.ok, second.message);
      ++checks;
      if (layout != Layout::Contiguous) continue;
      // Again with gradients that are exactly 0 at every other element:
      // random ones never are, and logcumsumexp's backward, which masked dy
      // by its sign, lost its derivative in dy there unseen (a jvp is the
      // derivative in dy at dy = 0).
      const auto third = tg::gradgradcheck_result(pure(op), inputs, seeds_with_zeros(op, inputs, seed + k), options);
      CHECK_MESSAGE(third.ok, "grad_outputs with zeros: " << third.message);
      ++checks;
    }
  }
}

// The families the test cases of the two files run, which between them must
// hold every differentiable entry (test_registry_gradcheck.cpp checks that).
inline const std::vector<std::string>& gradcheck_families() {
  static const std::vector<std::string> families{"elementwise", "linalg", "index", "inplace", "nn", "reduce", "shape"};
  return families;
}

// The differentiable entries of `family`.
inline std::int64_t differentiable_entries(const std::string& family) {
  std::int64_t n = 0;
  for (const auto& op : tg::testing::op_registry()) n += op.family == family && op.differentiable;
  return n;
}

inline void run_family(const std::string& family) {
  std::int64_t checks = 0, entries = 0;
  std::uint64_t seed = 1000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (op.family != family || !op.differentiable) continue;
    const std::int64_t before = checks;
    run_entry(op, seed, checks);
    const std::string label = op.label();
    CHECK_MESSAGE(checks > before, label << ": no gradient check ran");
    ++entries;
  }
  MESSAGE(family << ": " << entries << " entries, " << checks << " gradient checks");
  CHECK(entries == differentiable_entries(family));
  CHECK(entries > 0);
}

}  // namespace tg_test
