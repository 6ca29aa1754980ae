// Matrix-product kernels against a naive triple loop written here, on
// shapes, views and dtypes that take every path through the GEMM layer.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/kernels/linalg.h>

#include "support/thread_count.h"

namespace test_linalg {

using tg::Dims;
using tg::Tensor;
namespace kernel = tg::kernel;

namespace {

// Row-major values of a [.., rows, cols] stack, and its shape.
struct Ref {
  std::vector<double> v;
  Dims shape;
};

Ref ref_of(const Tensor& t) { return {t.to_vector<double>(), t.shape()}; }

// torch.matmul by definition: promote 1-D operands, broadcast batch dims,
// sum over k, drop the promoted dims.
Ref ref_matmul(const Ref& a, const Ref& b) {
  Dims as = a.shape, bs = b.shape;
  if (as.size() == 1) as.insert(0, 1);
  if (bs.size() == 1) bs.push_back(1);
  const std::int64_t m = as[as.size() - 2], k = as[as.size() - 1], n = bs[bs.size() - 1];
  REQUIRE(bs[bs.size() - 2] == k);
  const int na = as.size() - 2, nb = bs.size() - 2, nd = std::max(na, nb);
  Dims batch = Dims::filled(nd, 1);
  for (int i = 0; i < nd; ++i) {
    const std::int64_t x = i >= nd - na ? as[i - (nd - na)] : 1, y = i >= nd - nb ? bs[i - (nd - nb)] : 1;
    batch[i] = x == 1 ? y : x;
  }
  const std::int64_t nbatch = batch.product();
  std::vector<double> out(static_cast<std::size_t>(nbatch * m * n), 0.0);
  for (std::int64_t flat = 0; flat < nbatch; ++flat) {
    // Flat batch index -> offsets of the a and b matrices (broadcast dims repeat).
    std::int64_t rest = flat, ia = 0, ib = 0, sa = 1, sb = 1;
    for (int d = nd - 1; d >= 0; --d) {
      const std::int64_t idx = rest % batch[d];
      rest /= batch[d];
      if (d >= nd - na) {
        const std::int64_t size = as[d - (nd - na)];
        ia += (size == 1 ? 0 : idx) * sa;
        sa *= size;
      }
      if (d >= nd - nb) {
        const std::int64_t size = bs[d - (nd - nb)];
        ib += (size == 1 ? 0 : idx) * sb;
        sb *= size;
      }
    }
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t p = 0; p < k; ++p)
          s += a.v[static_cast<std::size_t>(ia * m * k + i * k + p)] *
               b.v[static_cast<std::size_t>(ib * k * n + p * n + j)];
        out[static_cast<std::size_t>(flat * m * n + i * n + j)] = s;
      }
  }
  Dims shape = batch;
  if (a.shape.size() > 1) shape.push_back(m);
  if (b.shape.size() > 1) shape.push_back(n);
  return {out, shape};
}

void check_close(const Tensor& got, const Ref& want, double tol) {
  REQUIRE(got.shape() == want.shape);
  const auto g = got.to_vector<double>();
  REQUIRE(g.size() == want.v.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(g[i] - want.v[i]) <= tol * (1 + std::abs(want.v[i])));
  }
}

double tol_for(tg::DType d) { return d == tg::kFloat32 ? 1e-4 : 1e-12; }

Tensor random(Dims shape, tg::DType dtype = tg::kFloat32) { return tg::randn(shape, {.dtype = dtype}); }

// The transpose of a 2-D tensor as a view (strides swapped, no copy).
Tensor transposed(const Tensor& t) {
  return tg::make_view(t, {t.size(1), t.size(0)}, {t.stride(1), t.stride(0)}, t.storage_offset());
}

void check_matmul(const Tensor& a, const Tensor& b) {
  INFO("a " << tg::shape_str(a.sizes()) << " b " << tg::shape_str(b.sizes()));
  check_close(kernel::matmul(a, b), ref_matmul(ref_of(a), ref_of(b)), tol_for(a.dtype()));
}

// float32 C = 0.5 C - 2 A B through addmm, against `product` (A B, ref_matmul's).
void check_scaled_addmm(const Tensor& c, const Tensor& a, const Tensor& b, const Ref& product) {
  Ref want = product;
  const auto cv = c.to_vector<double>();
  for (std::size_t i = 0; i < want.v.size(); ++i) want.v[i] = 0.5 * cv[i] - 2 * want.v[i];
  check_close(kernel::addmm(c, a, b, 0.5, -2), want, 1e-4);
}

