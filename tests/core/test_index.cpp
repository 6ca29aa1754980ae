// Indexing ops: values by hand, repeated indices, strided inputs, and errors
// that name the op, the bad index and the size it had to fit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/index.h>

namespace test_index {

using namespace tg;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor f64(std::initializer_list<double> v, tg::OptionalDims shape = {}) {
  return tensor(v, shape, {.dtype = kFloat64});
}
Tensor i64(std::initializer_list<double> v, tg::OptionalDims shape = {}) { return tensor(v, shape, {.dtype = kInt64}); }
}  // namespace

TEST_CASE("index_select picks rows or columns, repeats allowed") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(values(index_select(x, 0, i64({2, 0, 2}))) == std::vector<double>{5, 6, 1, 2, 5, 6});
  Tensor cols = x.index_select(1, i64({1}));
  CHECK(cols.shape() == Dims{3, 1});
  CHECK(values(cols) == std::vector<double>{2, 4, 6});
  CHECK(index_select(x, -1, i64({1, 0})).shape() == Dims{3, 2});
  // A strided input and a strided index.
  CHECK(values(index_select(x.t(), 1, i64({2, 9, 0}).slice(0, 0, 3, 2))) == std::vector<double>{5, 1, 6, 2});
  CHECK(index_select(x, 0, zeros({0}, {.dtype = kInt64})).shape() == Dims{0, 2});
  CHECK(index_select(tensor({1, 0, 1}, {}, {.dtype = kBool}), 0, i64({1, 2})).to_vector<bool>() ==
        std::vector<bool>{false, true});

  CHECK_THROWS_WITH_AS(index_select(x, 0, i64({0, 3})),
                       doctest::Contains("index_select: index 3 is out of range for dimension 0 with size 3"),
                       IndexError);
  CHECK_THROWS_WITH_AS(index_select(x, 1, i64({-1})), doctest::Contains("index -1"), IndexError);
  CHECK_THROWS_WITH_AS(index_select(x, 0, f64({0})),
                       doctest::Contains("index_select: index must be int64 or int32, got float64"), DTypeError);
  CHECK_THROWS_WITH_AS(index_select(x, 0, i64({0, 1}, {1, 2})),
                       doctest::Contains("must be 1-D or 0-d, got shape [1, 2]"), ShapeError);
  CHECK_THROWS_AS(index_select(x, 2, i64({0})), IndexError);
}

