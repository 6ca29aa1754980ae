// Advanced indexing (x.index, index_put_) and the scatter family (scatter,
// scatter_reduce, index_add, index_copy, index_fill, nonzero, masked_select,
// any, all) against PyTorch: tests/reference/index_ops.json, written by
// tests/reference/make_index_ops.py (torch 1.13). Each case repeats the
// script's input and op under the same name. Ops of two tensors take one flat
// input cut into self and values/src, so the JSON's gradient holds both.
// Then views, in-place writes, determinism and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>

#include "support/op_reference.h"
#include "tg_error_check.h"

namespace test_index_ops {

using tg::Dims;
using tg::Tensor;
using namespace tg::indexing;

namespace {

using tg_test::leaf;
using tg_test::list;
using tg_test::one;
using tg_test::Out;

const std::vector<double> X34 = {0.5, -1.25, 2.0, 3.5, -0.75, 1.5, -2.25, 0.25, 4.0, -3.0, 1.0, -0.5};
const std::vector<double> MASK34 = {1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0};

std::vector<double> x234_values() {
  std::vector<double> v;
  for (int i = 0; i < 24; ++i) v.push_back(static_cast<double>((7 * i) % 11) - 5.0);
  return v;
}
Tensor x34(bool grad = true) { return leaf(X34, {3, 4}, grad); }
Tensor x234() { return leaf(x234_values(), {2, 3, 4}); }
Tensor ii(const std::vector<std::int64_t>& v, tg::OptionalDims shape = {}) { return tg::tensor(v, shape, tg::kInt64); }
Tensor bb(const std::vector<double>& v, Dims shape) { return tg::tensor(v, shape, tg::kBool); }
Tensor mask34() { return bb(MASK34, {3, 4}); }

std::vector<double> seq(int n, double start = 1.0, double step = 0.5) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(start + step * i);
  return v;
}
std::vector<double> cat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Tensor both(const std::vector<double>& a, const std::vector<double>& b, bool grad = true) {
  return leaf(cat(a, b), {static_cast<std::int64_t>(a.size() + b.size())}, grad);
}

using Two = std::function<Tensor(const Tensor&, const Tensor&)>;
std::function<Out(const Tensor&)> split(Dims self_shape, Dims other_shape, Two f) {
  return [=](const Tensor& x) {
    const std::int64_t n = self_shape.product();
    return one(f(x.slice(0, 0, n).reshape(self_shape), x.slice(0, n, x.numel()).reshape(other_shape)));
  };
}
// y = s.clone(); y[key] = v (or index_put_ with accumulate), as the script's setitem.
Two setitem(std::vector<TensorIndex> key, bool accumulate = false) {
  return [key, accumulate](const Tensor& s, const Tensor& v) {
    Tensor y = s.clone();
    y.index_put_(key, v, accumulate);
    return y;
  };
}

void check_case(const std::string& name, const Tensor& x, const std::function<Out(const Tensor&)>& fn) {
  tg_test::check_op_case("index_ops.json", name, x, fn);
}
std::function<Out(const Tensor&)> idx(std::vector<TensorIndex> key) {
  return [key](const Tensor& x) { return one(x.index(key)); };
}

}  // namespace

TEST_CASE("x.index matches PyTorch's x[...]: basic, tensor, mask and mixed indices") {
  check_case("index_basic_slice_int", x34(), idx({Slice(1, None), 0}));
  check_case("index_basic_step", x34(), idx({Slice(None, None, 2), Slice(1, 4, 2)}));
  check_case("index_basic_none_ellipsis", x234(), idx({Ellipsis, None, -1}));
  check_case("index_basic_negative_int", x34(), idx({-1}));
  check_case("index_tensor", x34(), idx({ii({2, 0, 2})}));
  check_case("index_tensor_negative", x34(), idx({ii({-1, -3})}));
  check_case("index_tensor_duplicates", x34(), idx({ii({1, 1, 1}), 2}));
  check_case("index_two_broadcast", x34(), idx({ii({0, 2}, {2, 1}), ii({1, 3, 0})}));
  check_case("index_separated_by_slice", x234(), idx({ii({0, 1}), Slice(), ii({2, 0})}));
  check_case("index_adjacent_after_slice", x234(), idx({Slice(), ii({0, 2}), ii({1, 1})}));
  check_case("index_int_between", x234(), idx({ii({1, 0}), 1, ii({0, 3})}));
  check_case("index_none_between", x234(), idx({ii({0, 1}), None, ii({2, 0})}));
  check_case("index_ellipsis_tensor", x234(), idx({"...", ii({0, 3})}));
  check_case("index_0d_tensor", x34(), idx({tg::scalar_tensor(1, {.dtype = tg::kInt64})}));
  check_case("index_mask_full", x34(), idx({mask34()}));
  check_case("index_mask_dim1", x34(), idx({Slice(), bb({1, 0, 1, 1}, {4})}));
  check_case("index_mask_empty", x34(), idx({tg::zeros({3, 4}, {.dtype = tg::kBool})}));
  check_case("index_mask_and_tensor", x234(), idx({bb({1, 0}, {2}), Slice(), ii({3, 1})}));
  check_case("index_bool_true", x34(), idx({true}));
  check_case("index_bool_false", x34(), idx({false}));
  check_case("index_empty_tensor", x34(), idx({tg::zeros({0}, {.dtype = tg::kInt64})}));
  check_case("index_zero_size", tg::zeros({2, 0}, {.dtype = tg::kFloat64}).set_requires_grad(true),
             idx({ii({1, 0, 1})}));
}