// float32 A B through kernel::gemm straight into a C full of NaN whose rows
// are n + 3 apart: beta = 0 must not read C, and the padding columns stay
// untouched. `product` is A B (ref_matmul's).
void check_gemm_into_nan(std::int64_t m, std::int64_t n, std::int64_t k, const Tensor& a, kernel::GemmLayout la,
                         const Tensor& b, kernel::GemmLayout lb, const Ref& product) {
  const std::int64_t ldc = n + 3;
  std::vector<float> out(static_cast<std::size_t>(m * ldc), std::numeric_limits<float>::quiet_NaN());
  kernel::gemm(tg::kFloat32, m, n, k, 1.0, a.data_ptr<float>(), la, b.data_ptr<float>(), lb, 0.0, out.data(), ldc);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < ldc; ++j) {
      const float got = out[static_cast<std::size_t>(i * ldc + j)];
      if (j >= n) {
        CHECK(std::isnan(got));
        continue;
      }
      const double want = product.v[static_cast<std::size_t>(i * n + j)];
      CHECK(std::abs(got - want) <= 1e-4 * (1 + std::abs(want)));
    }
}

}  // namespace

TEST_CASE("matmul 2-D matches a triple loop on assorted shapes, float32 and float64") {
  tg::manual_seed(1);
  const std::vector<std::array<std::int64_t, 3>> shapes = {{1, 1, 1},   {1, 5, 1},  {1, 5, 7}, {7, 5, 1}, {6, 1, 4},
                                                           {33, 17, 9}, {64, 3, 2}, {0, 4, 3}, {3, 0, 4}, {3, 4, 0}};
  for (auto dtype : {tg::kFloat32, tg::kFloat64})
    for (auto [m, k, n] : shapes) check_matmul(random({m, k}, dtype), random({k, n}, dtype));
}

TEST_CASE("matmul with k = 0 gives zeros") {
  Tensor y = kernel::matmul(random({3, 0}), random({0, 2}));
  REQUIRE(y.shape() == Dims{3, 2});
  for (float v : y.to_vector<float>()) CHECK(v == 0.0f);
}

TEST_CASE("transposed views go to GEMM as flags, without a copy") {
  tg::manual_seed(2);
  Tensor a_store = random({5, 4});  // a = a_store^T is [4, 5]
  Tensor b_store = random({3, 5});  // b = b_store^T is [5, 3]
  const auto before = kernel::gemm_stats();
  Tensor y = kernel::matmul(transposed(a_store), transposed(b_store));
  const auto after = kernel::gemm_stats();
  CHECK(after.calls - before.calls == 1);
  CHECK(after.operand_copies == before.operand_copies);
  check_close(y, ref_matmul(ref_of(transposed(a_store)), ref_of(transposed(b_store))), 1e-4);

  // One operand transposed, the other plain.
  Tensor c = random({5, 2});
  const auto before2 = kernel::gemm_stats();
  check_matmul(transposed(a_store), c);
  CHECK(kernel::gemm_stats().operand_copies == before2.operand_copies);
}

TEST_CASE("sliced views: row-strided blocks are read in place, column steps are copied") {
  tg::manual_seed(3);
  Tensor big = random({10, 12});
  // Rows 2..6, columns 3..8: strides (12, 1), usable with lda = 12.
  Tensor block = tg::make_view(big, {5, 6}, {12, 1}, 2 * 12 + 3);
  Tensor b = random({6, 4});
  auto before = kernel::gemm_stats();
  check_matmul(block, b);
  CHECK(kernel::gemm_stats().operand_copies == before.operand_copies);

  // Every other column: stride 2 along the row, which BLAS cannot describe.
  Tensor every_other = tg::make_view(big, {5, 6}, {12, 2}, 0);
  before = kernel::gemm_stats();
  check_matmul(every_other, b);
  CHECK(kernel::gemm_stats().operand_copies == before.operand_copies + 1);

  // A broadcast row (stride 0) is copied too, and still right.
  Tensor row = random({1, 6});
  Tensor expanded = tg::make_view(row, {4, 6}, {0, 1}, 0);
  check_matmul(expanded, b);
  // A single column of `big`: [4, 1] with row stride 12.
  check_matmul(b, tg::make_view(big, {4, 1}, {12, 1}, 5));
}

