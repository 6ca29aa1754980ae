// tg::gradcheck and tg::gradgradcheck: they pass correct gradients, catch
// wrong ones (reporting where), and handle strided and expanded inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <utility>
#include <vector>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

namespace test_gradcheck {

using tg::Tensor;
using tg::autograd::AutogradContext;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

// y = x^2 with a wrong derivative (3x instead of 2x).
struct WrongSquare : tg::autograd::Function<WrongSquare> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x) {
    ctx->save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    return {grads[0] * 3 * ctx->get_saved_variables()[0]};
  }
};

// y = x^2 with the right first derivative, computed from a detached x, so its
// own derivative (the second derivative of y) is missing.
struct FlatSecondDerivative : tg::autograd::Function<FlatSecondDerivative> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x) {
    ctx->save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    return {grads[0] * 2 * ctx->get_saved_variables()[0].detach()};
  }
};

// y = 2x, but the forward reads memory as if x were contiguous.
struct ContiguousOnlyDouble : tg::autograd::Function<ContiguousOnlyDouble> {
  static Tensor forward(AutogradContext*, const Tensor& x) {
    Tensor y = tg::empty(x.shape(), {.dtype = x.dtype()});
    const double* in = x.data_ptr<double>();
    double* out = y.data_ptr<double>();
    for (std::int64_t i = 0; i < x.numel(); ++i) out[i] = 2 * in[i];
    return y;
  }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) { return {grads[0] * 2}; }
};

}  // namespace

TEST_CASE("gradcheck passes correct gradients") {
  tg::manual_seed(1);
  Tensor x = tg::randn({2, 3}, kF64Grad);
  Tensor y = tg::randn({3}, kF64Grad);
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return (in[0] * in[1]).exp(); }, {x, y}));
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return (in[0] * in[0]).sum(); }, {x}));
  // A vector of outputs, one of which ignores an input.
  CHECK(tg::gradcheck(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{in[0] * in[1], in[0].tanh()};
      },
      {x, y}));
  const auto r = tg::gradcheck_result([](const std::vector<Tensor>& in) { return in[0] * 3; }, {x});
  CHECK(r.ok);
  CHECK(r.message.empty());
  CHECK(r.mismatches == 0);
}

TEST_CASE("gradcheck catches a wrong gradient and says where") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  auto fn = [](const std::vector<Tensor>& in) { return WrongSquare::apply(in[0]); };

  const auto r = tg::gradcheck_result(fn, {x});
  CHECK_FALSE(r.ok);
  // Jacobian entries: analytic 3x on the diagonal, numeric 2x. The worst is at x = 2.
  CHECK(r.input_index == 0);
  CHECK(r.output_index == 0);
  CHECK(r.input_element == std::vector<std::int64_t>{1});
  CHECK(r.output_element == std::vector<std::int64_t>{1});
  CHECK(r.analytic == doctest::Approx(6));
  CHECK(r.numeric == doctest::Approx(4).epsilon(1e-6));
  CHECK(r.mismatches == 2);
  CHECK(r.message.find("input 0") != std::string::npos);
  CHECK(r.message.find("[1]") != std::string::npos);
  CHECK(r.message.find("analytic 6") != std::string::npos);
  CHECK(r.message.find("numeric ") != std::string::npos);
  CHECK(r.message.find("WrongSquare") != std::string::npos);  // the output's grad_fn

  CHECK_THROWS_WITH_AS(tg::gradcheck(fn, {x}), doctest::Contains("Jacobian mismatch"), tg::AutogradError);
  // A tolerance wide enough lets it pass.
  CHECK(tg::gradcheck(fn, {x}, {.atol = 3}));
}

TEST_CASE("gradcheck reports multi-dimensional element indices") {
  Tensor a = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kF64Grad);
  Tensor b = tg::tensor({1, 1, 1, 1, 1, 1}, {2, 3}, kF64Grad);
  auto fn = [](const std::vector<Tensor>& in) { return in[1] + WrongSquare::apply(in[0]); };
  const auto r = tg::gradcheck_result(fn, {a, b});
  CHECK_FALSE(r.ok);
  CHECK(r.input_index == 0);
  CHECK(r.input_element == std::vector<std::int64_t>{1, 2});  // x = 6: analytic 18, numeric 12
  CHECK(r.output_element == std::vector<std::int64_t>{1, 2});
  CHECK(r.message.find("[1, 2]") != std::string::npos);
}

