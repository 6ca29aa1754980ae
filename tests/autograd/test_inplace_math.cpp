// The in-place math members (exp_, pow_, addcmul_, lerp_, ...) and the
// out-of-place addcmul and addcdiv: values and gradients against PyTorch, the
// same gradients as the out-of-place op, gradcheck and gradgradcheck, the
// leaf, view and version-counter rules, dtype and shape errors.
//
// Expected values come from tests/reference/inplace_math.json, written by
// tests/reference/make_inplace_math_reference.py with PyTorch; each case here
// repeats that script's case of the same name op for op.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

#include "support/close.h"
#include "support/reference.h"
#include "tg_error_check.h"

namespace test_inplace_math {

using tg::Tensor;

namespace {

const std::vector<double> kX = {-1.3, 0.4, 2.2, -0.7, 1.6, 0.9};
const std::vector<double> kXP = {0.6, 1.3, 2.2, 0.8, 1.7, 0.9};
const std::vector<double> kE3 = {1.5, -0.5, 2.0};
const std::vector<double> kT1 = {0.3, -1.2, 0.8, 2.0, -0.4, 1.1};
const std::vector<double> kT2 = {1.7, -0.6, 0.9};
const std::vector<double> kW23 = {0.1, 0.9, 0.35, -0.2, 0.6, 1.3};

Tensor leaf(const std::vector<double>& values, tg::Dims shape) {
  return tg::tensor(values, std::move(shape), tg::kFloat64).set_requires_grad(true);
}

// sum(y * y * weights), weights 1, 2, 3, ...: every element gets a gradient of its own.
Tensor loss(const Tensor& y) {
  const Tensor w = tg::arange(1, static_cast<double>(y.numel()) + 1, 1, {.dtype = tg::kFloat64}).reshape(y.shape());
  return (y * y * w).sum();
}

void check_matches(const Tensor& t, const std::string& name, const std::string& key) {
  tg_test::check_reference(t, "inplace_math.json", name, key);
}

// An operand case: y, then the gradients of x and of each operand (o0, o1).
void check_operand_case(const std::string& name, const Tensor& y, const Tensor& x,
                        std::initializer_list<Tensor> operands) {
  check_matches(y, name, "y");
  check_matches(x.grad(), name, "x.grad");
  int k = 0;
  for (const Tensor& o : operands) check_matches(o.grad(), name, "o" + std::to_string(k++) + ".grad");
}

struct Unary {
  std::string name;
  const std::vector<double>* values;
  std::function<void(Tensor&)> in_place;
  std::function<Tensor(const Tensor&)> out_of_place;
};

// The script's UNARY table, with each op's out-of-place form.
std::vector<Unary> unary_ops() {
  using T = Tensor;
  return {
      {"neg_", &kX, [](T& y) { y.neg_(); }, [](const T& y) { return tg::neg(y); }},
      {"abs_", &kX, [](T& y) { y.abs_(); }, [](const T& y) { return tg::abs(y); }},
      {"exp_", &kX, [](T& y) { y.exp_(); }, [](const T& y) { return tg::exp(y); }},
      {"log_", &kXP, [](T& y) { y.log_(); }, [](const T& y) { return tg::log(y); }},
      {"sqrt_", &kXP, [](T& y) { y.sqrt_(); }, [](const T& y) { return tg::sqrt(y); }},
      {"rsqrt_", &kXP, [](T& y) { y.rsqrt_(); }, [](const T& y) { return tg::rsqrt(y); }},
      {"sigmoid_", &kX, [](T& y) { y.sigmoid_(); }, [](const T& y) { return tg::sigmoid(y); }},
      {"tanh_", &kX, [](T& y) { y.tanh_(); }, [](const T& y) { return tg::tanh(y); }},
      {"sin_", &kX, [](T& y) { y.sin_(); }, [](const T& y) { return tg::sin(y); }},
      {"cos_", &kX, [](T& y) { y.cos_(); }, [](const T& y) { return tg::cos(y); }},
      {"reciprocal_", &kX, [](T& y) { y.reciprocal_(); }, [](const T& y) { return tg::reciprocal(y); }},
      {"floor_", &kX, [](T& y) { y.floor_(); }, [](const T& y) { return tg::floor(y); }},
      {"ceil_", &kX, [](T& y) { y.ceil_(); }, [](const T& y) { return tg::ceil(y); }},
      {"round_", &kX, [](T& y) { y.round_(); }, [](const T& y) { return tg::round(y); }},
      {"trunc_", &kX, [](T& y) { y.trunc_(); }, [](const T& y) { return tg::trunc(y); }},
      {"sign_", &kX, [](T& y) { y.sign_(); }, [](const T& y) { return tg::sign(y); }},
      {"square_", &kX, [](T& y) { y.square_(); }, [](const T& y) { return tg::square(y); }},
      {"pow_ 2.5", &kXP, [](T& y) { y.pow_(2.5); }, [](const T& y) { return tg::pow(y, 2.5); }},
      {"pow_ 3", &kX, [](T& y) { y.pow_(3); }, [](const T& y) { return tg::pow(y, 3.0); }},
      {"clamp_min_", &kX, [](T& y) { y.clamp_min_(-0.3); }, [](const T& y) { return tg::clamp_min(y, -0.3); }},
      {"clamp_max_", &kX, [](T& y) { y.clamp_max_(0.4); }, [](const T& y) { return tg::clamp_max(y, 0.4); }},
  };
}

}  // namespace

TEST_CASE("unary in-place ops give PyTorch's values and gradients, on a non-leaf and on a strided view") {
  for (const auto& op : unary_ops()) {
    CAPTURE(op.name);
    {
      Tensor x = leaf(*op.values, {2, 3});
      Tensor y = x * 1;
      const auto version = y.version();
      const void* data = y.raw_data();
      op.in_place(y);
      CHECK(y.version() == version + 1);
      CHECK(y.raw_data() == data);  // written where it was
      CHECK(y.grad_fn_name() == op.name.substr(0, op.name.find(' ')));
      loss(y).backward();
      check_matches(y, op.name, "y");
      check_matches(x.grad(), op.name, "x.grad");
    }
    {
      // y[:, ::2]: the base's history is rewritten through CopySlices.
      Tensor x = leaf(*op.values, {2, 3});
      Tensor y = x * 1;
      Tensor view = y.slice(1, 0, 3, 2);
      op.in_place(view);
      CHECK(y.grad_fn_name() == "CopySlices");
      loss(y).backward();
      check_matches(y, op.name, "view y");
      check_matches(x.grad(), op.name, "view x.grad");
    }
    {
      Tensor y32 = tg::tensor(*op.values, {2, 3}, tg::kFloat32);
      op.in_place(y32);
      CHECK(y32.dtype() == tg::kFloat32);
      const auto& expected = tg_test::reference_file("inplace_math.json").at("cases").at(op.name).at("y32");
      tg_test::check_values(y32, expected.get<std::vector<double>>(), 1e-6);
    }
  }
}

TEST_CASE("unary in-place ops give the out-of-place op's values and gradients") {
  for (const auto& op : unary_ops()) {
    CAPTURE(op.name);
    Tensor x = leaf(*op.values, {2, 3});
    Tensor a = tg::sin(x);  // some history before the op
    op.in_place(a);
    const auto in_place = tg::grad({loss(a)}, {x}, {}, {.create_graph = true})[0];
    Tensor b = op.out_of_place(tg::sin(x));
    const auto out_of_place = tg::grad({loss(b)}, {x}, {}, {.create_graph = true})[0];
    CHECK(tg::equal(a, b));
    CHECK(tg::equal(in_place, out_of_place));
    // And the second derivatives (the same terms, summed in another order: to rounding).
    const auto g2a = tg::grad({in_place.sum()}, {x})[0];
    const auto g2b = tg::grad({out_of_place.sum()}, {x})[0];
    CHECK(tg::allclose(g2a, g2b, 1e-13, 1e-13));
  }
}

TEST_CASE("in-place ops with tensor operands give PyTorch's gradients for every operand") {
  SUBCASE("pow_ tensor") {
    Tensor x = leaf(kXP, {2, 3});
    Tensor e = leaf(kE3, {3});
    Tensor y = x * 1;
    y.pow_(e);
    loss(y).backward();
    check_operand_case("pow_ tensor", y, x, {e});
  }
  SUBCASE("addcmul_") {
    Tensor x = leaf(kX, {2, 3});
    Tensor a = leaf(kT1, {2, 3});
    Tensor b = leaf(kT2, {3});
    Tensor y = x * 1;
    y.addcmul_(a, b, 0.5);
    loss(y).backward();
    check_operand_case("addcmul_", y, x, {a, b});
  }
  SUBCASE("addcmul_ with the default value, the first operand broadcast") {
    Tensor x = leaf(kX, {2, 3});
    Tensor a = leaf(kT2, {3});
    Tensor b = leaf(kT1, {2, 3});
    Tensor y = x * 1;
    y.addcmul_(a, b);
    loss(y).backward();
    check_operand_case("addcmul_ default", y, x, {a, b});
  }
  SUBCASE("addcdiv_") {
    Tensor x = leaf(kX, {2, 3});
    Tensor a = leaf(kT1, {2, 3});
    Tensor b = leaf(kT2, {3});
    Tensor y = x * 1;
    y.addcdiv_(a, b, -2);
    loss(y).backward();
    check_operand_case("addcdiv_", y, x, {a, b});
  }
  SUBCASE("lerp_ with a number weight") {
    Tensor x = leaf(kX, {2, 3});
    Tensor e = leaf(kT1, {2, 3});
    Tensor y = x * 1;
    y.lerp_(e, 0.3);
    loss(y).backward();
    check_operand_case("lerp_ scalar", y, x, {e});
  }
  SUBCASE("lerp_ with a tensor weight") {
    Tensor x = leaf(kX, {2, 3});
    Tensor e = leaf(kT2, {3});
    Tensor w = leaf(kW23, {2, 3});
    Tensor y = x * 1;
    y.lerp_(e, w);
    loss(y).backward();
    check_operand_case("lerp_ tensor", y, x, {e, w});
  }
}

TEST_CASE("addcmul and addcdiv, out of place and as methods") {
  for (const char* name : {"addcmul", "addcdiv"}) {
    CAPTURE(name);
    const bool mul = std::string(name) == "addcmul";
    const double value = mul ? 0.5 : -2.0;
    Tensor i = leaf(kX, {2, 3});
    Tensor a = leaf(kT1, {2, 3});
    Tensor b = leaf(kT2, {3});
    Tensor y = mul ? tg::addcmul(i, a, b, value) : tg::addcdiv(i, a, b, value);
    CHECK(y.grad_fn_name() == name);
    CHECK(tg::equal(y, mul ? i.addcmul(a, b, value) : i.addcdiv(a, b, value)));
    loss(y).backward();
    check_matches(y, name, "y");
    check_matches(i.grad(), name, "input.grad");
    check_matches(a.grad(), name, "tensor1.grad");
    check_matches(b.grad(), name, "tensor2.grad");
  }
  // Integers: a whole value keeps the integer dtype.
  Tensor n = tg::tensor({1, -2, 3}, {3}, tg::kInt64);
  Tensor m = tg::addcmul(n, n, n, 2);
  CHECK(m.dtype() == tg::kInt64);
  CHECK(m.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 6, 21});
  // A 0-d operand broadcasts; float32 works.
  Tensor f = tg::addcdiv(tg::ones({2, 2}), tg::full({2, 2}, 3.0), tg::scalar_tensor(2.0), 0.5);
  CHECK(f.dtype() == tg::kFloat32);
  tg_test::check_close(f, {1.75, 1.75, 1.75, 1.75});
}

