// The small modules: Linear, the activations, Flatten, Identity, Dropout and
// Embedding — forward on hand-computed values, float64 gradient checks, and
// their options, errors and printing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/kernels/dropout.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/activation.h>
#include <tapegrad/nn/dropout.h>
#include <tapegrad/nn/embedding.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/linear.h>

#include "support/close.h"

namespace test_layers {

namespace F = tg::nn::functional;
using tg::Tensor;

namespace {

Tensor randn64(tg::Dims shape) { return tg::randn(shape, {.dtype = tg::kFloat64, .requires_grad = true}); }

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-6) {
  tg_test::check_close(got, want, tol);
}

// The module's gradient with respect to its input, in float64.
bool input_gradcheck(tg::nn::Module& m, tg::Dims shape) {
  return tg::gradcheck([&m](const std::vector<Tensor>& v) { return m(v[0]); }, {randn64(shape)});
}

}  // namespace

TEST_CASE("Linear: forward by hand, gradients, and one GEMM each way") {
  tg::nn::Linear fc(3, 2);
  {
    tg::NoGradGuard no_grad;
    fc.weight.copy_(tg::tensor({1.0, 2.0, 3.0, -1.0, 0.0, 1.0}, {2, 3}));
    fc.bias.copy_(tg::tensor({0.5, -0.5}));
  }
  // [1, 1, 1] -> [1+2+3+0.5, -1+0+1-0.5]; [2, 0, -1] -> [2-3+0.5, -2-1-0.5].
  Tensor y = fc(tg::tensor({1.0, 1.0, 1.0, 2.0, 0.0, -1.0}, {2, 3}));
  CHECK(y.to_vector<double>() == std::vector<double>{6.5, -0.5, -0.5, -3.5});
  CHECK(fc.repr() == "Linear(in_features=3, out_features=2, bias=True)");

  // Forward: one GEMM. Backward: dx and dW one GEMM each, db a reduction; no
  // operand copies. (A dense output gradient: sum()'s would be a stride-0
  // broadcast, which BLAS cannot read without a copy.)
  Tensor x = tg::randn({4, 3}, {.requires_grad = true});
  Tensor dy = tg::randn({4, 2});
  const auto before = tg::kernel::gemm_stats();
  Tensor out = fc(x);
  CHECK(tg::kernel::gemm_stats().calls - before.calls == 1);
  out.backward(dy);
  CHECK(tg::kernel::gemm_stats().calls - before.calls == 3);
  CHECK(tg::kernel::gemm_stats().operand_copies == before.operand_copies);
  CHECK(tg::allclose(fc.bias.grad(), dy.sum({0})));
  CHECK(tg::allclose(x.grad(), tg::matmul(dy, fc.weight.detach())));

  // In float64 through gradcheck: input and parameters (through the functional form).
  fc.to(tg::kFloat64);
  CHECK(input_gradcheck(fc, {5, 3}));
  CHECK(tg::gradcheck([](const std::vector<Tensor>& v) { return F::linear(v[0], v[1], v[2]); },
                      {randn64({2, 4, 3}), randn64({2, 3}), randn64({2})}));
}

TEST_CASE("Linear: options, initialisation bounds and the wrong-width message") {
  tg::manual_seed(31);
  tg::nn::Linear a(784, 32, /*bias=*/false), b(784, 32, {.bias = false});
  CHECK_FALSE(a.bias.defined());
  CHECK_FALSE(b.bias.defined());
  CHECK(a.parameters().size() == 1);
  CHECK(a.repr() == "Linear(in_features=784, out_features=32, bias=False)");

  // weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)): bounds reached, variance bound^2 / 3.
  tg::nn::Linear big(400, 300);
  const double bound = 1.0 / 20.0;
  CHECK(big.weight.abs().max().item<double>() <= bound);
  CHECK(big.weight.abs().max().item<double>() > 0.99 * bound);
  CHECK(std::abs(big.weight.var().item<double>() / (bound * bound / 3) - 1) < 0.03);
  CHECK(big.bias.abs().max().item<double>() <= bound);

  CHECK_THROWS_WITH_AS(a(tg::randn({32, 100})),
                       doctest::Contains("Linear: expected input with 784 features, got 100 (input shape [32, 100])"),
                       tg::ShapeError);
}