// A 0-d index, against torch 1.13: index_select takes it as one index and
// keeps the dim (size 1); gather and scatter want index of self's rank (so a
// 0-d index only with a 0-d self); index_add/copy/fill take it as one index;
// embedding and x[t] drop the dim.
TEST_CASE("a 0-d index is taken where PyTorch takes it, with PyTorch's shapes") {
  const Tensor x = arange(12, {.dtype = kFloat64}).reshape({3, 4});
  const Tensor one = scalar_tensor(1, {.dtype = kInt64});
  const Tensor zero = scalar_tensor(0, {.dtype = kInt64});
  const Tensor s = scalar_tensor(5, {.dtype = kFloat64});
  // torch.arange(12.).reshape(3, 4).index_select(0, torch.tensor(1)) -> shape (1, 4)
  CHECK(index_select(x, 0, one).shape() == Dims{1, 4});
  CHECK(values(index_select(x, 0, one)) == std::vector<double>{4, 5, 6, 7});
  CHECK(index_select(x, 1, one).shape() == Dims{3, 1});
  CHECK(values(index_select(x, -1, one.to(kInt32))) == std::vector<double>{1, 5, 9});
  CHECK(index_select(s, 0, zero).shape() == Dims{});
  CHECK(values(x.index_select(0, one)) == std::vector<double>{4, 5, 6, 7});
  CHECK_THROWS_WITH_AS(index_select(x, 0, scalar_tensor(3, {.dtype = kInt64})),
                       doctest::Contains("index_select: index 3 is out of range for dimension 0 with size 3"),
                       IndexError);
  // Its gradient goes back to the row picked.
  const Tensor leaf = x.clone().set_requires_grad();
  const Tensor g = tg::grad({(index_select(leaf, 0, one) * 2).sum()}, {leaf})[0];
  CHECK(values(g) == std::vector<double>{0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0});
  const Tensor sl = s.clone().set_requires_grad();
  CHECK(values(tg::grad({index_select(sl, 0, zero) * 3}, {sl})[0]) == std::vector<double>{3});

  // gather and scatter: an index of self's rank, as PyTorch's.
  CHECK(gather(s, 0, zero).shape() == Dims{});
  CHECK_THROWS_AS(gather(x, 0, one), ShapeError);
  CHECK(values(scatter(s, 0, zero, scalar_tensor(7, {.dtype = kFloat64}))) == std::vector<double>{7});
  CHECK(values(scatter(s, 0, zero, 3.0)) == std::vector<double>{3});
  CHECK(values(scatter_add(s, 0, zero, scalar_tensor(7, {.dtype = kFloat64}))) == std::vector<double>{12});
  CHECK_THROWS_AS(scatter(x, 0, one, x), ShapeError);

  // index_add, index_copy, index_fill: one index; src keeps the dim (size 1).
  const Tensor row = full({1, 4}, -1.0, {.dtype = kFloat64});
  CHECK(values(index_add(x, 0, one, row).select(0, 1)) == std::vector<double>{3, 4, 5, 6});
  CHECK(values(index_copy(x, 0, one, row).select(0, 1)) == std::vector<double>{-1, -1, -1, -1});
  CHECK(values(index_fill(x, 1, one, 9.0).select(1, 1)) == std::vector<double>{9, 9, 9});
  CHECK(values(index_add(s, 0, zero, scalar_tensor(2, {.dtype = kFloat64}))) == std::vector<double>{7});
  CHECK_THROWS_AS(index_add(x, 0, one, row.reshape({4})), ShapeError);
  // A 1-D self takes a 0-d source for one index, as PyTorch's
  // torch.tensor([1., 2, 3]).index_add(0, torch.tensor(1), torch.tensor(5.)) is [1, 7, 3].
  const Tensor v = tensor({1.0, 2.0, 3.0}, {3}, {.dtype = kFloat64});
  CHECK(values(index_add(v, 0, one, s)) == std::vector<double>{1, 7, 3});
  CHECK(values(index_add(v, 0, tensor({1}), s)) == std::vector<double>{1, 7, 3});
  CHECK(values(index_copy(v, 0, one, s)) == std::vector<double>{1, 5, 3});
  Tensor w = v.clone();
  w.index_add_(0, one, s, 2.0);
  CHECK(values(w) == std::vector<double>{1, 12, 3});
  const Tensor sg = s.clone().set_requires_grad();
  const Tensor dsrc =
      tg::grad({(index_add(v, 0, one, sg) * tensor({1.0, 4.0, 9.0}, {3}, {.dtype = kFloat64})).sum()}, {sg})[0];
  CHECK(dsrc.shape() == Dims{});
  CHECK(values(dsrc) == std::vector<double>{4});
  // But not two indices, nor a 2-D self (PyTorch refuses both too).
  CHECK_THROWS_AS(index_add(v, 0, tensor({0, 1}), s), ShapeError);
  CHECK_THROWS_AS(index_add(x, 0, one, s), ShapeError);
  CHECK_THROWS_AS(index_copy(x, 0, one, s), ShapeError);

  // embedding and x[t]: the index's (empty) shape, then the row.
  CHECK(embedding(one, x).shape() == Dims{4});
  CHECK(x.index({one}).shape() == Dims{4});
  CHECK(values(x.index({one})) == std::vector<double>{4, 5, 6, 7});
}

// int32 indices, which PyTorch's index_select and index_add take too: the
// same results and gradients as int64 ones, for the four slice-index ops.
TEST_CASE("index_select, index_add, index_copy and index_fill take int32 indices as int64 ones") {
  const Tensor x = tg::randn({4, 3}, {.dtype = kFloat64}).set_requires_grad();
  const Tensor i64 = tensor(std::vector<std::int64_t>{2, 0, 2}, {3});
  const Tensor i32 = i64.to(kInt32);
  const Tensor a = tg::index_select(x, 0, i64), b = tg::index_select(x, 0, i32);
  CHECK(tg::equal(a, b));
  const Tensor ga = tg::grad({tg::sum(a * a)}, {x})[0], gb = tg::grad({tg::sum(b * b)}, {x})[0];
  CHECK(tg::equal(ga, gb));
  const Tensor src = tg::randn({3, 3}, {.dtype = kFloat64});
  CHECK(tg::equal(tg::index_add(x, 0, i64, src), tg::index_add(x, 0, i32, src)));
  const Tensor one = tensor(std::vector<std::int64_t>{1}, {1});
  CHECK(tg::equal(tg::index_copy(x, 0, one, src.narrow(0, 0, 1)),
                  tg::index_copy(x, 0, one.to(kInt32), src.narrow(0, 0, 1))));
  CHECK(tg::equal(tg::index_fill(x, 1, i64, 5.0), tg::index_fill(x, 1, i32, 5.0)));
  CHECK_THROWS_WITH_AS(tg::index_select(x, 0, tensor(std::vector<std::int64_t>{4}, {1}).to(kInt32)),
                       doctest::Contains("index_select: index 4 is out of range"), IndexError);
}

