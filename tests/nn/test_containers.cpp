// Modules that hold member submodules move (and so live in std::vector,
// ModuleList and Sequential) with their registry following them; ModuleDict,
// ParameterList and ParameterDict; Callable's variadic call operator.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/io/safetensors.h>
#include <tapegrad/nn/nn.h>

namespace test_containers {

using tg::Tensor;

namespace {

struct Block : tg::nn::Module {
  tg::nn::Linear fc1{4, 6}, fc2{6, 4};
  tg::nn::LayerNorm norm{std::vector<std::int64_t>{4}};
  Tensor gain = register_parameter("gain", tg::ones({4}));
  Block() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("norm", norm);
  }
  Tensor forward(const Tensor& x) override { return norm(x + fc2(tg::relu(fc1(x)))) * gain; }
};

// Members nested two deep: the inner Block's members move too.
struct Tower : tg::nn::Module {
  Block lower, upper;
  Tower() {
    register_module("lower", lower);
    register_module("upper", upper);
  }
  Tensor forward(const Tensor& x) override { return upper(lower(x)); }
};

// A two-input forward, called as m(x, mask).
struct Masked : tg::nn::Callable<Masked> {
  using Module::forward;
  tg::nn::Linear proj{4, 4};
  Masked() { register_module("proj", proj); }
  Tensor forward(const Tensor& x, const Tensor& mask) { return proj(x) * mask; }
  Tensor forward(const Tensor& x, const Tensor& mask, double scale) { return forward(x, mask) * scale; }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries) out.push_back(entry.first);
  return out;
}

// Every registered child of `m` (recursively) is one of its own members'
// addresses, i.e. lies inside the object, and the registry's tensors are the
// members' tensors.
void check_points_into(Block& b) {
  const auto children = b.named_children();
  REQUIRE(children.size() == 3);
  CHECK(children[0].second == &b.fc1);
  CHECK(children[1].second == &b.fc2);
  CHECK(children[2].second == &b.norm);
  CHECK(b.named_parameters()[1].second.is_same(b.fc1.weight));
}

// Registers modules from outside, by reference.
struct Holder : tg::nn::Module {
  void add(tg::nn::Module& m, const std::string& name = "m") { register_module(name, m); }
};

}  // namespace

TEST_CASE("containers: a module with member submodules moves, and its registry follows the members") {
  tg::manual_seed(3);
  Block a;
  const Tensor x = tg::randn({2, 4});
  const Tensor expected = a(x);
  const Tensor w = a.fc1.weight;
  Block b = std::move(a);
  check_points_into(b);
  CHECK(b.fc1.weight.is_same(w));
  CHECK(tg::equal(b(x), expected));
  CHECK(names_of(b.named_parameters()) == std::vector<std::string>{"gain", "fc1.weight", "fc1.bias", "fc2.weight",
                                                                   "fc2.bias", "norm.weight", "norm.bias"});
  // The moved-from module is empty but valid.
  CHECK(a.named_parameters().empty());
  CHECK(a.children().empty());

  // Move assignment too, and the target's own old members are forgotten.
  Block c;
  c = std::move(b);
  check_points_into(c);
  CHECK(tg::equal(c(x), expected));
  // A module that still refers to c's member keeps doing so after c dies.
  {
    Block d;
    d = std::move(c);
    check_points_into(d);
  }
}

TEST_CASE("containers: nested members move, and Block lives in a std::vector that reallocates") {
  tg::manual_seed(4);
  std::vector<Block> blocks;
  std::vector<Tensor> expected;
  const Tensor x = tg::randn({3, 4});
  for (int i = 0; i < 9; ++i) {
    blocks.emplace_back();
    expected.push_back(blocks.back()(x));
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    check_points_into(blocks[i]);
    CHECK(tg::equal(blocks[i](x), expected[i]));
  }

  Tower t;
  const Tensor before = t(x);
  std::vector<Tower> towers;
  towers.push_back(std::move(t));
  towers.push_back(Tower());
  check_points_into(towers[0].lower);
  check_points_into(towers[0].upper);
  CHECK(towers[0].named_children()[0].second == &towers[0].lower);
  CHECK(tg::equal(towers[0](x), before));
  CHECK(towers[0].named_parameters()[0].first == "lower.gain");
}