TEST_CASE("gradcheck wants float64 and something to check") {
  Tensor x32 = tg::ones({2}, {.requires_grad = true});
  auto fn = [](const std::vector<Tensor>& in) { return in[0] * 2; };
  CHECK_THROWS_WITH_AS(tg::gradcheck(fn, {x32}), doctest::Contains("float64"), tg::DTypeError);
  CHECK_THROWS_WITH_AS(tg::gradcheck(fn, {tg::ones({2}, kF64)}), doctest::Contains("requires grad"), tg::ValueError);
  // Integer inputs (indices) pass through unchanged.
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor index = tg::tensor({2, 0}, {2}, {.dtype = tg::kInt64});
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return tg::index_select(in[0], 0, in[1]) * 2; }, {x, index}));
}

// Misuses that used to read past an output's end (an output whose size
// depends on the values), report a false mismatch (one tensor passed twice)
// or a nonsense message (NaN tolerances): each a clear ValueError now.
TEST_CASE("gradcheck refuses value-dependent output shapes, aliased inputs and bad tolerances") {
  Tensor x = tg::tensor({0.0, 1.0, 2.0}, {3}, kF64Grad);
  const auto selected = [](const std::vector<Tensor>& in) { return tg::masked_select(in[0], in[0] >= 0.0); };
  for (const bool fast : {false, true}) {
    CAPTURE(fast);
    CHECK_THROWS_WITH_AS(tg::gradcheck(selected, {x}, {.fast_mode = fast}),
                         doctest::Contains("outputs change shape when its inputs move by eps"), tg::ValueError);
  }
  const auto product = [](const std::vector<Tensor>& in) { return in[0] * in[1]; };
  CHECK_THROWS_WITH_AS(tg::gradcheck(product, {x, x}), doctest::Contains("inputs 0 and 1 share memory"),
                       tg::ValueError);
  // Nothing floating to check: an error, not a pass.
  CHECK_THROWS_WITH_AS(tg::gradcheck([](const std::vector<Tensor>& in) { return tg::argmax(in[0]); }, {x}),
                       doctest::Contains("no floating-point output"), tg::ValueError);
  CHECK_THROWS_AS(tg::gradcheck(product, {x, x.view({3})}), tg::ValueError);
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x}));
  for (const double bad : {std::nan(""), -1.0}) {
    CHECK_THROWS_WITH_AS(tg::gradcheck(product, {x, tg::ones({3}, kF64Grad)}, {.atol = bad}),
                         doctest::Contains("atol and rtol must be non-negative"), tg::ValueError);
    CHECK_THROWS_AS(tg::gradcheck(product, {x, tg::ones({3}, kF64Grad)}, {.rtol = bad}), tg::ValueError);
  }
}

