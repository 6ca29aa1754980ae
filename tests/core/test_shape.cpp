// Shape ops: views share storage, strides and contiguity flags are PyTorch's,
// reshape copies exactly when a view is impossible, and errors name the op.
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/shape.h>

namespace test_shape {

using namespace tg;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Dims dims_of(IntArrayRef a) { return Dims(a); }
// [0, 1, ..., n-1] as float64, viewed as `shape`.
Tensor iota(Dims shape) { return arange(static_cast<double>(shape.product()), {.dtype = kFloat64}).view(shape); }
}  // namespace

TEST_CASE("view and reshape of a contiguous tensor share storage") {
  Tensor x = arange(6);
  Tensor v = x.view({2, 3});
  Tensor r = x.reshape({3, -1});
  CHECK(v.shape() == Dims{2, 3});
  CHECK(dims_of(v.strides()) == Dims{3, 1});
  CHECK(r.shape() == Dims{3, 2});
  CHECK(v.storage() == x.storage());
  CHECK(r.storage() == x.storage());
  CHECK(v.is_contiguous());
  // A write through the view is seen by the base.
  kernel::fill_(v.select(0, 1), 9);
  CHECK(values(x) == std::vector<double>{0, 1, 2, 9, 9, 9});
  CHECK(values(r) == std::vector<double>{0, 1, 2, 9, 9, 9});
}

TEST_CASE("reshape copies only when the layout forces it") {
  Tensor x = iota({2, 3});
  Tensor t = x.t();  // [3, 2], strides [1, 3]
  CHECK_FALSE(t.is_contiguous());
  CHECK(dims_of(t.strides()) == Dims{1, 3});

  Tensor flat = t.reshape({6});  // crosses the transposed dims: must copy
  CHECK(flat.storage() != x.storage());
  CHECK(flat.is_contiguous());
  CHECK(values(flat) == std::vector<double>{0, 3, 1, 4, 2, 5});

  Tensor same = t.reshape({3, 2});
  CHECK(same.storage() == x.storage());
  Tensor padded = t.reshape({3, 1, 2});  // a new size-1 dim needs no copy
  CHECK(padded.storage() == x.storage());
  CHECK(values(padded) == std::vector<double>{0, 3, 1, 4, 2, 5});

  // x[j][k][i] = 12j + 4k + i permuted to [i][j][k]: dims j, k are contiguous
  // among themselves (12 == 3 * 4), so they merge without a copy.
  Tensor p = iota({2, 3, 4}).permute({2, 0, 1});
  Tensor m = p.reshape({4, 6});
  CHECK(m.storage() == p.storage());
  CHECK(dims_of(m.strides()) == Dims{1, 4});
  CHECK(values(m.select(0, 1)) == std::vector<double>{1, 5, 9, 13, 17, 21});
  // ...but i and j do not merge.
  CHECK(p.reshape({8, 3}).storage() != p.storage());
}

TEST_CASE("view splits and merges strided dims like PyTorch, and refuses otherwise") {
  Tensor cols = iota({4, 6}).narrow(1, 0, 3);  // [4, 3], strides [6, 1]
  Tensor split = cols.view({2, 2, 3});
  CHECK(dims_of(split.strides()) == Dims{12, 6, 1});
  CHECK(values(split) == values(cols));
  Tensor extra = cols.view({4, 3, 1});
  CHECK(extra.storage() == cols.storage());
  CHECK_THROWS_WITH_AS(cols.view({12}), doctest::Contains("view: shape [12] is not compatible"), ShapeError);
  CHECK_THROWS_WITH_AS(cols.view({12}), doctest::Contains("reshape"), ShapeError);
  CHECK_THROWS_WITH_AS(iota({2, 3}).t().view({6}), doctest::Contains("stride [1, 3]"), ShapeError);

  CHECK(kernel::view_strides({2, 3}, {3, 1}, {3, 2}) == Dims{2, 1});
  CHECK_FALSE(kernel::view_strides({3, 2}, {1, 3}, {6}).has_value());
  CHECK(kernel::view_strides({}, {}, {1, 1}) == Dims{1, 1});
}

