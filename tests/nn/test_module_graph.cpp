// The shape of a module tree: a cycle among submodules is refused when it
// would be made, a submodule shared at two paths (allowed, as in PyTorch) is
// visited once, and Module::to accepts floating dtypes only.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/nn/nn.h>

namespace test_module_graph {

using tg::Tensor;

namespace {

// Registers whatever it is given, so tests can wire trees by hand.
struct Holder : tg::nn::Module {
  void add(const std::string& name, std::shared_ptr<tg::nn::Module> m) { register_module(name, std::move(m)); }
  void add_member(const std::string& name, tg::nn::Module& m) { register_module(name, m); }
  std::string type_name() const override { return "Holder"; }
};

std::vector<std::string> paths(tg::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [path, child] : m.named_modules()) out.push_back(path);
  return out;
}

}  // namespace

TEST_CASE("modules: a cycle through submodules is refused when it would be made, naming both") {
  auto a = std::make_shared<Holder>(), b = std::make_shared<Holder>(), c = std::make_shared<Holder>();
  CHECK_THROWS_WITH_AS(a->add_member("me", *a), "Holder: cannot register 'me': a module cannot be its own child",
                       tg::ValueError);
  CHECK(a->children().empty());
  a->add("b", b);
  b->add("c", c);
  // c -> a would close a -> b -> c -> a.
  CHECK_THROWS_WITH_AS(c->add("a", a),
                       "Holder: cannot register 'a' (Holder): it already contains this module (at 'a.b.c'), which "
                       "would make a cycle",
                       tg::ValueError);
  CHECK(c->children().empty());
  CHECK_THROWS_AS(b->add("a", a), tg::ValueError);
  // The tree is intact and every walk ends.
  CHECK(paths(*a) == std::vector<std::string>{"", "b", "b.c"});
  CHECK(a->parameters().empty());
  CHECK(a->state_dict().empty());
  CHECK(a->repr() == "Holder(\n  (b): Holder(\n    (c): Holder()\n  )\n)");
}

TEST_CASE("modules: containers refuse a cycle too and stay unchanged") {
  auto outer = std::make_shared<tg::nn::Sequential>();
  auto inner = std::make_shared<tg::nn::Sequential>();
  outer->push_back(std::make_shared<tg::nn::Linear>(2, 2));
  outer->push_back(inner);
  inner->push_back(std::make_shared<tg::nn::ReLU>());
  CHECK_THROWS_WITH_AS(inner->push_back(outer), doctest::Contains("cannot register '1' (Sequential)"), tg::ValueError);
  CHECK_THROWS_WITH_AS(inner->push_back(outer), doctest::Contains("(at '1.1')"), tg::ValueError);
  CHECK(inner->size() == 1);
  CHECK_THROWS_AS(outer->push_back(outer), tg::ValueError);
  CHECK(outer->size() == 2);
  CHECK(outer->modules().size() == 4);
  CHECK(outer->forward(tg::ones({1, 2})).shape() == tg::Dims{1, 2});
}

TEST_CASE("modules: a submodule shared at two paths is visited once, as in PyTorch") {
  auto shared_fc = std::make_shared<tg::nn::Linear>(3, 3);
  auto shared_bn = std::make_shared<tg::nn::BatchNorm1d>(3);
  Holder root;
  auto left = std::make_shared<Holder>(), right = std::make_shared<Holder>();
  left->add("fc", shared_fc);
  left->add("bn", shared_bn);
  right->add("fc", shared_fc);
  right->add("bn", shared_bn);
  root.add("left", left);
  root.add("right", right);  // a DAG, not a cycle: allowed

  CHECK(paths(root) == std::vector<std::string>{"", "left", "left.fc", "left.bn", "right"});
  CHECK(root.modules().size() == 5);
  CHECK(root.parameters().size() == 4);  // fc weight and bias, bn weight and bias
  std::vector<std::string> buffer_names;
  for (const auto& [name, t] : root.named_buffers()) buffer_names.push_back(name);
  CHECK(buffer_names ==
        std::vector<std::string>{"left.bn.running_mean", "left.bn.running_var", "left.bn.num_batches_tracked"});
  std::set<const tg::TensorImpl*> distinct;
  for (const Tensor& b : root.buffers()) distinct.insert(b.impl());
  CHECK(distinct.size() == root.buffers().size());
  // The state dict keeps both paths, as PyTorch's does, and loads back.
  const auto state = root.state_dict();
  CHECK(state.contains("left.fc.weight"));
  CHECK(state.contains("right.fc.weight"));
  root.load_state_dict(state);

  root.eval();
  CHECK(!shared_fc->is_training());
  root.to(tg::kFloat64);
  CHECK(shared_fc->weight.dtype() == tg::kFloat64);
  CHECK(shared_bn->running_mean.dtype() == tg::kFloat64);
}

TEST_CASE("modules: to() a non-floating dtype is a DTypeError and changes nothing") {
  tg::nn::Linear fc(2, 3);
  CHECK_THROWS_WITH_AS(
      fc.to(tg::kInt64),
      "Linear.to: only floating dtypes (float16, bfloat16, float32 or float64) are accepted, got int64",
      tg::DTypeError);
  CHECK_THROWS_WITH_AS(fc.to(tg::kBool), doctest::Contains("got bool"), tg::DTypeError);
  CHECK(fc.weight.dtype() == tg::kFloat32);
  CHECK(fc.bias.dtype() == tg::kFloat32);
  tg::nn::Sequential seq{tg::nn::Linear(2, 2), tg::nn::BatchNorm1d(2)};
  CHECK_THROWS_AS(seq.to(tg::kInt64), tg::DTypeError);
  for (const Tensor& p : seq.parameters()) CHECK(p.dtype() == tg::kFloat32);
}

}  // namespace test_module_graph