TEST_CASE("in-place ops pass gradcheck and gradgradcheck through a clone, in every layout") {
  tg::manual_seed(11);
  using Fn = std::function<void(Tensor&, const std::vector<Tensor>&)>;
  struct Case {
    const char* name;
    Fn op;
    int operands;
    bool positive;  // inputs in (0.5, 2.5): log, sqrt, pow
  };
  const std::vector<Case> cases = {
      {"exp_", [](Tensor& y, const auto&) { y.exp_(); }, 0, false},
      {"log_", [](Tensor& y, const auto&) { y.log_(); }, 0, true},
      {"sigmoid_", [](Tensor& y, const auto&) { y.sigmoid_(); }, 0, false},
      {"abs_", [](Tensor& y, const auto&) { y.abs_(); }, 0, true},
      {"square_", [](Tensor& y, const auto&) { y.square_(); }, 0, false},
      {"rsqrt_", [](Tensor& y, const auto&) { y.rsqrt_(); }, 0, true},
      {"pow_ tensor", [](Tensor& y, const auto& o) { y.pow_(o[0]); }, 1, true},
      {"addcmul_", [](Tensor& y, const auto& o) { y.addcmul_(o[0], o[1], -0.7); }, 2, false},
      {"addcdiv_", [](Tensor& y, const auto& o) { y.addcdiv_(o[0], o[1], 1.5); }, 2, true},
      {"lerp_ scalar", [](Tensor& y, const auto& o) { y.lerp_(o[0], 0.25); }, 1, false},
      {"lerp_ tensor", [](Tensor& y, const auto& o) { y.lerp_(o[0], o[1]); }, 2, false},
  };
  // self then the operands, in four layouts: contiguous, transposed, a slice
  // with step 2, and broadcast operands (expanded, or of fewer dims).
  auto draw = [](tg::Dims shape, bool positive) {
    Tensor t = tg::rand(shape, tg::kFloat64);
    return positive ? t * 2 + 0.5 : t * 2 - 1;
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    for (const char* layout : {"contiguous", "transposed", "strided", "broadcast"}) {
      CAPTURE(layout);
      const std::string l = layout;
      std::vector<Tensor> inputs;
      for (int i = 0; i <= c.operands; ++i) {
        Tensor t;
        if (l == "contiguous") t = draw({3, 4}, c.positive);
        else if (l == "transposed") t = draw({4, 3}, c.positive).t();
        else if (l == "strided") t = draw({6, 4}, c.positive).slice(0, 0, 6, 2);
        else t = i == 0 ? draw({3, 4}, c.positive) : draw({4}, c.positive);
        inputs.push_back(t.detach().set_requires_grad(true));
      }
      const tg::GradcheckFunction fn = [&c](const std::vector<Tensor>& in) {
        Tensor y = in[0].clone();
        c.op(y, std::vector<Tensor>(in.begin() + 1, in.end()));
        return y * y;  // something nonlinear after the op
      };
      CHECK(tg::gradcheck(fn, inputs));
      CHECK(tg::gradgradcheck(fn, inputs));
    }
  }
}