TEST_CASE("containers: custom modules go into ModuleList and Sequential by value") {
  tg::manual_seed(5);
  const Tensor x = tg::randn({2, 4});
  Block first;
  const Tensor y1 = first(x);
  tg::nn::Sequential seq;
  seq.push_back(std::move(first));
  seq.push_back(Block());
  seq.push_back(tg::nn::Linear(4, 2));
  check_points_into(seq.at<Block>(0));
  CHECK(tg::equal(seq.at<Block>(0)(x), y1));
  CHECK(tg::equal(seq(x), seq[2](seq[1](y1))));
  const auto names = names_of(seq.named_parameters());
  CHECK(names[0] == "0.gain");
  CHECK(names[1] == "0.fc1.weight");
  CHECK(names.back() == "2.bias");

  tg::nn::ModuleList layers;
  for (int i = 0; i < 3; ++i) layers.push_back(Block());
  CHECK(names_of(layers.named_parameters())[8] == "1.fc1.weight");
  // The list itself moves into a module that holds it.
  struct Net : tg::nn::Module {
    tg::nn::ModuleList layers;
    explicit Net(tg::nn::ModuleList l) : layers(std::move(l)) { register_module("layers", layers); }
  };
  Net net(std::move(layers));
  CHECK(names_of(net.named_parameters())[1] == "layers.0.fc1.weight");
  Net moved = std::move(net);
  CHECK(moved.named_children()[0].second == &moved.layers);
  CHECK(moved.parameters().size() == 21);
}

TEST_CASE("containers: ModuleDict keeps insertion order and names parameters by key") {
  tg::nn::ModuleDict heads;
  heads.insert("cls", tg::nn::Linear(4, 3));
  heads.insert("box", Block());
  auto shared = std::make_shared<tg::nn::Linear>(2, 2);
  heads.insert("aux", shared);
  CHECK(heads.size() == 3);
  CHECK(heads.keys() == std::vector<std::string>{"cls", "box", "aux"});
  CHECK(heads.contains("box"));
  CHECK_FALSE(heads.contains("nope"));
  CHECK(&heads.at<tg::nn::Linear>("aux") == shared.get());
  CHECK(names_of(heads.named_parameters())[0] == "cls.weight");
  CHECK(names_of(heads.named_parameters())[2] == "box.gain");
  CHECK(heads["cls"](tg::ones({1, 4})).shape() == tg::Dims{1, 3});
  CHECK_THROWS_WITH_AS(heads["nope"], "ModuleDict: no module named 'nope' (keys: [cls, box, aux])", tg::IndexError);
  CHECK_THROWS_WITH_AS(heads.at<Block>("cls"), doctest::Contains("module 'cls' is a Linear"), tg::ValueError);
  CHECK_THROWS_AS(heads.insert("cls", tg::nn::ReLU()), tg::ValueError);
  CHECK(heads.size() == 3);
  std::vector<std::string> iterated;
  for (const auto& [key, module] : heads) iterated.push_back(key + "=" + module->type_name());
  CHECK(iterated == std::vector<std::string>{"cls=Linear", "box=Block", "aux=Linear"});
}

