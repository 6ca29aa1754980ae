// The op registry (testing/op_registry.h) drives these checks:
//   - gradcheck and gradgradcheck, in float64, of every differentiable entry
//     on every sample configuration, on contiguous inputs and on three other
//     layouts of the same values: transposed, sliced with step 2 out of a
//     bigger tensor, and expanded (one dim of stride 0) where the op accepts
//     repeated values (gradgradcheck skipped for the entries marked once
//     differentiable, as ctc_loss is in PyTorch);
//   - every entry accepts exactly the dtypes it lists;
//   - docs/ops.md is what the registry generates;
//   - completeness: every op the built library defines (free functions of tg
//     and tg::nn::functional taking a Tensor, and Tensor methods, as `nm`
//     lists them) has a registry entry per overload, so a new public op
//     without one fails here.
#include <doctest/doctest.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>
#include <tapegrad/testing/op_registry.h>

#include "support/registry_gradcheck.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace test_registry_gradcheck {

#ifndef TAPEGRAD_SOURCE_DIR
#error "tests/CMakeLists.txt must define TAPEGRAD_SOURCE_DIR (the source tree, to read docs/ops.md)"
#endif
#if !defined(TAPEGRAD_LIBRARY_FILE) || !defined(TAPEGRAD_NM)
#error "tests/CMakeLists.txt must define TAPEGRAD_LIBRARY_FILE and TAPEGRAD_NM (to list the library's ops)"
#endif

using tg::Dims;
using tg::Tensor;
using tg::testing::OpInfo;

namespace {

// ---- completeness -------------------------------------------------------------

// Functions the library defines that take a Tensor but are not ops: metadata,
// the autograd API, creation, checks and files. Anything else must have a
// registry entry.
const std::set<std::string> kNotOps = {
    // Tensor: identity, metadata, storage, autograd state
    "Tensor::Tensor", "Tensor::~Tensor", "Tensor::operator=", "Tensor::checked", "Tensor::defined", "Tensor::reset",
    "Tensor::impl", "Tensor::impl_ptr", "Tensor::is_same", "Tensor::dtype", "Tensor::device", "Tensor::dim",
    "Tensor::numel", "Tensor::sizes", "Tensor::strides", "Tensor::shape", "Tensor::size", "Tensor::stride",
    "Tensor::storage_offset", "Tensor::is_contiguous", "Tensor::is_floating_point", "Tensor::element_size",
    "Tensor::storage", "Tensor::data_ptr", "Tensor::raw_data", "Tensor::item", "Tensor::to_vector", "Tensor::version",
    "Tensor::requires_grad", "Tensor::set_requires_grad", "Tensor::requires_grad_", "Tensor::grad",
    "Tensor::mutable_grad", "Tensor::set_grad", "Tensor::is_leaf", "Tensor::grad_fn", "Tensor::grad_fn_name",
    "Tensor::output_nr", "Tensor::backward", "Tensor::retain_grad", "Tensor::retains_grad", "Tensor::register_hook",
    "Tensor::remove_hook", "Tensor::register_post_accumulate_grad_hook",
    // the conversions between core's TensorBase and Tensor (autograd/tensor.h)
    "Tensor::TensorBase", "as_bases", "as_tensors",
    // creation and random numbers (autograd/creation.cpp; core's are tg::kernel::)
    "empty", "zeros", "ones", "full", "zeros_like", "ones_like", "empty_like", "full_like", "scalar_tensor", "arange",
    "linspace", "eye", "tensor", "rand", "randn", "randint", "bernoulli", "randperm", "make_tensor", "make_view",
    // the autograd API and gradient checks
    "backward", "grad", "gradcheck", "gradcheck_result", "gradgradcheck", "gradgradcheck_result",
    // gradient checkpointing runs the caller's function (autograd/grad_checkpoint.h)
    "checkpoint",
    // the ops' shared dtype checks (core/tensor.h, core/dtype_check.h)
    "refuse_bool", "check_dtype",
    // printing and files
    "operator<<", "repr", "to_string", "print", "save", "save_to_bytes", "load", "load_from_bytes"};

// The op name of one `nm -C` symbol ("tg::Tensor::sum(tg::DimList, ...) const"
// gives "Tensor::sum"; tg::nn::functional:: becomes F::), or empty when it is
// not a function of tg, tg::Tensor or tg::nn::functional taking a Tensor.
std::string op_name_of_symbol(const std::string& symbol) {
  std::string rest, prefix;
  for (const auto& [ns, short_name] : {std::pair<std::string, std::string>{"tg::Tensor::", "Tensor::"},
                                       {"tg::nn::functional::", "F::"},
                                       {"tg::linalg::", "linalg::"},
                                       {"tg::", ""}}) {
    if (symbol.rfind(ns, 0) == 0) {
      rest = symbol.substr(ns.size());
      prefix = short_name;
      break;
    }
  }
  if (rest.empty()) return {};
  // The name ends at the parameter list; an operator's name may hold '(' or '<'.
  std::size_t paren;
  if (rest.rfind("operator()", 0) == 0) paren = rest.find('(', 10);
  else paren = rest.find('(', rest.rfind("operator", 0) == 0 ? 9 : 0);
  if (paren == std::string::npos) return {};
  std::string name = rest.substr(0, paren);
  // GCC's ABI tag on functions returning std::string: repr[abi:cxx11].
  if (const auto tag = name.find("[abi:"); tag != std::string::npos) name.erase(tag);
  // Methods take their tensor as `this`.
  if (prefix != "Tensor::" && rest.find("tg::Tensor", paren) == std::string::npos) return {};
  if (name.rfind("operator", 0) != 0 && (name.find("::") != std::string::npos || name.find('<') != std::string::npos))
    return {};  // a nested namespace (tg::detail, tg::kernel) or a template instance (item<float>)
  return prefix + name;
}

// name -> number of distinct signatures, from `nm -C --defined-only` output.
std::map<std::string, std::set<std::string>> ops_in_nm_output(std::istream& nm) {
  std::map<std::string, std::set<std::string>> ops;
  std::string line;
  while (std::getline(nm, line)) {
    // "<address> <type> <symbol>"; text symbols only (T, or W for inline and template code).
    std::istringstream words(line);
    std::string address, type;
    if (!(words >> address >> type) || (type != "T" && type != "W")) continue;
    std::string symbol;
    std::getline(words >> std::ws, symbol);
    const std::string name = op_name_of_symbol(symbol);
    if (!name.empty() && !kNotOps.contains(name)) ops[name].insert(symbol);
  }
  return ops;
}

// What is missing from the registry, one line per op.
std::vector<std::string> missing_from_registry(const std::map<std::string, std::set<std::string>>& defined) {
  std::map<std::string, std::size_t> entries;
  for (const auto& op : tg::testing::op_registry()) ++entries[op.name];
  std::vector<std::string> missing;
  for (const auto& [name, signatures] : defined) {
    // tg::X may be registered as F::X: the nn ops move to autograd/ and
    // nn::functional keeps forwarding to them.
    std::size_t n = entries.contains(name) ? entries[name] : 0;
    if (n == 0 && entries.contains("F::" + name)) n = entries["F::" + name];
    if (n < signatures.size()) {
      std::string line = name + ": " + std::to_string(signatures.size()) + " overload(s) defined, " +
                         std::to_string(n) + " registry entr" + (n == 1 ? "y" : "ies") + ":";
      for (const auto& s : signatures) line += "\n    " + s;
      missing.push_back(line);
    }
  }
  return missing;
}

std::string read_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE_MESSAGE(pipe != nullptr, "cannot run " << command);
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0) out.append(buffer, n);
  return out;
}

}  // namespace