TEST_CASE("matmul 1-D cases drop the promoted dim") {
  tg::manual_seed(4);
  Tensor v = random({4}), w = random({4}), m = random({4, 3}), n = random({2, 4});
  check_matmul(v, w);
  CHECK(kernel::matmul(v, w).dim() == 0);
  check_matmul(v, m);
  CHECK(kernel::matmul(v, m).shape() == Dims{3});
  check_matmul(n, v);
  CHECK(kernel::matmul(n, v).shape() == Dims{2});
  // Hand-computed: [1, 2, 3] . [4, 5, 6] = 32.
  CHECK(kernel::matmul(tg::tensor({1.0, 2.0, 3.0}), tg::tensor({4.0, 5.0, 6.0})).item<float>() == 32.0f);
  // Strided 1-D operands (every other element).
  Tensor long_v = random({8});
  check_matmul(tg::make_view(long_v, {4}, {2}, 0), w);
  check_matmul(tg::make_view(long_v, {4}, {2}, 1), m);
}

TEST_CASE("batched matmul broadcasts batch dims") {
  tg::manual_seed(5);
  for (auto dtype : {tg::kFloat32, tg::kFloat64}) {
    check_matmul(random({2, 1, 3, 4}, dtype), random({5, 4, 2}, dtype));
    CHECK(kernel::matmul(random({2, 1, 3, 4}), random({5, 4, 2})).shape() == Dims{2, 5, 3, 2});
    check_matmul(random({3, 4}, dtype), random({2, 4, 5}, dtype));
    check_matmul(random({2, 3, 4}, dtype), random({2, 4, 5}, dtype));
    check_matmul(random({4}, dtype), random({2, 4, 5}, dtype));
    check_matmul(random({2, 3, 4}, dtype), random({4}, dtype));
    check_matmul(random({2, 0, 4}, dtype), random({4, 5}, dtype));
    check_matmul(random({0, 3, 4}, dtype), random({1, 4, 5}, dtype));
  }
}

TEST_CASE("a contiguous stack times a matrix is one GEMM") {
  tg::manual_seed(6);
  Tensor a = random({2, 3, 4, 5}), b = random({5, 6});
  auto before = kernel::gemm_stats();
  check_matmul(a, b);
  CHECK(kernel::gemm_stats().calls - before.calls == 1);

  // A stack whose matrices are transposed views cannot fold; it still needs no copy.
  Tensor store = random({2, 5, 4});
  Tensor at = tg::make_view(store, {2, 4, 5}, {20, 1, 4}, 0);
  before = kernel::gemm_stats();
  check_matmul(at, b);
  CHECK(kernel::gemm_stats().calls - before.calls == 2);
  CHECK(kernel::gemm_stats().operand_copies == before.operand_copies);

  // Batches stepping past a gap (a slice of a bigger stack) are not copied either.
  Tensor bigger = random({4, 3, 5});
  Tensor every_other_batch = tg::make_view(bigger, {2, 3, 5}, {30, 5, 1}, 0);
  before = kernel::gemm_stats();
  check_matmul(every_other_batch, random({2, 5, 2}));
  CHECK(kernel::gemm_stats().operand_copies == before.operand_copies);
}

// The matrix of a stack at batch index (i, j): a size-1 batch dim broadcasts.
Tensor matrix_at(const Tensor& t, std::int64_t i, std::int64_t j) {
  return t.select(0, t.size(0) == 1 ? 0 : i).select(0, t.size(1) == 1 ? 0 : j);
}

