// Issue 11, class 4: sizes that overflow. Every element count, stride and
// offset is computed with checked arithmetic, no view reaches outside its
// storage, and an allocation that cannot succeed is an OutOfMemoryError,
// never std::bad_alloc or std::length_error.
#include <cstdint>
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/nn/functional.h>
#include "tg_error_check.h"

namespace test_sizes {

using namespace tg;
using tg_test::require_tg_error;

namespace {
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k2_32 = std::int64_t{1} << 32;
// 2^50 float32 elements (4 PiB) is past any address space: the allocation
// fails on every machine and under every overcommit policy, yet the element
// count itself is fine.
constexpr std::int64_t k2_50 = std::int64_t{1} << 50;
}  // namespace

TEST_CASE("reshape and view to a shape whose element count overflows int64 are ShapeErrors") {
  // [INT64_MAX, INT64_MAX] wraps to 1 element: it used to be accepted, and
  // the view then read terabytes past its one-element buffer.
  auto msg = require_tg_error<ShapeError>([] { reshape(ones({1}), {kMax, kMax}); }, "reshape [max, max]");
  CHECK(msg.find("reshape") != std::string::npos);
  require_tg_error<ShapeError>([] { ones({1}).view({kMax, kMax}); }, "view [max, max]");
  require_tg_error<ShapeError>([] { reshape(ones({1}), {k2_32, k2_32}); }, "reshape [2^32, 2^32]");  // wraps to 0
  require_tg_error<ShapeError>([] { reshape(ones({4}), {k2_32, k2_32, 4}); }, "reshape [2^32, 2^32, 4]");
  require_tg_error<ShapeError>([] { reshape(ones({1}), {-1, kMax, kMax}); }, "reshape with -1 and an overflow");
  // A zero size makes the count an honest 0, but the strides of such a
  // shape do not fit either.
  require_tg_error<ShapeError>([] { reshape(ones({0}), {0, k2_32, k2_32}); }, "reshape [0, 2^32, 2^32]");
  // Wherever the zero is, and up to make_tensor's bound (INT64_MAX / 8 elements).
  require_tg_error<ShapeError>([] { reshape(ones({0}), {k2_32, k2_32, 0}); }, "reshape [2^32, 2^32, 0]");
  require_tg_error<ShapeError>([] { ones({0}).view({k2_32 / 2, k2_32 / 2, 0}); }, "view [2^31, 2^31, 0]");
  CHECK_THROWS_AS(reshape(ones({0}), {k2_32 / 2, k2_32 / 2, 0}).to(kFloat64), ShapeError);
  // Unchanged: valid reshapes of empty tensors.
  CHECK(reshape(ones({0}), {0, 5, 7}).shape() == Dims{0, 5, 7});
  CHECK(reshape(ones({6}), {-1, 3}).shape() == Dims{2, 3});
}

TEST_CASE("expand to a shape with more elements than int64 can count is a ShapeError") {
  // It used to succeed with a wrapped element count of 0, so sum() returned 0.
  const Tensor one = ones({1, 1});
  auto msg = require_tg_error<ShapeError>([&] { one.expand({k2_32, k2_32}).sum(); }, "expand [2^32, 2^32] sum");
  CHECK(msg.find("expand") != std::string::npos);
  require_tg_error<ShapeError>([&] { one.expand({k2_32, k2_32}).mean(); }, "expand mean");
  require_tg_error<ShapeError>([&] { one.expand({k2_32, k2_32}).contiguous(); }, "expand contiguous");
  require_tg_error<ShapeError>([&] { one.expand({k2_32, k2_32}).clone(); }, "expand clone");
  require_tg_error<ShapeError>([&] { ones({1}).expand({kMax, 2, 1}); }, "expand [max, 2, 1]");
  // Expanding to enormous but countable shapes is still a view; copying
  // one is a tg::Error, not std::bad_alloc.
  const Tensor big = one.expand({std::int64_t{1} << 31, std::int64_t{1} << 31});
  CHECK(big.numel() == std::int64_t{1} << 62);
  require_tg_error([&] { big.contiguous(); }, "contiguous of a 2^62-element view");
  require_tg_error([&] { (big + 1.0); }, "add on a 2^62-element view");
  // An empty tensor may have any other sizes.
  CHECK(ones({0, 1, 1}).expand({0, k2_32, k2_32}).numel() == 0);
}

TEST_CASE("creating enormous tensors is an OutOfMemoryError or ShapeError, never std::bad_alloc") {
  // Merely enormous: the count fits, the allocation cannot.
  auto msg = require_tg_error<OutOfMemoryError>([] { empty({k2_50}); }, "empty 2^50");
  CHECK(msg.find("[1125899906842624]") != std::string::npos);      // the shape
  CHECK(msg.find("4503599627370496 bytes") != std::string::npos);  // and the byte count
  require_tg_error<OutOfMemoryError>([] { zeros({1 << 25, 1 << 25}); }, "zeros 2^50");
  require_tg_error<OutOfMemoryError>([] { ones({k2_50}, {.dtype = kFloat64}); }, "ones 2^50 float64");
  require_tg_error<OutOfMemoryError>([] { full({k2_50}, 3); }, "full 2^50");
  require_tg_error<OutOfMemoryError>([] { rand({k2_50}); }, "rand 2^50");
  require_tg_error<OutOfMemoryError>([] { randn({k2_50}); }, "randn 2^50");
  require_tg_error<OutOfMemoryError>([] { randint(0, 5, {k2_50}); }, "randint 2^50");
  require_tg_error<OutOfMemoryError>([] { randperm(k2_50); }, "randperm 2^50");
  require_tg_error<OutOfMemoryError>([] { linspace(0, 1, k2_50); }, "linspace 2^50");
  require_tg_error<OutOfMemoryError>([] { arange(0, static_cast<double>(k2_50)); }, "arange 2^50");
  require_tg_error<OutOfMemoryError>([] { eye(1 << 25); }, "eye 2^25");
  require_tg_error<OutOfMemoryError>([] { zeros_like(ones({1}).expand({k2_50})); }, "zeros_like of an expanded view");
  // Overflowing: a ShapeError before any allocation.
  require_tg_error<ShapeError>([] { empty({kMax, kMax}); }, "empty [max, max]");
  require_tg_error<ShapeError>([] { zeros({k2_32, k2_32}); }, "zeros [2^32, 2^32]");
  require_tg_error<ShapeError>([] { rand({k2_32, k2_32}); }, "rand [2^32, 2^32]");
  require_tg_error([] { arange(0, 1e300, 1e-300); }, "arange with an absurd count");
  require_tg_error([] { eye(k2_32); }, "eye 2^32");
  // Nothing is left half-made: a normal allocation right after works.
  CHECK(ones({3}).sum().item<float>() == 3.0f);
}

TEST_CASE("errors raised far below an op (allocation, rank) name the op the user called") {
  const auto starts_with = [](const std::string& msg, const std::string& op) {
    INFO(msg);
    CHECK(msg.rfind(op + ": ", 0) == 0);
  };
  starts_with(require_tg_error<OutOfMemoryError>([] { zeros({k2_50}); }, "zeros"), "zeros");
  starts_with(require_tg_error<OutOfMemoryError>([] { empty({k2_50}); }, "empty"), "empty");
  starts_with(require_tg_error<OutOfMemoryError>([] { full({k2_50}, 3); }, "full"), "full");
  starts_with(require_tg_error<OutOfMemoryError>([] { randn({k2_50}); }, "randn"), "randn");
  starts_with(require_tg_error<OutOfMemoryError>([] { arange(std::int64_t{0}, k2_50); }, "arange"), "arange");
  starts_with(require_tg_error<OutOfMemoryError>([] { linspace(0, 1, k2_50); }, "linspace"), "linspace");
  starts_with(require_tg_error<OutOfMemoryError>([] { eye(1 << 25); }, "eye"), "eye");
  starts_with(require_tg_error<ShapeError>([] { zeros({k2_32, k2_32}); }, "zeros overflow"), "zeros");
  // The outermost op, not the helper tensors it makes inside (pad's int64 index).
  const Tensor x = randn({1, 2, 3});
  starts_with(require_tg_error<OutOfMemoryError>([&] { pad(x, {k2_50, 0}, "replicate"); }, "pad"), "pad");
  starts_with(require_tg_error<OutOfMemoryError>(
                  [&] {
                    x.expand({k2_50, 2, 3}).contiguous();
                  },
                  "contiguous"),
              "contiguous");
  // Past kMaxDims.
  Tensor r = ones(Dims::filled(kMaxDims, 1));
  starts_with(require_tg_error<ShapeError>([&] { unsqueeze(r, 0); }, "unsqueeze"), "unsqueeze");
  starts_with(require_tg_error<ShapeError>([&] { stack({r, r}); }, "stack"), "stack");
  // A negative size whose product overflows says it is negative.
  const std::string negative = require_tg_error<ShapeError>(
      [] {
        tensor({1.0, 2.0}, {std::numeric_limits<std::int64_t>::min() + 1, 2});
      },
      "tensor");
  starts_with(negative, "tensor");
  CHECK(negative.find("has a negative size") != std::string::npos);
  // Outside any op nothing is named: the scope ended with the error.
  const std::string bare = require_tg_error<ShapeError>([] { (void)Dims::filled(kMaxDims + 1, 1); }, "Dims");
  CHECK(bare.rfind("tensors have at most", 0) == 0);
}

TEST_CASE("split and chunk into more pieces than memory can hold are OutOfMemoryErrors") {
  const Tensor huge = ones({1}).expand({std::int64_t{1} << 40});
  auto msg = require_tg_error<OutOfMemoryError>([&] { split(huge, 1); }, "split into 2^40 pieces");
  CHECK(msg.find("split") != std::string::npos);
  require_tg_error<OutOfMemoryError>([&] { chunk(huge, std::int64_t{1} << 40); }, "chunk into 2^40 pieces");
  require_tg_error<OutOfMemoryError>([] { chunk(ones({0}), std::int64_t{1} << 40); }, "chunk of an empty tensor");
  // A split size near INT64_MAX used to overflow computing the piece count.
  const auto pieces = split(huge, kMax);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].numel() == std::int64_t{1} << 40);
  CHECK(chunk(ones({5}), kMax).size() == 5);
}

