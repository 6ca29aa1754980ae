#pragma once
// What the registry-wide sweeps (tests/autograd/test_registry_*.cpp but the
// gradchecks) compare and how they run an entry: an op's results as the bits
// their elements store, tensors made from such bits, fresh copies of its
// inputs for each run, and one runner for forward and backward.
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/half.h>
#include <tapegrad/core/random.h>
#include <tapegrad/testing/op_registry.h>

#include "support/float_modes.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
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
// subnormal (tg::tensor read an empty shape as 1-D before round
// twenty-seven, which made the sweeps' grad_outputs for 0-d results [1]).
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

// A fixed grad_output for each floating output: standard normal values from
// `seed`, rounded to the output's dtype (undefined for other outputs).
inline std::vector<tg::Tensor> normal_grad_outputs(const std::vector<Values>& outputs, std::uint64_t seed) {
  tg::Generator gen(seed);
  std::vector<tg::Tensor> gos;
  for (const auto& y : outputs) {
    if (!y.defined || !tg::is_floating(y.dtype)) {
      gos.emplace_back();
      continue;
    }
    std::vector<double> v(y.bits.size());
    for (auto& x : v) x = gen.normal();
    const tg::DType compute = y.dtype == tg::kFloat64 ? tg::kFloat64 : tg::kFloat32;
    const tg::Tensor g = from_values(v, y.shape, compute);
    gos.push_back(compute == y.dtype ? g : g.to(y.dtype));
  }
  return gos;
}

// ---- running an entry (every sweep) ----------------------------------------------

inline constexpr std::uint64_t kGlobalSeed = 1234;  // for the entries that draw from the default generator

// A run's error that is not a tg::Error starts with this (the layout sweep
// fails it: every refusal must be one).
inline const std::string kNotTgError = "[not a tg::Error] ";
inline bool not_tg_error(const Result& r) { return r.threw && r.error.starts_with(kNotTgError); }

// body() with the global generator reseeded (random ops draw alike in every
// run), an exception recorded in r; in `mode` where one is given, and IEEE
// mode after (the subnormal and underflow sweeps), else in the mode the test
// keeps.
template <class Body>
void run_in_mode(std::optional<FloatMode> mode, Result& r, const Body& body) {
  if (mode) set_float_mode(*mode);
  tg::manual_seed(kGlobalSeed);
  try {
    body();
  } catch (const tg::Error& e) {
    r.threw = true;
    r.error = e.what();
  } catch (const std::exception& e) {
    r.threw = true;
    r.error = kNotTgError + e.what();
  } catch (...) {
    r.threw = true;
    r.error = kNotTgError + "an exception that is not a std::exception";
  }
  if (mode) set_float_mode(FloatMode::Ieee);
}

// The entry's outputs on `in` as given (the layout sweep's strides), computed
// without recording.
inline Result forward_on(const tg::testing::OpInfo& op, const std::vector<tg::Tensor>& in,
                         std::optional<FloatMode> mode = {}) {
  Result r;
  std::vector<tg::Tensor> outs;
  run_in_mode(mode, r, [&] {
    tg::NoGradGuard no_grad;
    outs = op(in);
  });
  for (const auto& t : outs) r.outs.push_back(read(t));
  return r;
}

// The same on fresh copies of `inputs`.
inline Result forward(const tg::testing::OpInfo& op, const std::vector<tg::Tensor>& inputs,
                      std::optional<FloatMode> mode = {}) {
  if (mode) set_float_mode(FloatMode::Ieee);
  return forward_on(op, fresh(inputs, false), mode);
}

// How gradients() differentiates.
struct GradRun {
  std::optional<FloatMode> mode{};  // as run_in_mode
  // The gradients of the sum of the first gradients instead (a second
  // backward through the first, recorded with create_graph): of those of
  // `summed` (indices into wrt; every one where empty) with respect to
  // `second_wrt` (wrt where empty).
  bool twice = false;
  std::vector<std::size_t> summed{};
  std::vector<tg::Tensor> second_wrt{};
};

// The entry on `leaves` as given (an in-place entry on a copy of the first,
// as gradcheck's pure() in registry_gradcheck.h): the gradients of its
// outputs that require grad (grad_outputs: one per output, undefined where
// none applies) with respect to `wrt`, undefined where unused; none where it
// throws or has nothing to differentiate (Result::nothing says which).
inline Result gradients(const tg::testing::OpInfo& op, const std::vector<tg::Tensor>& leaves,
                        const std::vector<tg::Tensor>& wrt, const std::vector<tg::Tensor>& grad_outputs,
                        const GradRun& how = {}) {
  if (how.mode) set_float_mode(FloatMode::Ieee);
  std::vector<tg::Tensor> args = leaves, gos;
  {
    tg::NoGradGuard no_grad;
    for (const auto& g : grad_outputs) gos.push_back(g.defined() ? g.clone() : g);
  }
  if (op.in_place && !args.empty()) args[0] = leaves[0].clone();
  Result r;
  std::vector<tg::Tensor> grads;
  run_in_mode(how.mode, r, [&] {
    const std::vector<tg::Tensor> outs = op(args);
    const Differentiated d = differentiated(outs, gos);
    if (d.ys.empty() || wrt.empty()) {
      r.nothing = d.ys.empty() ? "no output requires grad" : "no input to differentiate by";
      return;
    }
    grads = tg::grad(d.ys, wrt, d.grad_outputs, {.create_graph = how.twice, .allow_unused = true});
    if (!how.twice) return;
    std::vector<tg::Tensor> zs, ones;
    for (std::size_t j = 0; j < grads.size(); ++j) {
      const bool summed = how.summed.empty() || std::find(how.summed.begin(), how.summed.end(), j) != how.summed.end();
      if (summed && grads[j].defined() && grads[j].requires_grad()) {
        zs.push_back(grads[j]);
        ones.push_back(tg::ones_like(grads[j]));
      }
    }
    grads.clear();
    if (zs.empty()) {
      r.nothing = "first gradient constant";  // no second derivative to compare
      return;
    }
    grads = tg::grad(zs, how.second_wrt.empty() ? wrt : how.second_wrt, ones, {.allow_unused = true});
  });
  if (!r.threw)
    for (const auto& g : grads) r.outs.push_back(read(g));
  return r;
}

// The leaves among `leaves` that require grad.
inline std::vector<tg::Tensor> requiring_grad(const std::vector<tg::Tensor>& leaves) {
  std::vector<tg::Tensor> out;
  for (const auto& t : leaves)
    if (t.requires_grad()) out.push_back(t);
  return out;
}

// gradients() on fresh copies of `inputs`, every floating one requiring grad.
inline Result backward(const tg::testing::OpInfo& op, const std::vector<tg::Tensor>& inputs,
                       const std::vector<tg::Tensor>& grad_outputs, const GradRun& how = {}) {
  if (how.mode) set_float_mode(FloatMode::Ieee);
  const std::vector<tg::Tensor> leaves = fresh(inputs, true);
  return gradients(op, leaves, requiring_grad(leaves), grad_outputs, how);
}

}  // namespace tg_test::registry_runs
