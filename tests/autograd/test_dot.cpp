// tg::autograd::to_dot: the recorded graph as Graphviz DOT text.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/dot.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

namespace test_dot {

using tg::Tensor;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// The id of the node whose label starts with `label`.
std::string node_id(const std::string& dot, const std::string& label) {
  std::smatch m;
  const std::regex re("(n[0-9]+) \\[label=\"" + label);
  REQUIRE(std::regex_search(dot, m, re));
  return m[1];
}

}  // namespace

TEST_CASE("to_dot: ops with output shape and dtype, named leaves, edges from inputs to users") {
  Tensor w = tg::ones({3, 2}).set_requires_grad(true);
  Tensor b = tg::zeros({2}).set_requires_grad(true);
  Tensor x = tg::ones({4, 3});
  Tensor loss = tg::sum(tg::relu(tg::add(tg::matmul(x, w), b)));
  const std::string dot = tg::autograd::to_dot(loss, {{"fc.weight", w}, {"fc.bias", b}});
  CHECK(dot.rfind("digraph tapegrad {", 0) == 0);
  CHECK(dot.find("matmul\\n[4, 2] float32") != std::string::npos);
  CHECK(dot.find("relu\\n[4, 2] float32") != std::string::npos);
  CHECK(dot.find("sum\\n[] float32") != std::string::npos);
  CHECK(dot.find("fc.weight\\n[3, 2] float32") != std::string::npos);
  CHECK(dot.find("fc.bias\\n[2] float32") != std::string::npos);
  CHECK(dot.find(node_id(dot, "fc.weight") + " -> " + node_id(dot, "matmul")) != std::string::npos);
  CHECK(dot.find(node_id(dot, "matmul") + " -> " + node_id(dot, "add")) != std::string::npos);
  CHECK(dot.find(node_id(dot, "relu") + " -> " + node_id(dot, "sum")) != std::string::npos);
  CHECK(count(dot, " -> ") == 5);
  // x needs no gradient: not in the graph.
  CHECK(count(dot, "[label=") == 6);
  // Unnamed leaves are "leaf".
  CHECK(tg::autograd::to_dot(loss).find("leaf\\n[3, 2] float32") != std::string::npos);
}

// A leaf, or a tensor without history, drew an empty graph; torchviz draws
// the tensor. A control byte in a name (a NUL ended the text for Graphviz)
// shows as \xNN.
TEST_CASE("to_dot: a leaf or a tensor that requires no grad is drawn alone; control bytes in names are escaped") {
  Tensor w = tg::ones({3, 2}).set_requires_grad(true);
  const std::string leaf = tg::autograd::to_dot(w, {{"fc.weight", w}});
  CHECK(count(leaf, "[label=") == 1);
  CHECK(leaf.find("[label=\"fc.weight\\n[3, 2] float32\", style=filled, fillcolor=lightblue]") != std::string::npos);
  CHECK(count(leaf, " -> ") == 0);

  Tensor c = tg::ones({2}, {.dtype = tg::kFloat64});
  const std::string constant = tg::autograd::to_dot(c);
  CHECK(constant.find("c0 [label=\"no grad\\n[2] float64\", style=dashed];") != std::string::npos);
  CHECK(count(constant, "[label=") == 1);
  // Beside an output with history, in the order given.
  const std::string both = tg::autograd::to_dot(std::vector<Tensor>{tg::sum(w * 2), c});
  CHECK(both.find("c1 [label=\"no grad") != std::string::npos);
  CHECK(both.find("mul\\n[3, 2] float32") != std::string::npos);

  std::string name = "w";
  name += '\0';
  name += "\t\x7f\"";
  const std::string dot = tg::autograd::to_dot(tg::sum(w * 2), {{name, w}});
  CHECK(dot.find("[label=\"w\\\\x00\\\\x09\\\\x7f\\\"\\n[3, 2] float32\"") != std::string::npos);
  CHECK(dot.find('\0') == std::string::npos);
  CHECK(dot.find('\t') == std::string::npos);
  // Graphviz reads UTF-8: a stray byte becomes U+FFFD, a real character stays.
  const std::string odd = tg::autograd::to_dot(tg::sum(w * 2), {{"w\xff\xc3(\u00e9)", w}});
  CHECK(odd.find("w\xEF\xBF\xBD\xEF\xBF\xBD(\u00e9)") != std::string::npos);
}

TEST_CASE("to_dot: saved tensors and their sizes under a GraphDetailGuard only") {
  Tensor a = tg::ones({5, 4}).set_requires_grad(true);
  Tensor plain = tg::exp(a);
  CHECK(tg::autograd::to_dot(plain).find("saved") == std::string::npos);
  tg::autograd::GraphDetailGuard detail;
  Tensor y = tg::exp(a);  // saves its output
  const std::string dot = tg::autograd::to_dot(y);
  CHECK(dot.find("saved output: [5, 4] float32 (80 B)") != std::string::npos);
  CHECK(tg::autograd::to_dot(y, {}, {.show_saved = false}).find("saved") == std::string::npos);
}