TEST_CASE("the op registry has an entry for every op the library defines") {
  const std::string nm_output = read_command(
      std::string(TAPEGRAD_NM) + " -C --defined-only --extern-only '" TAPEGRAD_LIBRARY_FILE "' 2>/dev/null");
  std::istringstream in(nm_output);
  const auto defined = ops_in_nm_output(in);
  // The listing found the library's ops at all (nm ran, the demangled form is as expected).
  REQUIRE(defined.size() > 80);
  REQUIRE(defined.contains("sum"));
  REQUIRE(defined.contains("Tensor::sum"));
  REQUIRE(defined.contains("conv2d"));
  for (const auto& line : missing_from_registry(defined)) FAIL_CHECK("missing from the op registry: " << line);
}

TEST_CASE("the completeness check catches an op without an entry") {
  std::istringstream nm(
      "0000000000000000 T tg::relu(tg::Tensor const&)\n"
      "0000000000000010 T tg::frobnicate(tg::Tensor const&, double)\n"
      "0000000000000020 T tg::Tensor::frobnicate() const\n"
      "0000000000000030 T tg::nn::functional::frobnicate2d(tg::Tensor const&)\n"
      "0000000000000040 T tg::sum(tg::Tensor const&)\n"
      "0000000000000048 T tg::sum(tg::Tensor const&, tg::DimList, tg::StrictBool)\n"
      "0000000000000049 T tg::sum(tg::Tensor const&, long)\n"
      "0000000000000050 T tg::zeros_like(tg::Tensor const&, std::optional<tg::DType>)\n"
      "0000000000000060 T tg::detail::var_dims(tg::Tensor const&, tg::DimList const&, double, bool)\n"
      "0000000000000070 W tg::Tensor::item<float>() const\n"
      "0000000000000080 T tg::conv2d(tg::Tensor const&, tg::Tensor const&)\n"
      "0000000000000090 t tg::hidden(tg::Tensor const&)\n");
  const auto defined = ops_in_nm_output(nm);
  CHECK(defined.size() == 6);  // relu, frobnicate, Tensor::frobnicate, F::frobnicate2d, sum, conv2d
  const auto missing = missing_from_registry(defined);
  std::string all;
  for (const auto& m : missing) all += m + "\n";
  INFO(all);
  CHECK(missing.size() == 3);
  CHECK(all.find("frobnicate:") != std::string::npos);
  CHECK(all.find("Tensor::frobnicate:") != std::string::npos);
  CHECK(all.find("F::frobnicate2d:") != std::string::npos);
  CHECK(all.find("relu") == std::string::npos);
  CHECK(all.find("conv2d") == std::string::npos);  // registered as F::conv2d
}

