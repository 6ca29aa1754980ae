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

#include "support/op_reference.h"

namespace test_more_ops {

using tg::Dims;
using tg::Tensor;

namespace {

using tg_test::iota;
using tg_test::leaf;
using tg_test::numbers;
using tg_test::one;
using tg_test::Out;
using tg_test::pair;

const std::vector<double> X34 = {0.5, -1.25, 2.0, 3.5, -0.75, 1.5, -2.25, 0.25, 4.0, -3.0, 1.0, -0.5};
const std::vector<double> X23 = {0.5, -1.25, 2.0, 3.5, -0.75, 1.5};
const std::vector<double> X_MODE = {3, 1, 3, 1, 2, 1, 3, 2, 2, 5, -1, 5, -1, 0.5};

Tensor x34() { return leaf(X34, {3, 4}); }
Tensor x234() { return leaf(iota(24), {2, 3, 4}); }
Tensor x1234() { return leaf(iota(24), {1, 2, 3, 4}); }
Tensor x23() { return leaf(X23, {2, 3}); }

void check_case(const std::string& name, const Tensor& x, const std::function<Out(const Tensor&)>& fn) {
  tg_test::check_op_case("more_ops.json", name, x, fn);
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

}  // namespace test_more_ops