TEST_CASE("an operand overlapping the memory being written is read before it is overwritten") {
  const std::vector<double> v = {0.5, 1.2, 0.7, 1.9, 0.3, 1.4, 0.8, 1.1, 2.0};
  {
    Tensor a = tg::tensor(v, {3, 3}, tg::kFloat64);
    a.pow_(a.t());
    check_matches(a, "pow_ overlap", "y");
  }
  {
    Tensor x = leaf(v, {3, 3});
    Tensor y = x * 1;
    y.pow_(y.t());
    loss(y).backward();
    check_matches(y, "pow_ overlap", "y");
    check_matches(x.grad(), "pow_ overlap", "x.grad");
  }
  {
    // addcmul_ and lerp_ with views of self as operands: the out-of-place values.
    Tensor a = tg::tensor(v, {3, 3}, tg::kFloat64);
    Tensor expected = tg::addcmul(a, a.t(), a.slice(0, 0, 1), 0.5);
    a.addcmul_(a.t(), a.slice(0, 0, 1), 0.5);
    CHECK(tg::equal(a, expected));
    Tensor b = tg::tensor(v, {3, 3}, tg::kFloat64);
    Tensor expected_lerp = tg::lerp(b, b.flip({1}), b.t());
    b.lerp_(b.flip({1}), b.t());
    CHECK(tg::equal(b, expected_lerp));
  }
  {
    // The gradient through a view of self, as with add_ (a[0:1] sees the op afterwards).
    Tensor x = leaf(v, {3, 3});
    Tensor y = x * 1;
    Tensor row = y.slice(0, 0, 1);
    y.addcmul_(row, row);
    const auto g = tg::grad({row.sum()}, {x})[0];
    // row after = r + r^2: d/dr = 1 + 2 r on the first row, 0 elsewhere.
    tg_test::check_close(g, {2.0, 3.4, 2.4, 0, 0, 0, 0, 0, 0});
  }
}