TEST_CASE("activation modules: hand-computed values and gradients") {
  Tensor x = tg::tensor({-2, -0.5, 0, 1.5});
  tg::nn::ReLU relu;
  tg::nn::LeakyReLU leaky(0.1);
  tg::nn::GELU gelu;
  tg::nn::Sigmoid sigmoid;
  tg::nn::Tanh tanh_m;
  check_close(relu(x).to_vector<double>(), {0, 0, 0, 1.5});
  check_close(leaky(x).to_vector<double>(), {-0.2, -0.05, 0, 1.5});
  // gelu(x) = x * Phi(x); Phi(1.5) = 0.9331928, Phi(-2) = 0.0227501, Phi(-0.5) = 0.3085375.
  check_close(gelu(x).to_vector<double>(), {-2 * 0.0227501, -0.5 * 0.3085375, 0, 1.5 * 0.9331928}, 1e-5);
  check_close(sigmoid(x).to_vector<double>(),
              {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)), 0.5, 1 / (1 + std::exp(-1.5))});
  check_close(tanh_m(x).to_vector<double>(), {std::tanh(-2.0), std::tanh(-0.5), 0, std::tanh(1.5)});

  // Softmax over dim 1 of [[0, ln 3], [ln 2, ln 2]]: [[1/4, 3/4], [1/2, 1/2]].
  Tensor z = tg::tensor({0, std::log(3.0), std::log(2.0), std::log(2.0)}, {2, 2});
  tg::nn::Softmax softmax(1);
  tg::nn::LogSoftmax log_softmax(1);
  check_close(softmax(z).to_vector<double>(), {0.25, 0.75, 0.5, 0.5});
  check_close(log_softmax(z).to_vector<double>(), {std::log(0.25), std::log(0.75), std::log(0.5), std::log(0.5)});

  CHECK(relu.repr() == "ReLU()");
  CHECK(leaky.repr() == "LeakyReLU(negative_slope=0.1)");
  CHECK(gelu.repr() == "GELU(approximate='none')");
  CHECK(softmax.repr() == "Softmax(dim=1)");
  CHECK(log_softmax.repr() == "LogSoftmax(dim=1)");

  // Away from relu's kink at 0 (randn never lands on it).
  tg::manual_seed(32);
  for (tg::nn::Module* m :
       std::vector<tg::nn::Module*>{&relu, &leaky, &gelu, &sigmoid, &tanh_m, &softmax, &log_softmax}) {
    CAPTURE(m->repr());
    CHECK(input_gradcheck(*m, {3, 4}));
  }
}

TEST_CASE("Flatten and Identity") {
  tg::nn::Flatten flatten;
  tg::nn::Flatten inner(1, 2);
  tg::nn::Identity identity;
  Tensor x = tg::randn({2, 3, 4, 5});
  CHECK(flatten(x).shape() == tg::Dims{2, 60});
  CHECK(inner(x).shape() == tg::Dims{2, 12, 5});
  CHECK(identity(x).is_same(x));
  CHECK(flatten.repr() == "Flatten(start_dim=1, end_dim=-1)");
  CHECK(identity.repr() == "Identity()");
  CHECK(input_gradcheck(flatten, {2, 3, 2}));
}

TEST_CASE("dropout: masks compare 32-bit draws as integers, two per generator word, low half first") {
  // dropout_threshold(p) turns `draw * 2^-32 < p` into `draw < threshold`:
  // the same decision for every draw, at the edges around the threshold too.
  constexpr std::uint64_t kDraws = std::uint64_t{1} << 32;
  for (const double p : {0.0, 1e-300, 0x1p-33, 0x1p-32, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.7, 0.9999999999999999, 1.0}) {
    CAPTURE(p);
    const std::uint64_t t = tg::kernel::dropout_threshold(p);
    CHECK(t <= kDraws);
    for (const std::uint64_t d : {std::uint64_t{0}, t == 0 ? 0 : t - 1, t, t + 1, kDraws - 1}) {
      if (d >= kDraws) continue;
      CHECK((static_cast<double>(d) * 0x1.0p-32 < p) == (d < t));
    }
  }
  // The mask itself, odd and even lengths: each word of a copy of the
  // generator decides two elements, its low 32 bits first.
  // Lengths around the kernel's chunks of 512 draws; both dtypes; p = 1.
  for (const tg::DType dt : {tg::kFloat64, tg::kFloat32, tg::kBFloat16})
    for (const double p : {0.3, 1.0})
      for (const std::int64_t n : {1, 2, 511, 512, 513, 1025, 4999, 5000}) {
        CAPTURE(tg::dtype_name(dt));
        CAPTURE(p);
        CAPTURE(n);
        tg::Generator gen(1234), copy(1234);
        const auto mask = F::dropout(tg::ones({n}, {.dtype = dt}), p, true, &gen).to(tg::kFloat64).to_vector<double>();
        std::uint64_t word = 0;
        std::int64_t wrong = 0;
        for (std::size_t i = 0; i < mask.size(); ++i) {
          if (i % 2 == 0) word = copy.next_u64();
          const std::uint64_t draw = i % 2 == 0 ? word & 0xFFFFFFFFu : word >> 32;
          const bool dropped = static_cast<double>(draw) * 0x1.0p-32 < p;
          if ((mask[i] == 0) != dropped || (!dropped && std::abs(mask[i] - 1 / (1 - p)) > 1e-2)) ++wrong;
        }
        CHECK(wrong == 0);
        // The generator moved by one word per two elements, no more.
        CHECK(gen.next_u64() == copy.next_u64());
      }
}

