#pragma once
// What the registry-wide sweeps (tests/autograd/test_registry_subnormal.cpp,
// test_registry_threads.cpp) compare: an op's results as the bits their
// elements store, and fresh copies of its inputs for each run.
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tg_test::registry_runs {

// A tensor's elements in row-major order, each as the bits it stores.
struct Values {
  bool defined = false;
  tg::DType dtype = tg::kFloat32;
  tg::Dims shape;
  std::vector<std::uint64_t> bits;
};

// Read straight from memory, into the low bytes of a word (x86 is
// little-endian): no kernel, so no float mode and no thread count, touches
// them.
inline Values read(const tg::Tensor& t) {
  Values v;
  if (!t.defined()) return v;
  v.defined = true;
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.bits.resize(static_cast<std::size_t>(t.numel()));
  const std::size_t size = t.element_size();
  const char* base = static_cast<const char*>(t.raw_data());
  if (t.is_contiguous()) {
    for (std::size_t i = 0; i < v.bits.size(); ++i) std::memcpy(&v.bits[i], base + i * size, size);
    return v;
  }
  const tg::IntArrayRef sizes = t.sizes(), strides = t.strides();
  const int nd = t.dim();
  std::vector<std::int64_t> index(static_cast<std::size_t>(nd), 0);
  for (std::size_t i = 0; i < v.bits.size(); ++i) {
    std::int64_t offset = 0;
    for (int d = 0; d < nd; ++d) offset += index[d] * strides[d];
    std::memcpy(&v.bits[i], base + offset * static_cast<std::int64_t>(size), size);
    for (int d = nd - 1; d >= 0; --d) {
      if (++index[d] < sizes[d]) break;
      index[d] = 0;
    }
  }
  return v;
}

inline bool is_float(tg::DType d) { return d == tg::kFloat32 || d == tg::kFloat64; }

// Element i of `shape` (row-major) as "[a, b, c]".
inline std::string index_str(std::size_t i, const tg::Dims& shape) {
  std::vector<std::int64_t> index(shape.size(), 0);
  auto rest = static_cast<std::int64_t>(i);
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[static_cast<std::size_t>(d)] = rest % shape[d];
    rest /= shape[d];
  }
  std::string s = "[";
  for (std::size_t d = 0; d < index.size(); ++d) s += (d ? ", " : "") + std::to_string(index[d]);
  return s + "]";
}

// One run of an entry.
struct Result {
  bool threw = false;
  std::string error;
  std::vector<Values> outs;  // forward: the outputs; backward: one gradient per floating input
};

// Copies of the inputs (an in-place entry writes into its first), leaves
// that require grad where `grad` asks and the input is floating.
inline std::vector<tg::Tensor> fresh(const std::vector<tg::Tensor>& inputs, bool grad) {
  tg::NoGradGuard no_grad;
  std::vector<tg::Tensor> out;
  for (const auto& t : inputs) {
    tg::Tensor c = t.clone().detach();
    if (grad && is_float(c.dtype())) c.set_requires_grad(true);
    out.push_back(c);
  }
  return out;
}

}  // namespace tg_test::registry_runs
