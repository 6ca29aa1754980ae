// The fused LSTM cell (autograd/recurrent.h, core/kernels/recurrent.h):
// the same bits as the ops it replaces, forward and backward, whichever
// outputs get a gradient; gradcheck and gradgradcheck in float64 on four
// layouts; the dtypes it leaves to the composed ops; bad shapes.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/profiler.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/rnn.h>

#include "support/registry_gradcheck.h"

namespace test_lstm_cell {

using tg::Tensor;

namespace {

// The cell as the ops it fuses (nn/rnn.cpp before the fusion).
std::pair<Tensor, Tensor> composed(const Tensor& gates, const Tensor& c, const Tensor& bias, const Tensor& hidden) {
  const std::int64_t H = c.size(-1);
  Tensor sum = hidden.defined() ? gates + hidden : gates;
  if (bias.defined()) sum = sum + bias;
  const auto pre = tg::split(sum, {2 * H, H, H}, 1);
  const auto i_f = tg::chunk(tg::sigmoid(pre[0]), 2, 1);
  const Tensor g = tg::tanh(pre[1]);
  const Tensor o = tg::sigmoid(pre[2]);
  Tensor c_next = i_f[1] * c + i_f[0] * g;
  return {o * tg::tanh(c_next), c_next};
}

std::pair<Tensor, Tensor> fused_cell(const Tensor& gates, const Tensor& c, const Tensor& bias, const Tensor& hidden) {
  return tg::autograd::lstm_cell(gates, c, bias, hidden);
}

// The same bits in every element, except that any NaN equals any NaN: the
// payload and sign a NaN ends with depends on which operand of a product the
// compiler puts first, which IEEE leaves open.
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = a.to(tg::kFloat64).contiguous(), y = b.to(tg::kFloat64).contiguous();
  const auto xs = x.to_vector<double>(), ys = y.to_vector<double>();
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (std::memcmp(&xs[i], &ys[i], sizeof(double)) != 0 && !(std::isnan(xs[i]) && std::isnan(ys[i]))) return false;
  return true;
}

enum class Use { Both, HOnly, COnly };

struct Grads {
  Tensor h, c, dgates, dc, dbias, dhidden;
};

// The outputs, and the gradients of gates, c, bias and hidden (when defined)
// from a weighted sum of the outputs that `use` picks.
template <class Cell>
Grads run(Cell cell, const Tensor& gates_value, const Tensor& c_value, const Tensor& bias_value, Use use,
          const Tensor& hidden_value = {}) {
  const auto leaf = [](const Tensor& v) { return v.defined() ? v.clone().set_requires_grad(true) : Tensor(); };
  Tensor gates = leaf(gates_value), c = leaf(c_value), bias = leaf(bias_value), hidden = leaf(hidden_value);
  auto [h, c_next] = cell(gates, c, bias, hidden);
  tg::Generator gen(7);
  const Tensor wh = tg::randn(h.shape(), {.dtype = h.dtype()}, &gen),
               wc = tg::randn(h.shape(), {.dtype = h.dtype()}, &gen);
  Tensor loss = use == Use::HOnly   ? (h * wh).sum()
                : use == Use::COnly ? (c_next * wc).sum()
                                    : (h * wh + c_next * wc).sum();
  loss.backward();
  return {h,
          c_next,
          gates.grad(),
          c.grad(),
          bias.defined() ? bias.grad() : Tensor(),
          hidden.defined() ? hidden.grad() : Tensor()};
}

// Runs the fused cell and the composed ops on the same values and checks
// that the outputs and the gradients of gates and c have the same bits; the
// fused run's results.
Grads check_same_as_composed(const Tensor& gates, const Tensor& c, const Tensor& bias, Use use,
                             const Tensor& hidden = {}) {
  const Grads fused = run(fused_cell, gates, c, bias, use, hidden);
  const Grads ops = run(composed, gates, c, bias, use, hidden);
  if (hidden.defined()) CHECK(same_bits(fused.dhidden, ops.dhidden));
  CHECK(same_bits(fused.h, ops.h));
  CHECK(same_bits(fused.c, ops.c));
  CHECK(same_bits(fused.dgates, ops.dgates));
  CHECK(same_bits(fused.dc, ops.dc));
  return fused;
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
      const Tensor bias = tg::randn({4 * 37}, {.dtype = dtype}, &gen);
      const Tensor hidden = tg::randn({5, 4 * 37}, {.dtype = dtype}, &gen);
      for (int terms = 0; terms < 4; ++terms)  // bit 0: bias, bit 1: hidden
        for (Use use : {Use::Both, Use::HOnly, Use::COnly}) {
          const bool with_bias = terms & 1;
          CAPTURE(static_cast<int>(use));
          CAPTURE(terms);
          CAPTURE(tg::dtype_name(dtype));
          const Tensor b = with_bias ? bias : Tensor();
          const Grads fused = check_same_as_composed(gates, c, b, use, terms & 2 ? hidden : Tensor());
          // The bias's gradient sums the rows in another order (in double either way).
          if (with_bias)
            CHECK(tg::allclose(fused.dbias, run(composed, gates, c, b, use, terms & 2 ? hidden : Tensor()).dbias, 1e-12,
                               1e-12));
          CHECK(fused.h.grad_fn_name() == "lstm_cell");
        }
    }
  }
}

