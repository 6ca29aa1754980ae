#include <tapegrad/autograd/dot.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include <tapegrad/autograd/node.h>

namespace tg::autograd {
namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";  // a line break in a Graphviz label
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string meta_str(const Dims& shape, DType dtype) {
  return fmt::format("{} {}", shape_str(shape), dtype_name(dtype));
}

std::string bytes_str(std::int64_t b) {
  if (b >= (1 << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1 << 20));
  if (b >= (1 << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(b) / (1 << 10));
  return fmt::format("{} B", b);
}

struct Graph {
  std::vector<std::shared_ptr<Node>> nodes;  // every reachable node, ops then leaves
  std::unordered_map<const Node*, std::size_t> index;
  std::vector<std::map<std::uint32_t, Node::InputMeta>> outputs;  // per node: output nr -> meta
  std::vector<bool> is_root;
};

std::size_t add_node(Graph& g, const std::shared_ptr<Node>& n) {
  auto [it, inserted] = g.index.try_emplace(n.get(), g.nodes.size());
  if (inserted) {
    g.nodes.push_back(n);
    g.outputs.emplace_back();
    g.is_root.push_back(false);
  }
  return it->second;
}

Graph walk(const std::vector<Tensor>& roots) {
  Graph g;
  std::vector<std::size_t> stack;
  for (const auto& t : roots) {
    const Edge e = gradient_edge(t);
    if (!e.fn) continue;
    const std::size_t i = add_node(g, e.fn);
    g.is_root[i] = true;
    g.outputs[i][e.input_nr] = {t.shape(), t.dtype()};
    stack.push_back(i);
  }
  std::set<std::size_t> visited;
  while (!stack.empty()) {
    const std::size_t i = stack.back();
    stack.pop_back();
    if (!visited.insert(i).second) continue;
    const auto node = g.nodes[i];  // a copy: add_node may grow g.nodes
    const auto& edges = node->next_edges();
    for (std::size_t k = 0; k < edges.size(); ++k) {
      if (!edges[k].fn) continue;
      const std::size_t j = add_node(g, edges[k].fn);
      if (k < node->input_metas().size()) g.outputs[j][edges[k].input_nr] = node->input_metas()[k];
      stack.push_back(j);
    }
  }
  return g;
}

std::string signature(const Graph& g, std::size_t i) {
  const Node& n = *g.nodes[i];
  std::string s(n.name());
  for (const auto& [nr, m] : g.outputs[i]) s += fmt::format("|{}:{}", nr, meta_str(m.shape, m.dtype));
  for (const auto& e : n.next_edges()) {
    if (!e.fn) s += "|-";
    else if (e.fn->is_accumulator()) {
      const auto& outs = g.outputs[g.index.at(e.fn.get())];
      s += outs.empty() ? std::string("|leaf")
                        : "|leaf" + meta_str(outs.begin()->second.shape, outs.begin()->second.dtype);
    } else s += "|op";
  }
  return s;
}

}  // namespace

std::string to_dot(const Tensor& output, const NamedTensors& named_leaves, const DotOptions& options) {
  return to_dot(std::vector<Tensor>{output}, named_leaves, options);
}

std::string to_dot(const std::vector<Tensor>& outputs, const NamedTensors& named_leaves, const DotOptions& options) {
  Graph g = walk(outputs);
  const std::size_t n = g.nodes.size();
  std::unordered_map<const TensorImpl*, std::string> names;
  for (const auto& [name, t] : named_leaves)
    if (t.defined()) names.emplace(t.impl(), name);

  // Ops in recording order: a forward's blocks follow each other in it.
  std::vector<std::size_t> ops;
  for (std::size_t i = 0; i < n; ++i)
    if (!g.nodes[i]->is_accumulator()) ops.push_back(i);
  std::stable_sort(ops.begin(), ops.end(),
                   [&](std::size_t a, std::size_t b) { return g.nodes[a]->sequence_nr() < g.nodes[b]->sequence_nr(); });

  // Collapsing: rep[i] is the node drawn for node i (itself unless it is in a
  // repeat after the first); group[i] and copy[i] say which run and which
  // repeat of it the node is in.
  std::vector<std::size_t> rep(n);
  for (std::size_t i = 0; i < n; ++i) rep[i] = i;
  std::vector<int> group(n, -1), copy(n, 0);
  struct Run {
    std::size_t start, period, count;
  };
  std::vector<Run> runs;
  if (options.collapse_repeats) {
    std::vector<std::string> sig;
    for (auto i : ops) sig.push_back(signature(g, i));
    const std::size_t m = ops.size();
    for (std::size_t s = 0; s < m;) {
      std::size_t best_p = 0, best_k = 1;
      for (std::size_t p = 1; s + 2 * p <= m; ++p) {
        std::size_t k = 1;
        while (s + (k + 1) * p <= m && std::equal(sig.begin() + s, sig.begin() + s + p, sig.begin() + s + k * p)) ++k;
        if (k >= 2 && p * k > best_p * best_k) best_p = p, best_k = k;
      }
      if (best_k < 2) {
        ++s;
        continue;
      }
      runs.push_back({s, best_p, best_k});
      for (std::size_t k = 0; k < best_k; ++k)
        for (std::size_t r = 0; r < best_p; ++r) {
          const std::size_t i = ops[s + k * best_p + r];
          rep[i] = ops[s + r];
          group[i] = static_cast<int>(runs.size() - 1);
          copy[i] = static_cast<int>(k);
        }
      s += best_p * best_k;
    }
  }

  // Leaves used only by hidden repeats are hidden too.
  std::vector<bool> visible(n, false);
  for (auto i : ops) visible[i] = rep[i] == i;
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& e : g.nodes[i]->next_edges())
      if (e.fn && e.fn->is_accumulator() && visible[i]) visible[g.index.at(e.fn.get())] = true;