TEST_CASE("every registry entry is well formed and runs on its samples") {
  std::set<std::string> labels;
  for (const auto& op : tg::testing::op_registry()) {
    const std::string label = op.label();
    CAPTURE(label);
    CHECK_MESSAGE(labels.insert(label).second, "two entries with the same name and variant");
    CHECK(!op.samples.empty());
    CHECK(!op.dtypes.empty());
    CHECK(op.fn);
    CHECK((op.differentiable || op.tolerance.eps == tg::GradcheckOptions{}.eps));
    for (std::size_t k = 0; k < op.samples.size(); ++k) {
      tg::Generator gen(k);
      const auto out = op(op.sample(k, op.dtypes.front(), gen));
      CHECK(!out.empty());
    }
  }
}

TEST_CASE("every registry entry accepts exactly its dtypes") {
  for (const auto& op : tg::testing::op_registry()) {
    for (tg::DType dtype : tg::kAllDTypes) {
      const bool listed = std::find(op.dtypes.begin(), op.dtypes.end(), dtype) != op.dtypes.end();
      tg::Generator gen(7);
      const auto inputs = op.sample(0, dtype, gen);
      std::string error;
      try {
        op(inputs);
      } catch (const tg::Error& e) {
        error = e.what();
      }
      const std::string label = op.label();
      INFO(label, " on ", tg::dtype_name(dtype), " inputs");
      if (listed) CHECK_MESSAGE(error.empty(), "listed, but refused: " << error);
      else CHECK_MESSAGE(!error.empty(), "accepted, but not listed among the entry's dtypes");
    }
  }
}

TEST_CASE("non-differentiable registry entries cut the tape") {
  for (const auto& op : tg::testing::op_registry()) {
    if (op.differentiable) continue;
    const std::string label = op.label();
    CAPTURE(label);
    tg::Generator gen(3);
    auto inputs = op.sample(0, op.dtypes.front(), gen);
    for (auto& t : inputs)
      if (t.is_floating_point()) t.set_requires_grad(true);
    for (const auto& out : op(inputs)) CHECK_FALSE(out.requires_grad());
  }
}

TEST_CASE("docs/ops.md matches the registry") {
  std::ifstream in(std::string(TAPEGRAD_SOURCE_DIR) + "/docs/ops.md", std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read docs/ops.md under " TAPEGRAD_SOURCE_DIR);
  std::stringstream committed;
  committed << in.rdbuf();
  const bool same = committed.str() == tg::testing::ops_markdown();
  CHECK_MESSAGE(
      same, "docs/ops.md is stale: build the write_ops_md target and run `build-test/tests/write_ops_md docs/ops.md`");
}

// The test cases below and in test_registry_gradcheck_nn.cpp run one family
// each: between them, every differentiable entry (a family none of them names
// would go unchecked).
TEST_CASE("registry gradcheck: the families run hold every differentiable entry") {
  const auto& families = tg_test::gradcheck_families();
  std::int64_t differentiable = 0, in_families = 0;
  for (const auto& op : tg::testing::op_registry()) {
    if (!op.differentiable) continue;
    ++differentiable;
    if (std::find(families.begin(), families.end(), op.family) != families.end()) continue;
    const std::string label = op.label();
    const std::string family = op.family;
    FAIL_CHECK(label << ": differentiable, of family \"" << family << "\", which no gradcheck test case runs");
  }
  std::string counts;
  for (const auto& f : families) {
    const std::int64_t n = tg_test::differentiable_entries(f);
    in_families += n;
    counts += (counts.empty() ? "" : ", ") + f + " " + std::to_string(n);
  }
  MESSAGE(differentiable << " differentiable entries: " << counts);
  CHECK(in_families == differentiable);
}

// The nn, reduction and shape families: test_registry_gradcheck_nn.cpp.
TEST_CASE("registry gradcheck: elementwise ops") { tg_test::run_family("elementwise"); }
TEST_CASE("registry gradcheck: linear algebra") { tg_test::run_family("linalg"); }
TEST_CASE("registry gradcheck: indexing") { tg_test::run_family("index"); }
TEST_CASE("registry gradcheck: in-place methods") { tg_test::run_family("inplace"); }

}  // namespace test_registry_gradcheck
