#include <tapegrad/autograd/dot.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include <tapegrad/autograd/node.h>
#include <tapegrad/core/utf8.h>

namespace tg::autograd {
namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";  // a line break in a Graphviz label
      continue;
    }
    // Other control bytes (a NUL in a parameter's name ended the DOT text
    // for Graphviz) are shown as \xNN.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\\\x{:02x}", static_cast<unsigned char>(c));
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  // Graphviz reads UTF-8: other bytes (a name of arbitrary bytes) become U+FFFD.
  return ::tg::detail::valid_utf8(out);
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

// Longest common extensions in a sequence of ids, O(log n) each, from the
// names of its substrings of length 2^k (Karp, Miller and Rosenberg): two
// substrings of one length are equal exactly when their names are.
class Extensions {
 public:
  // `ids` are below ids.size() (signatures numbered as they first appear).
  explicit Extensions(const std::vector<std::uint32_t>& ids) : n_(ids.size()) {
    names_.push_back(ids);
    // A level whose names all differ is the last needed: no two substrings of
    // its length are equal, nor of any longer one.
    for (std::size_t half = 1; 2 * half <= n_ && !all_distinct_; half *= 2) names_.push_back(name_pairs(half));
  }

  // The largest L with ids[a, a + L) == ids[b, b + L).
  std::size_t forward(std::size_t a, std::size_t b) const {
    return extension([&](std::size_t k, std::size_t length) {
      const std::size_t step = std::size_t{1} << k;
      return std::max(a, b) + length + step <= n_ && names_[k][a + length] == names_[k][b + length];
    });
  }
  // The largest L with ids[a - L, a) == ids[b - L, b).
  std::size_t backward(std::size_t a, std::size_t b) const {
    return extension([&](std::size_t k, std::size_t length) {
      const std::size_t step = std::size_t{1} << k;
      return length + step <= std::min(a, b) && names_[k][a - length - step] == names_[k][b - length - step];
    });
  }

 private:
  // The longest extension, by blocks of 2^k that `extends(k, length)` says
  // continue one of `length`: growing blocks while they match, then
  // shrinking ones, so that an extension L costs O(log L) (most are 0).
  template <class Extends>
  std::size_t extension(const Extends& extends) const {
    std::size_t length = 0, k = 0;
    for (; k < names_.size() && extends(k, length); ++k) length += std::size_t{1} << k;
    while (k-- > 0)
      if (extends(k, length)) length += std::size_t{1} << k;
    return length;
  }

  // Names of the substrings of length 2 * half, from the pairs of names of
  // length `half`: positions ordered by the pair with two stable counting
  // sorts (names are below n_), then numbered.
  std::vector<std::uint32_t> name_pairs(std::size_t half) {
    const std::vector<std::uint32_t>& previous = names_.back();
    const std::size_t count = n_ - 2 * half + 1;
    std::vector<std::uint32_t> order(count), sorted(count), bucket(n_ + 1);
    auto sort_by = [&](std::size_t shift, const std::vector<std::uint32_t>& in, std::vector<std::uint32_t>& out) {
      std::fill(bucket.begin(), bucket.end(), 0);
      for (const std::uint32_t i : in) ++bucket[previous[i + shift] + 1];
      for (std::size_t v = 1; v <= n_; ++v) bucket[v] += bucket[v - 1];
      for (const std::uint32_t i : in) out[bucket[previous[i + shift]]++] = i;
    };
    for (std::size_t i = 0; i < count; ++i) order[i] = static_cast<std::uint32_t>(i);
    sort_by(half, order, sorted);
    sort_by(0, sorted, order);
    std::vector<std::uint32_t> names(count);
    std::uint32_t name = 0;
    for (std::size_t r = 0; r < count; ++r) {
      const std::uint32_t i = order[r], j = r > 0 ? order[r - 1] : i;
      if (previous[i] != previous[j] || previous[i + half] != previous[j + half]) ++name;
      names[i] = name;
    }
    all_distinct_ = name + 1 == count;
    return names;
  }

  std::size_t n_;
  bool all_distinct_ = false;
  std::vector<std::vector<std::uint32_t>> names_;  // names_[k][i]: ids[i, i + 2^k)
};