TEST_CASE("matmul of expanded enormous operands is a tg::Error, never std::bad_alloc") {
  const Tensor a = ones({1, 1, 2, 2}).expand({1 << 24, 1 << 24, 2, 2});
  require_tg_error([&] { matmul(a, a); }, "batched matmul with 2^48 batches");
  const Tensor m = ones({1, 1}).expand({std::int64_t{1} << 31, std::int64_t{1} << 31});
  require_tg_error([&] { matmul(m, m); }, "matmul [2^31, 2^31] @ [2^31, 2^31]");
}

TEST_CASE("conv2d and pooling with sizes that overflow int64 are ShapeErrors") {
  const Tensor x = ones({1, 1, 4, 4}), w = ones({1, 1, 2, 2});
  require_tg_error<ShapeError>([&] { nn::functional::conv2d(x, w, {}, 1, std::int64_t{1} << 62); },
                               "conv2d with padding 2^62");
  require_tg_error<ShapeError>([&] { nn::functional::conv2d(x, w, {}, 1, 0, kMax); }, "conv2d with dilation max");
  require_tg_error<ShapeError>([&] { nn::functional::max_pool2d(x, kMax, 1, 0, kMax); },
                               "max_pool2d with kernel and dilation max");
  require_tg_error<ShapeError>([&] { nn::functional::avg_pool2d(x, std::int64_t{1} << 40); }, "avg_pool2d kernel 2^40");
  // A padding that fits but gives an enormous output cannot be allocated.
  require_tg_error([&] { nn::functional::conv2d(x, w, {}, 1, std::int64_t{1} << 30); }, "conv2d with padding 2^30");
}