TEST_CASE("in-place math on a leaf that requires grad is refused, and allowed under NoGradGuard") {
  Tensor w = tg::ones({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  tg_test::require_tg_error<tg::AutogradError>([&] { w.exp_(); }, "exp_ on a leaf");
  CHECK(tg_test::require_tg_error<tg::AutogradError>([&] { w.addcmul_(w, w); }, "addcmul_").starts_with("addcmul_: "));
  const std::string lerp_message =
      tg_test::require_tg_error<tg::AutogradError>([&] { w.lerp_(tg::zeros({3}, tg::kFloat64), 0.5); }, "lerp_");
  CHECK(lerp_message.find("leaf") != std::string::npos);
  tg_test::check_close(w, {1, 1, 1});  // nothing was written

  // Optimizer-style updates: Adam's moments and step.
  Tensor m = tg::zeros({3}, tg::kFloat64);
  Tensor v = tg::zeros({3}, tg::kFloat64);
  const Tensor g = tg::tensor({0.5, -1.0, 2.0}, {3}, tg::kFloat64);
  {
    tg::NoGradGuard no_grad;
    m.lerp_(g, 0.1);
    v.mul_(0.999).addcmul_(g, g, 0.001);
    w.addcdiv_(m, v.sqrt().add_(1e-8), -0.01);
    w.clamp_min_(0.99).sqrt_();
  }
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
  tg_test::check_close(m, {0.05, -0.1, 0.2});
  tg_test::check_close(v, {0.00025, 0.001, 0.004});
  // w = sqrt(max(1 - 0.01 m / (sqrt(v) + 1e-8), 0.99))
  tg_test::check_close(w, {std::sqrt(0.99), std::sqrt(1 + 0.01 * 0.1 / (std::sqrt(0.001) + 1e-8)), std::sqrt(0.99)},
                       1e-12);
}

TEST_CASE("a later in-place change is caught at backward exactly where PyTorch catches it") {
  // Each verdict checked with PyTorch 1.13.
  Tensor x = tg::tensor({0.5, 1.5, 2.0}, {3}, {.dtype = tg::kFloat64, .requires_grad = true});
  SUBCASE("ops whose gradient reads the result: modifying it again is an error") {
    for (const auto& name : {"exp_", "sqrt_", "rsqrt_", "sigmoid_", "tanh_", "reciprocal_", "pow_ tensor"}) {
      CAPTURE(name);
      Tensor a = x * 1;
      const std::string n = name;
      if (n == "pow_ tensor") a.pow_(tg::tensor({1.5, 2.0, 0.5}, {3}, tg::kFloat64));
      else
        for (const auto& op : unary_ops())
          if (op.name == n) op.in_place(a);
      a.add_(1);
      tg_test::require_tg_error<tg::AutogradError>([&] { a.sum().backward(); }, name);
    }
  }
  SUBCASE("ops whose gradient reads self keep a copy: modifying it again is fine") {
    for (const auto& name : {"abs_", "log_", "sin_", "cos_", "square_", "pow_ 2.5", "clamp_min_"}) {
      CAPTURE(name);
      Tensor a = x * 1;
      Tensor b = x * 1;
      for (const auto& op : unary_ops())
        if (op.name == name) {
          op.in_place(a);
          b = op.out_of_place(b);
        }
      a.mul_(3);
      const auto g = tg::grad({a.sum()}, {x})[0];
      CHECK(tg::equal(g, tg::grad({(b * 3).sum()}, {x})[0]));
    }
    Tensor a = x * 1;
    a.lerp_(x * 2, tg::tensor({0.3, 0.5, 0.7}, {3}, tg::kFloat64));
    a.add_(1);
    a.addcdiv_(x, x + 1);
    a.add_(1);
    a.sum().backward();  // fine in PyTorch too
    CHECK(x.grad().defined());
  }
  SUBCASE("the same through a view: its result is the base's memory") {
    Tensor a = x * 1;
    a.slice(0, 0, 2).exp_();
    a.add_(1);
    tg_test::require_tg_error<tg::AutogradError>([&] { a.sum().backward(); }, "exp_ on a view, then add_");

    Tensor b = x * 1;
    b.slice(0, 0, 2).sin_();
    b.add_(1);
    b.sum().backward();  // PyTorch: [cos 0.5, cos 1.5, 1]
    tg_test::check_close(x.grad(), {std::cos(0.5), std::cos(1.5), 1}, 1e-15);
  }
  SUBCASE("an out-of-place op's saved input or result changed by an in-place op") {
    Tensor a = x * 1;
    Tensor b = a.exp();  // saves its result, not a
    a.exp_();
    b.sum().backward();
    CHECK(x.grad().defined());

    Tensor c = x * 1;
    Tensor d = c.sin();  // saves c
    c.exp_();
    const std::string message = tg_test::require_tg_error<tg::AutogradError>([&] { d.sum().backward(); }, "sin");
    CHECK(message.find("sin") != std::string::npos);

    Tensor y = x.sigmoid();
    Tensor z = y * y;  // saves y
    y.exp_();
    tg_test::require_tg_error<tg::AutogradError>([&] { z.sum().backward(); }, "mul's input");
  }
}

TEST_CASE("in-place math dtype rules, as PyTorch's") {
  Tensor i = tg::tensor({1, -2, 3}, {3}, tg::kInt64);
  for (const char* name : {"exp_", "log_", "sqrt_", "rsqrt_", "sigmoid_", "tanh_", "sin_", "cos_", "reciprocal_"}) {
    CAPTURE(name);
    Tensor c = i.clone();
    for (const auto& op : unary_ops())
      if (op.name == name) {
        const std::string message = tg_test::require_tg_error<tg::DTypeError>([&] { op.in_place(c); }, name);
        CHECK(message.starts_with(std::string(name) + ": result type float32 can't be cast to the desired output "
                                                      "type int64"));
      }
    CHECK(c.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});  // unchanged
  }
  auto ints = [](Tensor t) { return t.to_vector<std::int64_t>(); };
  using V = std::vector<std::int64_t>;
  CHECK(ints(i.clone().neg_()) == V{-1, 2, -3});
  CHECK(ints(i.clone().abs_()) == V{1, 2, 3});
  CHECK(ints(i.clone().floor_()) == V{1, -2, 3});
  CHECK(ints(i.clone().ceil_()) == V{1, -2, 3});
  CHECK(ints(i.clone().round_()) == V{1, -2, 3});
  CHECK(ints(i.clone().trunc_()) == V{1, -2, 3});
  CHECK(ints(i.clone().sign_()) == V{1, -1, 1});
  CHECK(ints(i.clone().square_()) == V{1, 4, 9});
  CHECK(ints(i.clone().pow_(2)) == V{1, 4, 9});
  CHECK(ints(i.clone().clamp_min_(0)) == V{1, 0, 3});
  CHECK(ints(i.clone().addcmul_(i, i, 2)) == V{3, 6, 21});
  CHECK(i.clone().pow_(2).dtype() == tg::kInt64);
  const std::string negative = tg_test::require_tg_error<tg::ValueError>([&] { i.clone().pow_(-1); }, "pow_(-1)");
  CHECK(negative.starts_with("pow_: "));
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { i.clone().clamp_min_(0.5); }, "clamp_min_")
            .starts_with("clamp_min_: "));
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { i.clone().addcdiv_(i, i); }, "addcdiv_")
            .starts_with("addcdiv_: "));
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { i.clone().addcmul_(i, i, 0.5); }, "addcmul_")
            .starts_with("addcmul_: "));

  Tensor b = tg::tensor({true, false});
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { b.clone().neg_(); }, "bool neg_").starts_with("neg_: "));
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { b.clone().exp_(); }, "bool exp_").starts_with("exp_: "));

  // A wider operand converts into self's dtype (PyTorch: the same).
  Tensor f = tg::tensor({1.0, 2.0}, {2}, tg::kFloat32);
  f.pow_(tg::tensor({2.0, 3.0}, {2}, tg::kFloat64));
  CHECK(f.dtype() == tg::kFloat32);
  tg_test::check_close(f, {1, 8});
}