TEST_CASE("a stack of small products shared out by product over two threads: each product's bits as alone") {
  // batched_product runs a stack of products below 2^23 multiply-adds,
  // 2^20 or more in all, on the team one product per thread (each GEMM on one
  // thread); every product must come out as mm of its two matrices, bit for
  // bit, on one thread or two.
  tg_test::ThreadCountRestore restore;
  tg::manual_seed(7);
  Tensor store = random({64, 40, 32});
  const Tensor stack_t = tg::make_view(store, {4, 16, 32, 40}, {16 * 1280, 1280, 1, 32}, 0);  // transposed matrices
  struct Case {
    Tensor a, b;
  };
  const Case cases[] = {
      {random({4, 1, 32, 40}), random({1, 16, 40, 24})},  // broadcast batch dims
      {random({4, 1, 32, 40}, tg::kFloat64), random({1, 16, 40, 24}, tg::kFloat64)},
      {stack_t, random({4, 16, 40, 24})},  // transposed operands
      {tg::randint(-9, 9, {8, 16, 24, 24}, {.dtype = tg::kInt64}),
       tg::randint(-9, 9, {8, 16, 24, 24}, {.dtype = tg::kInt64})},
  };
  for (const Case& c : cases) {
    INFO("a " << tg::shape_str(c.a.sizes()) << " " << tg::dtype_name(c.a.dtype()) << " b "
              << tg::shape_str(c.b.sizes()));
    const std::int64_t b0 = std::max(c.a.size(0), c.b.size(0)), b1 = std::max(c.a.size(1), c.b.size(1));
    tg::set_num_threads(1);
    std::vector<double> alone;
    for (std::int64_t i = 0; i < b0; ++i)
      for (std::int64_t j = 0; j < b1; ++j) {
        const auto v = Tensor(kernel::mm(matrix_at(c.a, i, j), matrix_at(c.b, i, j))).to_vector<double>();
        alone.insert(alone.end(), v.begin(), v.end());
      }
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      tg::set_num_threads(threads);
      const Tensor out(kernel::matmul(c.a, c.b));
      CHECK(out.shape() == Dims{b0, b1, c.a.size(2), c.b.size(3)});
      CHECK(out.to_vector<double>() == alone);
    }
    check_matmul(c.a, c.b);
  }
}

TEST_CASE("int64 matmul is exact") {
  Tensor a = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = tg::kInt64});
  Tensor b = tg::tensor({7, 8, 9, 10, 11, 12}, {3, 2}, {.dtype = tg::kInt64});
  Tensor y = kernel::matmul(a, b);
  CHECK(y.dtype() == tg::kInt64);
  // [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
  CHECK(y.to_vector<std::int64_t>() == std::vector<std::int64_t>{58, 64, 139, 154});
  CHECK(kernel::matmul(transposed(b), transposed(a)).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{58, 139, 64, 154});
  Tensor v = tg::tensor({1, -2, 3}, {}, {.dtype = tg::kInt64});
  CHECK(kernel::matmul(v, v).item<std::int64_t>() == 14);
  CHECK(kernel::dot(v, v).item<std::int64_t>() == 14);
  Tensor big = tg::randint(-50, 50, {3, 20, 30});
  Tensor w = tg::randint(-50, 50, {30, 7});
  check_close(kernel::matmul(big, w), ref_matmul(ref_of(big), ref_of(w)), 0);
}

TEST_CASE("mm is matmul restricted to matrices") {
  tg::manual_seed(7);
  Tensor a = random({3, 4}), b = random({4, 2});
  check_close(kernel::mm(a, b), ref_matmul(ref_of(a), ref_of(b)), 1e-4);
  CHECK_THROWS_WITH_AS(kernel::mm(random({4}), b), "mm: expected 2-D matrices, got [4] and [4, 2]", tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::mm(a, random({3, 2})), "mm: cannot multiply [3, 4] by [3, 2] (4 != 3)", tg::ShapeError);
}

TEST_CASE("addmm of int64 tensors refuses alpha and beta that int64 cannot hold") {
  // Found by fuzz_tensor_program: an infinite beta was cast to int64,
  // undefined behaviour.
  const Tensor a = tg::tensor({1, 2, 3, 4}, {2, 2}, {.dtype = tg::kInt64});
  CHECK_THROWS_AS(kernel::addmm(a, a, a, INFINITY, 1), tg::ValueError);
  CHECK_THROWS_AS(kernel::addmm(a, a, a, 1, NAN), tg::ValueError);
  CHECK_THROWS_AS(kernel::addmm(a, a, a, 0.5, 1), tg::Error);
  CHECK(kernel::addmm(a, a, a, 1, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{8, 12, 18, 26});
}

TEST_CASE("int64 matrix products wrap modulo 2^64 instead of overflowing") {
  // Found by fuzz_tensor_program: INT64_MIN * -3 overflowed a signed integer in the int64 GEMM.
  const Tensor a = tg::tensor(std::vector<std::int64_t>{INT64_MIN}, {1, 1});
  const Tensor b = tg::tensor(std::vector<std::int64_t>{-3}, {1, 1});
  const auto expected =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(INT64_MIN) * static_cast<std::uint64_t>(-3));
  CHECK(kernel::addmm(tg::zeros({1, 1}, {.dtype = tg::kInt64}), a, b, 1, 1).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{expected});
}