TEST_CASE("containers: ParameterList and ParameterDict register parameters that alias their entries") {
  tg::nn::ParameterList list({tg::zeros({2}), tg::ones({3})});
  list.append(tg::full({1}, 5.0));
  CHECK(list.size() == 3);
  CHECK(names_of(list.named_parameters()) == std::vector<std::string>{"0", "1", "2"});
  for (const auto& p : list) CHECK(p.requires_grad());
  CHECK(list[1].is_same(list.parameters()[1]));
  CHECK_THROWS_AS(list[3], tg::IndexError);

  tg::nn::ParameterDict dict;
  dict.insert("scale", tg::ones({4}));
  dict.insert("shift", tg::zeros({4}));
  CHECK(dict.keys() == std::vector<std::string>{"scale", "shift"});
  CHECK(dict.contains("shift"));
  CHECK(dict["scale"].requires_grad());
  CHECK_THROWS_WITH_AS(dict["bias"], "ParameterDict: no parameter named 'bias' (keys: [scale, shift])", tg::IndexError);
  CHECK_THROWS_AS(dict.insert("scale", tg::ones({1})), tg::ValueError);

  // Inside a model: dotted paths, gradients, and a state_dict round trip
  // through safetensors into a fresh model.
  struct Model : tg::nn::Module {
    tg::nn::ParameterList weights;
    tg::nn::ParameterDict extra;
    tg::nn::ModuleList layers;
    Model() {
      weights.append(tg::randn({4, 4}));
      weights.append(tg::randn({4}));
      extra.insert("bias", tg::randn({4}));
      layers.push_back(tg::nn::Linear(4, 4));
      layers.push_back(Block());
      register_module("weights", weights);
      register_module("extra", extra);
      register_module("layers", layers);
    }
    Tensor forward(const Tensor& x) override {
      Tensor h = tg::matmul(x, weights[0]) + weights[1] + extra["bias"];
      for (const auto& layer : layers) h = layer->forward(h);
      return h;
    }
  };
  tg::manual_seed(6);
  Model a;
  const auto names = names_of(a.named_parameters());
  CHECK(names[0] == "weights.0");
  CHECK(names[2] == "extra.bias");
  CHECK(names[3] == "layers.0.weight");
  CHECK(names[6] == "layers.1.fc1.weight");
  const Tensor x = tg::randn({3, 4});
  a(x).sum().backward();
  CHECK(a.weights[0].grad().defined());
  CHECK(a.extra["bias"].grad().defined());

  const std::string path = "test_containers_roundtrip.safetensors";
  tg::save(path, a.state_dict());
  tg::manual_seed(7);
  Model b;
  CHECK_FALSE(tg::equal(a(x), b(x)));
  b.load_state_dict(tg::load(path));
  CHECK(tg::equal(a(x), b(x)));
  std::remove(path.c_str());
}

TEST_CASE("containers: Callable forwards any arguments to forward") {
  tg::manual_seed(8);
  Masked m;
  const Tensor x = tg::randn({2, 4});
  const Tensor mask = tg::tensor({1, 0, 1, 0}, {4});
  CHECK(tg::equal(m(x, mask), m.forward(x, mask)));
  CHECK(tg::equal(m(x, mask, 2.0), m.forward(x, mask) * 2.0));
  // Movable, and callable from a container by its type.
  tg::nn::ModuleList list;
  list.push_back(std::move(m));
  auto& back = list.at<Masked>(0);
  CHECK(back.named_children()[0].second == &back.proj);
  CHECK(back(x, mask).shape() == tg::Dims{2, 4});
  // A single-input module is still called through Module's operator().
  tg::nn::Linear fc(4, 2);
  CHECK(tg::equal(fc(x), fc.forward(x)));
}

TEST_CASE("containers: only members move with their parent; other registrations stay where they are") {
  // A module registered from outside is not moved by its parent's move.
  struct Holder : tg::nn::Module {
    explicit Holder(tg::nn::Module& outside) { register_module("outside", outside); }
  };
  tg::nn::Linear outside(2, 2);
  Holder a(outside);
  Holder b = std::move(a);
  CHECK(b.named_children()[0].second == &outside);
  CHECK(b.parameters().size() == 2);
  // A member moved out alone: its parent keeps its own (now empty) member,
  // so it never refers to the new module, which may die first.
  Block block;
  {
    tg::nn::Linear taken = std::move(block.fc1);
    CHECK(taken.parameters().size() == 2);
  }
  CHECK(block.named_children()[0].second == &block.fc1);
  CHECK(block.named_parameters().size() == 5);
  // The block still moves correctly afterwards.
  Block moved = std::move(block);
  CHECK(moved.named_children()[0].second == &moved.fc1);
  CHECK(moved.named_children()[1].second == &moved.fc2);
  CHECK(moved.named_parameters().size() == 5);
}

