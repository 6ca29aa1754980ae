// The Module registry: dotted names, parameters/buffers/children/modules,
// train/eval, zero_grad, to(dtype), state_dict round trips and their errors,
// printing, and the containers Sequential and ModuleList.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/nn/nn.h>

namespace test_module {

using tg::Tensor;

namespace {

struct Encoder : tg::nn::Module {
  tg::nn::Linear fc1{4, 8}, fc2{8, 3};
  Encoder() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) override { return fc2(tg::relu(fc1(x))); }
};

struct Net : tg::nn::Module {
  Encoder encoder;
  tg::nn::BatchNorm1d bn{3};
  tg::nn::Dropout drop{0.5};
  tg::nn::Linear head{3, 2};
  Tensor scale;
  Net() {
    scale = register_parameter("scale", tg::ones({2}));
    register_module("encoder", encoder);
    register_module("bn", bn);
    register_module("drop", drop);
    register_module("head", head);
  }
  Tensor forward(const Tensor& x) override { return head(drop(bn(encoder(x)))) * scale; }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& entries) {
  std::vector<std::string> out;
  for (const auto& [name, t] : entries) out.push_back(name);
  return out;
}

bool same_values(const tg::nn::StateDict& a, const tg::nn::StateDict& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || !tg::equal(t, it->second)) return false;
  }
  return true;
}

// A deep copy of the values, so later in-place changes do not show.
tg::nn::StateDict snapshot(const tg::nn::Module& m) {
  tg::nn::StateDict out;
  for (const auto& [name, t] : m.state_dict()) out.emplace(name, t.clone());
  return out;
}

}  // namespace

TEST_CASE("registry: dotted names for parameters and buffers, children and modules") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "encoder.fc1.weight", "encoder.fc1.bias", "encoder.fc2.weight",
                                 "encoder.fc2.bias", "bn.weight", "bn.bias", "head.weight", "head.bias"});
  CHECK(names_of(net.named_parameters(/*recurse=*/false)) == std::vector<std::string>{"scale"});
  CHECK(net.parameters().size() == 9);
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"});
  CHECK(net.children().size() == 4);
  std::vector<std::string> module_names;
  for (auto& [name, m] : net.named_modules()) module_names.push_back(name);
  CHECK(module_names == std::vector<std::string>{"", "encoder", "encoder.fc1", "encoder.fc2", "bn", "drop", "head"});
  // The registry and the members are the same tensors.
  CHECK(net.named_parameters()[1].second.is_same(net.encoder.fc1.weight));
  for (const auto& p : net.parameters()) CHECK(p.requires_grad());
  // Moving keeps the registry on the new object's own members (test_containers.cpp has the rest).
  Net moved(std::move(net));
  CHECK(moved.named_parameters()[1].second.is_same(moved.encoder.fc1.weight));
  CHECK(moved.named_modules()[2].second == &moved.encoder.fc1);
}

