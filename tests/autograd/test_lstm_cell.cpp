// The fused LSTM cell (autograd/recurrent.h, core/kernels/recurrent.h):
// the same bits as the ops it replaces, forward and backward, whichever
// outputs get a gradient; gradcheck and gradgradcheck in float64 on four
// layouts; the dtypes it leaves to the composed ops; bad shapes.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/random.h>

#include "support/registry_gradcheck.h"

namespace test_lstm_cell {

using tg::Tensor;

namespace {

// The cell as the ops it fuses (nn/rnn.cpp before the fusion).
std::pair<Tensor, Tensor> composed(const Tensor& gates, const Tensor& c) {
  const std::int64_t H = c.size(-1);
  const auto pre = tg::split(gates, {2 * H, H, H}, 1);
  const auto i_f = tg::chunk(tg::sigmoid(pre[0]), 2, 1);
  const Tensor g = tg::tanh(pre[1]);
  const Tensor o = tg::sigmoid(pre[2]);
  Tensor c_next = i_f[1] * c + i_f[0] * g;
  return {o * tg::tanh(c_next), c_next};
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.raw_data(), y.raw_data(), static_cast<std::size_t>(x.numel()) * x.element_size()) == 0;
}

enum class Use { Both, HOnly, COnly };

struct Grads {
  Tensor h, c, dgates, dc;
};

// The outputs, and the gradients of gates and c from a weighted sum of the
// outputs that `use` picks.
template <class Cell>
Grads run(Cell cell, const Tensor& gates_value, const Tensor& c_value, Use use) {
  Tensor gates = gates_value.clone().set_requires_grad(true), c = c_value.clone().set_requires_grad(true);
  auto [h, c_next] = cell(gates, c);
  tg::Generator gen(7);
  const Tensor wh = tg::randn(h.shape(), {.dtype = h.dtype()}, &gen),
               wc = tg::randn(h.shape(), {.dtype = h.dtype()}, &gen);
  Tensor loss = use == Use::HOnly   ? (h * wh).sum()
                : use == Use::COnly ? (c_next * wc).sum()
                                    : (h * wh + c_next * wc).sum();
  loss.backward();
  return {h, c_next, gates.grad(), c.grad()};
}

}  // namespace

TEST_CASE("lstm_cell: the fused kernel gives the composed ops' bits, forward and backward, on every instruction set") {
  namespace vec = tg::kernel::vec;
  const vec::Isa best = vec::isa();
  struct Restore {
    vec::Isa isa;
    ~Restore() { vec::force_isa(isa); }
  } restore{best};
  for (vec::Isa isa : {vec::Isa::kAvx512, vec::Isa::kAvx2, vec::Isa::kSse2, vec::Isa::kScalar}) {
    if (!vec::force_isa(isa)) continue;
    CAPTURE(vec::isa_name(isa));
    tg::Generator gen(3);
    for (tg::DType dtype : {tg::kFloat32, tg::kFloat64}) {
      // 37 columns: every vector loop has a tail. Values up to +-6 reach
      // sigmoid's and tanh's flat ends.
      const Tensor gates = tg::randn({5, 4 * 37}, {.dtype = dtype}, &gen) * 3;
      const Tensor c = tg::randn({5, 37}, {.dtype = dtype}, &gen) * 2;
      for (Use use : {Use::Both, Use::HOnly, Use::COnly}) {
        CAPTURE(static_cast<int>(use));
        CAPTURE(tg::dtype_name(dtype));
        const Grads fused = run(tg::autograd::lstm_cell, gates, c, use);
        const Grads ops = run(composed, gates, c, use);
        CHECK(same_bits(fused.h, ops.h));
        CHECK(same_bits(fused.c, ops.c));
        CHECK(same_bits(fused.dgates, ops.dgates));
        CHECK(same_bits(fused.dc, ops.dc));
        CHECK(fused.h.grad_fn_name() == "lstm_cell");
      }
    }
  }
}