TEST_CASE("addmm: beta * input + alpha * a @ b, input broadcast") {
  // a @ b = [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]] = [[19, 22], [43, 50]]
  Tensor a = tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2}), b = tg::tensor({5.0, 6.0, 7.0, 8.0}, {2, 2});
  Tensor input = tg::tensor({10.0, 20.0});  // a row, broadcast over both rows
  CHECK(kernel::addmm(input, a, b).to_vector<float>() == std::vector<float>{29, 42, 53, 70});
  // 0.5 * input + 2 * (a @ b)
  CHECK(kernel::addmm(input, a, b, 0.5, 2).to_vector<float>() == std::vector<float>{43, 54, 91, 110});
  CHECK(kernel::addmm(tg::tensor({1.0}), a, b).to_vector<float>() == std::vector<float>{20, 23, 44, 51});
  // beta = 0 ignores the input's values, NaN included.
  Tensor nan_input = tg::full({2, 2}, std::numeric_limits<double>::quiet_NaN());
  CHECK(kernel::addmm(nan_input, a, b, 0).to_vector<float>() == std::vector<float>{19, 22, 43, 50});
  // Transposed operands, float64.
  tg::manual_seed(8);
  Tensor x = random({5, 3}, tg::kFloat64), y = random({4, 5}, tg::kFloat64), c = random({3, 4}, tg::kFloat64);
  Tensor got = kernel::addmm(c, transposed(x), transposed(y), 1.5, -0.5);
  Ref want = ref_matmul(ref_of(transposed(x)), ref_of(transposed(y)));
  const auto cv = c.to_vector<double>();
  for (std::size_t i = 0; i < want.v.size(); ++i) want.v[i] = 1.5 * cv[i] - 0.5 * want.v[i];
  check_close(got, want, 1e-12);
  // k = 0: just beta * input.
  CHECK(kernel::addmm(input, random({2, 0}), random({0, 2}), 2).to_vector<float>() ==
        std::vector<float>{20, 40, 20, 40});
}

TEST_CASE("float32 products either side of 2^20 multiply-adds (oneDNN above, OpenBLAS below): every layout") {
  // With libdnnl-dev the GEMM layer sends float32 products of m * n * k >= 2^20
  // to oneDNN's sgemm (core/kernels/blas.cpp); these take both sides of that
  // line through both libraries' flags and leading dimensions.
  tg::manual_seed(11);
  const std::vector<std::array<std::int64_t, 3>> shapes = {
      {64, 256, 64}, {64, 255, 64}, {17, 300, 260}, {1, 1100, 1000}};
  for (auto [m, k, n] : shapes) {
    const Tensor a = random({m, k}), b = random({k, n});
    const Tensor at = random({k, m}), bt = random({n, k});
    check_matmul(a, b);
    check_matmul(transposed(at), b);
    check_matmul(a, transposed(bt));
    check_matmul(transposed(at), transposed(bt));
    // Row-strided blocks of wider matrices: leading dimensions above the rows' lengths.
    const Tensor wide_a = random({m, k + 7}), wide_b = random({k, n + 5});
    check_matmul(wide_a.narrow(1, 3, k), wide_b.narrow(1, 0, n));
    // alpha and beta, then beta = 0 into a C of NaN with a leading dimension past its rows.
    check_scaled_addmm(random({m, n}), transposed(at), b, ref_matmul(ref_of(transposed(at)), ref_of(b)));
    check_gemm_into_nan(m, n, k, a, {false, k}, b, {false, n}, ref_matmul(ref_of(a), ref_of(b)));
  }
}

TEST_CASE("float32 A B^T below oneDNN's line, through a transposed copy of B or not: alpha, beta, ldb, ldc") {
  // core/kernels/blas.cpp multiplies A by a transposed copy of B when k <= 32,
  // n >= 64 or m >= 128 (below 2^20 multiply-adds), and keeps A B^T for
  // OpenBLAS's small kernels otherwise: shapes on each side, B^T's rows
  // strided past k, C's past n, and beta = 0 over a C of NaN.
  tg::manual_seed(13);
  const std::vector<std::array<std::int64_t, 3>> shapes = {{32, 64, 32}, {32, 16, 16},  {130, 10, 64},
                                                           {3, 70, 5},   {32, 32, 128}, {64, 10, 200}};
  for (const auto& shape : shapes) {
    const std::int64_t m = shape[0], n = shape[1], k = shape[2];  // (Clang 14: no structured bindings in CAPTURE)
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    const Tensor a = random({m, k}), bt = random({n, k + 5}).narrow(1, 2, k);  // B^T's rows k + 5 apart
    const Tensor b = transposed(bt);                                           // [k, n]
    check_matmul(a, b);
    const Ref product = ref_matmul(ref_of(a), ref_of(b));
    check_scaled_addmm(random({m, n}), a, b, product);
    check_gemm_into_nan(m, n, k, a, {false, k}, bt, {true, k + 5}, product);
  }
}

