#pragma once
// Comparisons the tests make with expected values: reference values that a
// script under tests/reference/ wrote with PyTorch into a committed JSON
// file (PyTorch is needed only to regenerate them), or another tensor.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/autograd/tensor.h>

namespace tg_test {

// tests/reference/<file>, parsed once per process.
inline const nlohmann::json& reference_file(const std::string& file) {
  static std::map<std::string, nlohmann::json> parsed;
  auto it = parsed.find(file);
  if (it == parsed.end()) {
    std::ifstream in(std::string(TAPEGRAD_SOURCE_DIR) + "/tests/reference/" + file);
    REQUIRE_MESSAGE(in.good(), "cannot read tests/reference/" << file);
    it = parsed.emplace(file, nlohmann::json::parse(in)).first;
  }
  return it->second;
}

// `got`, flattened row-major, equals `expected` to `rel` (relative).
inline void check_values(const tg::Tensor& got, const std::vector<double>& expected, double rel = 1e-12) {
  REQUIRE(got.defined());
  const auto g = got.to_vector<double>();
  REQUIRE(g.size() == expected.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    CHECK(g[i] == doctest::Approx(expected[i]).epsilon(rel));
  }
}

// `got` has `want`'s shape and values.
inline void check_close(const tg::Tensor& got, const tg::Tensor& want, double rel = 1e-12) {
  REQUIRE(want.defined());
  REQUIRE(got.defined());
  REQUIRE(got.shape() == want.shape());
  check_values(got, want.to_vector<double>(), rel);
}

// `got` equals PyTorch's cases[name][key] of reference file `file`.
inline void check_reference(const tg::Tensor& got, const std::string& file, const std::string& name,
                            const std::string& key) {
  CAPTURE(name);
  CAPTURE(key);
  const auto& cases = reference_file(file).at("cases");
  REQUIRE(cases.contains(name));
  REQUIRE(cases.at(name).contains(key));
  check_values(got, cases.at(name).at(key).get<std::vector<double>>());
}

}  // namespace tg_test