TEST_CASE("lstm_cell: gradcheck and gradgradcheck in float64 on four layouts") {
  using tg_test::Layout;
  tg::Generator gen(5);
  const tg::TensorOptions f64{.dtype = tg::kFloat64};
  const Tensor gates = tg::randn({3, 8}, f64, &gen), c = tg::randn({3, 2}, f64, &gen), bias = tg::randn({8}, f64, &gen),
               hidden = tg::randn({3, 8}, f64, &gen);
  // The bias is the third input and hidden the fourth, when there are so many.
  const auto cell = [](const std::vector<Tensor>& in) {
    return tg::autograd::lstm_cell(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), in.size() > 3 ? in[3] : Tensor());
  };
  const tg::GradcheckFunction both = [cell](const std::vector<Tensor>& in) {
    auto [h, c_next] = cell(in);
    return std::vector<Tensor>{h, c_next};
  };
  const tg::GradcheckFunction h_only = [cell](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{cell(in).first};
  };
  const tg::GradcheckFunction c_only = [cell](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{cell(in).second};
  };
  for (Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Expanded}) {
    CAPTURE(tg_test::layout_name(layout));
    for (std::size_t count : {2, 3, 4}) {  // gates and c; with the bias; with hidden too
      CAPTURE(count);
      std::vector<Tensor> inputs;
      for (const Tensor& v : {gates, c, bias, hidden}) {
        if (inputs.size() == count) break;
        const Tensor t = tg_test::in_layout(v, layout);
        inputs.push_back((t.defined() ? t : v.clone()).detach().set_requires_grad(true));
      }
      for (const auto* fn : {&both, &h_only, &c_only}) {
        CHECK(tg::gradcheck(*fn, inputs));
        CHECK(tg::gradgradcheck(*fn, inputs));
      }
    }
  }
}

// A recorded backward (create_graph) takes another route, through ops
// (gradgradcheck differentiates that route, so it must give the same first
// derivatives as the kernel).
TEST_CASE("lstm_cell: a recorded backward gives the kernel's gradients") {
  tg::Generator gen(6);
  const tg::TensorOptions f64{.dtype = tg::kFloat64, .requires_grad = true};
  Tensor gates = tg::randn({4, 20}, f64, &gen) * 2, c = tg::randn({4, 5}, f64, &gen), bias = tg::randn({20}, f64, &gen),
         hidden = tg::randn({4, 20}, f64, &gen);
  for (Use use : {Use::Both, Use::HOnly, Use::COnly}) {
    CAPTURE(static_cast<int>(use));
    std::vector<Tensor> grads[2];
    for (bool create_graph : {false, true}) {
      auto [h, c_next] = tg::autograd::lstm_cell(gates, c, bias, hidden);
      Tensor loss = use == Use::HOnly ? (h * h).sum() : use == Use::COnly ? (c_next * 3).sum() : (h * c_next).sum();
      grads[create_graph] = tg::grad({loss}, {gates, c, bias, hidden}, {}, {.create_graph = create_graph});
    }
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(grads[1][k].requires_grad());
      CHECK(tg::allclose(grads[0][k], grads[1][k].detach(), 1e-13, 1e-13));
    }
  }
}

