// In-place ops on views, against PyTorch: the base's history is rewritten
// through CopySlices, and views see in-place changes of their base.
//
// Expected values come from tests/reference/inplace_view.json, written by
// tests/reference/make_inplace_view_reference.py with PyTorch; each case here
// repeats that script's case of the same name op for op.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include "support/reference.h"

namespace test_inplace_views {

#ifndef TAPEGRAD_SOURCE_DIR
#error "TAPEGRAD_SOURCE_DIR must be defined by the build"
#endif

using tg::Tensor;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};
const Tensor kNoGrad;

void check_matches(const Tensor& t, const std::string& name, const std::string& key) {
  tg_test::check_reference(t, "inplace_view.json", name, key);
}

// 1, 2, 3, ... in `shape`: sum(y * weights) gives each element its own gradient.
Tensor weights(tg::Dims shape) {
  return tg::arange(1, static_cast<double>(shape.product()) + 1, 1, kF64).reshape(shape);
}

Tensor x23() { return tg::tensor({-1.0, 0.5, 2.0, 3.0, -2.0, 1.5}, {2, 3}, kF64Grad); }
Tensor w3() { return tg::tensor({3, -1, 0.5}, {3}, kF64Grad); }

// loss = sum(y * y * weights)
Tensor square_loss(const Tensor& y) { return (y * y * weights(y.shape())).sum(); }

}  // namespace

TEST_CASE("the issue's example: a view sees an in-place op on its base") {
  const std::string c = "issue_example";
  Tensor x = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
  Tensor y = x * 1;
  Tensor v = y.slice(0, 0, 2);
  y.mul_(3);
  v.sum().backward();
  check_matches(x.grad(), c, "x.grad");  // [3, 3, 0, 0]
  check_matches(v, c, "v");
}