TEST_CASE("flatten of an empty view whose other sizes overflow is a ShapeError") {
  const Tensor e = ones({0, 1, 1}).expand({0, k2_32, k2_32});
  require_tg_error<ShapeError>([&] { e.flatten(1); }, "flatten [0, 2^32, 2^32] from dim 1");
  CHECK(e.flatten().numel() == 0);
  // Strides that match contiguous ones until the count overflows.
  const Tensor odd = make_view(ones({1}), {0, k2_32, k2_32}, {1, k2_32, 1}, 0);
  CHECK_FALSE(odd.is_contiguous());
}

TEST_CASE("make_view refuses a view that reaches outside its storage") {
  const Tensor base = arange(12.0);  // 12 elements
  CHECK(Tensor(make_view(base, {3, 4}, {4, 1}, 0)).sum().item<float>() == 66.0f);
  // Reaching exactly the last element is fine; one more is not.
  CHECK(make_view(base, {2, 2}, {1, 10}, 0).to_vector<float>() == std::vector<float>{0, 10, 1, 11});
  require_tg_error<ShapeError>([&] { make_view(base, {2, 2}, {1, 10}, 1); }, "one past the end");
  auto msg = require_tg_error<ShapeError>([&] { make_view(base, {13}, {1}, 0); }, "13 elements of 12");
  CHECK(msg.find("[13]") != std::string::npos);
  CHECK(msg.find("12 elements") != std::string::npos);
  require_tg_error<ShapeError>([&] { make_view(base, {4}, {1}, 9); }, "offset 9, 4 elements of 12");
  require_tg_error<ShapeError>([&] { make_view(base, {1}, {1}, -1); }, "negative offset");
  require_tg_error<ShapeError>([&] { make_view(base, {2}, {-1}, 0); }, "negative stride reaching below 0");
  require_tg_error<ShapeError>([&] { make_view(base, {-1}, {1}, 0); }, "negative size");
  require_tg_error<ShapeError>([&] { make_view(base, {2, 2}, {kMax, 1}, 0); }, "stride overflow");
  require_tg_error<ShapeError>([&] { make_view(base, {2}, {1}, kMax); }, "offset overflow");
  require_tg_error<ShapeError>([&] { make_view(base, {2, 2}, {1}, 0); }, "sizes and strides disagree");
  // Legal: a negative stride that stays inside, any stride on a size-1 dim,
  // and any strides or offset on an empty view.
  CHECK(make_view(base, {3}, {-2}, 4).to_vector<float>() == std::vector<float>{4, 2, 0});
  CHECK(make_view(base, {1, 3}, {kMax, 1}, 0).to_vector<float>() == std::vector<float>{0, 1, 2});
  CHECK(make_view(base, {0, 5}, {kMax, kMax}, 100).numel() == 0);
  // The public views go through it: a slice at the very end is empty and legal.
  CHECK(base.slice(0, 12, 12).numel() == 0);
  CHECK(base.narrow(0, 12, 0).numel() == 0);
}