// Sizes past the parallel threshold (the rows on two threads), empty
// batches and features, and values at sigmoid's and tanh's ends: +-inf,
// +-100, NaN, subnormals (flushed in both).
TEST_CASE("lstm_cell: the same bits on two threads, on empty tensors and at the functions' ends") {
  const int threads = tg::get_num_threads();
  tg::set_num_threads(2);
  tg::Generator gen(8);
  struct Case {
    tg::Dims gates, c;
  };
  for (const Case& k : {Case{{64, 1024}, {64, 256}}, Case{{0, 16}, {0, 4}}, Case{{3, 0}, {3, 0}}}) {
    CAPTURE(tg::shape_str(k.gates));
    std::vector<double> values;
    for (float v : (tg::randn(k.gates, {}, &gen) * 4).to_vector<float>()) values.push_back(v);
    if (values.size() > 8 * 37) {
      const double specials[] = {INFINITY, -INFINITY, 100.0, -100.0, NAN, 1e-41, -1e-41, 88.0};
      for (std::size_t i = 0; i < 8; ++i) values[i * 37] = specials[i];
    }
    const Tensor gates = tg::tensor(values, k.gates, tg::kFloat32);
    const Tensor c = tg::randn(k.c, {}, &gen), bias = tg::randn({k.gates[1]}, {}, &gen);
    for (Use use : {Use::Both, Use::HOnly})
      CHECK(check_same_as_composed(gates, c, bias, use).dbias.shape() == bias.shape());
  }
  tg::set_num_threads(threads);
}

TEST_CASE("lstm_cell: bad input in any dtype is an error naming the op") {
  const auto names_op = [](const auto& call) {
    try {
      call();
    } catch (const tg::Error& e) {
      return std::string(e.what()).find("lstm_cell") != std::string::npos;
    }
    return false;
  };
  for (tg::DType dtype : {tg::kFloat32, tg::kFloat16, tg::kBFloat16, tg::kFloat64}) {
    CAPTURE(tg::dtype_name(dtype));
    const tg::TensorOptions o{.dtype = dtype};
    // c broadcasting against the gates would give a result of some shape: it is refused.
    CHECK_THROWS_AS((void)tg::autograd::lstm_cell(tg::zeros({2, 12}, o), tg::zeros({1, 3}, o)), tg::ShapeError);
    CHECK_THROWS_AS((void)tg::autograd::lstm_cell(tg::zeros({2, 12}, o), tg::zeros({3}, o)), tg::ShapeError);
    CHECK_THROWS_AS((void)tg::autograd::lstm_cell(tg::zeros({2, 12}, o), tg::zeros({2, 3}, o), tg::zeros({1, 12}, o)),
                    tg::ShapeError);
    CHECK(names_op([&] { (void)tg::autograd::lstm_cell(tg::zeros({2, 12}, o), tg::zeros({}, o)); }));
  }
  // Mixed floating dtypes promote (the composed ops); the shapes are still checked.
  CHECK_THROWS_AS((void)tg::autograd::lstm_cell(tg::zeros({2, 12}), tg::zeros({2, 4}, {.dtype = tg::kFloat64})),
                  tg::ShapeError);
  CHECK_THROWS_AS((void)tg::autograd::lstm_cell(tg::zeros({2, 12}, {.dtype = tg::kInt64}), tg::zeros({2, 3})),
                  tg::DTypeError);
  CHECK(names_op([] { (void)tg::autograd::lstm_cell(tg::zeros({2, 12}), Tensor()); }));
}

TEST_CASE("lstm_cell: other dtypes compose the ops; mixed dtypes promote as they do") {
  tg::Generator gen(9);
  const Tensor gates = tg::randn({2, 12}, {}, &gen), c = tg::randn({2, 3}, {}, &gen);
  for (tg::DType dtype : {tg::kFloat16, tg::kBFloat16}) {
    CAPTURE(tg::dtype_name(dtype));
    const Grads fused = run(fused_cell, gates.to(dtype), c.to(dtype), Tensor(), Use::Both);
    const Grads ops = run(composed, gates.to(dtype), c.to(dtype), Tensor(), Use::Both);
    CHECK(same_bits(fused.h, ops.h));
    CHECK(same_bits(fused.dgates, ops.dgates));
  }
  const Grads mixed = run(fused_cell, gates, c.to(tg::kFloat64), Tensor(), Use::Both);
  const Grads mixed_ops = run(composed, gates, c.to(tg::kFloat64), Tensor(), Use::Both);
  CHECK(mixed.h.dtype() == tg::kFloat64);
  CHECK(same_bits(mixed.h, mixed_ops.h));
  CHECK(same_bits(mixed.dgates, mixed_ops.dgates));
}