TEST_CASE("dropout: the one-pass forward gives x times the mask, bit for bit, as mask then mul") {
  // dropout_apply multiplies each chunk of the mask into x while drawing it;
  // the values must be those of dropout_mask and mul (subnormal products
  // flushed as mul flushes them, NaN and infinities kept), in any layout.
  for (const tg::DType dt : {tg::kFloat32, tg::kFloat64})
    for (const std::int64_t n : {1, 16, 17, 511, 512, 513, 5000})
      for (const bool strided : {false, true}) {
        CAPTURE(tg::dtype_name(dt));
        CAPTURE(n);
        CAPTURE(strided);
        tg::manual_seed(static_cast<std::uint64_t>(n));
        Tensor base = tg::randn({2 * n}, {.dtype = dt}) * 1e-37;  // some products are subnormal
        const std::int64_t specials = std::min<std::int64_t>(3, 2 * n);
        base.index_put_({tg::indexing::Slice(0, specials)},
                        tg::tensor({std::nan(""), INFINITY, -0.0}).to(dt).narrow(0, 0, specials));
        const Tensor x = strided ? base.slice(0, 0, 2 * n, 2) : base.slice(0, 0, n);
        tg::Generator gen(77), copy(77);
        const Tensor y = F::dropout(x, 0.25, true, &gen);
        const Tensor mask = tg::kernel::dropout_mask(x, 0.25, copy);
        const Tensor want = tg::mul(x, mask);
        const auto got_v = y.to(tg::kFloat64).to_vector<double>(), want_v = want.to(tg::kFloat64).to_vector<double>();
        std::int64_t wrong = 0;
        for (std::size_t i = 0; i < got_v.size(); ++i)
          if (std::memcmp(&got_v[i], &want_v[i], sizeof(double)) != 0 &&
              !(std::isnan(got_v[i]) && std::isnan(want_v[i])))
            ++wrong;
        CHECK(wrong == 0);
        CHECK(gen.next_u64() == copy.next_u64());  // the same words taken
      }
}

TEST_CASE("dropout: hashed multipliers give draw k from word k / 2 wherever a row starts and ends") {
  // What the fused attention draws per tile row must equal what the whole
  // mask draws at the same indices (attention_dropout_mask), for rows that
  // start or end at odd indices.
  const std::uint64_t seed = 0x0123456789ABCDEFULL;
  const double p = 0.45;
  const std::uint64_t t = tg::kernel::dropout_threshold(p);
  const double keep = 1 / (1 - p);
  std::vector<double> whole(1001);  // past the kernel's chunks of 256 draws
  tg::kernel::hashed_dropout_multipliers(seed, 0, 1001, t, keep, whole.data());
  std::vector<float> whole_f(1001);
  tg::kernel::hashed_dropout_multipliers(seed, 0, 1001, t, static_cast<float>(keep), whole_f.data());
  for (std::size_t k = 0; k < whole.size(); ++k) CHECK(whole_f[k] == static_cast<float>(whole[k]));
  std::int64_t dropped = 0;
  for (std::size_t k = 0; k < whole.size(); ++k) {
    const std::uint64_t w = tg::kernel::hashed_word(seed, k / 2);
    const std::uint64_t draw = k % 2 == 0 ? w & 0xFFFFFFFFu : w >> 32;
    CHECK(whole[k] == (draw < t ? 0.0 : keep));
    dropped += whole[k] == 0 ? 1 : 0;
  }
  CHECK(dropped > 300);
  CHECK(dropped < 600);
  for (std::uint64_t first = 0; first < 6; ++first)
    for (std::int64_t n = 0; n <= 7; ++n) {
      CAPTURE(first);
      CAPTURE(n);
      std::vector<double> row(8, -1.0);
      tg::kernel::hashed_dropout_multipliers(seed, first, n, t, keep, row.data());
      for (std::int64_t i = 0; i < n; ++i)
        CHECK(row[static_cast<std::size_t>(i)] == whole[first + static_cast<std::size_t>(i)]);
      CHECK(row[static_cast<std::size_t>(n)] == -1.0);  // nothing written past the row
    }
}

