#pragma once
// What the registry-wide sweeps (tests/autograd/test_registry_subnormal.cpp,
// test_registry_threads.cpp, test_registry_underflow.cpp) compare: an op's
// results as the bits their elements store, tensors made from such bits, and
// fresh copies of its inputs for each run.
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/half.h>
#include <tapegrad/core/random.h>
#include <tapegrad/testing/op_registry.h>

#include "support/float_modes.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
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

// The value an element of dtype `d` stores as the bits `b` (read()'s).
inline double as_double(std::uint64_t b, tg::DType d) {
  switch (d) {
    case tg::kFloat32: {
      float f;
      const auto u = static_cast<std::uint32_t>(b);
      std::memcpy(&f, &u, sizeof f);
      return f;
    }
    case tg::kFloat64: {
      double x;
      std::memcpy(&x, &b, sizeof x);
      return x;
    }
    case tg::kFloat16:
      return tg::detail::float_from_half_bits(static_cast<std::uint16_t>(b));
    case tg::kBFloat16: {
      float f;
      const auto u = static_cast<std::uint32_t>((b & 0xFFFFu) << 16);
      std::memcpy(&f, &u, sizeof f);
      return f;
    }
    case tg::kBool:
    case tg::kUInt8:
      return static_cast<double>(b & 0xFF);
    case tg::kInt8:
      return static_cast<std::int8_t>(b & 0xFF);
    case tg::kInt16:
      return static_cast<std::int16_t>(b & 0xFFFF);
    case tg::kInt32:
      return static_cast<std::int32_t>(b & 0xFFFFFFFFu);
    case tg::kInt64:
      return static_cast<double>(static_cast<std::int64_t>(b));
  }
  return 0;
}

// A contiguous tensor of `shape` and `dtype` whose elements store `bits`, as
// read() reads them: written straight to memory, so no float mode touches a
// subnormal, and a 0-d shape stays 0-d (tg::tensor reads an empty shape as
// 1-D, which made the sweeps' grad_outputs for 0-d results [1]).
inline tg::Tensor from_bits(const std::vector<std::uint64_t>& bits, const tg::Dims& shape, tg::DType dtype) {
  const tg::Tensor t = tg::empty(shape, {.dtype = dtype});
  if (bits.size() != static_cast<std::size_t>(t.numel()))
    throw std::logic_error("from_bits: " + std::to_string(bits.size()) + " values for shape " + tg::shape_str(shape));
  const std::size_t size = t.element_size();
  char* base = static_cast<char*>(t.raw_data());
  for (std::size_t i = 0; i < bits.size(); ++i) std::memcpy(base + i * size, &bits[i], size);
  return t;
}

// The same from values, each rounded to `dtype` (float32 or float64) by the
// compiler.
inline tg::Tensor from_values(const std::vector<double>& values, const tg::Dims& shape, tg::DType dtype) {
  std::vector<std::uint64_t> bits(values.size(), 0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (dtype == tg::kFloat32) {
      const float f = static_cast<float>(values[i]);
      std::memcpy(&bits[i], &f, sizeof f);
    } else {
      std::memcpy(&bits[i], &values[i], sizeof values[i]);
    }
  }
  return from_bits(bits, shape, dtype);
}

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
  // Why a run that did not throw has nothing to compare, or empty: "no output
  // requires grad" (backward), "first gradient constant" (double backward:
  // no gradient of the first backward requires grad).
  std::string nothing;
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

// The outputs that require grad, each with its grad_output (outputs without
// one, or undefined, are left out): what tg::grad takes.
struct Differentiated {
  std::vector<tg::Tensor> ys, grad_outputs;
};
inline Differentiated differentiated(const std::vector<tg::Tensor>& outs, const std::vector<tg::Tensor>& grad_outputs) {
  Differentiated d;
  for (std::size_t i = 0; i < outs.size() && i < grad_outputs.size(); ++i)
    if (outs[i].defined() && outs[i].requires_grad() && grad_outputs[i].defined()) {
      d.ys.push_back(outs[i]);
      d.grad_outputs.push_back(grad_outputs[i]);
    }
  return d;
}

// ---- running an entry in a float mode (the subnormal and underflow sweeps) -----

inline constexpr std::uint64_t kGlobalSeed = 1234;  // for the entries that draw from the default generator

// body() in `mode` with the global generator reseeded (random ops draw
// alike in every mode), an exception recorded in r, and IEEE mode after.
template <class Body>
void run_in_mode(FloatMode mode, Result& r, const Body& body) {
  set_float_mode(mode);
  tg::manual_seed(kGlobalSeed);
  try {
    body();
  } catch (const std::exception& e) {
    r.threw = true;
    r.error = e.what();
  }
  set_float_mode(FloatMode::Ieee);
}

// The entry's outputs on fresh copies of `inputs`, computed in `mode` without
// recording.
inline Result forward(const tg::testing::OpInfo& op, const std::vector<tg::Tensor>& inputs, FloatMode mode) {
  set_float_mode(FloatMode::Ieee);
  const std::vector<tg::Tensor> in = fresh(inputs, false);
  Result r;
  std::vector<tg::Tensor> outs;
  run_in_mode(mode, r, [&] {
    tg::NoGradGuard no_grad;
    outs = op(in);
  });
  for (const auto& t : outs) r.outs.push_back(read(t));
  return r;
}

}  // namespace tg_test::registry_runs