TEST_CASE("index_put_ matches PyTorch's x[...] = v and index_put_(accumulate=True)") {
  const auto x = [](const std::vector<double>& other) { return both(X34, other); };
  check_case("put_tensor", x(seq(8)), split({3, 4}, {2, 4}, setitem({ii({0, 2})})));
  check_case("put_broadcast_values", x(seq(4)), split({3, 4}, {4}, setitem({ii({2, 1})})));
  check_case("put_two_tensors", x(seq(3)), split({3, 4}, {3}, setitem({ii({0, 2, 1}), ii({3, 0, -1})})));
  check_case("put_mask", x(seq(5)), split({3, 4}, {5}, setitem({mask34()})));
  check_case("put_separated", both(x234_values(), seq(6)),
             split({2, 3, 4}, {2, 3}, setitem({ii({0, 1}), Slice(), ii({2, 0})})));
  check_case("put_basic", x(seq(2)), split({3, 4}, {2}, setitem({Slice(1, None), 2})));
  check_case("put_accumulate_duplicates", x(seq(12)), split({3, 4}, {3, 4}, setitem({ii({1, 1, 0})}, true)));
  check_case("put_accumulate_negative", x(seq(2)), split({3, 4}, {2}, setitem({ii({-1, -1}), ii({0, 0})}, true)));
  check_case("put_duplicates_last_wins", x(seq(3)), split({3, 4}, {3}, setitem({ii({1, 1, 1}), ii({2, 2, 2})})));
  check_case("put_empty_mask", x(seq(1)), split({3, 4}, {1}, setitem({tg::zeros({3, 4}, {.dtype = tg::kBool})})));
  // The out-of-place form gives the same.
  check_case("put_two_tensors", x(seq(3)), split({3, 4}, {3}, [](const Tensor& s, const Tensor& v) {
               return tg::index_put(s, {ii({0, 2, 1}), ii({3, 0, -1})}, v);
             }));
}