TEST_CASE("gather follows PyTorch's indexing rule") {
  Tensor x = f64({1, 2, 3, 4}, {2, 2});
  // out[i][j] = x[i][index[i][j]]
  CHECK(values(gather(x, 1, i64({0, 0, 1, 0}, {2, 2}))) == std::vector<double>{1, 1, 4, 3});
  // out[i][j] = x[index[i][j]][j]
  CHECK(values(gather(x, 0, i64({1, 0, 1, 1}, {2, 2}))) == std::vector<double>{3, 2, 3, 4});
  // The index may be smaller than the input in every dim, and larger along `dim`.
  Tensor picked = x.gather(1, i64({1, 1, 1}, {1, 3}));
  CHECK(picked.shape() == Dims{1, 3});
  CHECK(values(picked) == std::vector<double>{2, 2, 2});
  // The usual use: pick each row's label.
  Tensor logits = f64({0.1, 0.2, 0.7, 0.5, 0.4, 0.1}, {2, 3});
  CHECK(values(gather(logits, 1, i64({2, 0}).unsqueeze(1))) == std::vector<double>{0.7, 0.5});
  // A transposed input.
  CHECK(values(gather(x.t(), 1, i64({1, 0}, {2, 1}))) == std::vector<double>{3, 2});

  CHECK_THROWS_WITH_AS(gather(x, 1, i64({0, 2}, {2, 1})),
                       doctest::Contains("gather: index 2 is out of range for dimension 1 with size 2"), IndexError);
  CHECK_THROWS_WITH_AS(gather(x, 1, i64({0, 1})), doctest::Contains("same number of dimensions"), ShapeError);
  CHECK_THROWS_WITH_AS(gather(x, 1, i64({0, 0, 0}, {3, 1})), doctest::Contains("at dimension 0"), ShapeError);
  CHECK_THROWS_AS(gather(x, 1, f64({0, 0}, {2, 1})), DTypeError);
}

TEST_CASE("scatter_add accumulates repeated indices out of place") {
  Tensor x = f64({10, 20, 30});
  Tensor y = scatter_add(x, 0, i64({0, 1, 0, 2}), f64({1, 2, 3, 4}));
  CHECK(values(y) == std::vector<double>{14, 22, 34});
  CHECK(values(x) == std::vector<double>{10, 20, 30});

  Tensor z = zeros({2, 3}, {.dtype = kFloat64});
  // out[i][index[i][j]] += src[i][j]
  Tensor w = z.scatter_add(1, i64({2, 2, 0, 1}, {2, 2}), f64({1, 2, 3, 4}, {2, 2}));
  CHECK(values(w) == std::vector<double>{0, 0, 3, 3, 4, 0});
  // src larger than index: only index's part is used.
  Tensor v = scatter_add(z, 0, i64({1}, {1, 1}), f64({5, 6, 7, 8}, {2, 2}));
  CHECK(values(v) == std::vector<double>{0, 0, 0, 5, 0, 0});
  // int64 works too.
  CHECK(scatter_add(zeros({2}, {.dtype = kInt64}), 0, i64({1, 1}), i64({2, 3})).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{0, 5});

  CHECK_THROWS_WITH_AS(scatter_add(x, 0, i64({3}), f64({1})),
                       doctest::Contains("scatter_add: index 3 is out of range for dimension 0 with size 3"),
                       IndexError);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, i64({0}), tensor({1.0})),
                       doctest::Contains("scatter_add: src has dtype float32 but self has float64"), DTypeError);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, i64({0, 1}), f64({1})), doctest::Contains("larger than src"), ShapeError);
  CHECK_THROWS_AS(scatter_add(x, 0, f64({0}), f64({1})), DTypeError);
}