TEST_CASE("reshape infers one -1 and names bad shapes") {
  CHECK(arange(12).reshape({-1, 4}).shape() == Dims{3, 4});
  CHECK(arange(12).reshape({2, -1, 3}).shape() == Dims{2, 2, 3});
  CHECK(scalar_tensor(5).reshape({-1}).shape() == Dims{1});
  CHECK(arange(1).reshape({}).dim() == 0);
  CHECK_THROWS_WITH_AS(arange(6).reshape({-1, -1}), doctest::Contains("only one dimension can be inferred"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(arange(6).reshape({4}), doctest::Contains("reshape: shape [4] is invalid for input of size 6"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(arange(7).reshape({2, -1}), doctest::Contains("invalid for input of size 7"), ShapeError);
  CHECK_THROWS_WITH_AS(zeros({0, 3}).reshape({0, -1}), doctest::Contains("any size would fit"), ShapeError);
  CHECK_THROWS_WITH_AS(arange(6).view({-2, 3}), doctest::Contains("view: invalid size -2"), ShapeError);
}

TEST_CASE("transpose and permute are strided views") {
  Tensor x = iota({2, 3, 4});
  Tensor t = x.transpose(0, -1);
  CHECK(t.shape() == Dims{4, 3, 2});
  CHECK(dims_of(t.strides()) == Dims{1, 4, 12});
  CHECK(t.storage() == x.storage());
  CHECK(values(t.select(0, 1).select(0, 2)) == std::vector<double>{9, 21});

  Tensor p = x.permute({1, 2, 0});
  CHECK(p.shape() == Dims{3, 4, 2});
  CHECK(dims_of(p.strides()) == Dims{4, 1, 12});
  CHECK_FALSE(p.is_contiguous());
  CHECK(values(p.select(0, 2).select(0, 3)) == std::vector<double>{11, 23});
  CHECK(x.permute({0, 1, 2}).is_contiguous());

  CHECK_THROWS_WITH_AS(x.permute({0, 0, 1}), doctest::Contains("permute: dimension 0 appears twice"), ShapeError);
  CHECK_THROWS_WITH_AS(x.permute({0, 1}), doctest::Contains("permute"), ShapeError);
  CHECK_THROWS_AS(x.permute({0, 1, 3}), IndexError);
  CHECK_THROWS_WITH_AS(x.transpose(0, 3), doctest::Contains("transpose"), IndexError);
  CHECK(scalar_tensor(2).transpose(0, -1).dim() == 0);
}

TEST_CASE("narrow, slice and select") {
  Tensor x = iota({10});
  CHECK(values(x.narrow(0, 2, 3)) == std::vector<double>{2, 3, 4});
  CHECK(values(x.narrow(0, -3, 2)) == std::vector<double>{7, 8});
  CHECK(x.narrow(0, 10, 0).numel() == 0);
  CHECK_THROWS_WITH_AS(x.narrow(0, 8, 3), doctest::Contains("narrow: start 8 + length 3 exceeds the size 10"),
                       IndexError);
  CHECK_THROWS_WITH_AS(x.narrow(0, 11, 0), doctest::Contains("narrow: start 11 is out of range"), IndexError);
  CHECK_THROWS_AS(x.narrow(0, 0, -1), ValueError);

  // Python semantics: negative bounds count from the end, out-of-range bounds clamp.
  CHECK(values(x.slice(0, -7, 100, 3)) == std::vector<double>{3, 6, 9});
  CHECK(values(x.slice(0, 1, -1, 4)) == std::vector<double>{1, 5});
  CHECK(values(x.slice(0, -100, 2)) == std::vector<double>{0, 1});
  CHECK(x.slice(0, 8, 2).numel() == 0);
  CHECK(x.slice(0, 3, 4, std::numeric_limits<std::int64_t>::max()).numel() == 1);
  CHECK_THROWS_WITH_AS(x.slice(0, 0, 5, 0), doctest::Contains("slice: step must be positive, got 0"), ValueError);
  CHECK_THROWS_WITH_AS(x.slice(0, 0, 5, -1), doctest::Contains("got -1"), ValueError);

  Tensor m = iota({3, 4});
  Tensor s = m.slice(1, 1, 4, 2);  // columns 1 and 3
  CHECK(s.shape() == Dims{3, 2});
  CHECK(dims_of(s.strides()) == Dims{4, 2});
  CHECK(s.storage_offset() == 1);
  CHECK(values(s) == std::vector<double>{1, 3, 5, 7, 9, 11});
  CHECK_FALSE(s.is_contiguous());
  CHECK(m.slice(0, 1, 3).is_contiguous());

  CHECK(values(m.select(0, -1)) == std::vector<double>{8, 9, 10, 11});
  CHECK(values(m[1]) == std::vector<double>{4, 5, 6, 7});
  CHECK(values(m.select(1, -4)) == std::vector<double>{0, 4, 8});
  CHECK(m.select(1, 2).select(0, 2).item<double>() == 10);
  CHECK_THROWS_WITH_AS(m.select(1, 4), doctest::Contains("select: index 4 is out of range for dimension 1 with size 4"),
                       IndexError);
  CHECK_THROWS_WITH_AS(m.select(0, -4), doctest::Contains("index -4"), IndexError);
  CHECK_THROWS_AS(scalar_tensor(1).select(0, 0), IndexError);

  // Writes through a slice land in the base.
  kernel::fill_(s, -1);
  CHECK(values(m.select(0, 0)) == std::vector<double>{0, -1, 2, -1});
}

TEST_CASE("expand broadcasts with stride 0") {
  Tensor x = tensor({1, 2, 3}, {3, 1}, {.dtype = kFloat64});
  Tensor e = x.expand({2, 3, 4});
  CHECK(e.shape() == Dims{2, 3, 4});
  CHECK(dims_of(e.strides()) == Dims{0, 1, 0});
  CHECK(e.storage() == x.storage());
  CHECK_FALSE(e.is_contiguous());
  CHECK(values(e.select(0, 1).select(0, 2)) == std::vector<double>{3, 3, 3, 3});
  CHECK(x.expand({-1, 2}).shape() == Dims{3, 2});
  CHECK(x.expand({3, 0}).numel() == 0);
  CHECK(x.expand_as(zeros({3, 5})).shape() == Dims{3, 5});
  CHECK_THROWS_WITH_AS(x.expand({4, 2}), doctest::Contains("expand: dimension 0 of size 3 cannot become 4"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(x.expand({5}), doctest::Contains("fewer dimensions"), ShapeError);
  CHECK_THROWS_WITH_AS(x.expand({-1, 3, 1}), doctest::Contains("new leading dimension 0"), ShapeError);
  // Growing a scalar.
  CHECK(values(scalar_tensor(7).expand({2})) == std::vector<double>{7, 7});
}

TEST_CASE("squeeze, unsqueeze and flatten") {
  Tensor x = zeros({2, 1, 3, 1});
  CHECK(x.squeeze().shape() == Dims{2, 3});
  CHECK(x.squeeze(1).shape() == Dims{2, 3, 1});
  CHECK(x.squeeze(-1).shape() == Dims{2, 1, 3});
  CHECK(x.squeeze(0).shape() == Dims{2, 1, 3, 1});  // not size 1: unchanged
  CHECK(x.squeeze().storage() == x.storage());

  Tensor y = iota({2, 3});
  CHECK(y.unsqueeze(0).shape() == Dims{1, 2, 3});
  CHECK(y.unsqueeze(1).shape() == Dims{2, 1, 3});
  CHECK(dims_of(y.unsqueeze(1).strides()) == Dims{3, 3, 1});
  CHECK(dims_of(y.unsqueeze(-1).strides()) == Dims{3, 1, 1});
  CHECK(y.unsqueeze(2).is_contiguous());
  CHECK(scalar_tensor(1).unsqueeze(0).shape() == Dims{1});
  CHECK_THROWS_WITH_AS(y.unsqueeze(3), doctest::Contains("unsqueeze"), IndexError);

  Tensor z = iota({2, 3, 4});
  CHECK(z.flatten().shape() == Dims{24});
  CHECK(z.flatten(1).shape() == Dims{2, 12});
  CHECK(z.flatten(0, 1).shape() == Dims{6, 4});
  CHECK(z.flatten(1).storage() == z.storage());
  CHECK(z.flatten(2, 2).is_same(z));
  CHECK(scalar_tensor(3).flatten().shape() == Dims{1});
  CHECK_THROWS_WITH_AS(z.flatten(2, 1), doctest::Contains("flatten: start_dim 2 comes after end_dim 1"), ShapeError);
  // Flattening a transposed tensor copies, with values in its logical order.
  CHECK(values(iota({2, 2}).t().flatten()) == std::vector<double>{0, 2, 1, 3});
}

TEST_CASE("contiguous, clone and to_dtype") {
  Tensor x = iota({2, 3});
  CHECK(contiguous(x).is_same(x));
  Tensor t = x.t();
  Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.storage() != x.storage());
  CHECK(values(c) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(contiguous(x.expand({2, 2, 3})).shape() == Dims{2, 2, 3});

  Tensor k = x.clone();
  CHECK(k.storage() != x.storage());
  kernel::fill_(k, 1);
  CHECK(values(x) == std::vector<double>{0, 1, 2, 3, 4, 5});

  Tensor f = tensor({2.7, -2.7, 0, 0.5});
  CHECK(f.to(kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -2, 0, 0});
  CHECK(f.to(kBool).to_vector<bool>() == std::vector<bool>{true, true, false, true});
  CHECK(f.to(kFloat64).dtype() == kFloat64);
  CHECK(f.to(kFloat32).is_same(f));
  CHECK(values(t.to(kFloat32)) == std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("cat joins along a dim, with PyTorch's zero-size rules") {
  Tensor a = iota({2, 2});
  Tensor b = tensor({10, 11, 12, 13, 14, 15}, {3, 2}, {.dtype = kFloat64});
  CHECK(values(cat({a, b})) == std::vector<double>{0, 1, 2, 3, 10, 11, 12, 13, 14, 15});
  Tensor c = cat({a, b.narrow(0, 0, 2), a}, 1);
  CHECK(c.shape() == Dims{2, 6});
  CHECK(values(c) == std::vector<double>{0, 1, 10, 11, 0, 1, 2, 3, 12, 13, 2, 3});
  CHECK(cat({a, a}, -1).shape() == Dims{2, 4});
  // Non-contiguous inputs.
  CHECK(values(cat({a.t(), a.t()}, 1)) == std::vector<double>{0, 2, 0, 2, 1, 3, 1, 3});
  // Zero-size inputs: [2, 0] fits along dim 1; a 1-D [0] is skipped whatever its shape.
  CHECK(values(cat({zeros({2, 0}, {.dtype = kFloat64}), a}, 1)) == values(a));
  CHECK(values(cat({zeros({0}, {.dtype = kFloat64}), a})) == values(a));
  CHECK(cat({zeros({0}), zeros({0})}).shape() == Dims{0});
  CHECK(cat({zeros({0, 3}), zeros({2, 3})}).shape() == Dims{2, 3});

  CHECK_THROWS_WITH_AS(cat({a, iota({2, 3}), iota({3, 3})}),
                       doctest::Contains("cat: tensor 1 has shape [2, 3] but tensor 0 has shape [2, 2]"), ShapeError);
  CHECK_THROWS_WITH_AS(cat({a, iota({2, 2, 1})}), doctest::Contains("tensor 1 has shape [2, 2, 1]"), ShapeError);
  // Mixed dtypes promote, as PyTorch.
  CHECK(cat({a.to(kFloat32), a.to(kFloat64)}).dtype() == kFloat64);
  CHECK(values(cat({a.to(kFloat32), a.to(kInt64)})) == values(cat({a, a})));
  CHECK_THROWS_WITH_AS(cat({scalar_tensor(1), scalar_tensor(2)}), doctest::Contains("0-d"), ShapeError);
  CHECK_THROWS_AS(cat({}), ValueError);
  CHECK_THROWS_AS(cat({a, a}, 2), IndexError);
}

TEST_CASE("stack, split and chunk") {
  Tensor a = tensor({1, 2, 3}, {}, {.dtype = kFloat64});
  Tensor b = tensor({4, 5, 6}, {}, {.dtype = kFloat64});
  Tensor s0 = stack({a, b});
  CHECK(s0.shape() == Dims{2, 3});
  CHECK(values(s0) == std::vector<double>{1, 2, 3, 4, 5, 6});
  Tensor s1 = stack({a, b}, -1);
  CHECK(s1.shape() == Dims{3, 2});
  CHECK(values(s1) == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(stack({scalar_tensor(1), scalar_tensor(2)}).shape() == Dims{2});
  CHECK_THROWS_WITH_AS(stack({a, iota({2})}), doctest::Contains("stack: tensor 1 has shape [2]"), ShapeError);

  Tensor x = iota({5, 2});
  auto parts = split(x, 2);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].shape() == Dims{2, 2});
  CHECK(parts[2].shape() == Dims{1, 2});
  CHECK(values(parts[2]) == std::vector<double>{8, 9});
  CHECK(parts[1].storage() == x.storage());
  CHECK(split(x, 1, 1).size() == 2);
  CHECK(split(x, 7).size() == 1);
  CHECK(split(zeros({0, 2}), 3).size() == 1);
  CHECK_THROWS_AS(split(x, 0), ValueError);

  auto ch = chunk(x, 3);
  REQUIRE(ch.size() == 3);
  CHECK(ch[0].size(0) == 2);
  CHECK(ch[1].size(0) == 2);
  CHECK(ch[2].size(0) == 1);
  CHECK(chunk(iota({6}), 4).size() == 3);  // chunks of 2, as PyTorch
  CHECK(chunk(zeros({0}), 2).size() == 2);
  CHECK_THROWS_WITH_AS(chunk(x, 0), doctest::Contains("chunk"), ValueError);
}

TEST_CASE("zero-size dims pass through the views") {
  Tensor e = zeros({0, 3});
  CHECK(e.reshape({3, 0}).shape() == Dims{3, 0});
  CHECK(e.view({0}).shape() == Dims{0});
  CHECK(e.t().shape() == Dims{3, 0});
  CHECK(e.t().reshape({-1, 3}).shape() == Dims{0, 3});
  CHECK(e.unsqueeze(0).shape() == Dims{1, 0, 3});
  CHECK(e.select(1, 2).shape() == Dims{0});
  CHECK(e.slice(0, 0, 5).shape() == Dims{0, 3});
  CHECK(zeros({1, 0}).expand({4, 0}).shape() == Dims{4, 0});
  CHECK(e.flatten().numel() == 0);
}

}  // namespace test_shape