TEST_CASE("float32 A B^T, deep, on one and two threads (OpenBLAS under AMD's rules with two): alpha, beta") {
  // core/kernels/blas.cpp sends a deep (k >= 1024) A B^T with m >= 64,
  // n >= 256 and C of at most 2^18 elements to OpenBLAS instead of oneDNN
  // when the team has two threads or more under AMD's rules; the result must
  // not care which library ran. Both vendors' rules, whatever this CPU is.
  struct Restore {
    ~Restore() {
      tg::reset_num_threads();
      tg::detail::gemm_amd_rules = -1;
    }
  } restore;
  tg::manual_seed(12);
  const std::int64_t m = 64, k = 1100, n = 260;
  const Tensor a = random({m, k}), bt = random({n, k}), c = random({m, n});
  const Ref product = ref_matmul(ref_of(a), ref_of(transposed(bt)));
  for (int amd : {0, 1})
    for (int threads : {1, 2}) {
      CAPTURE(amd);
      CAPTURE(threads);
      tg::detail::gemm_amd_rules = amd;
      tg::set_num_threads(threads);
      check_matmul(a, transposed(bt));
      check_scaled_addmm(c, a, transposed(bt), product);
    }
}

TEST_CASE("float32 A^T B with a tall, deep C (computed as its transpose): alpha, beta, ldc") {
  // core/kernels/blas.cpp sends float32 A^T B with m >= 1024, m >= 4n and
  // k >= 1024 (an LSTM's weight gradients) to oneDNN as C^T = B^T A and then
  // transposes C^T into C; below those lines (k = 1000 here) it goes straight
  // to a library. Mismatches are counted, not checked one by one: a quarter
  // of a million elements per shape.
  tg::manual_seed(12);
  const std::vector<std::array<std::int64_t, 3>> shapes = {
      {1024, 1024, 70}, {1100, 1024, 3}, {1024, 1024, 256}, {1024, 1000, 70}};
  for (const auto& shape : shapes) {
    // Named copies, not a structured binding: Clang 14 refuses those in
    // CAPTURE's lambda.
    const std::int64_t m = shape[0], k = shape[1], n = shape[2];
    CAPTURE(m);
    CAPTURE(k);
    CAPTURE(n);
    const Tensor at = random({k, m}), b = random({k, n}), c = random({m, n});
    const Ref want = ref_matmul(ref_of(transposed(at)), ref_of(b));
    // float32 sums of k products of about unit size: errors near sqrt(k) ulps
    // of the terms even where the result cancels to near 0.
    const double slack = std::sqrt(static_cast<double>(k));
    const auto close = [slack](double got, double w) { return std::abs(got - w) <= 1e-4 * (slack + std::abs(w)); };
    // The product, then C = 0.5 C - 2 A^T B.
    const auto plain = kernel::matmul(transposed(at), b).to_vector<double>();
    const auto scaled = kernel::addmm(c, transposed(at), b, 0.5, -2).to_vector<double>();
    const auto cv = c.to_vector<double>();
    REQUIRE(plain.size() == want.v.size());
    REQUIRE(scaled.size() == want.v.size());
    std::int64_t bad_plain = 0, bad_scaled = 0;
    for (std::size_t i = 0; i < want.v.size(); ++i) {
      bad_plain += !close(plain[i], want.v[i]);
      bad_scaled += !close(scaled[i], 0.5 * cv[i] - 2 * want.v[i]);
    }
    CHECK(bad_plain == 0);
    CHECK(bad_scaled == 0);
    // beta = 0 into NaN with a leading dimension past the rows: C is not
    // read, and the padding columns stay untouched.
    const std::int64_t ldc = n + 3;
    std::vector<float> out(static_cast<std::size_t>(m * ldc), std::numeric_limits<float>::quiet_NaN());
    kernel::gemm(tg::kFloat32, m, n, k, 1.0, at.data_ptr<float>(), {true, m}, b.data_ptr<float>(), {false, n}, 0.0,
                 out.data(), ldc);
    std::int64_t bad_out = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < ldc; ++j) {
        const float v = out[static_cast<std::size_t>(i * ldc + j)];
        bad_out += j >= n ? !std::isnan(v) : !close(v, want.v[static_cast<std::size_t>(i * n + j)]);
      }
    CHECK(bad_out == 0);
    // Operands inside wider rows (leading dimensions past m and n), into C
    // with ldc > n and beta != 0 (read): C = 1.5 C - 0.5 A^T B, the padding
    // columns untouched.
    const Tensor wide_a = random({k, m + 5}), wide_b = random({k, n + 2});
    std::vector<float> acc(static_cast<std::size_t>(m * ldc));
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i] = static_cast<float>(i % 13) - 6.0f;
    const std::vector<float> before = acc;
    kernel::gemm(tg::kFloat32, m, n, k, -0.5, wide_a.data_ptr<float>(), {true, m + 5}, wide_b.data_ptr<float>(),
                 {false, n + 2}, 1.5, acc.data(), ldc);
    const Ref strided = ref_matmul(ref_of(transposed(wide_a.narrow(1, 0, m))), ref_of(wide_b.narrow(1, 0, n)));
    std::int64_t bad_acc = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < ldc; ++j) {
        const auto e = static_cast<std::size_t>(i * ldc + j);
        bad_acc += j >= n ? acc[e] != before[e]
                          : !close(acc[e], 1.5 * before[e] - 0.5 * strided.v[static_cast<std::size_t>(i * n + j)]);
      }
    CHECK(bad_acc == 0);
  }
}