TEST_CASE("train/eval reach every submodule; zero_grad drops or zeroes gradients") {
  Net net;
  for (auto* m : net.modules()) CHECK(m->is_training());
  net.eval();
  for (auto* m : net.modules()) CHECK_FALSE(m->is_training());
  net.train();
  CHECK(net.encoder.fc2.is_training());

  net(tg::randn({5, 4})).sum().backward();
  for (const auto& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad(/*set_to_none=*/false);
  for (const auto& p : net.parameters()) CHECK(p.grad().abs().sum().item<double>() == 0);
  net.zero_grad();
  for (const auto& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("to(float64) converts parameters and floating buffers in place, members included") {
  Net net;
  const Tensor w = net.encoder.fc1.weight;
  const auto before = w.to_vector<double>();
  net.to(tg::kFloat64);
  CHECK(net.encoder.fc1.weight.dtype() == tg::kFloat64);
  CHECK(w.dtype() == tg::kFloat64);  // every handle sees it
  CHECK(w.to_vector<double>() == before);
  CHECK(net.bn.running_var.dtype() == tg::kFloat64);
  CHECK(net.bn.num_batches_tracked.dtype() == tg::kInt64);
  CHECK(net(tg::randn({5, 4}, {.dtype = tg::kFloat64})).dtype() == tg::kFloat64);
}

// A buffer that is a view (made with grad mode on) of a tensor that is also
// a buffer: to() gives each its own memory, and the view stops following the
// other's (the in-place rules count the views that do, Storage::followers).
TEST_CASE("to(dtype) of a buffer that views another buffer") {
  struct Views : tg::nn::Module {
    Tensor table, row;
    Views() {
      table = register_buffer("table", tg::arange(6, tg::kFloat32).reshape({2, 3}));
      row = register_buffer("row", table.select(0, 1));
    }
  };
  Views m;
  CHECK(m.row.storage() == m.table.storage());
  m.to(tg::kFloat64);
  CHECK(m.row.to_vector<double>() == std::vector<double>{3, 4, 5});
  CHECK(m.row.storage() != m.table.storage());
  // Nothing else shares the table's memory now, so it takes a value with
  // history; the former view does not follow it.
  const Tensor w = tg::ones({2, 3}, {.dtype = tg::kFloat64, .requires_grad = true});
  m.table.add_(w);
  CHECK(m.table.requires_grad());
  CHECK_FALSE(m.row.requires_grad());
}

// Views of a buffer made before to() stay in the old memory, where they
// follow nothing: the old memory counts no followers, a view made of them is
// an untracked alias, and one whose memory changes cannot take its base's
// history any more.
TEST_CASE("to(dtype) leaves the views made before it in the old memory, following nothing") {
  struct Table : tg::nn::Module {
    Tensor table;
    Table() { table = register_buffer("table", tg::ones({2, 3})); }  // not itself a view
  };
  const Tensor w = tg::ones({3}, {.requires_grad = true});
  Table m;
  Tensor v = m.table.select(0, 0);
  m.to(tg::kFloat64);
  Tensor vv = v.unsqueeze(0);  // its base's memory is elsewhere now
  m.to(tg::kFloat32);          // and moves again: the memory vv was counted in, if it were, is gone
  // v and vv alone share the old memory: without forget_followers, v would
  // still count as a follower there and vv's write would be let through.
  CHECK_THROWS_WITH_AS(vv.mul_(w.unsqueeze(0)), doctest::Contains("does not follow its history"), tg::AutogradError);
  Tensor d = v.detach();
  CHECK_THROWS_WITH_AS(d.add_(w), doctest::Contains("does not follow its history"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(v.mul_(w), doctest::Contains("nn::Module::to"), tg::AutogradError);
  // A parameter's view: its memory modified without grad, then used with it.
  tg::nn::Linear fc(3, 2);
  Tensor row = fc.weight.select(0, 1);
  fc.to(tg::kFloat64);
  {
    tg::NoGradGuard no_grad;
    row.zero_();
  }
  CHECK_THROWS_WITH_AS(row * 2, doctest::Contains("nn::Module::to"), tg::AutogradError);
}

// A graph recorded before to() has the old dtype's gradients: its backward
// must not leave a gradient of the old dtype on a converted parameter (the
// optimizer would then refuse it, and later backwards round into it), nor
// compute with a saved parameter that now holds other memory. Both paths:
// the weight not read by the backward (an input without grad: the leaf's
// accumulation refuses) and read by it (an input with grad: unpacking the
// saved weight refuses), in both directions of conversion.
TEST_CASE("to(dtype) between the forward and backward is refused, naming nn::Module::to") {
  for (const auto& dtypes : {std::pair{tg::kFloat32, tg::kFloat64}, std::pair{tg::kFloat64, tg::kFloat32}})
    for (bool input_grad : {false, true}) {
      const tg::DType from = dtypes.first, to = dtypes.second;  // (Clang 14: no structured bindings in CAPTURE)
      CAPTURE(tg::dtype_name(from));
      CAPTURE(input_grad);
      tg::nn::Linear fc(2, 3);
      fc.to(from);
      Tensor x = tg::randn({4, 2}, {.dtype = from, .requires_grad = input_grad});
      Tensor loss = fc(x).pow(2).sum();
      fc.to(to);
      CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("nn::Module::to"), tg::AutogradError);
      for (const Tensor& p : fc.parameters()) {
        CHECK(p.dtype() == to);
        CHECK_FALSE(p.grad().defined());  // nothing accumulated, in any dtype
      }
      // The forward run again after converting trains as usual.
      fc(x.detach().to(to)).pow(2).sum().backward();
      for (const Tensor& p : fc.parameters()) CHECK(p.grad().dtype() == to);
    }
}

// The same, for the other ways a converted leaf could get a gradient of the
// old dtype: tg::grad (which gives gradients instead of accumulating them),
// and a round trip of conversions, whose memory is fresh but whose dtype is
// the one saved (the saved weight must not match it).
TEST_CASE("to(dtype) between the forward and tg::grad, or there and back, is refused too") {
  tg::nn::Linear fc(2, 3);
  Tensor x = tg::randn({4, 2});
  Tensor loss = fc(x).pow(2).sum();
  fc.to(tg::kFloat64);
  CHECK_THROWS_WITH_AS(tg::grad({loss}, {fc.weight}), doctest::Contains("nn::Module::to"), tg::AutogradError);

  tg::nn::Linear back(2, 3);
  Tensor xg = tg::randn({4, 2}, {.requires_grad = true});  // the backward reads the saved weight
  Tensor loss2 = back(xg).pow(2).sum();
  back.to(tg::kFloat64);
  {
    tg::NoGradGuard no_grad;
    back.weight.mul_(2);  // what an optimizer step in float64 would do
  }
  back.to(tg::kFloat32);
  CHECK_THROWS_WITH_AS(loss2.backward(), doctest::Contains("nn::Module::to"), tg::AutogradError);
}

TEST_CASE("state_dict round trip into a fresh model") {
  tg::manual_seed(41);
  Net a;
  a(tg::randn({6, 4}));  // moves the running statistics away from their defaults
  Net b;
  CHECK_FALSE(same_values(a.state_dict(), b.state_dict()));
  const auto keys = a.state_dict();
  CHECK(keys.count("bn.running_mean") == 1);
  CHECK(keys.count("encoder.fc2.bias") == 1);
  b.load_state_dict(a.state_dict());
  CHECK(same_values(a.state_dict(), b.state_dict()));
  a.eval();
  b.eval();
  Tensor x = tg::randn({3, 4});
  CHECK(tg::equal(a(x), b(x)));
  // b holds copies: changing a afterwards leaves b alone.
  {
    tg::NoGradGuard no_grad;
    a.head.bias.add_(1.0);
  }
  CHECK_FALSE(tg::equal(a.head.bias, b.head.bias));
}

TEST_CASE("load_state_dict reports missing, unexpected and mismatched keys together, and loads nothing") {
  Net a, b;
  const auto b_before = snapshot(b);
  auto state = a.state_dict();
  state.erase("head.bias");
  state.emplace("extra.weight", tg::zeros({2}));
  state["encoder.fc1.weight"] = tg::zeros({2, 2});
  try {
    b.load_state_dict(state);
    FAIL("load_state_dict accepted a bad state dict");
  } catch (const tg::ShapeError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("missing keys: head.bias") != std::string::npos);
    CHECK(msg.find("unexpected keys: extra.weight") != std::string::npos);
    CHECK(msg.find("encoder.fc1.weight: expected shape [8, 4], got [2, 2]") != std::string::npos);
  }
  CHECK(same_values(snapshot(b), b_before));

  // Only missing/unexpected keys: a ValueError; non-strict loading takes what matches.
  auto partial = a.state_dict();
  partial.erase("scale");
  CHECK_THROWS_WITH_AS(b.load_state_dict(partial), doctest::Contains("missing keys: scale"), tg::ValueError);
  b.load_state_dict(partial, /*strict=*/false);
  CHECK(tg::equal(b.head.weight, a.head.weight));
  CHECK(tg::equal(b.scale, b_before.at("scale")));
}

TEST_CASE("load_state_dict returns the missing and unexpected keys, as PyTorch's _IncompatibleKeys") {
  using Keys = std::vector<std::string>;
  tg::manual_seed(5);
  Net a;
  a(tg::randn({6, 4}));  // running statistics and num_batches_tracked away from their defaults

  SUBCASE("strict success: both lists empty") {
    Net b;
    const tg::nn::IncompatibleKeys result = b.load_state_dict(a.state_dict());
    CHECK(result.empty());
    CHECK(result == tg::nn::IncompatibleKeys{});
    CHECK(same_values(a.state_dict(), b.state_dict()));
  }
  SUBCASE("missing keys, nested ones included, in PyTorch's order; the rest is loaded") {
    Net b;
    const auto b_before = snapshot(b);
    auto state = a.state_dict();
    for (const char* key : {"encoder.fc2.bias", "bn.running_var", "scale"}) state.erase(key);
    CHECK_THROWS_WITH_AS(b.load_state_dict(state),
                         doctest::Contains("missing keys: scale, encoder.fc2.bias, bn.running_var"), tg::ValueError);
    CHECK(same_values(snapshot(b), b_before));  // strict: nothing loaded
    const auto result = b.load_state_dict(state, /*strict=*/false);
    // torch: missing_keys=['scale', 'encoder.fc2.bias', 'bn.running_var'] (a
    // module's parameters, then its buffers, then its children's).
    CHECK(result.missing_keys == Keys{"scale", "encoder.fc2.bias", "bn.running_var"});
    CHECK(result.unexpected_keys.empty());
    CHECK_FALSE(result.empty());
    CHECK(tg::equal(b.encoder.fc2.weight, a.encoder.fc2.weight));
    CHECK(tg::equal(b.bn.running_mean, a.bn.running_mean));
    CHECK(tg::equal(b.encoder.fc2.bias, b_before.at("encoder.fc2.bias")));
    CHECK(tg::equal(b.bn.running_var, b_before.at("bn.running_var")));
    CHECK(tg::equal(b.scale, b_before.at("scale")));
  }
  SUBCASE("unexpected keys, nested ones included, sorted; everything else is loaded") {
    Net b;
    auto state = a.state_dict();
    state.emplace("extra", tg::zeros({2}));
    state.emplace("encoder.fc3.weight", tg::zeros({1}));
    state.emplace("encoder", tg::zeros({1}));  // a child's name is no tensor's
    const auto result = b.load_state_dict(state, false);
    CHECK(result.missing_keys.empty());
    CHECK(result.unexpected_keys == Keys{"encoder", "encoder.fc3.weight", "extra"});
    CHECK(same_values(a.state_dict(), b.state_dict()));
  }
  SUBCASE("both") {
    Net b;
    auto state = a.state_dict();
    state.erase("head.weight");
    state.erase("bn.num_batches_tracked");  // may be omitted: zeroed, not missing
    state.emplace("head.weights", a.head.weight);
    const auto result = b.load_state_dict(state, false);
    CHECK(result.missing_keys == Keys{"head.weight"});
    CHECK(result.unexpected_keys == Keys{"head.weights"});
    CHECK(b.bn.num_batches_tracked.item<std::int64_t>() == 0);
    CHECK(tg::equal(b.head.bias, a.head.bias));
  }
  SUBCASE("a shape mismatch is a ShapeError in non-strict mode too, as PyTorch's, and loads nothing") {
    Net b;
    const auto b_before = snapshot(b);
    auto state = a.state_dict();
    state["encoder.fc1.weight"] = tg::zeros({2, 2});
    state.erase("head.bias");
    CHECK_THROWS_WITH_AS(b.load_state_dict(state, false),
                         doctest::Contains("encoder.fc1.weight: expected shape [8, 4], got [2, 2]"), tg::ShapeError);
    state["encoder.fc1.weight"] = Tensor();
    CHECK_THROWS_WITH_AS(b.load_state_dict(state, false),
                         doctest::Contains("encoder.fc1.weight: expected shape [8, 4], got undefined"), tg::ShapeError);
    // PyTorch copies the keys that matched before it raises; this loads none.
    CHECK(same_values(snapshot(b), b_before));
  }
}

TEST_CASE("printing a module tree as PyTorch does") {
  Net net;
  const std::string expected =
      "Net(\n"
      "  (encoder): Encoder(\n"
      "    (fc1): Linear(in_features=4, out_features=8, bias=True)\n"
      "    (fc2): Linear(in_features=8, out_features=3, bias=True)\n"
      "  )\n"
      "  (bn): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
      "  (drop): Dropout(p=0.5, inplace=False)\n"
      "  (head): Linear(in_features=3, out_features=2, bias=True)\n"
      ")";
  CHECK(net.repr() == expected);
  CHECK(fmt::format("{}", net) == expected);
  std::ostringstream os;
  os << net;
  CHECK(os.str() == expected);
}

namespace {
struct Leafy : tg::nn::Module {
  std::string extra_repr() const override { return "a=1,\nb=2"; }
};
struct Holder : tg::nn::Module {
  Leafy leafy;
  tg::nn::ParameterList params{std::vector<Tensor>{tg::zeros({2}), tg::zeros({2, 3})}};
  Holder() {
    register_module("l", leafy);
    register_module("p", params);
  }
};
}  // namespace

TEST_CASE("printing: a multi-line extra_repr and a ParameterList take a line each, as PyTorch") {
  // torch 1.13 prints these two (with "torch." before the dtypes).
  CHECK(Leafy().repr() == "Leafy(\n  a=1,\n  b=2\n)");
  CHECK(Holder().repr() ==
        "Holder(\n"
        "  (l): Leafy(\n"
        "    a=1,\n"
        "    b=2\n"
        "  )\n"
        "  (p): ParameterList(\n"
        "      (0): Parameter containing: [float32 of size 2]\n"
        "      (1): Parameter containing: [float32 of size 2x3]\n"
        "  )\n"
        ")");
  CHECK(tg::nn::ParameterList().repr() == "ParameterList()");
}

TEST_CASE("Sequential: construction, names, indexing, forward, printing") {
  tg::nn::Sequential seq{tg::nn::Linear(784, 32), tg::nn::ReLU(), tg::nn::Linear(32, 10)};
  CHECK(seq.size() == 3);
  CHECK(names_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(seq[1].type_name() == "ReLU");
  CHECK(seq.at<tg::nn::Linear>(2).out_features == 10);
  CHECK_THROWS_WITH_AS(seq.at<tg::nn::Linear>(1), doctest::Contains("module 1 is a ReLU"), tg::ValueError);
  CHECK_THROWS_WITH_AS(seq[3], doctest::Contains("index 3 is out of range for 3 modules"), tg::IndexError);
  CHECK(seq.repr() ==
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=32, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=32, out_features=10, bias=True)\n"
        ")");

  Tensor x = tg::randn({2, 784});
  auto& fc0 = seq.at<tg::nn::Linear>(0);
  auto& fc2 = seq.at<tg::nn::Linear>(2);
  CHECK(tg::equal(seq(x), tg::linear(tg::relu(tg::linear(x, fc0.weight, fc0.bias)), fc2.weight, fc2.bias)));

  seq.push_back(tg::nn::Softmax(1));
  CHECK(seq.size() == 4);
  CHECK(seq(x).sum().item<double>() == doctest::Approx(2.0));

  // A module shared through std::shared_ptr appears twice but its parameters once.
  auto shared = std::make_shared<tg::nn::Linear>(3, 3);
  tg::nn::Sequential tied{shared, tg::nn::Tanh(), shared};
  CHECK(tied.size() == 3);
  CHECK(tied.parameters().size() == 2);
  CHECK(&tied[0] == &tied[2]);

  // A Sequential inside a plain struct, and nested printing.
  struct Wrapper : tg::nn::Module {
    tg::nn::Sequential body{tg::nn::Linear(2, 2), tg::nn::GELU()};
    Wrapper() { register_module("body", body); }
  } wrapper;
  CHECK(names_of(wrapper.named_parameters()) == std::vector<std::string>{"body.0.weight", "body.0.bias"});
  CHECK(wrapper.repr() ==
        "Wrapper(\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=2, bias=True)\n"
        "    (1): GELU(approximate='none')\n"
        "  )\n"
        ")");

  // The chain's gradient with respect to its input, in float64.
  tg::nn::Sequential small{tg::nn::Linear(3, 4), tg::nn::Sigmoid(), tg::nn::Linear(4, 2)};
  small.to(tg::kFloat64);
  CHECK(tg::gradcheck([&small](const std::vector<Tensor>& v) { return small(v[0]); },
                      {tg::randn({5, 3}, {.dtype = tg::kFloat64, .requires_grad = true})}));

  // Sequential itself moves (it owns its modules).
  tg::nn::Sequential moved = std::move(seq);
  CHECK(moved.size() == 4);
  CHECK(moved.parameters().size() == 4);
}

TEST_CASE("ModuleList holds modules without chaining them") {
  tg::nn::ModuleList layers;
  for (int i = 0; i < 3; ++i) layers.push_back(tg::nn::Linear(4, 4));
  CHECK(layers.size() == 3);
  CHECK(layers.parameters().size() == 6);
  CHECK(names_of(layers.named_parameters())[4] == "2.weight");
  Tensor x = tg::randn({1, 4});
  for (const auto& layer : layers) x = layer->forward(x);
  CHECK(x.shape() == tg::Dims{1, 4});
  CHECK_THROWS_WITH_AS(layers(x), doctest::Contains("ModuleList: this module has no single-tensor forward()"),
                       tg::Error);
}

TEST_CASE("load_state_dict: BatchNorm's num_batches_tracked may be omitted and is then zero, as PyTorch's") {
  Net net;
  net.bn.num_batches_tracked.fill_(3);
  auto state = net.state_dict();
  state.erase("bn.num_batches_tracked");
  net.load_state_dict(state);
  CHECK(net.bn.num_batches_tracked.item<std::int64_t>() == 0);
  state.erase("bn.running_mean");
  CHECK_THROWS_WITH_AS(net.load_state_dict(state), doctest::Contains("missing keys: bn.running_mean"), tg::ValueError);
}

TEST_CASE("a parameter must be a leaf: the result of an op would never get a gradient") {
  Tensor x = tg::ones({2}, {.requires_grad = true});
  tg::nn::ParameterList list;
  CHECK_THROWS_WITH_AS(list.append(x * 2.0), doctest::Contains("must be a leaf tensor"), tg::ValueError);
  CHECK(list.size() == 0);
  list.append((x * 2.0).detach());  // the way out the message names
  CHECK(list[0].is_leaf());
  tg::nn::ParameterDict dict;
  CHECK_THROWS_AS(dict.insert("w", x + 1.0), tg::ValueError);
}

namespace {
// Weight tying as PyTorch programs write it (head.weight = tok.weight).
struct Tied : tg::nn::Module {
  tg::nn::Embedding tok{10, 4};
  tg::nn::Linear head{4, 10, false};
  Tied() {
    register_module("tok", tok);
    register_module("head", head);
    head.weight = tok.weight;
  }
  Tensor forward(const Tensor& x) override { return head(tok(x)); }
};
}  // namespace

TEST_CASE("tying weights by assigning a layer's member: the registry, state_dict and save see the tied tensor") {
  Tied m;
  const auto params = m.named_parameters();
  REQUIRE(params.size() == 1);  // listed once, as PyTorch's parameters()
  CHECK(params[0].first == "tok.weight");
  const auto state = m.state_dict();
  REQUIRE(state.size() == 2);  // both keys, as PyTorch's state_dict
  CHECK(state.at("head.weight").data_ptr<float>() == m.tok.weight.data_ptr<float>());
  CHECK(m.head.named_parameters().at(0).second.impl() == m.tok.weight.impl());
  // Both uses reach the one tensor's gradient.
  m.forward(tg::tensor({1.0, 3.0}, {}, tg::kInt64)).sum().backward();
  const Tensor g = m.tok.weight.grad();
  REQUIRE(g.defined());
  CHECK(g.abs().sum().item<float>() > 0);
  // A save and a load into a fresh tied model give the same tensor in both places.
  Tied fresh;
  fresh.load_state_dict(m.state_dict());
  CHECK(tg::equal(fresh.tok.weight, m.tok.weight));
  CHECK(fresh.head.weight.impl() == fresh.tok.weight.impl());
  // A buffer member follows too.
  tg::nn::BatchNorm1d bn(3);
  bn.running_mean = tg::full({3}, 2.0);
  CHECK(tg::equal(bn.state_dict().at("running_mean"), tg::full({3}, 2.0)));
  // Moved, the module reads its own (moved) members.
  tg::nn::Linear a(2, 3);
  const Tensor other = tg::ones({3, 2}).set_requires_grad(true);
  a.weight = other;
  tg::nn::Linear b = std::move(a);
  CHECK(b.named_parameters().at(0).second.impl() == other.impl());
  // The result of an op assigned to a member is refused (PyTorch refuses the assignment).
  b.weight = other * 2.0;
  CHECK_THROWS_WITH_AS(b.parameters(), doctest::Contains("parameter 'weight' was assigned the result of mul"),
                       tg::ValueError);
  CHECK(b.state_dict().size() == 2);  // saving it is not refused
  // None: an undefined member is not listed, as PyTorch's weight = None.
  b.weight = Tensor();
  CHECK(b.named_parameters().size() == 1);
  // A registered parameter changed in place outside NoGradGuard (an EMA
  // update of a frozen copy) is no longer a leaf, yet is listed, saved and
  // loaded as before, as PyTorch does.
  tg::nn::Linear ema(2, 2);
  ema.requires_grad_(false);
  const Tensor source = tg::ones({2, 2}).set_requires_grad(true);
  ema.weight.mul_(0.9).add_(source * 0.1);
  CHECK_FALSE(ema.weight.is_leaf());
  CHECK(ema.parameters().size() == 2);
  ema.load_state_dict(ema.state_dict());
  ema.zero_grad();
}

namespace {
// Registers a member of a class it is not: refused, since every read would be undefined.
struct WrongMember : tg::nn::Module {
  WrongMember() { register_parameter("w", &tg::nn::Linear::weight, tg::ones({2})); }
};
struct Tagged : tg::nn::Module {
  Tensor scale;
  Tagged() { register_parameter("scale", &Tagged::scale, tg::ones({3})); }
};
}  // namespace

TEST_CASE("member registration: the member's class must be the module's; Module::apply and requires_grad_") {
  CHECK_THROWS_WITH_AS(WrongMember(), doctest::Contains("'w' is registered through a member pointer of a class"),
                       tg::ValueError);
  Tagged t;
  CHECK(t.scale.requires_grad());
  t.requires_grad_(false);
  CHECK_FALSE(t.scale.requires_grad());
  // apply: children first, then the module, as torch's Module.apply.
  tg::nn::Sequential seq{tg::nn::Linear(2, 3), tg::nn::ReLU(), tg::nn::Linear(3, 1)};
  std::vector<std::string> order;
  seq.apply([&](tg::nn::Module& m) { order.push_back(m.type_name()); });
  CHECK(order == std::vector<std::string>{"Linear", "ReLU", "Linear", "Sequential"});
  seq.apply([](tg::nn::Module& m) {
    if (auto* lin = dynamic_cast<tg::nn::Linear*>(&m)) {
      tg::NoGradGuard no_grad;
      lin->weight.fill_(0.5);
    }
  });
  for (const auto& [name, p] : seq.named_parameters())
    if (name.find("weight") != std::string::npos) CHECK(tg::all(p == 0.5).item<bool>());
  seq.requires_grad_(false);
  for (const auto& p : seq.parameters()) CHECK_FALSE(p.requires_grad());
  CHECK_THROWS_AS(seq.apply(std::function<void(tg::nn::Module&)>()), tg::ValueError);
}

TEST_CASE("to(dtype) converts each parameter's .grad() with it, as PyTorch's") {
  tg::nn::Linear m(2, 3);
  tg::sum(m(tg::ones({1, 2}))).backward();
  const Tensor before = m.weight.grad().clone();
  m.to(tg::kFloat64);
  REQUIRE(m.weight.grad().defined());
  CHECK(m.weight.grad().dtype() == tg::kFloat64);
  CHECK(tg::equal(m.weight.grad(), before.to(tg::kFloat64)));
  CHECK(m.bias.grad().dtype() == tg::kFloat64);
}

TEST_CASE("children() and named_children() list a child registered twice once, under its first name") {
  struct Shared : tg::nn::Module {
    std::shared_ptr<tg::nn::Linear> a = std::make_shared<tg::nn::Linear>(2, 2);
    Shared() {
      register_module("a", a);
      register_module("b", a);
    }
  } s;
  const auto named = s.named_children();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "a");
  CHECK(s.children().size() == 1);
  CHECK(s.named_modules().size() == 2);  // itself and the shared child, as before
}

}  // namespace test_module