TEST_CASE("scatter and scatter_reduce match PyTorch, ties and zeros included") {
  const Tensor idx_distinct = ii({0, 3, 1, 2, 2, 0}, {3, 2});
  const Tensor idx = ii({0, 3, 1, 1, 2, 0}, {3, 2});
  const std::vector<double> src = {2.0, -1.0, 0.5, 3.0, -2.0, 1.5};
  check_case("scatter_src", both(X34, src),
             split({3, 4}, {3, 2}, [&](const Tensor& s, const Tensor& v) { return s.scatter(1, idx_distinct, v); }));
  check_case("scatter_src_larger", both(X34, seq(9), false),
             split({3, 4}, {3, 3}, [&](const Tensor& s, const Tensor& v) { return s.scatter(1, idx_distinct, v); }));
  check_case("scatter_src_duplicates", both(X34, src, false),
             split({3, 4}, {3, 2}, [&](const Tensor& s, const Tensor& v) { return tg::scatter(s, 1, idx, v); }));
  check_case("scatter_value", x34(), [](const Tensor& x) { return one(x.scatter(0, ii({2, 0, 1, 2}, {1, 4}), 2.5)); });
  check_case("scatter_reduce_add", both(X34, src, false),
             split({3, 4}, {3, 2}, [&](const Tensor& s, const Tensor& v) { return s.scatter(1, idx, v, "add"); }));
  check_case("scatter_reduce_multiply", both(X34, src, false),
             split({3, 4}, {3, 2}, [&](const Tensor& s, const Tensor& v) { return s.scatter(1, idx, v, "multiply"); }));
  check_case("scatter_value_multiply", x34(false),
             [&](const Tensor& x) { return one(x.scatter(1, idx, 3.0, "multiply")); });

  const std::vector<double> self_r = {2.0, 1.0, 0.0, -1.0, 3.0, 0.5, -2.0, 4.0, 1.0, 0.0, 2.0, -0.5};
  const std::vector<double> src_r = {2.0, -1.0, 0.0, 0.0, 3.0, 2.5, 0.0, 1.5, -1.0};
  const Tensor idx_r = ii({0, 3, 0, 2, 2, 1, 3, 0, 3}, {3, 3});
  for (const char* reduce : {"sum", "prod", "mean", "amax", "amin"})
    for (bool include_self : {true, false}) {
      const std::string name = std::string("scatter_reduce_") + reduce + (include_self ? "_self" : "_noself");
      check_case(name, both(self_r, src_r), split({3, 4}, {3, 3}, [&](const Tensor& s, const Tensor& v) {
                   return tg::scatter_reduce(s, 1, idx_r, v, reduce, include_self);
                 }));
    }
  check_case("scatter_reduce_mean_dim0", both(x234_values(), seq(8)),
             split({2, 3, 4}, {1, 2, 4}, [](const Tensor& s, const Tensor& v) {
               return s.scatter_reduce(0, ii({1, 0, 1, 1, 0, 0, 1, 0}, {1, 2, 4}), v, "mean");
             }));
  check_case("scatter_reduce_empty_index", both(X34, {}), split({3, 4}, {0, 0}, [](const Tensor& s, const Tensor& v) {
               return s.scatter_reduce(1, tg::zeros({0, 0}, {.dtype = tg::kInt64}), v, "amax");
             }));
}

TEST_CASE(
    "scatter_reduce's sum and mean, scatter_add and index_add add up wide and count in int64, whatever the dtype") {
  // n equal values into element 0 of zeros({2}): their mean is the value.
  const auto mean_of = [](tg::DType dtype, std::int64_t n, double value, bool include_self = false) {
    return tg::scatter_reduce(tg::zeros({2}, {.dtype = dtype}), 0, tg::zeros({n}, {.dtype = tg::kInt64}),
                              tg::full({n}, value, {.dtype = dtype}), "mean", include_self);
  };
  // A count of 256 was 0 in uint8 (SIGFPE), 300 was 44; PyTorch 1.13 counts
  // in uint8 too and gives 0 for 256 ones (a sum of 0 over a count of 0 taken as 1).
  tg_test::check_close(mean_of(tg::kUInt8, 256, 1), {1, 0}, 0);
  tg_test::check_close(mean_of(tg::kUInt8, 300, 2), {2, 0}, 0);
  tg_test::check_close(mean_of(tg::kUInt8, 3, 100), {100, 0}, 0);  // 300 in the sum
  tg_test::check_close(mean_of(tg::kInt8, 300, -3), {-3, 0}, 0);
  tg_test::check_close(mean_of(tg::kInt16, 70000, 1), {1, 0}, 0);
  // float16 counted to inf past 65504 (and inexactly past 2048), and summed
  // in half, where 2048 + 1 is 2048.
  tg_test::check_close(mean_of(tg::kFloat16, 70000, 1), {1, 0}, 0);
  tg_test::check_close(mean_of(tg::kBFloat16, 3000, 1), {1, 0}, 0);
  const double self_too = tg::tensor({3000.0 / 3001.0}, {1}, tg::kFloat16).to_vector<double>()[0];
  tg_test::check_close(mean_of(tg::kFloat16, 3000, 1, true), {self_too, 0}, 0);
  tg_test::check_close(
      tg::scatter_reduce(tg::zeros({2}, {.dtype = tg::kFloat16}), 0, tg::zeros({3000}, {.dtype = tg::kInt64}),
                         tg::ones({3000}, {.dtype = tg::kFloat16}), "sum", true),
      {3000, 0}, 0);
  tg_test::check_close(
      tg::scatter_add(tg::zeros({2}, {.dtype = tg::kFloat16}), 0, tg::zeros({3000}, {.dtype = tg::kInt64}),
                      tg::ones({3000}, {.dtype = tg::kFloat16})),
      {3000, 0}, 0);
  // index_add and index_put_(accumulate) with one position repeated 3000 times.
  tg_test::check_close(
      tg::index_add(tg::zeros({2}, {.dtype = tg::kFloat16}), 0, tg::zeros({3000}, {.dtype = tg::kInt64}),
                    tg::ones({3000}, {.dtype = tg::kFloat16})),
      {3000, 0}, 0);
  tg_test::check_close(
      tg::index_put(tg::zeros({2}, {.dtype = tg::kBFloat16}), {tg::zeros({3000}, {.dtype = tg::kInt64})},
                    tg::ones({3000}, {.dtype = tg::kBFloat16}), true),
      {3008, 0}, 0);  // 3000 rounded to bfloat16's 8 bits
  // Integer means round toward minus infinity, as PyTorch's: -1/3 is -1.
  const Tensor i8 = tg::tensor(std::vector<double>{-1, -1, 1}, {3}, tg::kInt8);
  tg_test::check_close(tg::scatter_reduce(tg::zeros({2}, {.dtype = tg::kInt8}), 0, ii({0, 0, 1}), i8, "mean", false),
                       {-1, 1}, 0);
  // Sums of integers still wrap in their own type, as PyTorch's.
  tg_test::check_close(tg::scatter_reduce(tg::zeros({1}, {.dtype = tg::kUInt8}), 0, ii({0, 0}),
                                          tg::full({2}, 200.0, {.dtype = tg::kUInt8}), "sum", true),
                       {144}, 0);
}