// A custom Function saves its tensors after its node is attached; they
// were listed on the next op recorded on the thread instead (an unrelated
// neg showed Scale's input).
struct SavesInput : tg::autograd::Function<SavesInput> {
  static Tensor forward(tg::autograd::AutogradContext* ctx, const Tensor& x) {
    ctx->save_for_backward({x});
    return x * 2;
  }
  static std::vector<Tensor> backward(tg::autograd::AutogradContext*, std::vector<Tensor> g) { return {g[0] * 2}; }
};

TEST_CASE("to_dot: a custom Function's saved tensors are drawn on its own node") {
  tg::autograd::GraphDetailGuard detail;
  Tensor w = tg::ones({2}).set_requires_grad(true);
  Tensor v = tg::ones({3}).set_requires_grad(true);
  Tensor y = SavesInput::apply(w);
  Tensor u = v.neg();
  const std::string scale = tg::autograd::to_dot(y), neg = tg::autograd::to_dot(u);
  CHECK(scale.find("saved: [2] float32 (8 B)") != std::string::npos);
  CHECK(neg.find("saved") == std::string::npos);
}

TEST_CASE("to_dot: saved tensors a backward freed are drawn as freed, those still held are not") {
  tg::autograd::GraphDetailGuard detail;
  Tensor a = tg::ones({5, 4}).set_requires_grad(true);
  Tensor b = tg::ones({3}).set_requires_grad(true);
  const std::string a_saved = "saved output: [5, 4] float32 (80 B";
  const std::string b_saved = "saved output: [3] float32 (12 B";

  SUBCASE("backward without retain_graph frees every node it ran") {
    Tensor loss = tg::sum(tg::exp(a));
    const std::string before = tg::autograd::to_dot(loss);
    CHECK(before.find(a_saved + ")") != std::string::npos);
    CHECK(before.find("freed") == std::string::npos);
    loss.backward();
    const std::string after = tg::autograd::to_dot(loss);
    CHECK(after.find(a_saved + ", freed)") != std::string::npos);
    CHECK(after.find(a_saved + ")") == std::string::npos);
  }
  SUBCASE("retain_graph keeps them") {
    Tensor loss = tg::sum(tg::exp(a));
    loss.backward({}, /*retain_graph=*/true);
    CHECK(tg::autograd::to_dot(loss).find("freed") == std::string::npos);
  }
  SUBCASE("a branch the backward did not need keeps what it saved") {
    Tensor loss = tg::add(tg::sum(tg::exp(a)), tg::sum(tg::exp(b)));
    tg::grad({loss}, {a});
    const std::string after = tg::autograd::to_dot(loss);
    CHECK(after.find(a_saved + ", freed)") != std::string::npos);
    CHECK(after.find(b_saved + ")") != std::string::npos);
  }
}

TEST_CASE("to_dot: collapse_repeats draws a run of identical blocks once, labelled with its count") {
  Tensor x = tg::ones({2, 8}).set_requires_grad(true);
  std::vector<Tensor> weights;
  Tensor h = x;
  for (int i = 0; i < 4; ++i) {
    weights.push_back(tg::ones({8, 8}).set_requires_grad(true));
    h = tg::tanh(tg::matmul(h, weights.back()));
  }
  Tensor loss = tg::sum(h);
  const std::string full = tg::autograd::to_dot(loss);
  CHECK(count(full, "tanh\\n") == 4);
  const std::string collapsed = tg::autograd::to_dot(loss, {}, {.collapse_repeats = true});
  // The first block reads a leaf, the next three the previous block: those
  // three are one run.
  CHECK(count(collapsed, "subgraph cluster_") == 1);
  CHECK(collapsed.find("label=\"×3\"") != std::string::npos);
  CHECK(count(collapsed, "tanh\\n") == 2);
  CHECK(count(collapsed, "matmul\\n") == 2);
  // The run's output still reaches the sum.
  CHECK(collapsed.find(" -> " + node_id(collapsed, "sum")) != std::string::npos);
}

