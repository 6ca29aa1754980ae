// pad, repeat_interleave and mode (issue 14) against PyTorch:
// tests/reference/more_ops.json, written by tests/reference/make_more_ops.py
// (torch 1.13). Each case here repeats the script's input and op under the
// same name; the JSON holds the output's shape and values, its int64 indices
// and x.grad for the loss sum(y * w), w = 1, 2, 3, ... over y. Then
// gradchecks in f64 (second derivatives included) and dtypes.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

using tg::Dims;
using tg::Tensor;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::vector<double> X34 = {0.5, -1.25, 2.0, 3.5, -0.75, 1.5, -2.25, 0.25, 4.0, -3.0, 1.0, -0.5};
const std::vector<double> X23 = {0.5, -1.25, 2.0, 3.5, -0.75, 1.5};
const std::vector<double> X_MODE = {3, 1, 3, 1, 2, 1, 3, 2, 2, 5, -1, 5, -1, 0.5};

std::vector<double> iota(int n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

Tensor leaf(const std::vector<double>& v, Dims shape, bool grad = true) {
  Tensor t = tg::tensor(v, shape, tg::kFloat64);
  if (grad) t.set_requires_grad(true);
  return t;
}
Tensor x34() { return leaf(X34, {3, 4}); }
Tensor x234() { return leaf(iota(24), {2, 3, 4}); }
Tensor x1234() { return leaf(iota(24), {1, 2, 3, 4}); }
Tensor x23() { return leaf(X23, {2, 3}); }

// The op's outputs: pieces (values, or a list) and indices when it has them.
struct Out {
  std::vector<Tensor> pieces;
  Tensor indices;
};
Out one(const Tensor& t) { return {{t}, {}}; }
Out pair(const std::tuple<Tensor, Tensor>& t) { return {{std::get<0>(t)}, std::get<1>(t)}; }

std::vector<double> numbers(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& e : j) v.push_back(e.is_null() ? kNaN : e.get<double>());
  return v;
}

void check_case(const std::string& name, const Tensor& x, const std::function<Out(const Tensor&)>& fn) {
  CAPTURE(name);
  const auto& cases = tg_test::reference_file("more_ops.json").at("cases");
  REQUIRE(cases.contains(name));
  const auto& want = cases.at(name);
  const Out out = fn(x);
  const auto& shapes = want.at("shapes");
  REQUIRE(out.pieces.size() == shapes.size());
  std::vector<double> values;
  for (std::size_t i = 0; i < out.pieces.size(); ++i) {
    CAPTURE(tg::shape_str(out.pieces[i].sizes()));
    CHECK(out.pieces[i].shape() == Dims(shapes[i].get<std::vector<std::int64_t>>()));
    for (double v : out.pieces[i].to_vector<double>()) values.push_back(v);
  }
  tg_test::check_close(values, numbers(want.at("values")), 1e-10);
  if (want.contains("indices")) {
    REQUIRE(out.indices.defined());
    CHECK(out.indices.dtype() == tg::kInt64);
    tg_test::check_close(out.indices.to_vector<double>(), numbers(want.at("indices")), 0);
  }
  if (!x.requires_grad()) return;
  Tensor loss = tg::zeros({}, {.dtype = tg::kFloat64});
  std::int64_t offset = 1;
  for (const auto& p : out.pieces) {
    if (p.is_floating_point() && p.numel() > 0) {
      Tensor w =
          tg::arange(static_cast<double>(offset), static_cast<double>(offset + p.numel()), 1, {.dtype = tg::kFloat64})
              .reshape(p.shape());
      loss = loss + (p * w).sum();
    }
    offset += p.numel();
  }
  std::vector<double> grad(static_cast<std::size_t>(x.numel()), 0.0);
  if (loss.requires_grad()) {
    loss.backward();
    if (x.grad().defined()) grad = x.grad().to_vector<double>();
  }
  tg_test::check_close(grad, numbers(want.at("grad")), 1e-10);
}

}  // namespace

TEST_CASE("pad matches PyTorch in its four modes") {
  namespace F = tg::nn::functional;
  check_case("pad_constant", x34(), [](const Tensor& x) { return one(tg::pad(x, {1, 2})); });
  check_case("pad_constant_value_2d", x34(), [](const Tensor& x) {
    return one(F::pad(x, {2, 0, 1, 1}, "constant", -1.5));
  });
  check_case("pad_constant_crop", x34(), [](const Tensor& x) { return one(tg::pad(x, {-1, 2, 1, -2})); });
  check_case("pad_constant_3d_one_dim", x234(), [](const Tensor& x) {
    return one(tg::pad(x, {0, 0, 0, 0, 1, 0}, "constant", 7));
  });
  check_case("pad_reflect", x234(), [](const Tensor& x) { return one(tg::pad(x, {3, 2}, "reflect")); });
  check_case("pad_reflect_2d", x1234(), [](const Tensor& x) { return one(F::pad(x, {2, 3, 2, 1}, "reflect")); });
  check_case("pad_reflect_crop", x234(), [](const Tensor& x) { return one(tg::pad(x, {-1, 2}, "reflect")); });
  check_case("pad_replicate", x234(), [](const Tensor& x) { return one(tg::pad(x, {3, 1}, "replicate")); });
  check_case("pad_replicate_2d", x1234(), [](const Tensor& x) { return one(tg::pad(x, {1, 4, 3, 0}, "replicate")); });
  check_case("pad_circular", x234(), [](const Tensor& x) { return one(tg::pad(x, {4, 2}, "circular")); });
  check_case("pad_circular_2d", x1234(), [](const Tensor& x) { return one(tg::pad(x, {1, 3, 3, 2}, "circular")); });
  check_case("pad_circular_crop", x234(), [](const Tensor& x) { return one(tg::pad(x, {-1, 2}, "circular")); });
}