struct Run {
  std::size_t start, period, count;  // `count` copies of ids[start, start + period)
};

// Runs of repeated blocks, chosen greedily from the front: at each start s,
// the period p whose repeats cover the most ops (the shortest on a tie), if
// the block repeats at least twice; otherwise the next start. Trying every p
// at every s took quadratic time (15 s for a chain of 100k ops). Instead:
// every block that repeats lies in a maximal stretch [begin, end) of period p
// (ids[i] == ids[i + p] for i in [begin, end - p)), and such a stretch at
// least 2p long contains i and i + p for some multiple i of p, from which two
// extensions find it: n / p positions for each p, n ln n in all, each O(1)
// unless it extends (O(log n)). Starting at s inside a stretch, the block
// repeats (end - s) / p times.
std::vector<Run> repeated_runs(const std::vector<std::uint32_t>& ids) {
  struct Stretch {
    std::size_t begin, end, period;
  };
  const std::size_t n = ids.size();
  const Extensions extend(ids);
  std::vector<Stretch> stretches;
  for (std::size_t p = 1; 2 * p <= n; ++p) {
    for (std::size_t i = 0; i + p < n;) {
      const std::size_t ahead = extend.forward(i, i + p);
      const std::size_t behind = extend.backward(i, i + p);
      if (behind + ahead >= p) stretches.push_back({i - behind, i + p + ahead, p});
      i = (i + ahead) / p * p + p;  // the next multiple of p in another stretch
    }
  }
  std::sort(stretches.begin(), stretches.end(), [](const Stretch& a, const Stretch& b) { return a.begin < b.begin; });

  // Stretches in which a block starting at s repeats: at most one per period,
  // so no more of them than half the ops the best of them covers.
  std::vector<Run> runs;
  std::vector<Stretch> active;
  std::size_t next = 0;
  for (std::size_t s = 0; s < n;) {
    for (; next < stretches.size() && stretches[next].begin <= s; ++next) active.push_back(stretches[next]);
    std::erase_if(active, [&](const Stretch& t) { return s + 2 * t.period > t.end; });
    std::size_t best_period = 0, best_count = 0;
    for (const Stretch& t : active) {
      const std::size_t count = (t.end - s) / t.period;
      if (t.period * count > best_period * best_count ||
          (t.period * count == best_period * best_count && t.period < best_period))
        best_period = t.period, best_count = count;
    }
    if (best_count < 2) {
      ++s;
      continue;
    }
    runs.push_back({s, best_period, best_count});
    s += best_period * best_count;
  }
  return runs;
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
  std::vector<Run> runs;
  if (options.collapse_repeats) {
    // Ops with equal signatures get equal ids, numbered as they first appear.
    std::unordered_map<std::string, std::uint32_t> id_of;
    std::vector<std::uint32_t> ids;
    ids.reserve(ops.size());
    for (auto i : ops)
      ids.push_back(id_of.try_emplace(signature(g, i), static_cast<std::uint32_t>(id_of.size())).first->second);
    runs = repeated_runs(ids);
    for (std::size_t r = 0; r < runs.size(); ++r)
      for (std::size_t k = 0; k < runs[r].count; ++k)
        for (std::size_t j = 0; j < runs[r].period; ++j) {
          const std::size_t i = ops[runs[r].start + k * runs[r].period + j];
          rep[i] = ops[runs[r].start + j];
          group[i] = static_cast<int>(r);
          copy[i] = static_cast<int>(k);
        }
  }

  // Leaves used only by hidden repeats are hidden too; a leaf asked for
  // itself is drawn (alone, as torchviz draws it).
  std::vector<bool> visible(n, false);
  for (auto i : ops) visible[i] = rep[i] == i;
  for (std::size_t i = 0; i < n; ++i)
    if (g.is_root[i] && g.nodes[i]->is_accumulator()) visible[i] = true;
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
  // An output without history (it requires no grad) still gets its box.
  for (std::size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].defined() && !gradient_edge(outputs[k]).fn)
      out += fmt::format("  c{} [label=\"{}\", style=dashed];\n", k,
                         escape(fmt::format("no grad\n{}", meta_str(outputs[k].shape(), outputs[k].dtype()))));

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