TEST_CASE("index_add, index_copy and index_fill match PyTorch") {
  check_case("index_add_duplicates", both(X34, seq(12)), split({3, 4}, {3, 4}, [](const Tensor& s, const Tensor& v) {
               return s.index_add(0, ii({2, 0, 2}), v, 2.0);
             }));
  check_case("index_add_dim1", both(x234_values(), seq(12)),
             split({2, 3, 4}, {2, 3, 2}, [](const Tensor& s, const Tensor& v) {
               return tg::index_add(s, 2, ii({3, 1}), v);
             }));
  check_case("index_copy", both(X34, seq(6)), split({3, 4}, {3, 2}, [](const Tensor& s, const Tensor& v) {
               return s.index_copy(1, ii({3, 0}), v);
             }));
  check_case("index_copy_0d_index", both(X34, seq(4)),
             split({3, 4}, {1, 4}, [](const Tensor& s, const Tensor& v) { return tg::index_copy(s, 0, ii({1}), v); }));
  check_case("index_fill_negative", x34(), [](const Tensor& x) { return one(x.index_fill(1, ii({-1, 0}), -7.5)); });
  check_case("index_fill_dim0", x234(), [](const Tensor& x) { return one(tg::index_fill(x, 1, ii({1}), 2.0)); });
}

TEST_CASE("nonzero, argwhere, masked_select, any and all match PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor zeros = leaf({0, 1.5, 0, -2, 0, 0, 0, 0, 3, 0, nan, 0}, {3, 4}, false);
  check_case("nonzero", zeros, [](const Tensor& x) { return one(tg::nonzero(x)); });
  check_case("nonzero_none", tg::zeros({2, 3}), [](const Tensor& x) { return one(x.nonzero()); });
  check_case("nonzero_0d", tg::scalar_tensor(2.0), [](const Tensor& x) { return one(tg::nonzero(x)); });
  check_case("argwhere_3d", tg::tensor(x234_values(), {2, 3, 4}).gt(2.0),
             [](const Tensor& x) { return one(x.argwhere()); });
  check_case("masked_select", x34(), [](const Tensor& x) { return one(tg::masked_select(x, mask34())); });
  check_case("masked_select_broadcast", x34(), [](const Tensor& x) {
    return one(x.masked_select(bb({1, 0, 1}, {3, 1})));
  });
  check_case("masked_select_empty", x34(), [](const Tensor& x) { return one(x.masked_select(bb({0, 0, 0, 0}, {4}))); });
  check_case("any_all_whole", zeros, [](const Tensor& x) { return list({tg::any(x), tg::all(x), x.ne(7.0).all()}); });
  check_case("any_dim1", zeros, [](const Tensor& x) { return list({x.any(1), tg::all(x, 1)}); });
  check_case("any_dim0_keepdim", zeros, [](const Tensor& x) { return list({tg::any(x, 0, true), x.all(0, true)}); });
  check_case("any_empty", tg::zeros({0, 3}), [](const Tensor& x) {
    return list({x.any(), x.all(), x.any(0), x.all(0)});
  });
  CHECK(tg::any(zeros).dtype() == tg::kBool);
  CHECK(tg::all(zeros, 1).dtype() == tg::kBool);
}