TEST_CASE("linear: x @ W^T + b over any leading dims, one GEMM") {
  tg::manual_seed(9);
  for (auto dtype : {tg::kFloat32, tg::kFloat64}) {
    Tensor w = random({4, 3}, dtype), bias = random({4}, dtype);
    for (Dims xs : {Dims{5, 3}, Dims{2, 5, 3}, Dims{3}, Dims{0, 3}}) {
      Tensor x = random(xs, dtype);
      Ref want = ref_matmul(ref_of(x), ref_of(transposed(w)));
      const auto bv = bias.to_vector<double>();
      auto before = kernel::gemm_stats();
      check_close(kernel::linear(x, w), want, tol_for(dtype));
      if (x.numel() > 0) CHECK(kernel::gemm_stats().calls - before.calls == 1);
      CHECK(kernel::gemm_stats().operand_copies == before.operand_copies);
      for (std::size_t i = 0; i < want.v.size(); ++i) want.v[i] += bv[i % 4];
      check_close(kernel::linear(x, w, bias), want, tol_for(dtype));
    }
  }
  // Hand-computed: x = [1, 2], W = [[1, 0], [0, 1], [1, 1]], b = [10, 20, 30] -> [11, 22, 33].
  Tensor y = kernel::linear(tg::tensor({1.0, 2.0}, {1, 2}), tg::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 1.0}, {3, 2}),
                            tg::tensor({10.0, 20.0, 30.0}));
  CHECK(y.to_vector<float>() == std::vector<float>{11, 22, 33});
  // A weight that is itself a transposed view, and an input that needs a copy.
  Tensor w_store = random({3, 4});
  Tensor x = random({6, 3});
  Tensor x_cols = tg::make_view(random({6, 6}), {6, 3}, {6, 2}, 0);
  check_close(kernel::linear(x, transposed(w_store)), ref_matmul(ref_of(x), ref_of(w_store)), 1e-4);
  check_close(kernel::linear(x_cols, transposed(w_store)), ref_matmul(ref_of(x_cols), ref_of(w_store)), 1e-4);
  // in_features = 0: the result is the bias.
  CHECK(kernel::linear(random({2, 0}), random({2, 0}), tg::tensor({1.0, 2.0})).to_vector<float>() ==
        std::vector<float>{1, 2, 1, 2});
}