TEST_CASE("in-place ops on views of a tensor in a graph give PyTorch's gradients") {
  SUBCASE("slice copy_") {
    const std::string c = "slice_copy";
    Tensor x = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
    Tensor z = tg::tensor({5, 7}, {2}, kF64Grad);
    Tensor y = x * 2;
    y.slice(0, 1, 3).copy_(z * z);
    CHECK(y.grad_fn_name() == "CopySlices");
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(z.grad(), c, "z.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("select mul_ scalar") {
    const std::string c = "select_mul_scalar";
    Tensor x = x23();
    Tensor y = x * 1;
    y.select(0, 1).mul_(2);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("narrow add_ with alpha, broadcast operand") {
    const std::string c = "narrow_add_alpha_broadcast";
    Tensor x = x23();
    Tensor w = tg::tensor({0.25, -0.75}, {2}, kF64Grad);
    Tensor y = x * 1;
    y.narrow(1, 1, 2).add_(w, 2);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(w.grad(), c, "w.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("transpose sub_") {
    const std::string c = "transpose_sub";
    Tensor x = x23();
    Tensor w = tg::tensor({0.5, 1.5, -1, 2, 3, -0.5}, {3, 2}, kF64Grad);
    Tensor y = x * 1;
    y.t().sub_(w * w, 3);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(w.grad(), c, "w.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("permute div_") {
    const std::string c = "permute_div";
    Tensor x = tg::arange(1, 13, 1, kF64).reshape({2, 3, 2}).set_requires_grad(true);
    Tensor w = tg::tensor({2, -4, 0.5}, {3}, kF64Grad);
    Tensor y = x * 1;
    y.permute({2, 0, 1}).div_(w);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(w.grad(), c, "w.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("fill_ on a slice of a view") {
    const std::string c = "view_chain_fill";
    Tensor x = x23();
    Tensor y = x * 1;
    y.view({6}).slice(0, 2, 4).fill_(5);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("zero_ through reshape, unsqueeze, squeeze and select") {
    const std::string c = "reshape_unsqueeze_squeeze_zero";
    Tensor x = x23();
    Tensor y = x * 1;
    y.reshape({3, 2}).unsqueeze(0).squeeze(0).select(1, 1).zero_();
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("masked_fill_ on a row") {
    const std::string c = "masked_fill_on_select";
    Tensor x = x23();
    Tensor y = x * 1;
    y.select(0, 0).masked_fill_(tg::tensor({1, 0, 1}, {3}, {.dtype = tg::kBool}), 7);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("clamp_ on columns") {
    const std::string c = "clamp_on_slice";
    Tensor x = x23();
    Tensor y = x * 1;
    y.slice(1, 0, 2).clamp_(-0.75, 2.5);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("relu_ on a column") {
    const std::string c = "relu_on_column";
    Tensor x = x23();
    Tensor y = x * 1;
    y.select(1, 1).relu_();
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(y, c, "y");
  }
  SUBCASE("mul_ by an operand that requires grad") {
    const std::string c = "mul_by_operand_on_view";
    Tensor x = x23();
    Tensor w = w3();
    Tensor y = x * 1;
    y.select(0, 1).mul_(w);
    square_loss(y).backward();
    check_matches(x.grad(), c, "x.grad");
    check_matches(w.grad(), c, "w.grad");
    check_matches(y, c, "y");
  }
}

TEST_CASE("flatten: a view when it can be, a copy otherwise") {
  const std::string c = "flatten_view_and_copy";
  Tensor x = x23();
  Tensor w = w3();
  Tensor y = x * 1;
  y.narrow(0, 1, 1).flatten().mul_(w);
  y.slice(1, 0, 2).flatten().add_(1.5);
  square_loss(y).backward();
  check_matches(x.grad(), c, "x.grad");
  check_matches(w.grad(), c, "w.grad");
  check_matches(y, c, "y");
}

TEST_CASE("pieces of split and chunk cannot be modified in place when grad is involved, as in PyTorch") {
  Tensor x = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
  Tensor y = x * 1;
  auto halves = tg::chunk(y, 2);
  CHECK_THROWS_WITH_AS(halves[1].mul_(2), doctest::Contains("split, chunk or unbind"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::split(y, 3)[0].view({3}).zero_(), doctest::Contains("zero_"), tg::AutogradError);
  // ... nor be used in grad mode once their base changed.
  y.mul_(2);
  CHECK_THROWS_WITH_AS(halves[0].sum(), doctest::Contains("split, chunk or unbind"), tg::AutogradError);
  // Without grad they are ordinary views.
  Tensor buf = tg::zeros({4}, kF64);
  auto pieces = tg::split(buf, 2);
  pieces[1].fill_(3);
  CHECK(buf.to_vector<double>() == std::vector<double>{0, 0, 3, 3});
  CHECK_THROWS_WITH_AS(pieces[0].copy_(tg::ones({2}, kF64Grad)), doctest::Contains("copy_"), tg::AutogradError);
  {
    tg::NoGradGuard no_grad;
    tg::chunk(y, 2)[0].fill_(0);
  }
  CHECK(y.to_vector<double>() == std::vector<double>{0, 0, 6, 8});
}

TEST_CASE("several views of one base modified in turn") {
  const std::string c = "two_views_in_turn";
  Tensor x = x23();
  Tensor w = w3();
  Tensor y = x * 1;
  Tensor a = y.select(0, 0);
  Tensor b = y.select(0, 1);
  a.mul_(w);
  b.add_(a);
  a.sub_(b, 0.5);
  (square_loss(y) + (a * b).sum()).backward();
  check_matches(x.grad(), c, "x.grad");
  check_matches(w.grad(), c, "w.grad");
  check_matches(y, c, "y");
}

TEST_CASE("views made before in-place ops on their base follow them") {
  const std::string c = "base_modified_then_views_used";
  Tensor x = x23();
  Tensor w = tg::tensor({0.5, 2, -1}, {3}, kF64Grad);
  Tensor y = x * 1;
  Tensor col = y.select(1, 1);
  Tensor row = y.select(0, 1);
  y.add_(w);
  y.mul_(2);
  CHECK(col.grad_fn_name() == "as_strided");  // made again from y's new history
  ((col * col).sum() + (row * weights({3})).sum() + (y * weights({2, 3})).sum()).backward();
  check_matches(x.grad(), c, "x.grad");
  check_matches(w.grad(), c, "w.grad");
  check_matches(col, c, "col");
}

TEST_CASE("index assignment into a tensor that does not require grad") {
  const std::string c = "index_assignment_into_zeros";
  Tensor x = x23();
  Tensor w = w3();
  Tensor buf = tg::zeros({3, 3}, kF64);
  for (int i = 0; i < 2; ++i) buf.select(0, i).copy_(x[i] * w);
  buf[2].copy_(w);
  buf.select(1, 2).mul_(x[0]);
  CHECK(buf.requires_grad());
  CHECK_FALSE(buf.is_leaf());
  square_loss(buf).backward();
  check_matches(x.grad(), c, "x.grad");
  check_matches(w.grad(), c, "w.grad");
  check_matches(buf, c, "buf");
}

TEST_CASE("in-place on a view of a view") {
  const std::string c = "view_of_view_chain";
  Tensor x = (tg::arange(12, kF64) / 4 - 1).reshape({4, 3}).set_requires_grad(true);
  Tensor w = tg::tensor({2, -3}, {2}, kF64Grad);
  Tensor y = x * 1;
  Tensor v1 = y.slice(0, 0, 3);
  Tensor v2 = v1.transpose(0, 1).select(0, 1);
  v2.slice(0, 1, 3).mul_(w);
  ((v1 * v1).sum() + (y * weights({4, 3})).sum() + (v2 * v2).sum()).backward();
  check_matches(x.grad(), c, "x.grad");
  check_matches(w.grad(), c, "w.grad");
  check_matches(y, c, "y");
}

TEST_CASE("an expanded view of a base modified in place accumulates its gradient") {
  const std::string c = "expanded_view_of_modified_base";
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor y = x * 1;
  Tensor e = y.unsqueeze(0).expand({4, 3});
  y.mul_(y.detach() + 1);
  (e * weights({4, 3})).sum().backward();
  check_matches(x.grad(), c, "x.grad");
  check_matches(e, c, "e");

  // Writing through the expanded view itself is refused, as in PyTorch.
  Tensor z = x * 1;
  CHECK_THROWS_WITH_AS(z.unsqueeze(0).expand({4, 3}).mul_(2), doctest::Contains("expanded"), tg::ValueError);
}

TEST_CASE("in-place on a view of a detached tensor builds that tensor's own history") {
  const std::string c = "detached_base";
  Tensor x = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
  Tensor w = tg::tensor({2, 5}, {2}, kF64Grad);
  Tensor y = x * 1;
  Tensor d = y.detach();
  d.slice(0, 1, 3).mul_(w);
  (d * weights({4})).sum().backward();
  check_matches(w.grad(), c, "w.grad");
  check_matches(d, c, "d");
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("in-place on views of a base whose memory is not row-major") {
  const std::string c = "noncontiguous_base";
  Tensor x = x23();
  Tensor w = tg::tensor({2, 5}, {2}, kF64Grad);
  Tensor w2 = tg::tensor({1, -1}, {2}, kF64Grad);
  Tensor y = x * 1;
  Tensor d = y.t().detach();
  REQUIRE_FALSE(d.is_contiguous());
  Tensor col = d.select(1, 1);
  d.slice(0, 1, 3).select(1, 0).mul_(w);
  d[0].add_(w2);
  (square_loss(d) + (col * col * weights({3})).sum()).backward();
  check_matches(w.grad(), c, "w.grad");
  check_matches(w2.grad(), c, "w2.grad");
  check_matches(d, c, "d");
  check_matches(col, c, "col");
}

TEST_CASE("second-order gradients through CopySlices") {
  const std::string c = "second_order";
  Tensor x = tg::tensor({0.5, -1.5, 2, 1}, {4}, kF64Grad);
  Tensor y = x * x;
  y.slice(0, 1, 3).mul_(x.slice(0, 0, 2));
  y.t().slice(0, 0, 2).add_(x.slice(0, 2, 4) * x.slice(0, 2, 4));
  Tensor loss = square_loss(y);
  Tensor g = tg::grad({loss}, {x}, {}, {.create_graph = true})[0];
  Tensor gg = tg::grad({(g * weights({4})).sum()}, {x})[0];
  check_matches(g, c, "g");
  check_matches(gg, c, "gg");
}

TEST_CASE("tg::grad through CopySlices, for leaves, operands and the rebased base") {
  const std::string c = "grad_wrt_base_and_operand";
  Tensor x = x23();
  Tensor w = w3();
  Tensor y = x * 2;
  y.select(0, 0).mul_(w);
  auto g = tg::grad({square_loss(y)}, {x, w, y});
  check_matches(g[0], c, "x.grad");
  check_matches(g[1], c, "w.grad");
  check_matches(g[2], c, "y.grad");
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("in-place programs on views pass gradcheck and gradgradcheck in float64") {
  tg::manual_seed(11);
  Tensor x = (tg::rand({3, 4}, kF64) + 0.5).set_requires_grad(true);
  Tensor w = (tg::rand({4}, kF64) + 0.5).set_requires_grad(true);
  struct Case {
    const char* name;
    tg::GradcheckFunction fn;
  };
  const std::vector<Case> cases = {
      {"slice copy_ and select mul_",
       [](const std::vector<Tensor>& in) {
         Tensor y = in[0] * 1;
         y.slice(0, 1, 3).select(1, 2).mul_(in[1].slice(0, 0, 2));
         y.select(0, 0).copy_(in[1] * in[1]);
         return y * y;
       }},
      {"narrow sub_, transpose div_",
       [](const std::vector<Tensor>& in) {
         Tensor y = in[0].clone();
         y.narrow(1, 1, 2).sub_(in[1].slice(0, 1, 3), 0.5);
         y.t().div_(in[1].unsqueeze(1));
         return y * y;
       }},
      {"base modified, view used",
       [](const std::vector<Tensor>& in) {
         Tensor y = in[0] * 1;
         Tensor v = y.permute({1, 0}).select(0, 3);
         y.mul_(in[1]);
         return v * y.select(1, 0);
       }},
      {"views of a buffer",
       [](const std::vector<Tensor>& in) {
         Tensor buf = tg::zeros({2, 4}, kF64);
         buf.select(0, 0).copy_(in[1]);
         buf.select(0, 1).add_(in[0].select(0, 2) * in[1]);
         buf.view({8}).slice(0, 2, 6).clamp_(0.1, 3.0);  // values in (0.25, 2.25): away from the bounds
         return buf * buf;
       }},
  };
  const std::vector<Tensor> inputs{x, w};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(tg::gradcheck(c.fn, inputs));
    CHECK(tg::gradgradcheck(c.fn, inputs));
  }
}

TEST_CASE("in-place on a view: the errors PyTorch gives") {
  Tensor x = tg::tensor({1, 2, 3, 4}, {2, 2}, kF64Grad);
  // A view of a leaf that requires grad.
  CHECK_THROWS_WITH_AS(x.select(0, 0).add_(1), doctest::Contains("view (shape [2]) of a leaf"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(x.view({4}).zero_(), doctest::Contains("zero_"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(x.t().slice(0, 0, 1).mul_(tg::ones({1, 2}, kF64)), doctest::Contains("leaf"), tg::AutogradError);
  CHECK(x.to_vector<double>() == std::vector<double>{1, 2, 3, 4});  // nothing was written
  {
    tg::NoGradGuard no_grad;  // fine without grad mode, as an optimizer step
    x.select(0, 1).mul_(2);
  }
  CHECK(x.to_vector<double>() == std::vector<double>{1, 2, 6, 8});
  // A view taken before its base was made to require grad is still a view of
  // that leaf: PyTorch refuses the write too (it wrote into the leaf).
  Tensor later = tg::tensor({1, 2, 3, 4}, {2, 2}, {.dtype = tg::kFloat64});
  Tensor row = later.select(0, 0), col = later.t().select(0, 1);
  later.set_requires_grad(true);
  CHECK_THROWS_WITH_AS(row.mul_(2.0), doctest::Contains("mul_: a view (shape [2]) of a leaf"), tg::AutogradError);
  CHECK_THROWS_AS(col.copy_(tg::zeros({2}, kF64)), tg::AutogradError);
  CHECK_THROWS_WITH_AS(row.index_fill_(0, tg::tensor(std::vector<std::int64_t>{0}), 5.0),
                       doctest::Contains("index_fill_: a view (shape [2]) of a leaf"), tg::AutogradError);
  CHECK(later.to_vector<double>() == std::vector<double>{1, 2, 3, 4});
  {
    tg::NoGradGuard no_grad;
    row.mul_(2.0);
  }
  CHECK(later.to_vector<double>() == std::vector<double>{2, 4, 3, 4});

  // A view made with grad mode off of a tensor that requires grad.
  Tensor y = x * 1;
  Tensor v;
  {
    tg::NoGradGuard no_grad;
    v = y.slice(0, 0, 1);
  }
  CHECK_THROWS_WITH_AS(v.mul_(2), doctest::Contains("grad mode off"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(v.add_(tg::ones({2}, kF64Grad)), doctest::Contains("add_"), tg::AutogradError);
  // ... nor used in grad mode once its base changed.
  y.add_(1);
  CHECK_THROWS_WITH_AS((v * 2).sum(), doctest::Contains("grad mode off"), tg::AutogradError);
  {
    tg::NoGradGuard no_grad;  // both under NoGradGuard: fine
    Tensor u = y.slice(0, 1, 2);
    u.mul_(2);
    CHECK((u * 2).to_vector<double>() == std::vector<double>{28, 36});  // y = x + 1 = [2, 3, 7, 9]
  }
}

TEST_CASE("a tensor saved for backward and modified through a view or its base is still caught") {
  Tensor x = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
  SUBCASE("saved view, base modified") {
    Tensor y = x * 1;
    Tensor v = y.slice(0, 0, 2);
    Tensor p = v * v;  // saves v
    y.mul_(2);
    CHECK_THROWS_WITH_AS(p.sum().backward(), doctest::Contains("modified by an in-place operation"), tg::AutogradError);
    // The message says which saved tensor: its dtype, shape and role.
    CHECK_THROWS_WITH_AS(p.sum().backward(),
                         doctest::Contains("mul: a tensor saved for backward (float64 [2], one of its inputs)"),
                         tg::AutogradError);
  }
  SUBCASE("saved base, view modified") {
    Tensor y = x * 1;
    Tensor p = y.exp();  // saves its output p
    p.slice(0, 1, 3).add_(1);
    CHECK_THROWS_WITH_AS(p.sum().backward(),
                         doctest::Contains("exp: a tensor saved for backward (float64 [4], its output 0)"),
                         tg::AutogradError);
  }
  SUBCASE("saved sibling view") {
    Tensor y = x * 1;
    Tensor a = y.slice(0, 0, 2);
    Tensor q = a * a;
    y.slice(0, 2, 4).mul_(3);  // does not touch a's elements, but the storage version moved: as PyTorch
    CHECK_THROWS_WITH_AS(q.sum().backward(), doctest::Contains("mul"), tg::AutogradError);
  }
}

TEST_CASE("views, CopySlices and regenerated grad_fns free with their tensors") {
  const auto nodes = tg::autograd::live_node_count();
  {
    Tensor x = tg::ones({3, 3}, kF64Grad);
    Tensor w = tg::ones({3}, kF64Grad);
    Tensor y = x * 2;
    Tensor a = y.select(0, 0);
    Tensor b = y.t().select(0, 1);
    a.mul_(w);
    b.add_(tg::gelu(a));  // the node saving a's regenerated history is reachable from y's CopySlices
    Tensor s = y.sum() + a.sum() + b.sum();
    CHECK(tg::autograd::live_node_count() > nodes);
    Tensor buf = tg::zeros({2, 3}, kF64);
    buf.select(0, 1).copy_(w * 2);
    buf.select(0, 0).copy_(buf.select(0, 1) * w);  // an operand that is another view of the same base
    // A view made a leaf that requires grad no longer follows its base: the
    // node saving it (leaves are saved as themselves) would own the base,
    // whose history owns that node.
    Tensor a2 = tg::zeros({4}, kF64);
    Tensor leaf_view = a2.slice(0, 0, 2);
    leaf_view.set_requires_grad(true);
    a2.slice(0, 2, 4).copy_(leaf_view * leaf_view);
    CHECK(leaf_view.is_leaf());
  }
  CHECK(tg::autograd::live_node_count() == nodes);
  {
    Tensor x = tg::ones({4}, kF64Grad);
    Tensor y = x * 1;
    y.slice(0, 0, 2).mul_(2);
    (y * y).sum().backward();
  }
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("backward twice through CopySlices needs retain_graph") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor y = x * 1;
  y.slice(0, 0, 2).mul_(tg::tensor({2, 3}, {2}, kF64Grad));
  Tensor s = (y * y).sum();
  s.backward({}, /*retain_graph=*/true);
  s.backward();
  // y = [2x0, 3x1, x2] = [2, 6, 3]; d sum(y^2)/dx = [2*2*2, 2*6*3, 2*3], twice.
  CHECK(x.grad().to_vector<double>() == std::vector<double>{16, 72, 12});
  CHECK_THROWS_WITH_AS(s.backward(), doctest::Contains("second time"), tg::AutogradError);
}

TEST_CASE("in-place on an empty view, and on a view of a 0-d tensor") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor y = x * 2;
  y.slice(0, 1, 1).mul_(tg::ones({0}, kF64Grad));
  CHECK(y.grad_fn_name() == "CopySlices");
  y.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2});

  Tensor s = tg::scalar_tensor(3, kF64Grad);
  Tensor z = s * 1;
  z.unsqueeze(0).mul_(tg::tensor({4}, {1}, kF64Grad));
  z.backward();
  CHECK(s.grad().item<double>() == 4);
}

TEST_CASE("an in-place op whose other operand is a view of the memory it writes: that view follows the op") {
  using tg::kFloat64;
  const auto values = [](const Tensor& t) { return t.to_vector<double>(); };
  {  // a += a[0:3]: v is then 2x, and its gradient 2.
    const Tensor x = tg::tensor({1.0, 2.0, 3.0}, {3}, kFloat64).requires_grad_();
    Tensor a = tg::mul(x, 1.0);
    const Tensor v = a.slice(0, 0, 3);
    a.add_(v);
    CHECK(values(v) == std::vector<double>{2.0, 4.0, 6.0});
    CHECK(values(tg::grad({tg::sum(v)}, {x})[0]) == std::vector<double>{2.0, 2.0, 2.0});
  }
  {  // a *= a[0:3]: v is x^2, its gradient 2x.
    const Tensor x = tg::tensor({1.0, 2.0, 3.0}, {3}, kFloat64).requires_grad_();
    Tensor a = tg::mul(x, 1.0);
    const Tensor v = a.slice(0, 0, 3);
    a.mul_(v);
    CHECK(values(tg::grad({tg::sum(v)}, {x})[0]) == std::vector<double>{2.0, 4.0, 6.0});
  }
  {  // u += w, u and w two halves of a: sum(u * w) = sum((x_i + x_{i+2}) x_{i+2}).
    const Tensor x = tg::tensor({1.0, 2.0, 3.0, 4.0}, {4}, kFloat64).requires_grad_();
    const Tensor a = tg::mul(x, 1.0);
    Tensor u = a.slice(0, 0, 2);
    const Tensor w = a.slice(0, 2, 4);
    u.add_(w);
    const Tensor g = tg::grad({tg::sum(tg::mul(u, w))}, {x})[0];
    CHECK(values(g) == std::vector<double>{3.0, 4.0, 1.0 + 2 * 3.0, 2.0 + 2 * 4.0});
  }
}

}  // namespace test_inplace_views