TEST_CASE("basic indices give views that share memory; advanced ones give copies") {
  Tensor x = tg::arange(12, {.dtype = tg::kFloat64}).reshape({3, 4});
  Tensor v = x.index({Slice(1, None), Slice(None, None, 2)});
  CHECK(v.storage() == x.storage());
  v.fill_(-1);
  CHECK(x.to_vector<double>() == std::vector<double>{0, 1, 2, 3, -1, 5, -1, 7, -1, 9, -1, 11});
  Tensor row = x.index({1, None, Ellipsis});
  CHECK(row.shape() == Dims{1, 4});
  CHECK(row.storage() == x.storage());
  Tensor c = x.index({ii({0, 1})});
  CHECK(c.storage() != x.storage());
  c.fill_(100);
  CHECK(x.to_vector<double>()[0] == 0);
  // index_put_ writes through a basic index into x, and through an advanced one.
  x.index_put_({0, Slice(1, 3)}, 7.0);
  x.index_put_({ii({2}), ii({3})}, tg::scalar_tensor(9, {.dtype = tg::kFloat64}));
  CHECK(x.to_vector<double>() == std::vector<double>{0, 7, 7, 3, -1, 5, -1, 7, -1, 9, -1, 9});
}

TEST_CASE("index_put_ on a view of a tensor in a graph sends gradients to the base's history and the values") {
  const auto f = [](const std::vector<Tensor>& in) {
    Tensor y = in[0] * 2.0;
    Tensor view = y.index({Slice(), 1});  // column 1 of y, a view
    view.index_put_({ii({2, 0})}, in[1], true);
    return y.sin();
  };
  Tensor x = tg::randn({3, 4}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  Tensor v = tg::randn({2}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  CHECK(tg::gradcheck(f, {x, v}));
  CHECK(tg::gradgradcheck(f, {x, v}));
  // And the base really changed.
  Tensor y = tg::zeros({3, 4});
  y.index({Slice(), 1}).index_put_({ii({2, 0})}, tg::ones({2}));
  CHECK(y.to_vector<float>() == std::vector<float>{0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0});
}

TEST_CASE("repeated positions without accumulate: the last value wins, every run, in every form") {
  // index_put_, index_copy and scatter over many repeats of a few targets.
  std::vector<std::int64_t> targets;
  std::vector<double> values;
  for (int i = 0; i < 200; ++i) {
    targets.push_back(i % 3);
    values.push_back(i);
  }
  const Tensor t = ii(targets);
  const Tensor v = tg::tensor(values, {200}, tg::kFloat64);
  for (int run = 0; run < 3; ++run) {
    Tensor a = tg::zeros({3}, {.dtype = tg::kFloat64});
    a.index_put_({t}, v);
    CHECK(a.to_vector<double>() == std::vector<double>{198, 199, 197});
    CHECK(tg::index_copy(tg::zeros({3}, {.dtype = tg::kFloat64}), 0, t, v).to_vector<double>() ==
          std::vector<double>{198, 199, 197});
    CHECK(tg::scatter(tg::zeros({3}, {.dtype = tg::kFloat64}), 0, t, v).to_vector<double>() ==
          std::vector<double>{198, 199, 197});
  }
}

TEST_CASE("in-place forms modify self and record like the out-of-place ones") {
  const Tensor idx = ii({0, 2, 2}, {1, 3});
  Tensor a = tg::ones({2, 3}, {.dtype = tg::kFloat64});
  a.scatter_(1, idx, 5.0);
  CHECK(a.to_vector<double>() == std::vector<double>{5, 1, 5, 1, 1, 1});
  a.scatter_add_(1, idx, tg::ones({1, 3}, {.dtype = tg::kFloat64}));
  CHECK(a.to_vector<double>() == std::vector<double>{6, 1, 7, 1, 1, 1});
  a.scatter_reduce_(1, idx, tg::full({1, 3}, 2.0, {.dtype = tg::kFloat64}), "prod");
  CHECK(a.to_vector<double>() == std::vector<double>{12, 1, 28, 1, 1, 1});
  a.index_add_(0, ii({1}), tg::ones({1, 3}, {.dtype = tg::kFloat64}), -1.0);
  a.index_fill_(1, ii({1}), 3.0);
  a.index_copy_(0, ii({0}), tg::zeros({1, 3}, {.dtype = tg::kFloat64}));
  CHECK(a.to_vector<double>() == std::vector<double>{0, 0, 0, 0, 3, 0});
  a.scatter_(1, idx, tg::full({1, 3}, 4.0, {.dtype = tg::kFloat64}), "add");
  CHECK(a.to_vector<double>() == std::vector<double>{4, 0, 8, 0, 3, 0});

  // Recorded on a non-leaf, with gradients of the out-of-place op (prod reads self, which the write replaces).
  const auto f = [idx](const std::vector<Tensor>& in) {
    Tensor y = in[0] * 1.0;
    y.scatter_reduce_(1, idx, in[1], "prod");
    return y;
  };
  Tensor x = tg::randn({2, 3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  Tensor s = tg::randn({1, 3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  CHECK(tg::gradcheck(f, {x, s}));
  CHECK(tg::gradgradcheck(f, {x, s}));
  // A leaf that requires grad is refused, naming the op.
  Tensor l = tg::ones({2, 3}, {.requires_grad = true});
  const std::string m = tg_test::require_tg_error<tg::AutogradError>([&] { l.index_fill_(0, ii({0}), 1.0); }, "leaf");
  CHECK(m.find("index_fill_") != std::string::npos);
}

TEST_CASE("scatter with src larger than index: the unread part of src gets a zero gradient") {
  const auto f = [](const std::vector<Tensor>& in) { return tg::scatter(in[0], 1, ii({0, 3, 1, 2}, {2, 2}), in[1]); };
  Tensor x = tg::randn({2, 4}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  Tensor s = tg::randn({3, 3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  CHECK(tg::gradcheck(f, {x, s}));
  f({x, s}).sum().backward();
  CHECK(s.grad().to_vector<double>() == std::vector<double>{1, 1, 0, 1, 1, 0, 0, 0, 0});
}

TEST_CASE("bad indices are tg errors naming the op and the shapes") {
  const Tensor x = tg::zeros({3, 4});
  const auto expect = [](auto kind, const std::function<void()>& f, const char* fragment) {
    using E = decltype(kind);
    const std::string m = tg_test::require_tg_error<E>(f, fragment);
    CAPTURE(m);
    CHECK(m.find(fragment) != std::string::npos);
  };
  expect(
      tg::IndexError{""},
      [&] {
        x.index({0, 0, 0});
      },
      "too many indices");
  expect(
      tg::IndexError{""}, [&] { x.index({3}); }, "out of bounds");
  expect(
      tg::IndexError{""},
      [&] {
        x.index({Slice(), -5});
      },
      "out of bounds");
  expect(
      tg::IndexError{""},
      [&] {
        x.index({ii({0, 3})});
      },
      "index 3 is out of bounds for dimension 0 with size 3");
  expect(
      tg::IndexError{""}, [&] { x.index({ii({-4})}); }, "out of bounds");
  expect(
      tg::DTypeError{""}, [&] { x.index({tg::zeros({2})}); }, "int64 or bool");
  expect(
      tg::IndexError{""},
      [&] {
        x.index({bb({1, 0}, {2})});
      },
      "shape of the mask [2]");
  expect(
      tg::IndexError{""},
      [&] {
        x.index({ii({0, 1}), ii({0, 1, 2})});
      },
      "could not be broadcast");
  expect(
      tg::IndexError{""},
      [&] {
        x.index({Ellipsis, 0, Ellipsis});
      },
      "single ellipsis");
  expect(
      tg::ValueError{""}, [&] { x.index({Slice(0, 2, 0)}); }, "step");
  expect(
      tg::ValueError{""}, [&] { x.index({"..x"}); }, "\"...\"");
  Tensor y = tg::zeros({3, 4});
  expect(
      tg::ShapeError{""},
      [&] {
        y.index_put_({ii({0, 1})}, tg::ones({3, 4}));
      },
      "cannot be broadcast");
  expect(
      tg::ShapeError{""}, [&] { y.index_put_({0}, tg::ones({3})); }, "cannot be broadcast");
  expect(
      tg::DTypeError{""}, [&] { y.index_put_({ii({0})}, tg::ones({4}, {.dtype = tg::kFloat64})); }, "dtype");
  expect(
      tg::IndexError{""}, [&] { y.index_put_({ii({5})}, 1.0); }, "index_put_");
  CHECK(y.to_vector<float>() == std::vector<float>(12, 0.0f));  // nothing half written
  expect(
      tg::ValueError{""}, [&] { tg::scatter_reduce(x, 0, ii({0}), tg::ones({1}), "max"); }, "scatter_reduce");
  expect(
      tg::ValueError{""},
      [&] {
        tg::scatter(x, 0, ii({0}, {1, 1}), 1.0, "sum");
      },
      "scatter");
  expect(
      tg::IndexError{""},
      [&] {
        tg::scatter(x, 1, ii({0, 4}, {1, 2}), 1.0);
      },
      "scatter");
  expect(
      tg::IndexError{""},
      [&] {
        tg::scatter(x, 1, ii({-1}, {1, 1}), 1.0);
      },
      "scatter");
  expect(
      tg::ShapeError{""}, [&] { tg::scatter(x, 1, ii({0}), tg::ones({1})); }, "scatter");
  expect(
      tg::DTypeError{""},
      [&] {
        tg::scatter(x, 1, tg::zeros({1, 1}), tg::ones({1, 1}));
      },
      "scatter");
  expect(
      tg::DTypeError{""},
      [&] {
        tg::scatter_reduce(x, 1, ii({0}, {1, 1}), tg::ones({1, 1}, {.dtype = tg::kInt64}), "sum");
      },
      "scatter_reduce");
  expect(
      tg::IndexError{""},
      [&] {
        tg::index_add(x, 0, ii({3}), tg::ones({1, 4}));
      },
      "index_add");
  expect(
      tg::IndexError{""},
      [&] {
        tg::index_add(x, 0, ii({-1}), tg::ones({1, 4}));
      },
      "index_add");
  expect(
      tg::ShapeError{""},
      [&] {
        tg::index_add(x, 0, ii({0}), tg::ones({2, 4}));
      },
      "index_add");
  expect(
      tg::ShapeError{""},
      [&] {
        tg::index_copy(x, 1, ii({0, 1}, {1, 2}), tg::ones({3, 2}));
      },
      "index_copy");
  expect(
      tg::IndexError{""},
      [&] {
        tg::index_copy(x, 1, ii({-1}), tg::ones({3, 1}));
      },
      "index_copy");
  expect(
      tg::IndexError{""}, [&] { tg::index_fill(x, 1, ii({-5}), 0); }, "index_fill");
  expect(
      tg::DTypeError{""}, [&] { tg::index_fill(x, 1, tg::zeros({1}), 0); }, "index_fill");
  expect(
      tg::DTypeError{""},
      [&] {
        tg::masked_select(x, tg::ones({3, 4}));
      },
      "masked_select");
  expect(
      tg::ShapeError{""},
      [&] {
        tg::masked_select(x, bb({1, 0}, {2}));
      },
      "masked_select");
}

// An in-place index or scatter write into an expanded tensor (several
// elements share memory) is refused under the op's own name, before any
// work: each was refused as copy_'s (the write-back's) after computing the
// whole result.
TEST_CASE("index and scatter writes into an expanded tensor name their op") {
  const auto expanded = [] { return tg::zeros({1, 3}).expand({2, 3}); };
  const Tensor idx = tg::tensor(std::vector<std::int64_t>{0, 1}, {1, 2});
  const Tensor rows = tg::tensor(std::vector<std::int64_t>{0, 1}, {2});
  const Tensor src = tg::ones({1, 2});
  const auto refused = [](const char* op, const std::function<void()>& f) {
    CAPTURE(op);
    CHECK_THROWS_WITH_AS(f(), doctest::Contains((std::string(op) + ": ").c_str()), tg::ValueError);
  };
  refused("scatter_", [&] { expanded().scatter_(0, idx, 1.0); });
  refused("scatter_", [&] { expanded().scatter_(0, idx, src); });
  refused("scatter_add_", [&] { expanded().scatter_add_(0, idx, src); });
  refused("scatter_reduce_", [&] { expanded().scatter_reduce_(0, idx, src, "amax"); });
  refused("index_fill_", [&] { expanded().index_fill_(0, rows, 2.0); });
  refused("index_add_", [&] { expanded().index_add_(0, rows, tg::ones({2, 3})); });
  refused("index_copy_", [&] { expanded().index_copy_(0, rows, tg::ones({2, 3})); });
  refused("index_put_", [&] {
    Tensor e = expanded();
    tg::index_put_(e, {rows}, tg::ones({2, 3}), false);
  });
}

// LibTorch's index_put_ with indices is Python's x[...] = v: the value's
// leading dims of size 1 are dropped before it is broadcast.
TEST_CASE("index_put_ drops the value's leading dims of size 1, as x[...] = v in PyTorch") {
  Tensor x = tg::zeros({3, 4}, {.dtype = tg::kFloat64});
  x.index_put_({0}, tg::ones({1, 4}, {.dtype = tg::kFloat64}));
  x.index_put_({tg::tensor(std::vector<std::int64_t>{1, 2})}, tg::full({1, 2, 4}, 3.0, {.dtype = tg::kFloat64}));
  CHECK(x.to_vector<double>() == std::vector<double>{1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3});
  x.index_put_({x.ge(2.0)}, tg::full({1, 1}, 5.0, {.dtype = tg::kFloat64}));  // a mask, a value of one element
  CHECK(x.sum().item<double>() == 4 + 8 * 5);
  // The value's gradient keeps its own shape.
  Tensor v = tg::full({1, 4}, 2.0, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor y = tg::zeros({3, 4}, {.dtype = tg::kFloat64});
  y.index_put_({1}, v);
  (y * tg::arange(12.0).reshape({3, 4}).to(tg::kFloat64)).sum().backward();
  CHECK(v.grad().shape() == Dims{1, 4});
  CHECK(v.grad().to_vector<double>() == std::vector<double>{4, 5, 6, 7});
  // Accumulating is ATen's index_put_(accumulate=True): nothing is dropped, [1, 4] onto a row of 4 is refused.
  CHECK_THROWS_AS(tg::index_put_(x, {0}, tg::ones({1, 4}, {.dtype = tg::kFloat64}), true), tg::ShapeError);
  // Only leading ones go: [2, 4] into a row of 4 is still refused.
  CHECK_THROWS_WITH_AS(x.index_put_({0}, tg::ones({2, 4}, {.dtype = tg::kFloat64})),
                       doctest::Contains("index_put_: shape mismatch: value tensor of shape [2, 4]"), tg::ShapeError);
}

TEST_CASE("a scalar value the dtype cannot hold is refused under the op's own name") {
  Tensor ints = tg::zeros({2, 3}, {.dtype = tg::kInt64});
  const Tensor at = tg::tensor(std::vector<std::int64_t>{0, 1}, {1, 2});
  CHECK(tg_test::require_tg_error([&] { ints.index_put_({tg::tensor(std::vector<std::int64_t>{0})}, 1e30); },
                                  "index_put_ 1e30")
            .starts_with("index_put_: "));
  CHECK(tg_test::require_tg_error([&] { tg::scatter(ints, 1, at, NAN); }, "scatter NaN").starts_with("scatter: "));
  CHECK(tg_test::require_tg_error([&] { tg::scatter(ints, 1, at, 1e30, "add"); }, "scatter add 1e30")
            .starts_with("scatter: "));
  // In range, they work.
  CHECK(tg::scatter(ints, 1, at, 7.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7, 0, 0, 0, 0});
  ints.index_put_({tg::tensor(std::vector<std::int64_t>{1})}, 4.0);
  CHECK(ints.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 0, 4, 4, 4});
}

// plan() built the broadcast index's rows in a std::vector: a broadcast too
// large to hold threw std::bad_alloc, naming nothing.
TEST_CASE("advanced indexing with a broadcast index too large to hold is an OutOfMemoryError naming the op") {
  const Tensor x = tg::zeros({3, 4}, {.dtype = tg::kFloat64});
  const Tensor i = tg::zeros({1 << 20, 1}, {.dtype = tg::kInt64}), j = tg::zeros({1, 1 << 20}, {.dtype = tg::kInt64});
  CHECK_THROWS_WITH_AS(x.index({i, j}), doctest::Contains("index"), tg::OutOfMemoryError);
  Tensor y = x.clone();
  CHECK_THROWS_WITH_AS(y.index_put_({i, j}, 1.0), doctest::Contains("index_put_"), tg::OutOfMemoryError);
  CHECK((y == 0.0).all().item<bool>());
  const Tensor v = tg::zeros({3}, {.dtype = tg::kFloat64});
  CHECK_THROWS_AS(v.index({tg::tensor({0}).expand({std::int64_t{1} << 40})}), tg::OutOfMemoryError);
}

}  // namespace test_index_ops