TEST_CASE("lstm_cell: gates that are not [B, 4H] for c [B, H], or a bias not [4H], are a ShapeError naming the op") {
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
  for (const tg::Dims& shape : {tg::Dims{11}, tg::Dims{1, 12}, tg::Dims{}}) {
    CAPTURE(tg::shape_str(shape));
    CHECK_THROWS_AS((void)tg::autograd::lstm_cell(tg::zeros({2, 12}), c, tg::zeros(shape)), tg::ShapeError);
  }
}

// In a layer, the cells of a first-order backward write the gates'
// gradients into one slab that the open node takes whole: the backward's only
// concatenation is the hidden inputs' (autograd/recurrent.h). A recorded
// backward concatenates the steps' gradients instead, with the same values.
TEST_CASE("lstm_cell: an LSTM layer's gate gradients land in one slab, not a concatenation") {
  tg::manual_seed(13);
  tg::nn::LSTM lstm(3, 4);
  lstm.to(tg::kFloat64);
  const Tensor x = tg::randn({6, 2, 3}, {.dtype = tg::kFloat64});
  std::vector<Tensor> grads[2];
  for (bool create_graph : {false, true}) {
    lstm.zero_grad();
    auto [out, state] = lstm(x);
    const Tensor loss = (out * out).sum() + std::get<1>(state).sum();
    std::vector<Tensor> params;
    for (const Tensor& w : lstm.all_weights[0]) params.push_back(w);
    tg::profiler::Profile prof;
    grads[create_graph] = tg::grad({loss}, params, {}, {.create_graph = create_graph});
    prof.stop();
    std::int64_t cats = 0;
    for (const auto& e : prof.events()) cats += e.name == "cat" && e.kind == tg::profiler::EventKind::kForward;
    if (!create_graph) CHECK(cats == 1);  // a recorded backward's cells concatenate their own pieces
  }
  for (std::size_t k = 0; k < grads[0].size(); ++k)
    CHECK(tg::allclose(grads[0][k], grads[1][k].detach(), 1e-13, 1e-13));
}

// Passes over one retained graph may run at once (two threads, or a hook's
// nested pass): each must see its own gate gradients, the slab belonging to
// one pass at a time. Also a pass that stops short of the projection (the
// gradient of h0 alone) and then a full one.
TEST_CASE("lstm_cell: passes over one retained LSTM graph, in turn and at once, each get their own gradients") {
  tg::manual_seed(14);
  tg::nn::LSTM lstm(3, 4);
  lstm.to(tg::kFloat64);
  const tg::TensorOptions f64{.dtype = tg::kFloat64};
  const Tensor x = tg::randn({5, 2, 3}, f64), w1 = tg::randn({5, 2, 4}, f64), w2 = tg::randn({5, 2, 4}, f64) * 3;
  const Tensor h0 = tg::randn({1, 2, 4}, {.dtype = tg::kFloat64, .requires_grad = true}),
               c0 = tg::zeros({1, 2, 4}, f64);
  std::vector<Tensor> params{h0};
  for (const Tensor& w : lstm.all_weights[0]) params.push_back(w);
  const auto loss_of = [&](const Tensor& w) {
    auto [out, state] = lstm(x, tg::nn::LSTMState{h0, c0});
    return (out * w).sum();
  };
  // References, each from a graph of its own.
  const std::vector<Tensor> want1 = tg::grad({loss_of(w1)}, params), want2 = tg::grad({loss_of(w2)}, params);
  const auto matches = [](const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
    for (std::size_t k = 0; k < want.size(); ++k)
      if (!tg::allclose(got[k], want[k], 1e-12, 1e-12)) return false;
    return true;
  };
  // One graph with both losses on it.
  auto [out, state] = lstm(x, tg::nn::LSTMState{h0, c0});
  const Tensor loss1 = (out * w1).sum(), loss2 = (out * w2).sum();
  (void)tg::grad({loss1}, {h0}, {}, {.retain_graph = true});  // stops before the projection
  CHECK(matches(tg::grad({loss1}, params, {}, {.retain_graph = true}), want1));
  CHECK(matches(tg::grad({loss2}, params, {}, {.retain_graph = true}), want2));
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int k = 0; k < 2; ++k)
    pool.emplace_back([&, k] {
      try {
        for (int step = 0; step < 50; ++step)
          if (!matches(tg::grad({k == 0 ? loss1 : loss2}, params, {}, {.retain_graph = true}), k == 0 ? want1 : want2))
            ++failures;
      } catch (...) {
        ++failures;
      }
    });
  for (auto& thread : pool) thread.join();
  CHECK(failures.load() == 0);
}

}  // namespace test_lstm_cell