TEST_CASE("addcmul and addcdiv take a bool operand as 0 and 1, as PyTorch") {
  // Values and dtypes from torch 1.13, F = [1, 2], B = [true, false], I = [1, 2].
  const Tensor F = tg::tensor({1.0, 2.0}, {2}, tg::kFloat32), B = tg::tensor({true, false});
  const Tensor I = tg::tensor({1, 2}, {2}, tg::kInt64);
  auto values = [](const Tensor& t) { return t.to_vector<double>(); };
  using V = std::vector<double>;
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(tg::addcmul(F, B, F).dtype() == tg::kFloat32);
  CHECK(values(tg::addcmul(F, B, F)) == V{2, 2});
  CHECK(tg::addcmul(B, B, I).dtype() == tg::kInt64);
  CHECK(values(tg::addcmul(B, B, I)) == V{2, 0});
  CHECK(values(tg::addcmul(I, B, B)) == V{2, 2});
  CHECK(values(tg::addcmul(B, F, F)) == V{2, 4});
  CHECK(values(tg::addcdiv(B, F, B)) == V{2, inf});
  CHECK(values(tg::addcdiv(F, B, F)) == V{2, 2});
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { tg::addcmul(B, B, B); }, "all bool")
            .starts_with("addcmul: not supported when all three tensors are bool"));
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { tg::addcdiv(F, B, B); }, "bool / bool")
            .starts_with("addcdiv: integer division"));
  // In place, and the gradient of the float operand masked by the bool one.
  Tensor x = tg::tensor({1.0, 2.0}, {2}, tg::kFloat32);
  x.addcmul_(B, tg::full({2}, 3.0));
  CHECK(values(x) == V{4, 2});
  Tensor w = tg::tensor({5.0, 7.0}, {2}, tg::kFloat64).set_requires_grad(true);
  tg::addcmul(tg::zeros({2}, {.dtype = tg::kFloat64}), B, w, 2).sum().backward();
  CHECK(values(w.grad()) == V{2, 0});
  CHECK(tg_test::require_tg_error<tg::DTypeError>([&] { B.clone().addcmul_(F, F); }, "bool self")
            .starts_with("addcmul_: "));
}