// Views of one storage that reach disjoint elements are independent inputs
// (their gradients are right); only views reaching a common element are
// refused. Interleaved columns have overlapping byte ranges but no common
// element, so the check must look at the elements.
TEST_CASE("gradcheck takes disjoint views of one tensor and refuses overlapping ones") {
  tg::manual_seed(5);
  Tensor w = tg::randn({3, 4}, kF64Grad);
  const auto product = [](const std::vector<Tensor>& in) { return in[0].sin() * in[1]; };
  const Tensor row0 = w.select(0, 0), row1 = w.select(0, 1);
  const Tensor even = w.slice(1, 0, 4, 2), odd = w.slice(1, 1, 4, 2);
  REQUIRE(row0.storage() == row1.storage());
  for (const bool fast : {false, true}) {
    CAPTURE(fast);
    CHECK(tg::gradcheck(product, {row0, row1}, {.fast_mode = fast}));
    CHECK(tg::gradcheck(product, {even, odd}, {.fast_mode = fast}));
    CHECK(tg::gradcheck(product, {odd, even}, {.fast_mode = fast}));
    // The transposed halves: rows 0-1 against row 2, read column-wise.
    CHECK(tg::gradcheck(product, {w.t().slice(1, 0, 1), w.t().slice(1, 2, 3)}, {.fast_mode = fast}));
  }
  CHECK(tg::gradgradcheck(product, {row0, row1}));
  CHECK(tg::gradgradcheck(product, {even, odd}));

  // Reaching a common element: the same tensor twice, a tensor and its view,
  // overlapping slices, strided views sharing one column.
  const std::vector<std::pair<Tensor, Tensor>> overlapping = {
      {row0, row0},
      {row0, w.select(0, 0)},
      {w.slice(0, 0, 2), w.slice(0, 1, 3)},
      {even, w.slice(1, 2, 4)},              // columns {0, 2} and {2, 3}
      {w.t().select(0, 1), w.select(0, 2)},  // column 1 and row 2 meet at w[2][1]
  };
  for (std::size_t k = 0; k < overlapping.size(); ++k) {
    CAPTURE(k);
    const Tensor& a = overlapping[k].first;
    const Tensor& b = overlapping[k].second;
    const auto sum_of_both = [](const std::vector<Tensor>& in) { return in[0].sum() * in[1].sum(); };
    CHECK_THROWS_WITH_AS(tg::gradcheck(sum_of_both, {a, b}), doctest::Contains("inputs 0 and 1 share memory"),
                         tg::ValueError);
  }
  // Whole w against a row of it, in either order.
  const auto scaled = [](const std::vector<Tensor>& in) { return in[0].sum() * in[1].sum(); };
  CHECK_THROWS_AS(tg::gradcheck(scaled, {w, row1}), tg::ValueError);
  CHECK_THROWS_AS(tg::gradcheck(scaled, {row1, w}), tg::ValueError);
  // An input that does not require grad is not perturbed: sharing is harmless.
  CHECK(tg::gradcheck(product, {row0, row0.detach()}));
}

TEST_CASE("gradcheck on non-contiguous and expanded inputs") {
  tg::manual_seed(2);
  Tensor w = tg::randn({4, 3}, kF64);
  // Transposed.
  Tensor t = tg::randn({3, 4}, kF64).t().set_requires_grad(true);
  REQUIRE_FALSE(t.is_contiguous());
  // Sliced with a step.
  Tensor s = tg::randn({8, 3}, kF64).slice(0, 0, 8, 2).set_requires_grad(true);
  REQUIRE(s.stride(0) == 6);
  // Expanded: one storage element per column is four logical elements.
  Tensor e = tg::randn({1, 3}, kF64).expand({4, 3}).set_requires_grad(true);
  REQUIRE(e.stride(0) == 0);
  auto fn = [w](const std::vector<Tensor>& in) { return in[0] * in[0] * w; };
  for (const Tensor& x : {t, s, e}) {
    CHECK(tg::gradcheck(fn, {x}));
    CHECK(tg::gradgradcheck(fn, {x}));
  }
  // The analytic Jacobian of the expanded input has one column per logical
  // element: d out[r][c] / d e[r][c] = 2 e[r][c] w[r][c], and zero across rows.
  const auto r = tg::gradcheck_result(fn, {e});
  CHECK(r.ok);
}

TEST_CASE("gradcheck catches a forward that mishandles strided inputs") {
  Tensor x = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kF64).t().set_requires_grad(true);
  auto fn = [](const std::vector<Tensor>& in) { return ContiguousOnlyDouble::apply(in[0]); };
  CHECK_THROWS_WITH_AS(tg::gradcheck(fn, {x}), doctest::Contains("mishandles strided inputs"), tg::AutogradError);
  CHECK(tg::gradcheck(fn, {x.detach().contiguous().set_requires_grad(true)}));
}

// With every input contiguous and its own, a disagreement can only come
// from the forward itself; it was blamed on strided inputs.
TEST_CASE("gradcheck says a random forward is not deterministic, not that it mishandles strides") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  auto noisy = [](const std::vector<Tensor>& in) { return in[0] + tg::rand({3}, {.dtype = tg::kFloat64}); };
  CHECK_THROWS_WITH_AS(tg::gradcheck(noisy, {x}), doctest::Contains("not deterministic"), tg::AutogradError);
  // gradgradcheck names a float32 grad_output as the caller passed it.
  auto square = [](const std::vector<Tensor>& in) { return in[0] * in[0]; };
  CHECK_THROWS_WITH_AS(tg::gradgradcheck(square, {x}, {tg::ones({3})}),
                       "gradgradcheck: grad_outputs[0] (shape [3]) is float32, but gradient checks need float64: "
                       "convert it with .to(tg::kFloat64)",
                       tg::DTypeError);
}