TEST_CASE("masked_fill of an int64 tensor with NaN, an infinity or a huge value is a ValueError") {
  // Found by fuzz_tensor_program: the fill value was cast to int64 as it was,
  // undefined behaviour for NaN and out-of-range values. PyTorch refuses them.
  const Tensor mask = tensor({1, 0}, {}, {.dtype = kBool});
  CHECK_THROWS_WITH_AS(masked_fill(i64({1, 2}), mask, NAN),
                       "masked_fill: value nan cannot be converted to int64 without overflow", tg::ValueError);
  CHECK_THROWS_AS(masked_fill(i64({1, 2}), mask, INFINITY), tg::ValueError);
  CHECK_THROWS_AS(masked_fill(i64({1, 2}), mask, -1e300), tg::ValueError);
  Tensor y = i64({1, 2});
  CHECK_THROWS_WITH_AS(y.masked_fill_(mask, NAN), doctest::Contains("masked_fill_: value nan"), tg::ValueError);
  CHECK(y.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("masked_fill fills where the mask is true, with broadcasting") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor mask = tensor({1, 0, 1}, {}, {.dtype = kBool});
  CHECK(values(masked_fill(x, mask, -1)) == std::vector<double>{-1, 2, -1, -1, 5, -1});
  Tensor col = tensor({0, 1}, {2, 1}, {.dtype = kBool});
  CHECK(values(x.masked_fill(col, 0)) == std::vector<double>{1, 2, 3, 0, 0, 0});
  // The result has the broadcast shape of both, as PyTorch's out-of-place masked_fill.
  Tensor grown = masked_fill(f64({1, 2, 3}), tensor({1, 0, 0, 0, 0, 1}, {2, 3}, {.dtype = kBool}), 9);
  CHECK(grown.shape() == Dims{2, 3});
  CHECK(values(grown) == std::vector<double>{9, 2, 3, 1, 2, 9});
  CHECK(masked_fill(i64({1, 2}), tensor({0, 1}, {}, {.dtype = kBool}), 7).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{1, 7});
  CHECK(values(masked_fill(x.t(), tensor({1, 0}, {}, {.dtype = kBool}), 0)) == std::vector<double>{0, 4, 0, 5, 0, 6});

  CHECK_THROWS_WITH_AS(masked_fill(x, tensor({1.0, 0.0, 1.0}), 0), doctest::Contains("masked_fill: mask must be bool"),
                       DTypeError);
  CHECK_THROWS_WITH_AS(masked_fill(x, tensor({1, 0}, {}, {.dtype = kBool}), 0), doctest::Contains("masked_fill"),
                       ShapeError);
}

TEST_CASE("one_hot encodes int64 labels") {
  Tensor oh = one_hot(i64({2, 0, 1}), 4);
  CHECK(oh.dtype() == kInt64);
  CHECK(oh.shape() == Dims{3, 4});
  CHECK(oh.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0});
  Tensor inferred = one_hot(i64({1, 3}, {2, 1}));
  CHECK(inferred.shape() == Dims{2, 1, 4});
  CHECK(inferred.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0, 0, 0, 0, 0, 1});
  CHECK(one_hot(zeros({0}, {.dtype = kInt64}), 3).shape() == Dims{0, 3});
  CHECK_FALSE(oh.requires_grad());

  CHECK_THROWS_WITH_AS(one_hot(i64({0, 3}), 3), doctest::Contains("one_hot: label 3 (element 1) is out of range for 3"),
                       IndexError);
  CHECK_THROWS_WITH_AS(one_hot(i64({-1, 0})), doctest::Contains("label -1"), IndexError);
  CHECK_THROWS_WITH_AS(one_hot(f64({1})), doctest::Contains("one_hot: labels must be int64, got float64"), DTypeError);
  CHECK_THROWS_AS(one_hot(zeros({0}, {.dtype = kInt64})), ValueError);
  CHECK_THROWS_AS(one_hot(i64({0}), -2), ValueError);
}

TEST_CASE("scatter_add on int64 wraps modulo 2^64 instead of overflowing") {
  // Found by fuzz_tensor_program: INT64_MAX + 2 overflowed a signed integer.
  const Tensor x = tensor(std::vector<std::int64_t>{INT64_MAX});
  const Tensor out = scatter_add(x, 0, i64({0}), tensor(std::vector<std::int64_t>{2}));
  CHECK(out.to_vector<std::int64_t>() == std::vector<std::int64_t>{INT64_MIN + 1});
}

}  // namespace test_index
