#pragma once
// Reference values that a script under tests/reference/ wrote with PyTorch into a committed JSON
// file (PyTorch is needed only to regenerate them), or another tensor.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/autograd/tensor.h>

#include "support/close.h"

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

// `got`, flattened row-major, equals `expected` to `rel`.
inline void check_values(const tg::Tensor& got, const std::vector<double>& expected, double rel = 1e-12) {
  check_close(got, expected, rel);
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