TEST_CASE("gradgradcheck passes correct second derivatives") {
  tg::manual_seed(3);
  Tensor x = tg::randn({3}, kF64Grad);
  Tensor y = tg::randn({3}, kF64Grad);
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0] * in[1]; }, {x, y}));
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return in[0].tanh().sum(); }, {x}));
  // Given grad_outputs.
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {x},
                          {tg::tensor({1, -2, 0.5}, {3}, kF64Grad)}));
}

TEST_CASE("gradgradcheck catches a second derivative that is missing") {
  Tensor x = tg::tensor({0.5, -1, 2}, {3}, kF64Grad);
  auto fn = [](const std::vector<Tensor>& in) { return FlatSecondDerivative::apply(in[0]); };
  CHECK(tg::gradcheck(fn, {x}));  // first derivative right
  const auto r = tg::gradgradcheck_result(fn, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.input_index == 0);  // with respect to x, not to the grad_output
  CHECK_THROWS_WITH_AS(tg::gradgradcheck(fn, {x}), doctest::Contains("gradgradcheck"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::gradgradcheck(fn, {x}, {tg::ones({2}, kF64Grad)}), doctest::Contains("grad_output"),
                       tg::ShapeError);
}

TEST_CASE("gradcheck leaves the inputs and their gradients untouched") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  const auto before = x.to_vector<double>();
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {x}));
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {x}));
  CHECK(x.to_vector<double>() == before);
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("gradcheck in fast mode checks projections of the same forward and backward") {
  tg::manual_seed(4);
  constexpr tg::GradcheckOptions kFast{.fast_mode = true};
  Tensor x = tg::randn({2, 3}, kF64Grad);
  Tensor y = tg::randn({3}, kF64Grad);
  Tensor t = tg::randn({3, 2}, kF64).t().set_requires_grad(true);
  Tensor e = tg::randn({1, 3}, kF64).expand({2, 3}).set_requires_grad(true);
  auto product = [](const std::vector<Tensor>& in) { return (in[0] * in[1]).exp(); };
  for (const Tensor& a : {x, t, e}) {
    CHECK(tg::gradcheck(product, {a, y}, kFast));
    CHECK(tg::gradgradcheck(product, {a, y}, {}, kFast));
  }
  // Several outputs, a 0-d one among them, and an output that ignores an input.
  CHECK(tg::gradcheck(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{in[0].sum(), in[0].tanh(), in[1] * 2};
      },
      {x, y}, kFast));

  // It evaluates fn a fixed number of times: once, once on the contiguous
  // copies, and twice per checked input, whatever the number of elements.
  int calls = 0;
  auto counted = [&calls](const std::vector<Tensor>& in) {
    ++calls;
    return in[0].matmul(in[1]);
  };
  Tensor a = tg::randn({8, 16}, kF64Grad), b = tg::randn({16, 4}, kF64Grad);
  CHECK(tg::gradcheck(counted, {a, b}, kFast));
  CHECK(calls == 2 + 2 * 2);
  calls = 0;
  CHECK(tg::gradcheck(counted, {a, b}));
  CHECK(calls == 2 + 2 * (8 * 16 + 16 * 4));

  // Input 0's copy is restored exactly before input 1 moves: calls 5 and 6
  // (after the output, the copies, and input 0's two) see it unmoved.
  calls = 0;
  std::vector<std::vector<double>> seen;
  auto recorded = [&](const std::vector<Tensor>& in) {
    if (++calls >= 5) seen.push_back(in[0].to_vector<double>());
    return in[0].matmul(in[1]);
  };
  CHECK(tg::gradcheck(recorded, {a, b}, kFast));
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == a.to_vector<double>());
  CHECK(seen[1] == a.to_vector<double>());

  // Integer inputs pass through; an output that does not require grad and a
  // float32 output (seeded in its own dtype) are checked like the others.
  Tensor index = tg::tensor({2, 0}, {2}, {.dtype = tg::kInt64});
  Tensor v = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  CHECK(tg::gradcheck(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{tg::index_select(in[0], 0, in[1]) * 2, tg::ones({2}, kF64),
                                   in[0].to(tg::kFloat32) * 3};
      },
      {v, index}, {.eps = 1e-2, .atol = 1e-3, .fast_mode = true}));
}

