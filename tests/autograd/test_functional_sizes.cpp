// Issue 11, class 4: jacobian and gradcheck size their Jacobians up front, so
// one that cannot be held is an error before one backward pass per output
// element (which used to run 2^40 of them, or end in std::bad_alloc).
#include <cstdint>

#include <doctest/doctest.h>

#include <tapegrad/autograd/functional.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include "tg_error_check.h"

namespace test_functional_sizes {

using namespace tg;
using tg_test::require_tg_error;

namespace {
constexpr std::int64_t k2_40 = std::int64_t{1} << 40;
}

TEST_CASE("jacobian of a 2^40-element output is an OutOfMemoryError before any backward pass") {
  const Tensor x = ones({1}, {.dtype = kFloat64});
  const std::string msg = require_tg_error<OutOfMemoryError>(
      [&] {
        tg_test::within_seconds(10, "jacobian of a 2^40-element output",
                                [&] { autograd::jacobian([](const Tensor& v) { return v.expand({k2_40}); }, x); });
      },
      "jacobian");
  CHECK(msg.find("jacobian") != std::string::npos);
  // [2^32] x [2^32]: the Jacobian's element count itself overflows.
  const Tensor wide = ones({1}, {.dtype = kFloat64}).expand({std::int64_t{1} << 32});
  const std::string overflow = require_tg_error<ShapeError>(
      [&] {
        tg_test::within_seconds(10, "jacobian of [2^32] -> [2^32]",
                                [&] { autograd::jacobian([](const Tensor& v) { return v.view({-1}); }, wide); });
      },
      "jacobian with an overflowing element count");
  CHECK(overflow.find("jacobian: shape [4294967296, 4294967296]") != std::string::npos);
}

TEST_CASE("gradcheck of a 2^40-element output is an OutOfMemoryError, not std::bad_alloc") {
  const Tensor x = ones({1}, {.dtype = kFloat64, .requires_grad = true});
  const std::string msg = require_tg_error<OutOfMemoryError>(
      [&] {
        tg_test::within_seconds(10, "gradcheck of a 2^40-element output", [&] {
          gradcheck([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0].expand({k2_40})}; }, {x});
        });
      },
      "gradcheck");
  CHECK(msg.find("gradcheck") != std::string::npos);
}

}  // namespace test_functional_sizes