// The text the first version (which tried every period at every start)
// drew for this graph, byte for byte: runs of one and of two ops, a single
// op between runs, a run whose first block reads a leaf another way.
TEST_CASE("to_dot: collapse_repeats draws several runs as it always did") {
  Tensor x = tg::ones({2, 3}).set_requires_grad(true);
  Tensor w = tg::ones({3}).set_requires_grad(true);
  Tensor y = x;
  for (int i = 0; i < 4; ++i) y = y * w;
  for (int i = 0; i < 3; ++i) y = tg::tanh(y).neg();
  y = tg::sin(y);
  for (int i = 0; i < 2; ++i) y = tg::exp(y) * w;
  y = y.sum(1);
  for (int i = 0; i < 3; ++i) y = tg::relu(y + 1.0);
  const std::string expected = R"(digraph tapegrad {
  node [shape=box, fontname="monospace", fontsize=10];
  subgraph cluster_0 {
    label="×3";
    style=dashed;
    n22 [label="mul\n[2, 3] float32"];
  }
  subgraph cluster_1 {
    label="×3";
    style=dashed;
    n19 [label="tanh\n[2, 3] float32"];
    n18 [label="neg\n[2, 3] float32"];
  }
  subgraph cluster_2 {
    label="×2";
    style=dashed;
    n12 [label="exp\n[2, 3] float32"];
    n11 [label="mul\n[2, 3] float32"];
  }
  subgraph cluster_3 {
    label="×3";
    style=dashed;
    n6 [label="add\n[2] float32"];
    n5 [label="relu\n[2] float32"];
  }
  n0 [label="sum\n[] float32", style=filled, fillcolor=darkolivegreen1];
  n7 [label="sum\n[2] float32"];
  n10 [label="w\n[3] float32", style=filled, fillcolor=lightblue];
  n13 [label="sin\n[2, 3] float32"];
  n23 [label="mul\n[2, 3] float32"];
  n24 [label="x\n[2, 3] float32", style=filled, fillcolor=lightblue];
  n5 -> n0;
  n6 -> n5;
  n7 -> n6;
  n10 -> n11;
  n10 -> n22;
  n10 -> n23;
  n11 -> n7;
  n12 -> n11;
  n13 -> n12;
  n18 -> n13;
  n19 -> n18;
  n22 -> n19;
  n23 -> n22;
  n24 -> n23;
}
)";
  CHECK(tg::autograd::to_dot(y.sum(), {{"x", x}, {"w", w}}, {.collapse_repeats = true}) == expected);
}

// Trying every period at every start took 2 s for 40k ops and 15 s for 100k
// (Release); this chain takes 0.6 s in a Debug build, mostly to record it.
TEST_CASE("to_dot: collapse_repeats draws a chain of 50k identical ops as one block") {
  Tensor x = tg::ones({1}).set_requires_grad(true);
  Tensor y = x;
  for (int i = 0; i < 50'000; ++i) y = y * 1.0;
  // The first mul reads the leaf, the other 49999 the previous mul.
  const std::string expected = R"(digraph tapegrad {
  node [shape=box, fontname="monospace", fontsize=10];
  subgraph cluster_0 {
    label="×49999";
    style=dashed;
    n49998 [label="mul\n[1] float32"];
  }
  n49999 [label="mul\n[1] float32"];
  n50000 [label="leaf\n[1] float32", style=filled, fillcolor=lightblue];
  n49999 -> n49998;
  n50000 -> n49999;
}
)";
  CHECK(tg::autograd::to_dot(y, {}, {.collapse_repeats = true}) == expected);
}

TEST_CASE("to_dot: Graphviz renders the text (when dot is installed)") {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    MESSAGE("graphviz's dot is not installed: rendering skipped");
    return;
  }
  Tensor w = tg::ones({3, 2}).set_requires_grad(true);
  Tensor loss = tg::sum(tg::sigmoid(tg::matmul(tg::ones({4, 3}), w)));
  const auto dir = std::filesystem::temp_directory_path();
  const auto dot_path = dir / "tapegrad_to_dot_test.dot", svg_path = dir / "tapegrad_to_dot_test.svg";
  const std::string cmd = "dot -Tsvg '" + dot_path.string() + "' -o '" + svg_path.string() + "'";
  const auto render = [&](const std::string& text) {
    std::ofstream(dot_path) << text;
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(svg_path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string svg = render(tg::autograd::to_dot(loss, {{"w", w}}));
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("sigmoid") != std::string::npos);
  // Graphviz read the text after a NUL in a name as its end.
  std::string odd = "w";
  odd += '\0';
  odd += "\x01";
  const std::string odd_svg = render(tg::autograd::to_dot(loss, {{odd, w}}));
  CHECK(odd_svg.find("sigmoid") != std::string::npos);
  CHECK(odd_svg.find("w\\x00\\x01") != std::string::npos);
  CHECK(render(tg::autograd::to_dot(w, {{"w", w}})).find("[3, 2] float32") != std::string::npos);
  std::filesystem::remove(dot_path);
  std::filesystem::remove(svg_path);
}

}  // namespace test_dot