TEST_CASE("lstm_cell: gradcheck and gradgradcheck in float64 on four layouts") {
  using tg_test::Layout;
  tg::Generator gen(5);
  const tg::TensorOptions f64{.dtype = tg::kFloat64};
  const Tensor gates = tg::randn({3, 8}, f64, &gen), c = tg::randn({3, 2}, f64, &gen);
  const tg::GradcheckFunction both = [](const std::vector<Tensor>& in) {
    auto [h, c_next] = tg::autograd::lstm_cell(in[0], in[1]);
    return std::vector<Tensor>{h, c_next};
  };
  const tg::GradcheckFunction h_only = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{tg::autograd::lstm_cell(in[0], in[1]).first};
  };
  const tg::GradcheckFunction c_only = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{tg::autograd::lstm_cell(in[0], in[1]).second};
  };
  for (Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Expanded}) {
    CAPTURE(tg_test::layout_name(layout));
    std::vector<Tensor> inputs;
    for (const Tensor& v : {gates, c}) {
      const Tensor t = tg_test::in_layout(v, layout);
      inputs.push_back((t.defined() ? t : v.clone()).detach().set_requires_grad(true));
    }
    for (const auto* fn : {&both, &h_only, &c_only}) {
      CHECK(tg::gradcheck(*fn, inputs));
      CHECK(tg::gradgradcheck(*fn, inputs));
    }
  }
}

// A recorded backward (create_graph) takes another route, through ops
// (gradgradcheck differentiates that route, so it must give the same first
// derivatives as the kernel).
TEST_CASE("lstm_cell: a recorded backward gives the kernel's gradients") {
  tg::Generator gen(6);
  const tg::TensorOptions f64{.dtype = tg::kFloat64, .requires_grad = true};
  Tensor gates = tg::randn({4, 20}, f64, &gen) * 2, c = tg::randn({4, 5}, f64, &gen);
  for (Use use : {Use::Both, Use::HOnly, Use::COnly}) {
    CAPTURE(static_cast<int>(use));
    std::vector<Tensor> grads[2];
    for (bool create_graph : {false, true}) {
      auto [h, c_next] = tg::autograd::lstm_cell(gates, c);
      Tensor loss = use == Use::HOnly ? (h * h).sum() : use == Use::COnly ? (c_next * 3).sum() : (h * c_next).sum();
      grads[create_graph] = tg::grad({loss}, {gates, c}, {}, {.create_graph = create_graph});
    }
    for (std::size_t k = 0; k < 2; ++k) {
      CHECK(grads[1][k].requires_grad());
      CHECK(tg::allclose(grads[0][k], grads[1][k].detach(), 1e-13, 1e-13));
    }
  }
}

TEST_CASE("lstm_cell: other dtypes compose the ops; mixed dtypes promote as they do") {
  tg::Generator gen(9);
  const Tensor gates = tg::randn({2, 12}, {}, &gen), c = tg::randn({2, 3}, {}, &gen);
  for (tg::DType dtype : {tg::kFloat16, tg::kBFloat16}) {
    CAPTURE(tg::dtype_name(dtype));
    const Grads fused = run(tg::autograd::lstm_cell, gates.to(dtype), c.to(dtype), Use::Both);
    const Grads ops = run(composed, gates.to(dtype), c.to(dtype), Use::Both);
    CHECK(same_bits(fused.h, ops.h));
    CHECK(same_bits(fused.dgates, ops.dgates));
  }
  const Grads mixed = run(tg::autograd::lstm_cell, gates, c.to(tg::kFloat64), Use::Both);
  const Grads mixed_ops = run(composed, gates, c.to(tg::kFloat64), Use::Both);
  CHECK(mixed.h.dtype() == tg::kFloat64);
  CHECK(same_bits(mixed.h, mixed_ops.h));
  CHECK(same_bits(mixed.dgates, mixed_ops.dgates));
}

TEST_CASE("lstm_cell: gates that are not [B, 4H] for c [B, H] are a ShapeError naming the op") {
  const Tensor c = tg::zeros({2, 3});
  for (const tg::Dims& shape : {tg::Dims{2, 13}, tg::Dims{3, 12}, tg::Dims{2, 3, 4}, tg::Dims{24}}) {
    CAPTURE(tg::shape_str(shape));
    try {
      (void)tg::autograd::lstm_cell(tg::zeros(shape), c);
      FAIL("no error");
    } catch (const tg::ShapeError& e) {
      CHECK(std::string(e.what()).find("lstm_cell") != std::string::npos);
    }
  }
}

}  // namespace test_lstm_cell
