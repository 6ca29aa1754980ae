// The elementwise loop over operands laid out differently from their output
// (core/kernels/loop.cpp): transposed, permuted and stepped views, which the
// loop walks in tiles, copying the views a tile at a time, and in-place ops
// on such views, which it walks in the view's memory order. Each result is
// checked element by element against the same op on contiguous tensors made
// from the views' values by index arithmetic here (not by the loop itself),
// on one thread and on two, with sizes that leave partial tiles.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/parallel.h>

namespace test_loop_layouts {

using namespace tg;

namespace {

// A view of a fresh contiguous base tensor, and how to make it.
struct Layout {
  std::string name;
  Dims base;
  std::function<Tensor(const Tensor&)> view;
};

std::vector<Layout> layouts() {
  return {
      {"transposed 131 x 67", {131, 67}, [](const Tensor& b) { return b.t(); }},
      {"transposed 300 x 257 (parallel)", {300, 257}, [](const Tensor& b) { return b.t(); }},
      {"permute(2, 0, 1) of 5 x 37 x 70",
       {5, 37, 70},
       [](const Tensor& b) {
         return b.permute({2, 0, 1});
       }},
      {"permute(1, 2, 0) of 40 x 9 x 33",
       {40, 9, 33},
       [](const Tensor& b) {
         return b.permute({1, 2, 0});
       }},
      {"stepped transpose of 200 x 130", {200, 130}, [](const Tensor& b) { return b.t().slice(0, 1, 130, 3); }},
      // Short rows: a tile's rows are handed over as one run.
      {"thin transposed 3 x 40001", {3, 40001}, [](const Tensor& b) { return b.t(); }},
      {"thin permute(2, 0, 1) of 2 x 3 x 3001",
       {2, 3, 3001},
       [](const Tensor& b) {
         return b.permute({2, 0, 1});
       }},
  };
}

// The values of `view` (a view of the contiguous `base`) in row-major order,
// read through its strides.
std::vector<double> logical_values(const Tensor& base, const Tensor& view) {
  const std::vector<double> b = base.to_vector<double>();
  const Dims shape = view.shape(), strides = view.strides();
  std::vector<double> out;
  Dims idx = Dims::filled(shape.size(), 0);
  for (std::int64_t n = 0; n < view.numel(); ++n) {
    std::int64_t at = view.storage_offset() - base.storage_offset();
    for (int d = 0; d < shape.size(); ++d) at += idx[d] * strides[d];
    out.push_back(b[static_cast<std::size_t>(at)]);
    for (int d = shape.size() - 1; d >= 0 && ++idx[d] == shape[d]; --d) idx[d] = 0;
  }
  return out;
}

// A contiguous tensor holding the view's values, made without the loop.
Tensor contiguous_twin(const Tensor& base, const Tensor& view) {
  return tensor(logical_values(base, view), view.shape(), base.dtype());
}

Tensor random_base(const Dims& shape, DType dtype) {
  if (dtype == kBool) return rand(shape) < 0.5;
  if (dtype == kInt64) return randint(-1000, 1000, shape);
  return randn(shape, {.dtype = dtype});
}

// Whether a and b hold the same values, element by element (both contiguous).
bool same(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  REQUIRE(a.dtype() == b.dtype());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  return x == y;
}

}  // namespace

TEST_CASE("elementwise ops on views laid out across their output give the values of contiguous operands") {
  manual_seed(3);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Layout& l : layouts()) {
      for (DType dtype : {kFloat32, kFloat64, kInt64, kFloat16}) {
        CAPTURE(threads);
        CAPTURE(l.name);
        CAPTURE(dtype);
        const Tensor base_a = random_base(l.base, dtype), base_b = random_base(l.base, dtype);
        const Tensor a = l.view(base_a), b = l.view(base_b);
        const Tensor ca = contiguous_twin(base_a, a), cb = contiguous_twin(base_b, b);
        const Tensor other = random_base(a.shape(), dtype);  // contiguous, the output's layout
        CHECK(same(a + other, ca + other));
        CHECK(same(other * a, other * ca));
        CHECK(same(a - b, ca - cb));                          // both inputs across the output
        const Tensor row = random_base({a.size(-1)}, dtype);  // broadcast along every row: no single run
        CHECK(same(a * row, ca * row));
        CHECK(same(a.to(kFloat64), ca.to(kFloat64)));
        CHECK(same(a.contiguous(), ca));
        CHECK(same(a.to(kFloat32), ca.to(kFloat32)));
        if (dtype == kFloat32 || dtype == kFloat64) {
          CHECK(same(a.exp(), ca.exp()));                       // the vectorised unary path
          CHECK(same(lerp(a, other, b), lerp(ca, other, cb)));  // four operands
          const Tensor condition = random_base(l.base, kBool);
          const Tensor cond = l.view(condition);
          CHECK(same(where(cond, a, other), where(contiguous_twin(condition, cond), ca, other)));
        }
      }
    }
  }
  reset_num_threads();
}

TEST_CASE("in-place ops and copies into views laid out across their source write every element once") {
  manual_seed(4);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Layout& l : layouts()) {
      for (DType dtype : {kFloat32, kFloat64, kInt64, kBool}) {
        CAPTURE(threads);
        CAPTURE(l.name);
        CAPTURE(dtype);
        const Tensor base = random_base(l.base, dtype);
        Tensor view = l.view(base);
        const Tensor source = random_base(view.shape(), dtype);  // contiguous
        // The expected base: the view's elements replaced, the rest as they were.
        const Tensor untouched = base.clone();
        view.copy_(source);
        CHECK(same(contiguous_twin(base, view), source));
        const Tensor mask = ones_like(untouched, kBool);
        l.view(mask).fill_(false);
        CHECK(same(where(mask, base, zeros_like(base)), where(mask, untouched, zeros_like(base))));
        if (dtype != kBool) {
          const Tensor before = contiguous_twin(base, view);
          view.mul_(source);
          CHECK(same(contiguous_twin(base, view), before * source));
        }
      }
    }
  }
  reset_num_threads();
}

}  // namespace test_loop_layouts
