// The TensorBase / Tensor split (docs/architecture.md): core's handle has no
// op methods, users' Tensor has them all and takes any kernel result, the
// user-facing creation functions apply requires_grad, and printing reads
// autograd state through core's AutogradMetaBase interface.
#include <doctest/doctest.h>

#include <concepts>
#include <string>
#include <type_traits>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/print.h>

namespace test_tensor_split {

using tg::Tensor;
using tg::TensorBase;

// Core's handle computes nothing itself: every op goes through a kernel or,
// with recording, through Tensor.
template <class T>
concept HasRelu = requires(const T& t) {
  t.relu();
};
template <class T>
concept HasSum = requires(const T& t) {
  t.sum();
};
template <class T>
concept HasContiguous = requires(const T& t) {
  t.contiguous();
};
template <class T>
concept HasSetRequiresGrad = requires(T& t) {
  t.set_requires_grad(true);
};
static_assert(!HasRelu<TensorBase> && !HasSum<TensorBase> && !HasContiguous<TensorBase>);
static_assert(!HasSetRequiresGrad<TensorBase>);
static_assert(HasRelu<Tensor> && HasSum<Tensor> && HasContiguous<Tensor> && HasSetRequiresGrad<Tensor>);
// A kernel's result becomes a Tensor without a cast, and a Tensor is a TensorBase.
static_assert(std::is_convertible_v<TensorBase, Tensor>);
static_assert(std::is_convertible_v<const Tensor&, const TensorBase&>);
// mutable_grad hands out write access, so only a non-const handle gives it
// (it was `Tensor& mutable_grad() const`).
template <class T>
concept HasMutableGrad = requires(T& t) {
  { t.mutable_grad() } -> std::same_as<Tensor&>;
};
static_assert(HasMutableGrad<Tensor> && !HasMutableGrad<const Tensor>);

TEST_CASE("tensor split: a kernel result is a Tensor with the method syntax") {
  const Tensor x = tg::tensor({-1.0, 2.0, -3.0, 4.0});
  Tensor y = tg::kernel::relu(x);
  CHECK(y.sum().item<float>() == 6.0f);
  CHECK_FALSE(y.requires_grad());
  // A Tensor passes wherever core takes a TensorBase, and keeps its history.
  const Tensor w = tg::tensor({1, 2, 3, 4}, {}, {.requires_grad = true});
  const Tensor z = w * 2;
  CHECK(tg::kernel::sum(z, tg::Dims{0}, false).item<float>() == 20.0f);
  CHECK(z.grad_fn_name() == "mul");
}

TEST_CASE("tensor split: the user-facing creation functions apply requires_grad, core's do not") {
  const tg::TensorOptions rg{.dtype = tg::kFloat64, .requires_grad = true};
  const std::vector<Tensor> made = {tg::empty({2}, rg),         tg::zeros({2}, rg),        tg::ones({2}, rg),
                                    tg::full({2}, 3, rg),       tg::scalar_tensor(1, rg),  tg::arange(3, rg),
                                    tg::arange(0, 3, 1, rg),    tg::linspace(0, 1, 3, rg), tg::eye(2, {}, rg),
                                    tg::tensor({1, 2}, {}, rg), tg::rand({2}, rg),         tg::randn({2}, rg)};
  for (const Tensor& t : made) {
    CHECK(t.requires_grad());
    CHECK(t.is_leaf());
    CHECK(t.dtype() == tg::kFloat64);
  }
  CHECK_FALSE(tg::zeros({2}).requires_grad());
  // Core makes the data only: no autograd state at all.
  CHECK(tg::kernel::zeros({2}, rg).impl()->autograd == nullptr);
  CHECK(tg::kernel::randn({2}, rg).impl()->autograd == nullptr);
  // Integers cannot require grad: the user-facing function says so.
  CHECK_THROWS_AS(tg::zeros({2}, {.dtype = tg::kInt64, .requires_grad = true}), tg::DTypeError);
}

TEST_CASE("tensor split: printing a TensorBase shows its autograd state") {
  const Tensor leaf = tg::tensor({1, 2}, {}, {.requires_grad = true});
  const TensorBase& base = leaf;
  CHECK(tg::repr(base) == "tensor([1., 2.], requires_grad=True)");
  const TensorBase product = leaf * leaf;
  CHECK(tg::repr(product) == "tensor([1., 4.], grad_fn=<MulBackward>)");
  CHECK(fmt::format("{}", product) == tg::repr(product));
  // A view modified in place: its history is brought up to date before
  // printing, as for any other query.
  Tensor y = leaf * 1;
  Tensor v = y.narrow(0, 0, 1);
  CHECK(tg::repr(v).find("grad_fn=<NarrowBackward>") != std::string::npos);
  y.mul_(2);
  CHECK(tg::repr(TensorBase(v)) == fmt::format("{}", v));
  CHECK(tg::repr(v).find("grad_fn=<AsStridedBackward>") != std::string::npos);
}

}  // namespace test_tensor_split