// Children registered by reference from a std::vector member: reallocation
// moves each element and destroys the old one, and the parent follows the
// element. A registered module that dies with no successor leaves its
// parent's list instead of dangling there.
TEST_CASE("containers: children in a reallocating std::vector stay registered; dead children leave") {
  struct Net : tg::nn::Module {
    std::vector<tg::nn::Linear> layers;
    Net() {
      for (int i = 0; i < 9; ++i) {
        layers.emplace_back(2, 2);
        register_module(std::to_string(i), layers.back());
      }
    }
  };
  Net net;
  const auto check = [](Net& n) {
    REQUIRE(n.named_children().size() == 9);
    for (std::size_t i = 0; i < 9; ++i) CHECK(n.named_children()[i].second == &n.layers[i]);
    CHECK(n.parameters().size() == 18);
  };
  check(net);
  Net moved = std::move(net);
  check(moved);
  moved.layers.reserve(100);  // every element moves again
  check(moved);

  struct Holder : tg::nn::Module {
    void add(tg::nn::Module& m) { register_module("m", m); }
  };
  Holder holder;
  {
    tg::nn::Linear outside(2, 2);
    holder.add(outside);
    CHECK(holder.parameters().size() == 2);
  }
  CHECK(holder.children().empty());
  CHECK(holder.parameters().empty());
}

// A registered module moved out alone: its parents keep the moved-from object
// while it lives, then follow the module holding its content, or drop it.
// Each case checks the parent's list after every death, so a parent left
// pointing at a dead module fails even without a sanitizer.
TEST_CASE("containers: a registered module moved into a vector that reallocates, then destroyed, leaves no parent") {
  Holder parent;
  std::optional<tg::nn::Linear> l(std::in_place, 2, 2);
  parent.add(*l);
  {
    std::vector<tg::nn::Linear> v;
    v.push_back(std::move(*l));
    v.reserve(16);  // the successor moves again
    CHECK(parent.children() == std::vector<tg::nn::Module*>{&*l});
  }
  CHECK(parent.children() == std::vector<tg::nn::Module*>{&*l});
  l.reset();
  CHECK(parent.children().empty());
  CHECK(parent.parameters().empty());

  // The moved-from module dies first: the parent follows the content along
  // both moves, and drops it when it dies.
  l.emplace(2, 2);
  parent.add(*l);
  const Tensor w = l->weight;
  std::vector<tg::nn::Linear> v;
  v.push_back(std::move(*l));
  v.reserve(16);
  l.reset();
  REQUIRE(parent.children() == std::vector<tg::nn::Module*>{&v[0]});
  CHECK(parent.parameters()[0].is_same(w));
  v.clear();
  CHECK(parent.children().empty());
}

TEST_CASE("containers: a registered module moved out and back stays registered, and leaves when it dies") {
  Holder parent;
  std::optional<tg::nn::Linear> l(std::in_place, 2, 2);
  parent.add(*l);
  const Tensor w = l->weight;
  {
    tg::nn::Linear tmp = std::move(*l);
    *l = std::move(tmp);
  }
  CHECK(parent.children() == std::vector<tg::nn::Module*>{&*l});
  CHECK(parent.parameters()[0].is_same(w));
  l.reset();
  CHECK(parent.children().empty());
}