TEST_CASE("dropout: keep rate, scaling, seeding, train vs eval, gradient") {
  tg::manual_seed(33);
  const double p = 0.3;
  Tensor x = tg::ones({100000});
  Tensor y = F::dropout(x, p, /*training=*/true);
  const auto v = y.to_vector<double>();
  std::int64_t kept = 0;
  bool scaled = true;
  for (double e : v) {
    if (e != 0) ++kept;
    scaled = scaled && (e == 0 || std::abs(e - 1 / (1 - p)) < 1e-6);
  }
  CHECK(scaled);
  // Binomial(1e5, 0.7): standard deviation 145, so 0.7 +- 0.006 is over 4 of them.
  CHECK(std::abs(static_cast<double>(kept) / 1e5 - 0.7) < 0.006);

  // Same seed, same mask; an explicit generator is independent of the default one.
  tg::manual_seed(7);
  Tensor a = F::dropout(x, 0.5);
  tg::manual_seed(7);
  Tensor b = F::dropout(x, 0.5);
  CHECK(tg::equal(a, b));
  tg::Generator g1(99), g2(99);
  CHECK(tg::equal(F::dropout(x, 0.5, true, &g1), F::dropout(x, 0.5, true, &g2)));

  // The gradient is the same mask: dy * mask.
  Tensor xs = tg::randn({1000}, {.requires_grad = true});
  Tensor ys = F::dropout(xs, 0.5);
  ys.sum().backward();
  CHECK(tg::allclose(xs.grad(), ys / xs.detach()));

  // Eval (and p == 0) return the input itself; p == 1 zeroes everything.
  tg::nn::Dropout drop(0.5);
  CHECK(drop.repr() == "Dropout(p=0.5, inplace=False)");
  drop.eval();
  CHECK(drop(x).is_same(x));
  drop.train();
  CHECK_FALSE(tg::equal(drop(x), x));
  CHECK(F::dropout(x, 0.0).is_same(x));
  CHECK(F::dropout(x, 1.0).abs().sum().item<double>() == 0);
  CHECK_THROWS_WITH_AS(tg::nn::Dropout(1.5), doctest::Contains("between 0 and 1, but got 1.5"), tg::ValueError);
  CHECK_THROWS_WITH_AS(F::dropout(x, -0.1), doctest::Contains("dropout: probability"), tg::ValueError);
}

TEST_CASE("embedding: lookup, gradient accumulation, padding_idx") {
  tg::nn::Embedding emb(4, 2, /*padding_idx=*/0);
  CHECK(emb.weight.select(0, 0).abs().sum().item<double>() == 0);  // padding row starts at zero
  CHECK(emb.repr() == "Embedding(4, 2, padding_idx=0)");
  {
    tg::NoGradGuard no_grad;
    emb.weight.copy_(tg::tensor({0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {4, 2}));
  }
  Tensor idx = tg::tensor(std::vector<std::int64_t>{1, 3, 0, 1}, {2, 2});
  Tensor y = emb(idx);
  CHECK(y.shape() == tg::Dims{2, 2, 2});
  CHECK(y.to_vector<double>() == std::vector<double>{1, 2, 5, 6, 0, 0, 1, 2});
  // d sum(y * w) / dW: row 1 gets two rows of w, row 3 one, the padding row nothing.
  Tensor w = tg::arange(8.0).reshape({2, 2, 2});
  (y * w).sum().backward();
  CHECK(emb.weight.grad().to_vector<double>() == std::vector<double>{0, 0, 0 + 6, 1 + 7, 0, 0, 2, 3});

  // Negative padding_idx counts from the end; out-of-range indices name the table size.
  tg::nn::Embedding e2(5, 3, -1);
  CHECK(*e2.padding_idx == 4);
  CHECK_THROWS_WITH_AS(e2(tg::tensor(std::vector<std::int64_t>{0, 5})),
                       doctest::Contains("embedding: index 5 is out of range for 5 embeddings"), tg::IndexError);
  CHECK_THROWS_WITH_AS(e2(tg::tensor({0.0, 1.0})), doctest::Contains("indices must be int64 or int32, got float32"),
                       tg::DTypeError);
  // int32 indices (PyTorch's IntTensor) look up the same rows.
  const Tensor i64 = tg::tensor(std::vector<std::int64_t>{3, 0, 4, 3}, {2, 2});
  CHECK(tg::equal(e2(i64), e2(i64.to(tg::kInt32))));
  CHECK_THROWS_WITH_AS(e2(tg::tensor(std::vector<std::int64_t>{0, 5}).to(tg::kInt32)),
                       doctest::Contains("embedding: index 5 is out of range"), tg::IndexError);

  // float64 gradient checks, first and second order, with and without padding.
  tg::manual_seed(34);
  Tensor table = randn64({5, 3});
  // The shifted indices never read row 0, so padding_idx 0 leaves the true
  // gradient unchanged while the masking still runs.
  const Tensor shifted = tg::add(idx, 1.0);
  for (std::optional<std::int64_t> pad : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{0}}) {
    auto fn = [&shifted, pad](const std::vector<Tensor>& v) { return F::embedding(shifted, v[0], pad).pow(2.0); };
    CHECK(tg::gradcheck(fn, {table}));
    CHECK(tg::gradgradcheck(fn, {table}));
  }
}

}  // namespace test_layers