TEST_CASE("in-place math shape errors name the op and the shapes") {
  Tensor f = tg::ones({2});
  const std::string pow_message = tg_test::require_tg_error<tg::ShapeError>(
      [&] {
        f.pow_(tg::ones({2, 2}));
      },
      "pow_ to a bigger shape");
  CHECK(pow_message.starts_with("pow_: "));
  CHECK(pow_message.find("[2, 2]") != std::string::npos);
  CHECK(tg_test::require_tg_error<tg::ShapeError>(
            [&] {
              f.addcmul_(tg::ones({2, 2}), f);
            },
            "addcmul_")
            .starts_with("addcmul_: "));
  CHECK(
      tg_test::require_tg_error<tg::ShapeError>([&] { f.lerp_(tg::ones({3}), 0.5); }, "lerp_").starts_with("lerp_: "));
  CHECK(tg_test::require_tg_error<tg::ShapeError>([&] { tg::addcdiv(f, tg::ones({3}), f); }, "addcdiv")
            .starts_with("addcdiv: "));
  CHECK(tg_test::require_tg_error<tg::DTypeError>(
            [&] { tg::addcdiv(f, tg::ones({2}, tg::kInt64), tg::ones({2}, tg::kInt64)); }, "addcdiv of integers")
            .starts_with("addcdiv: "));
  Tensor e = tg::zeros({1, 3}).expand({2, 3});
  CHECK(tg_test::require_tg_error<tg::ValueError>([&] { e.exp_(); }, "exp_ on an expanded tensor").find("expanded") !=
        std::string::npos);
  tg_test::check_close(f, {1, 1});  // nothing was written
}