TEST_CASE("dot and outer") {
  CHECK(kernel::dot(tg::tensor({1.0, 2.0, 3.0}), tg::tensor({4.0, -5.0, 6.0})).item<float>() == 12.0f);
  CHECK(kernel::dot(tg::zeros({0}), tg::zeros({0})).item<float>() == 0.0f);
  Tensor o = kernel::outer(tg::tensor({1.0, 2.0}), tg::tensor({3.0, 4.0, 5.0}));
  CHECK(o.shape() == Dims{2, 3});
  CHECK(o.to_vector<float>() == std::vector<float>{3, 4, 5, 6, 8, 10});
  Tensor strided = tg::make_view(tg::tensor({1.0, 9.0, 2.0, 9.0}), {2}, {2}, 0);
  CHECK(kernel::outer(strided, tg::tensor({3.0, 4.0, 5.0})).to_vector<float>() ==
        std::vector<float>{3, 4, 5, 6, 8, 10});
  CHECK(kernel::dot(strided, tg::tensor({3.0, 4.0})).item<float>() == 11.0f);
}

TEST_CASE("error messages name the op and the shapes or dtypes") {
  CHECK_THROWS_WITH_AS(kernel::matmul(random({32, 784}), random({10, 64})),
                       "matmul: cannot multiply [32, 784] by [10, 64] (784 != 10)", tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::matmul(random({3}), random({4})), "matmul: cannot multiply [3] by [4] (3 != 4)",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::matmul(random({2, 3}), random({4})), "matmul: cannot multiply [2, 3] by [4] (3 != 4)",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::matmul(random({2, 3, 4}), random({3, 4, 5})),
                       "matmul: the batch dimensions of [2, 3, 4] and [3, 4, 5] do not broadcast (2 != 3 at batch "
                       "dim 0)",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::matmul(tg::scalar_tensor(1), random({3})),
                       "matmul: both operands need at least 1 dimension, got [] and [3]", tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::matmul(random({2, 3}), random({3, 2}, tg::kFloat64)),
                       "matmul: both operands must have the same dtype, got float32 [2, 3] and float64 [3, 2]",
                       tg::DTypeError);
  Tensor flags = tg::zeros({2, 2}, {.dtype = tg::kBool});
  CHECK_THROWS_WITH_AS(kernel::matmul(flags, flags), "matmul: expected numeric tensors, got bool", tg::DTypeError);
  CHECK_THROWS_WITH_AS(kernel::addmm(random({3, 5}), random({4, 2}), random({2, 5})),
                       "addmm: input of shape [3, 5] does not broadcast to the product's shape [4, 5] "
                       "([4, 2] @ [2, 5])",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::addmm(random({5}, tg::kFloat64), random({4, 2}), random({2, 5})),
                       "addmm: input is float64 but the matrices are float32", tg::DTypeError);
  CHECK_THROWS_WITH_AS(kernel::addmm(random({5}), random({4, 3}), random({2, 5})),
                       "addmm: cannot multiply [4, 3] by [2, 5] (3 != 2)", tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::linear(random({32, 100}), random({10, 784})),
                       "linear: input has 100 features but the weight expects 784 (input [32, 100], weight [10, 784])",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::linear(random({32, 784}), random({784})),
                       "linear: the weight must be 2-D [out_features, in_features], got [784]", tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::linear(random({32, 784}), random({10, 784}), random({5})),
                       "linear: bias has shape [5] but the weight has 10 output features (weight [10, 784])",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::linear(random({32, 784}, tg::kFloat64), random({10, 784})),
                       "linear: input is float64 but the weight is float32", tg::DTypeError);
  CHECK_THROWS_WITH_AS(kernel::linear(random({32, 784}), random({10, 784}), random({10}, tg::kFloat64)),
                       "linear: bias is float64 but the weight is float32", tg::DTypeError);
  CHECK_THROWS_WITH_AS(kernel::linear(tg::scalar_tensor(1), random({10, 1})), doctest::Contains("0-d"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::dot(random({3}), random({4})), "dot: cannot multiply [3] by [4] (3 != 4)",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::dot(random({3, 1}), random({3})), "dot: expected 1-D vectors, got [3, 1] and [3]",
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(kernel::outer(random({3}), random({2, 2})), "outer: expected 1-D vectors, got [3] and [2, 2]",
                       tg::ShapeError);
  // outer is an elementwise product in PyTorch: mixed dtypes promote, unlike matmul.
  CHECK(kernel::outer(random({3}), random({3}, tg::kFloat64)).dtype() == tg::kFloat64);
}

}  // namespace test_linalg
