#pragma once
// Checking an op against a case of a PyTorch reference file written by
// tests/reference/make_shape_ops.py or make_more_ops.py: the outputs' shapes
// and values, int64 indices, and x.grad for the loss sum(y * w) with
// w = 1, 2, 3, ... over the outputs one after the other. NaN is stored as null.
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

#include "support/reference.h"

namespace tg_test {

using tg::Dims;
using tg::Tensor;

inline std::vector<double> iota(int n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// A float64 input, a leaf that requires grad unless told otherwise.
inline Tensor leaf(const std::vector<double>& v, Dims shape, bool grad = true) {
  Tensor t = tg::tensor(v, shape, tg::kFloat64);
  if (grad) t.set_requires_grad(true);
  return t;
}

// The op's outputs: pieces (values, or a list) and indices when it has them.
struct Out {
  std::vector<Tensor> pieces;
  Tensor indices;
};
inline Out one(const Tensor& t) { return {{t}, {}}; }
inline Out pair(const std::tuple<Tensor, Tensor>& t) { return {{std::get<0>(t)}, std::get<1>(t)}; }
inline Out list(const std::vector<Tensor>& ts) { return {ts, {}}; }

inline std::vector<double> numbers(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& e : j) v.push_back(e.is_null() ? std::numeric_limits<double>::quiet_NaN() : e.get<double>());
  return v;
}

inline void check_op_case(const std::string& file, const std::string& name, const Tensor& x,
                          const std::function<Out(const Tensor&)>& fn) {
  CAPTURE(name);
  const auto& cases = reference_file(file).at("cases");
  REQUIRE(cases.contains(name));
  const auto& want = cases.at(name);
  const Out out = fn(x);
  const auto& shapes = want.at("shapes");
  REQUIRE(out.pieces.size() == shapes.size());
  std::vector<double> values;
  for (std::size_t i = 0; i < out.pieces.size(); ++i) {
    CAPTURE(tg::shape_str(out.pieces[i].sizes()));
    CHECK(out.pieces[i].shape() == Dims(shapes[i].get<std::vector<std::int64_t>>()));
    for (double v : out.pieces[i].to_vector<double>()) values.push_back(v);
  }
  check_close(values, numbers(want.at("values")), 1e-10);
  if (want.contains("indices")) {
    REQUIRE(out.indices.defined());
    CHECK(out.indices.dtype() == tg::kInt64);
    check_close(out.indices.to_vector<double>(), numbers(want.at("indices")), 0);
  }
  if (!x.requires_grad()) return;
  Tensor loss = tg::zeros({}, {.dtype = tg::kFloat64});
  std::int64_t offset = 1;
  for (const auto& p : out.pieces) {
    if (p.is_floating_point() && p.numel() > 0) {
      Tensor w =
          tg::arange(static_cast<double>(offset), static_cast<double>(offset + p.numel()), 1, {.dtype = tg::kFloat64})
              .reshape(p.shape());
      loss = loss + (p * w).sum();
    }
    offset += p.numel();
  }
  std::vector<double> grad(static_cast<std::size_t>(x.numel()), 0.0);
  if (loss.requires_grad()) {
    loss.backward();
    if (x.grad().defined()) grad = x.grad().to_vector<double>();
  }
  check_close(grad, numbers(want.at("grad")), 1e-10);
}

}  // namespace tg_test