TEST_CASE("in-place ops refuse undefined tensors and take 0-d and empty ones") {
  Tensor u;
  CHECK(tg_test::require_tg_error([&] { u.exp_(); }, "exp_ of an undefined tensor").starts_with("exp_: "));
  CHECK(tg_test::require_tg_error([&] { u.add_(1); }, "add_ of an undefined tensor").starts_with("add_: "));
  Tensor a = tg::ones({2});
  CHECK(tg_test::require_tg_error([&] { a.addcmul_(u, a); }, "addcmul_ with an undefined operand")
            .starts_with("addcmul_: "));
  CHECK(tg_test::require_tg_error([&] { a.lerp_(a, u); }, "lerp_ with an undefined weight").starts_with("lerp_: "));
  CHECK(tg_test::require_tg_error([&] { a.mul_(u); }, "mul_ with an undefined operand").starts_with("mul_: "));
  tg_test::check_close(a, {1, 1});

  Tensor s = tg::scalar_tensor(2.0, {.dtype = tg::kFloat64});
  s.pow_(3).addcmul_(s, tg::scalar_tensor(0.5, {.dtype = tg::kFloat64}));  // 8 + 8 * 0.5
  CHECK(s.item<double>() == 12.0);
  Tensor e = tg::ones({0, 3});
  e.exp_().addcmul_(e, tg::ones({3}));
  CHECK(e.numel() == 0);
}