TEST_CASE("gradcheck in fast mode catches wrong first and second derivatives") {
  constexpr tg::GradcheckOptions kFast{.fast_mode = true};
  Tensor x = tg::tensor({1, 2, -0.5}, {3}, kF64Grad);
  Tensor y = tg::tensor({1, 1, 1}, {3}, kF64Grad);
  auto wrong = [](const std::vector<Tensor>& in) { return in[1] + WrongSquare::apply(in[0]); };
  const auto r = tg::gradcheck_result(wrong, {x, y}, kFast);
  CHECK_FALSE(r.ok);
  CHECK(r.input_index == 0);  // y's gradient is right
  CHECK(r.output_index == 0);
  CHECK(r.mismatches == 1);
  CHECK(r.input_element.empty());  // a projection has no single entry
  // Along u, the analytic projection is 3/2 of the numeric one (3x against 2x).
  CHECK(r.analytic == doctest::Approx(1.5 * r.numeric).epsilon(1e-6));
  CHECK(r.message.find("fast mode") != std::string::npos);
  CHECK(r.message.find("input 0") != std::string::npos);
  CHECK_THROWS_WITH_AS(tg::gradcheck(wrong, {x, y}, kFast), doctest::Contains("v^T J u"), tg::AutogradError);
  CHECK(r.message.find("1 of 2 projections") != std::string::npos);
  // A wrong gradient in a later output names that output.
  const auto later = tg::gradcheck_result(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{in[0] * 2, WrongSquare::apply(in[0])};
      },
      {x}, kFast);
  CHECK_FALSE(later.ok);
  CHECK(later.output_index == 1);

  auto flat = [](const std::vector<Tensor>& in) { return FlatSecondDerivative::apply(in[0]); };
  CHECK(tg::gradcheck(flat, {x}, kFast));
  CHECK_FALSE(tg::gradgradcheck_result(flat, {x}, {}, kFast).ok);

  // The forward check on contiguous copies runs in fast mode too.
  Tensor s = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, kF64).t().set_requires_grad(true);
  auto strided = [](const std::vector<Tensor>& in) { return ContiguousOnlyDouble::apply(in[0]); };
  CHECK_THROWS_WITH_AS(tg::gradcheck(strided, {s}, kFast), doctest::Contains("contiguous copies"), tg::AutogradError);
  // And the inputs come back unchanged.
  const auto before = x.to_vector<double>();
  CHECK(tg::gradgradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {x}, {}, kFast));
  CHECK(x.to_vector<double>() == before);
}

// An empty std::function (or a null pointer) threw std::bad_function_call
// from inside the check: neither tapegrad's error nor the call's name.
TEST_CASE("gradcheck and gradgradcheck refuse an empty function by name") {
  const Tensor x = tg::ones({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  using ListFn = tg::GradcheckFunction::Fn;
  using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;  // wrapped into a list's
  using Pointer = Tensor (*)(const std::vector<Tensor>&);
  for (const tg::GradcheckFunction& empty :
       {tg::GradcheckFunction(ListFn()), tg::GradcheckFunction(TensorFn()), tg::GradcheckFunction(Pointer{nullptr})}) {
    CHECK_FALSE(static_cast<bool>(empty));
    CHECK_THROWS_WITH_AS(tg::gradcheck(empty, {x}), "gradcheck: the function is empty", tg::ValueError);
    CHECK_THROWS_WITH_AS(tg::gradcheck_result(empty, {x}), "gradcheck: the function is empty", tg::ValueError);
    CHECK_THROWS_WITH_AS(tg::gradgradcheck(empty, {x}), "gradgradcheck: the function is empty", tg::ValueError);
    CHECK_THROWS_WITH_AS(tg::gradgradcheck_result(empty, {x}), "gradgradcheck: the function is empty", tg::ValueError);
  }
  CHECK(static_cast<bool>(tg::GradcheckFunction([](const std::vector<Tensor>& in) { return in[0] * 2; })));
}

}  // namespace test_gradcheck
