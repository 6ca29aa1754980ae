// Printing: exact strings, each one what PyTorch's print(t) shows for the
// same tensor (with "dtype=float64" for PyTorch's "dtype=torch.float64").
#include <doctest/doctest.h>

#include <limits>
#include <sstream>

#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/print.h>

namespace test_print {

using tg::Dims;
using tg::Tensor;

namespace {

// A contiguous tensor seen with another shape (no autograd involved).
Tensor reshaped(const Tensor& t, Dims shape) { return tg::make_view(t, shape, tg::contiguous_strides(shape), 0); }

Tensor int_range(double n) { return tg::arange(n, {.dtype = tg::kInt64}); }

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("print: floats with integral values end in a dot") {
  CHECK(tg::repr(tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2})) == "tensor([[1., 2.],\n        [3., 4.]])");
  CHECK(tg::repr(tg::zeros({3})) == "tensor([0., 0., 0.])");
  CHECK(tg::repr(tg::tensor({1.0, -10.0, 100.0})) == "tensor([  1., -10., 100.])");
}

TEST_CASE("print: other floats get four decimals and one width") {
  CHECK(tg::repr(tg::tensor({1.5, 2.25})) == "tensor([1.5000, 2.2500])");
  CHECK(tg::repr(tg::tensor({0.5, -12.25})) == "tensor([  0.5000, -12.2500])");
  CHECK(tg::repr(tg::scalar_tensor(3.5)) == "tensor(3.5000)");
  CHECK(tg::repr(tg::scalar_tensor(-2)) == "tensor(-2.)");
}

TEST_CASE("print: scientific notation when the range is large") {
  CHECK(tg::repr(tg::tensor({1e-5, 1})) == "tensor([1.0000e-05, 1.0000e+00])");
  CHECK(tg::repr(tg::tensor({1, 1e9})) == "tensor([1.0000e+00, 1.0000e+09])");
  CHECK(tg::repr(tg::tensor({0.5, 400})) == "tensor([  0.5000, 400.0000])");
  CHECK(tg::repr(tg::tensor({0.5, 2000})) == "tensor([5.0000e-01, 2.0000e+03])");
  CHECK(tg::repr(tg::tensor({0, 1e-5, -2e-5})) == "tensor([ 0.0000e+00,  1.0000e-05, -2.0000e-05])");
}

TEST_CASE("print: nan and inf") {
  CHECK(tg::repr(tg::tensor({1, kNaN, kInf})) == "tensor([1., nan, inf])");
  CHECK(tg::repr(tg::tensor({0.5, -kInf})) == "tensor([0.5000,   -inf])");
  CHECK(tg::repr(tg::tensor({-kNaN})) == "tensor([nan])");
  // In scientific notation too, right-aligned (torch 1.13's string).
  CHECK(tg::repr(tg::tensor({kNaN, kInf, -kInf, 1e-7, 1.0})) ==
        "tensor([       nan,        inf,       -inf, 1.0000e-07, 1.0000e+00])");
}

TEST_CASE("print: dtypes") {
  CHECK(tg::repr(tg::tensor({1, 2}, {}, {.dtype = tg::kFloat64})) == "tensor([1., 2.], dtype=float64)");
  CHECK(tg::repr(int_range(5)) == "tensor([0, 1, 2, 3, 4])");
  CHECK(tg::repr(tg::tensor({-1, 10}, {}, {.dtype = tg::kInt64})) == "tensor([-1, 10])");
  CHECK(tg::repr(tg::tensor({1, 0}, {}, {.dtype = tg::kBool})) == "tensor([ True, False])");
  CHECK(tg::repr(tg::tensor({1, 1}, {}, {.dtype = tg::kBool})) == "tensor([True, True])");
  CHECK(tg::repr(tg::scalar_tensor(3, {.dtype = tg::kInt64})) == "tensor(3)");
  CHECK(fmt::format("{}", tg::kFloat64) == "float64");
  CHECK(fmt::format("[{:>6}]", tg::kBool) == "[  bool]");
}

TEST_CASE("print: empty tensors") {
  CHECK(tg::repr(tg::zeros({0})) == "tensor([])");
  CHECK(tg::repr(tg::zeros({0, 3})) == "tensor([], size=(0, 3))");
  CHECK(tg::repr(tg::zeros({0}, {.dtype = tg::kInt64})) == "tensor([], dtype=int64)");
  CHECK(tg::repr(tg::zeros({2, 0, 1}, {.dtype = tg::kFloat64})) == "tensor([], size=(2, 0, 1), dtype=float64)");
}

TEST_CASE("print: three dims put a blank line between blocks") {
  CHECK(tg::repr(reshaped(int_range(8), {2, 2, 2})) ==
        "tensor([[[0, 1],\n"
        "         [2, 3]],\n"
        "\n"
        "        [[4, 5],\n"
        "         [6, 7]]])");
}

TEST_CASE("print: long rows wrap at 80 columns") {
  CHECK(tg::repr(tg::arange(30.0)) ==
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
        "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
        "        28., 29.])");
  // The suffix moves to its own line when it would pass column 80.
  CHECK(tg::repr(tg::arange(14, {.dtype = tg::kFloat64})) ==
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.],\n"
        "       dtype=float64)");
}

TEST_CASE("print: more than 1000 elements are summarized") {
  CHECK(tg::repr(int_range(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
  CHECK(tg::repr(reshaped(int_range(10000), {100, 100})) ==
        "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
        "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
        "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
        "        ...,\n"
        "        [9700, 9701, 9702,  ..., 9797, 9798, 9799],\n"
        "        [9800, 9801, 9802,  ..., 9897, 9898, 9899],\n"
        "        [9900, 9901, 9902,  ..., 9997, 9998, 9999]])");
  // 1000 elements exactly are all shown.
  CHECK(tg::repr(int_range(1000)).find("...") == std::string::npos);
}

TEST_CASE("print: views print in their own order") {
  Tensor t = tg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Tensor transposed = tg::make_view(t, {3, 2}, {1, 3}, 0);
  CHECK(tg::repr(transposed) == "tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])");
  Tensor column = tg::make_view(t, {2}, {3}, 1);
  CHECK(tg::repr(column) == "tensor([2., 5.])");
}

TEST_CASE("print: requires_grad, and the stream and fmt forms agree") {
  Tensor x = tg::tensor({1.0, 2.0});
  x.set_requires_grad(true);
  CHECK(tg::repr(x) == "tensor([1., 2.], requires_grad=True)");
  Tensor s = tg::scalar_tensor(3.5, {.dtype = tg::kFloat64});
  s.set_requires_grad(true);
  CHECK(tg::repr(s) == "tensor(3.5000, dtype=float64, requires_grad=True)");
  std::ostringstream os;
  os << x;
  CHECK(os.str() == tg::repr(x));
  CHECK(fmt::format("{}", x) == tg::repr(x));
  CHECK(tg::repr(Tensor()) == "tensor(undefined)");
}

}  // namespace test_print