TEST_CASE("containers: swapping a registered module, then destroying both in either order, leaves no parent") {
  for (const bool registered_dies_first : {true, false}) {
    CAPTURE(registered_dies_first);
    Holder parent;
    std::optional<tg::nn::Linear> a(std::in_place, 2, 2), b(std::in_place, 2, 2);
    parent.add(*a);
    const Tensor wa = a->weight, wb = b->weight;
    std::swap(*a, *b);
    // The parent keeps its child's address, which holds b's old content now.
    REQUIRE(parent.children() == std::vector<tg::nn::Module*>{&*a});
    CHECK(parent.parameters()[0].is_same(wb));
    if (registered_dies_first) {
      a.reset();  // the parent follows a's old content, now in b
      REQUIRE(parent.children() == std::vector<tg::nn::Module*>{&*b});
      CHECK(parent.parameters()[0].is_same(wa));
      b.reset();
    } else {
      b.reset();
      CHECK(parent.children() == std::vector<tg::nn::Module*>{&*a});
      a.reset();
    }
    CHECK(parent.children().empty());
  }
}

TEST_CASE("containers: a chain of moves a -> b -> c with deaths in every order never leaves a parent dangling") {
  std::array<int, 3> order{0, 1, 2};
  do {
    const std::string deaths = std::to_string(order[0]) + std::to_string(order[1]) + std::to_string(order[2]);
    CAPTURE(deaths);
    Holder parent;
    std::array<std::optional<tg::nn::Linear>, 3> m;
    m[0].emplace(2, 2);
    parent.add(*m[0]);
    const Tensor w = m[0]->weight;
    m[1].emplace(std::move(*m[0]));
    m[2].emplace(std::move(*m[1]));
    // The parent refers to a while a lives; when a dies it follows the
    // content to c if c lives, else drops it. b never matters.
    tg::nn::Module* expected = &*m[0];
    for (const int dying : order) {
      const auto index = static_cast<std::size_t>(dying);
      if (index == 0) expected = m[2] ? &*m[2] : nullptr;
      if (index == 2 && expected == &*m[2]) expected = nullptr;
      m[index].reset();
      if (expected) {
        REQUIRE(parent.children() == std::vector<tg::nn::Module*>{expected});
        // While a lives the parent sees it moved-from and empty; then c.
        CHECK(parent.parameters().size() == (m[0] ? 0U : 2U));
        if (!m[0]) CHECK(parent.parameters()[0].is_same(w));
      } else {
        CHECK(parent.children().empty());
      }
    }
    CHECK(parent.children().empty());
  } while (std::next_permutation(order.begin(), order.end()));
}

// An entry keyed by the address of a dead module must not survive it: a new
// module built at that address and registered elsewhere would inherit it.
TEST_CASE("containers: a module built where a moved-out member was is not taken for it") {
  std::optional<Block> block(std::in_place);
  tg::nn::Linear fc = std::move(block->fc1);
  const tg::nn::Module* old_fc1 = &block->fc1;
  { Block moved = std::move(*block); }
  block.reset();
  block.emplace();
  REQUIRE(&block->fc1 == old_fc1);  // the optional's storage: the same address
  Holder holder;
  holder.add(block->fc1);
  block.reset();
  CHECK(holder.children().empty());
  CHECK(fc.parameters().size() == 2);
}

TEST_CASE("containers: one module registered twice and in two parents, moved alone and with its parent") {
  Holder first, second;
  std::optional<tg::nn::Linear> l(std::in_place, 2, 2);
  first.add(*l, "a");
  first.add(*l, "b");
  second.add(*l);
  std::optional<tg::nn::Linear> moved(std::in_place, std::move(*l));
  l.reset();  // both parents follow, each entry (children() lists a shared child once; state_dict has both paths)
  CHECK(first.children() == std::vector<tg::nn::Module*>{&*moved});
  CHECK(tg::equal(first.state_dict().at("b.weight"), moved->weight));
  CHECK(second.children() == std::vector<tg::nn::Module*>{&*moved});
  Holder third = std::move(first);
  CHECK(third.children() == std::vector<tg::nn::Module*>{&*moved});
  CHECK(tg::equal(third.state_dict().at("a.weight"), moved->weight));
  CHECK(tg::equal(third.state_dict().at("b.weight"), moved->weight));
  moved.reset();
  CHECK(third.children().empty());
  CHECK(second.children().empty());
  CHECK(first.children().empty());
}

}  // namespace test_containers