  auto label = [&](std::size_t i) {
    const Node& node = *g.nodes[i];
    std::string text;
    if (node.is_accumulator()) {
      const Tensor leaf = static_cast<const AccumulateGrad&>(node).variable();
      auto it = leaf.defined() ? names.find(leaf.impl()) : names.end();
      text = it != names.end() ? it->second : std::string("leaf");
    } else {
      text = std::string(node.name());
    }
    for (const auto& [nr, m] : g.outputs[i])
      text += g.outputs[i].size() > 1 ? fmt::format("\n{}: {}", nr, meta_str(m.shape, m.dtype))
                                      : fmt::format("\n{}", meta_str(m.shape, m.dtype));
    // A backward without retain_graph frees what a node saved once the node
    // has run: the info (kept at recording) outlives the tensors, so say so
    // rather than show memory the graph no longer holds.
    if (options.show_saved)
      for (const auto& s : node.saved_info())
        text += fmt::format("\nsaved{}: {} ({}{})", s.is_output ? " output" : "", meta_str(s.shape, s.dtype),
                            bytes_str(s.nbytes), node.released() ? ", freed" : "");
    return text;
  };
  auto node_line = [&](std::size_t i) {
    const Node& node = *g.nodes[i];
    const char* style = node.is_accumulator() ? ", style=filled, fillcolor=lightblue"
                        : g.is_root[i]        ? ", style=filled, fillcolor=darkolivegreen1"
                                              : "";
    return fmt::format("  n{} [label=\"{}\"{}];\n", i, escape(label(i)), style);
  };

  std::string out = "digraph tapegrad {\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    out += fmt::format("  subgraph cluster_{} {{\n    label=\"×{}\";\n    style=dashed;\n", r, runs[r].count);
    for (std::size_t k = 0; k < runs[r].period; ++k) out += "  " + node_line(ops[runs[r].start + k]);
    out += "  }\n";
  }
  for (std::size_t i = 0; i < n; ++i)
    if (visible[i] && group[i] < 0) out += node_line(i);

  std::set<std::pair<std::size_t, std::size_t>> edges;
  for (std::size_t c = 0; c < n; ++c) {
    for (const auto& e : g.nodes[c]->next_edges()) {
      if (!e.fn) continue;
      const std::size_t p = g.index.at(e.fn.get());
      // An edge between two repeats of one run is drawn by the run's label.
      if (group[p] >= 0 && group[p] == group[c] && copy[p] != copy[c]) continue;
      const std::size_t from = rep[p], to = rep[c];
      if (!visible[from] || !visible[to] || from == to) continue;
      edges.insert({from, to});
    }
  }
  for (const auto& [from, to] : edges) out += fmt::format("  n{} -> n{};\n", from, to);
  out += "}\n";
  return out;
}

}  // namespace tg::autograd
