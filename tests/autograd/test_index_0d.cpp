// The indexing ops on a 0-d input (x = 5.0) and with 0-d indices, against
// torch 1.13 (tests/reference/index_0d.json, written by make_index_0d.py):
// the result's shape and values, or an error where torch raises one. The cases
// marked "expected_difference" are where torch 1.13 goes past the 0-d tensor
// (PyTorch 2.1 refuses them) and the two that tapegrad refuses by the same
// one-index rule; tapegrad throws there, with the message the case gives.
// Gather and the scatters count a 0-d operand as shape [1] when the ranks
// differ (kernel::zero_d_counts_as_one); those cases also carry torch's
// gradients ("grads").
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/indexing.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>

#include "support/reference.h"

namespace test_index_0d {

namespace {

using tg::Tensor;

Tensor x() { return tg::scalar_tensor(5.0); }
Tensor v() { return tg::tensor({1.0f, 2.0f, 3.0f}); }
Tensor idx(std::vector<std::int64_t> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return tg::tensor(values, {n}, tg::kInt64);
}
Tensor idx0(std::int64_t value) { return tg::scalar_tensor(static_cast<double>(value), tg::kInt64); }
Tensor f0(double value) { return tg::scalar_tensor(value); }
Tensor f1(std::vector<float> values) { return tg::tensor(values); }
Tensor flag(bool value) { return tg::scalar_tensor(value ? 1 : 0, tg::kBool); }

using Call = Tensor (*)();
const std::map<std::string, Call>& calls() {
  static const std::map<std::string, Call> kCalls = {
      {"index_select idx [0]", [] { return tg::index_select(x(), 0, idx({0})); }},
      {"index_select idx 0-d", [] { return tg::index_select(x(), 0, idx0(0)); }},
      {"index_select dim -1", [] { return tg::index_select(x(), -1, idx({0})); }},
      {"index_select idx [0, 0]",
       [] {
         return tg::index_select(x(), 0, idx({0, 0}));
       }},
      {"index_select idx []", [] { return tg::index_select(x(), 0, idx({})); }},
      {"index_select idx [1]", [] { return tg::index_select(x(), 0, idx({1})); }},
      {"index_select dim 1", [] { return tg::index_select(x(), 1, idx({0})); }},
      {"index_select 1-d, idx 0-d", [] { return tg::index_select(v(), 0, idx0(2)); }},
      {"gather idx 0-d", [] { return tg::gather(x(), 0, idx0(0)); }},
      {"gather idx [0]", [] { return tg::gather(x(), 0, idx({0})); }},
      {"gather idx [0, 0]",
       [] {
         return tg::gather(x(), 0, idx({0, 0}));
       }},
      {"gather idx 0-d 1", [] { return tg::gather(x(), 0, idx0(1)); }},
      {"gather 1-d, idx 0-d", [] { return tg::gather(v(), 0, idx0(2)); }},
      {"scatter idx 0-d src 0-d", [] { return tg::scatter(x(), 0, idx0(0), f0(7)); }},
      {"scatter idx [0] src [7]", [] { return tg::scatter(x(), 0, idx({0}), f1({7})); }},
      {"scatter idx 0-d value", [] { return tg::scatter(x(), 0, idx0(0), 7.0); }},
      {"scatter 1-d, idx 0-d value", [] { return tg::scatter(v(), 0, idx0(2), 7.0); }},
      {"scatter_add idx 0-d src 0-d", [] { return tg::scatter_add(x(), 0, idx0(0), f0(7)); }},
      {"scatter_reduce sum idx 0-d src 0-d", [] { return tg::scatter_reduce(x(), 0, idx0(0), f0(7), "sum"); }},
      {"index_add idx 0-d src 0-d", [] { return tg::index_add(x(), 0, idx0(0), f0(7)); }},
      {"index_add idx [0] src 0-d", [] { return tg::index_add(x(), 0, idx({0}), f0(7)); }},
      {"index_add idx [0] src [7]", [] { return tg::index_add(x(), 0, idx({0}), f1({7})); }},
      {"index_add idx [0, 0] src [7, 8]",
       [] {
         return tg::index_add(x(), 0, idx({0, 0}), f1({7, 8}));
       }},
      {"index_copy idx [0, 0] src [7, 8]",
       [] {
         return tg::index_copy(x(), 0, idx({0, 0}), f1({7, 8}));
       }},
      {"index_add 1-d, idx 0-d src [7]", [] { return tg::index_add(v(), 0, idx0(2), f1({7})); }},
      {"index_fill idx 0-d", [] { return tg::index_fill(x(), 0, idx0(0), 7.0); }},
      {"index_fill idx [0]", [] { return tg::index_fill(x(), 0, idx({0}), 7.0); }},
      {"index_fill idx [0, 0]",
       [] {
         return tg::index_fill(x(), 0, idx({0, 0}), 7.0);
       }},
      {"index_fill idx [1]", [] { return tg::index_fill(x(), 0, idx({1}), 7.0); }},
      {"index_fill 1-d, idx 0-d", [] { return tg::index_fill(v(), 0, idx0(2), 7.0); }},
      {"index_copy idx 0-d src 0-d", [] { return tg::index_copy(x(), 0, idx0(0), f0(7)); }},
      {"index_copy idx [0] src [7]", [] { return tg::index_copy(x(), 0, idx({0}), f1({7})); }},
      {"index_copy idx [0] src 0-d", [] { return tg::index_copy(x(), 0, idx({0}), f0(7)); }},
      {"index_copy 1-d, idx 0-d src [7]", [] { return tg::index_copy(v(), 0, idx0(2), f1({7})); }},
      {"masked_select mask 0-d true", [] { return tg::masked_select(x(), flag(true)); }},
      {"masked_select mask 0-d false", [] { return tg::masked_select(x(), flag(false)); }},
      {"masked_select mask [true, false]",
       [] {
         return tg::masked_select(x(), tg::tensor({true, false}));
       }},
      {"masked_select 1-d, mask 0-d", [] { return tg::masked_select(v(), flag(true)); }},
      {"masked_fill mask 0-d", [] { return tg::masked_fill(x(), flag(true), 7.0); }},
      {"gather idx [[0]]",
       [] {
         return tg::gather(x(), 0, tg::tensor({0}, {1, 1}, tg::kInt64));
       }},
      {"gather 2-d, idx 0-d",
       [] {
         return tg::gather(v().reshape({1, 3}), 1, idx0(2));
       }},
      {"scatter idx [0] src 0-d", [] { return tg::scatter(x(), 0, idx({0}), f0(7)); }},
      {"scatter 2-d, idx 0-d value",
       [] {
         return tg::scatter(v().reshape({1, 3}), 1, idx0(2), 7.0);
       }},
      {"scatter_add idx [0] src [7]", [] { return tg::scatter_add(x(), 0, idx({0}), f1({7})); }},
      {"scatter_add idx 0-d src [7, 8]",
       [] {
         return tg::scatter_add(x(), 0, idx0(0), f1({7, 8}));
       }},
      {"scatter_add 1-d, idx 0-d src 0-d", [] { return tg::scatter_add(v(), 0, idx0(2), f0(7)); }},
      {"scatter_reduce amax idx [0, 0] src [7, 8]",
       [] {
         return tg::scatter_reduce(x(), 0, idx({0, 0}), f1({7, 8}), "amax");
       }},
      {"scatter_reduce prod 1-d, idx 0-d src 0-d", [] { return tg::scatter_reduce(v(), 0, idx0(1), f0(4), "prod"); }},
      {"scatter_reduce mean idx [0] src [7], not self",
       [] { return tg::scatter_reduce(x(), 0, idx({0}), f1({7}), "mean", false); }},
  };
  return kCalls;
}

const nlohmann::json& cases() { return tg_test::reference_file("index_0d.json").at("cases"); }

}  // namespace

TEST_CASE("index ops on 0-d: every reference case has a call here and every call a case") {
  for (const auto& item : cases().items()) CHECK_MESSAGE(calls().contains(item.key()), "no call for " << item.key());
  for (const auto& entry : calls()) CHECK_MESSAGE(cases().contains(entry.first), "no case for " << entry.first);
}

TEST_CASE("index ops on 0-d inputs and with 0-d indices give torch 1.13's results and errors") {
  int differences = 0;
  for (const auto& entry : calls()) {
    const std::string name = entry.first;
    CAPTURE(name);
    REQUIRE(cases().contains(name));
    const auto& want = cases().at(name);
    if (want.contains("expected_difference")) ++differences;
    if (want.contains("error")) {
      std::string message;
      try {
        (void)entry.second();
      } catch (const tg::Error& e) {
        message = e.what();
      }
      CHECK_MESSAGE(!message.empty(), "returned, torch raises: " << want.at("error").get<std::string>());
      // A message of tapegrad's own (expected differences) is checked word for word.
      if (want.contains("expected_difference")) CHECK(message.starts_with(want.at("error").get<std::string>()));
      continue;
    }
    Tensor y;
    try {
      y = entry.second();
    } catch (const tg::Error& e) {
      FAIL_CHECK("threw, torch returns shape " << want.at("shape").dump() << ": " << std::string(e.what()));
      continue;
    }
    CHECK(y.shape() == tg::Dims(want.at("shape").get<std::vector<std::int64_t>>()));
    CHECK(y.to(tg::kFloat64).to_vector<double>() == want.at("values").get<std::vector<double>>());
  }
  CHECK(differences == 4);
}

TEST_CASE("index ops on 0-d: the errors are tapegrad's kinds, naming the op") {
  CHECK_THROWS_WITH_AS(tg::index_select(x(), 0, idx({0, 0})),
                       "index_select: a 0-d input takes exactly one index, got 2", tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::index_select(x(), 0, idx({1})), doctest::Contains("index_select"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::index_select(x(), 1, idx({0})), doctest::Contains("index_select"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::gather(x(), 0, idx0(1)), doctest::Contains("gather"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::index_fill(x(), 0, idx({1}), 7.0), doctest::Contains("index_fill"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::index_add(x(), 0, idx({0, 0}), f1({7, 8})), doctest::Contains("index_add"), tg::ShapeError);
}

TEST_CASE("index ops on 0-d: gradients flow back to the 0-d input and source") {
  const Tensor a = tg::scalar_tensor(5.0, tg::kFloat64).set_requires_grad(true);
  const Tensor s = tg::scalar_tensor(7.0, tg::kFloat64).set_requires_grad(true);
  Tensor y = tg::index_select(a, 0, idx({0})) * 3 + tg::gather(a, 0, idx0(0)) + tg::index_add(a, 0, idx0(0), s, 2.0) +
             tg::masked_select(a, flag(true)).sum();
  y.backward();
  CHECK(a.grad().shape() == tg::Dims{});
  CHECK(a.grad().item<double>() == 3 + 1 + 1 + 1);  // index_add: dx = dy (alpha scales src)
  CHECK(s.grad().shape() == tg::Dims{});
  CHECK(s.grad().item<double>() == 2);
}

// The calls whose operands mix a 0-d tensor with a 1-d one, on float64 leaves
// (x or v first, then src), for torch's gradients and gradcheck.
using Leaves = std::vector<Tensor>;
struct GradCall {
  Leaves (*inputs)();
  Tensor (*fn)(const Leaves&);
};
Tensor f64(Tensor t) { return t.to(tg::kFloat64).set_requires_grad(true); }
const std::map<std::string, GradCall>& grad_calls() {
  static const std::map<std::string, GradCall> kCalls = {
      {"gather idx [0, 0]",
       {[] { return Leaves{f64(x())}; },
        [](const Leaves& a) {
          return tg::gather(a[0], 0, idx({0, 0}));
        }}},
      {"gather 1-d, idx 0-d",
       {[] { return Leaves{f64(v())}; }, [](const Leaves& a) { return tg::gather(a[0], 0, idx0(2)); }}},
      {"scatter idx [0] src [7]",
       {[] {
          return Leaves{f64(x()), f64(f1({7}))};
        },
        [](const Leaves& a) { return tg::scatter(a[0], 0, idx({0}), a[1]); }}},
      {"scatter_add 1-d, idx 0-d src 0-d",
       {[] {
          return Leaves{f64(v()), f64(f0(7))};
        },
        [](const Leaves& a) { return tg::scatter_add(a[0], 0, idx0(2), a[1]); }}},
      {"scatter_reduce amax idx [0, 0] src [7, 8]",
       {[] {
          return Leaves{f64(x()), f64(f1({7, 8}))};
        },
        [](const Leaves& a) {
          return tg::scatter_reduce(a[0], 0, idx({0, 0}), a[1], "amax");
        }}},
      {"scatter_reduce prod 1-d, idx 0-d src 0-d",
       {[] {
          return Leaves{f64(v()), f64(f0(4))};
        },
        [](const Leaves& a) { return tg::scatter_reduce(a[0], 0, idx0(1), a[1], "prod"); }}},
  };
  return kCalls;
}

TEST_CASE("gather and scatter with a 0-d operand among 1-d ones: torch's gradients, gradcheck, gradgradcheck") {
  int with_grads = 0;
  for (const auto& item : cases().items())
    if (item.value().contains("grads")) {
      ++with_grads;
      CHECK_MESSAGE(grad_calls().contains(item.key()), "no gradient call for " << item.key());
    }
  CHECK(with_grads == static_cast<int>(grad_calls().size()));
  for (const auto& entry : grad_calls()) {
    const std::string name = entry.first;
    CAPTURE(name);
    const auto& want = cases().at(name).at("grads");
    const Leaves leaves = entry.second.inputs();
    const Tensor y = entry.second.fn(leaves);
    (y * tg::arange(1.0, static_cast<double>(y.numel()) + 1, 1.0, tg::kFloat64).reshape(y.shape())).sum().backward();
    REQUIRE(want.size() == leaves.size());
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      CHECK(leaves[i].grad().shape() == tg::Dims(want[i].at("shape").get<std::vector<std::int64_t>>()));
      CHECK(leaves[i].grad().to_vector<double>() == want[i].at("values").get<std::vector<double>>());
    }
    // Away from amax's ties and prod's zeros, finite differences agree too, to the second order.
    const auto fn = entry.second.fn;
    const auto call = [fn](const std::vector<Tensor>& in) { return fn(in); };
    CHECK(tg::gradcheck(call, entry.second.inputs()));
    CHECK(tg::gradgradcheck(call, entry.second.inputs()));
  }
}

TEST_CASE("scatter_add into a 0-d input from a longer src: the gradient has src's shape (derived by hand)") {
  // y = x + src[0] (index 0-d counts as [1]: only src's first element is read).
  // dy/dx = 1;  dy/dsrc = [1, 0]. torch 1.13's backward returns a 0-d gradient for src here and fails.
  const Tensor a = f64(x()), s = f64(f1({7, 8}));
  const Tensor y = tg::scatter_add(a, 0, idx0(0), s);
  CHECK(y.shape() == tg::Dims{});
  CHECK(y.item<double>() == 12);
  y.backward();
  CHECK(a.grad().shape() == tg::Dims{});
  CHECK(a.grad().item<double>() == 1);
  CHECK(s.grad().to_vector<double>() == std::vector<double>{1, 0});
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return tg::scatter_add(in[0], 0, idx0(0), in[1]); },
                      {f64(x()), f64(f1({7, 8}))}));
}

TEST_CASE("gather and scatter on 0-d: ranks that disagree even counting 0-d as [1] name the original shapes") {
  CHECK_THROWS_WITH_AS(tg::gather(x(), 0, tg::tensor({0}, {1, 1}, tg::kInt64)),
                       doctest::Contains("gather: index of shape [1, 1] and input of shape []"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::scatter_add(v().reshape({1, 3}), 1, idx0(2), f0(7)),
                       doctest::Contains("scatter_add: self [1, 3], index [] and src []"), tg::ShapeError);
}

}  // namespace test_index_0d