TEST_CASE("repeat_interleave matches PyTorch with int and tensor repeats") {
  const Tensor r203 = tg::tensor(std::vector<std::int64_t>{2, 0, 3}, {3}, tg::kInt64);
  check_case("repeat_interleave_int_flat", x23(), [](const Tensor& x) { return one(tg::repeat_interleave(x, 2)); });
  check_case("repeat_interleave_int_dim0", x23(), [](const Tensor& x) { return one(tg::repeat_interleave(x, 3, 0)); });
  check_case("repeat_interleave_int_dim_minus1", x23(),
             [](const Tensor& x) { return one(x.repeat_interleave(2, -1)); });
  check_case("repeat_interleave_zero", x23(), [](const Tensor& x) { return one(tg::repeat_interleave(x, 0, 1)); });
  check_case("repeat_interleave_tensor_dim1", x23(),
             [&](const Tensor& x) { return one(tg::repeat_interleave(x, r203, 1)); });
  check_case("repeat_interleave_tensor_one", x23(), [](const Tensor& x) {
    return one(x.repeat_interleave(tg::tensor(std::vector<std::int64_t>{2}, {1}, tg::kInt64), 0));
  });
  check_case("repeat_interleave_tensor_flat", x23(), [](const Tensor& x) {
    return one(tg::repeat_interleave(x, tg::tensor(std::vector<std::int64_t>{1, 2, 0, 1, 3, 1}, {6}, tg::kInt64)));
  });
  check_case("repeat_interleave_scalar", leaf({2.5}, {}),
             [](const Tensor& x) { return one(tg::repeat_interleave(x, 3)); });
  const Tensor index = tg::repeat_interleave(tg::tensor(std::vector<std::int64_t>{2, 0, 1, 3}, {4}, tg::kInt64));
  CHECK(index.dtype() == tg::kInt64);
  tg_test::check_close(
      index.to_vector<double>(),
      numbers(tg_test::reference_file("more_ops.json").at("cases").at("repeat_interleave_index").at("values")), 0);
}

TEST_CASE("mode matches PyTorch: the smallest most frequent value, at its last occurrence") {
  check_case("mode_ties", leaf(X_MODE, {2, 7}), [](const Tensor& x) { return pair(tg::mode(x)); });
  check_case("mode_dim0", leaf(X_MODE, {2, 7}), [](const Tensor& x) { return pair(tg::mode(x, 0)); });
  check_case("mode_keepdim", leaf(X_MODE, {2, 7}), [](const Tensor& x) { return pair(x.mode(1, true)); });
  check_case("mode_distinct", x34(), [](const Tensor& x) { return pair(tg::mode(x, -1)); });
  check_case("mode_scalar", leaf({2.5}, {}), [](const Tensor& x) { return pair(tg::mode(x)); });
  check_case("mode_3d", leaf({1, 2, 2, 1, 4, 4, 4, 0, 1, 1, 3, 3}, {2, 3, 2}),
             [](const Tensor& x) { return pair(tg::mode(x, 1)); });
  check_case("mode_int", tg::tensor(std::vector<std::int64_t>{4, 1, 4, 2, 0, 0, 7, 7}, {2, 4}, tg::kInt64),
             [](const Tensor& x) { return pair(tg::mode(x, 1)); });
}

TEST_CASE("pad and repeat_interleave have second derivatives; dtypes are kept") {
  const Tensor x = tg::randn({2, 3, 4}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  for (const char* mode : {"constant", "reflect", "replicate", "circular"}) {
    CAPTURE(mode);
    const auto f = [mode](const std::vector<Tensor>& in) { return tg::pad(in[0], {2, -1, 1, 2}, mode, 0.5); };
    CHECK(tg::gradcheck(f, {x}));
    CHECK(tg::gradgradcheck(f, {x}));
    const Tensor xi = tg::tensor(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, {2, 3}, tg::kInt64);
    CHECK(tg::pad(xi, {1, 1}, mode).dtype() == tg::kInt64);
  }
  const auto r = [](const std::vector<Tensor>& in) { return tg::repeat_interleave(in[0], 2, 1); };
  CHECK(tg::gradcheck(r, {x}));
  CHECK(tg::gradgradcheck(r, {x}));
  CHECK(tg::pad(tg::ones({2}, {.dtype = tg::kBool}), {1, 0}).to_vector<double>() == std::vector<double>{0, 1, 1});
}