TEST_CASE("in-place math records nothing when grad is off or not needed") {
  Tensor x = tg::tensor({0.5, 1.5}, {2}, tg::kFloat64);
  x.exp_().lerp_(tg::ones({2}, tg::kFloat64), 0.5);
  CHECK(!x.requires_grad());
  CHECK(x.grad_fn_name().empty());
  // A plain tensor receiving a value that requires grad starts a history.
  Tensor t = tg::tensor({2.0, 3.0}, {2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor buf = tg::zeros({2}, tg::kFloat64);
  buf.addcmul_(t, t, 0.5);
  CHECK(buf.requires_grad());
  CHECK(buf.grad_fn_name() == "addcmul_");
  buf.sum().backward();
  tg_test::check_close(t.grad(), {2, 3});

  // A float64 operand written into a float32 tensor: its gradient comes back
  // in float64 (PyTorch 1.13 fails an internal assert on this case).
  Tensor t64 = tg::tensor({1.0, 2.0, 3.0}, {3}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor buf32 = tg::zeros({3});
  buf32.addcmul_(t64, t64, 0.5);
  CHECK(buf32.dtype() == tg::kFloat32);
  buf32.sum().backward();
  CHECK(t64.grad().dtype() == tg::kFloat64);
  tg_test::check_close(t64.grad(), {1, 2, 3});
}

}  // namespace test_inplace_math