TEST_CASE("cat and stack whose total size overflows int64 are ShapeErrors; enormous ones are OutOfMemoryErrors") {
  const Tensor half = ones({1}).expand({std::int64_t{1} << 62});
  auto msg = require_tg_error<ShapeError>([&] { cat({half, half}, 0); }, "cat of two 2^62 along 0");
  CHECK(msg.find("cat") != std::string::npos);
  require_tg_error<ShapeError>([&] { cat({half, half, half, half}, 0); }, "cat of four 2^62");
  require_tg_error<ShapeError>([&] { stack({half, half, half}, 0); }, "stack of three 2^62 (3 * 2^62 elements)");
  const Tensor big = ones({1}).expand({k2_50});
  require_tg_error<OutOfMemoryError>([&] { cat({big, big}, 0); }, "cat of two 2^50");
  require_tg_error<OutOfMemoryError>([&] { stack({big, big}, 0); }, "stack of two 2^50");
  CHECK(cat({ones({2}), ones({3})}, 0).numel() == 5);
}

TEST_CASE("one_hot with a label of INT64_MAX is a ShapeError, not an overflowed class count") {
  require_tg_error<ShapeError>([] { one_hot(tensor(std::vector<std::int64_t>{1, kMax})); }, "one_hot of INT64_MAX");
  CHECK(one_hot(tensor(std::vector<std::int64_t>{2, 0})).shape() == Dims{2, 3});
}

}  // namespace test_sizes
