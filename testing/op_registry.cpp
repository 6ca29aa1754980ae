// The entries of the op registry (see op_registry.h), by family.
//
// Inputs are drawn away from kinks by their domain: relu, abs, sign,
// leaky_relu and the like get +-(0.5, 1.5); log, sqrt and friends (0.5, 2);
// probabilities (0.1, 0.9). Ties in max/min and max-pooling cannot happen
// with random values except on expanded inputs, which those entries skip.
// Non-differentiable arguments (indices, masks, conditions) are built inside
// the entry from the input shapes, through Args so the fuzzer can replace
// them. Random ops (dropout) draw from a generator made anew on every call.
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/utils.h>
#include <tapegrad/testing/op_registry.h>

#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace tg::testing {

namespace {

namespace F = tg::nn::functional;
using nn::Reduction;
using V = std::vector<Tensor>;

// Functions, not globals: the registry may be built during another file's
// static initialisation (the benchmarks register themselves that way).
// The dtypes an entry accepts, float32 first (the dtype its samples run in).
// float16 and bfloat16 are storage types: every floating op takes them.
std::vector<DType> float_types() { return {kFloat32, kFloat64, kFloat16, kBFloat16}; }
std::vector<DType> number_types() {
  return {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kInt16, kInt8, kUInt8};
}
std::vector<DType> all_types() {
  auto t = number_types();
  t.push_back(kBool);
  return t;
}
// Entries whose fixed arguments include a fractional negative scalar, or a
// negative bound or range, which uint8 refuses as PyTorch does (a whole
// negative value stored into uint8 wraps, as c10's checked conversion lets it).
// LAPACK has no 16-bit floats; PyTorch's linalg refuses them too.
std::vector<DType> lapack_types() { return {kFloat32, kFloat64}; }
std::vector<DType> without_uint8(std::vector<DType> t) {
  std::erase(t, kUInt8);
  return t;
}

// Values in row-major order as a tensor of `shape` (a 0-d one for "[]" in a
// sample: a Dims given to tg::tensor is kept, an empty one too).
Tensor shaped(const std::vector<double>& v, const Dims& shape, DType dtype) { return tg::tensor(v, shape, dtype); }

// A fixed bool pattern of the given shape (about one in three true).
Tensor pattern_mask(const Dims& shape) {
  std::vector<double> v(static_cast<std::size_t>(shape.product()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = i % 3 == 0 ? 1 : 0;
  return shaped(v, shape, kBool);
}

Tensor index_tensor(const std::vector<std::int64_t>& values, Dims shape) { return tg::tensor(values, shape, kInt64); }

// Adapters from the entries' lambdas (tensors first, then Args) to OpFn.
// Most entries capture nothing and return one Tensor: those go through a
// function pointer and one adapter per arity. A template adapter per entry
// cost a std::function instantiation each, about a third of this file's
// compile time; it stays for the entries that capture or return otherwise.
using UnaryFn = Tensor (*)(const Tensor&, Args&);
using BinaryFn = Tensor (*)(const Tensor&, const Tensor&, Args&);
using TernaryFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, Args&);
using ManyFn = V (*)(const V&, Args&);
OpFn u(UnaryFn g) {
  return [g](const V& in, Args& a) { return V{g(in[0], a)}; };
}
template <class G>
requires(!std::is_convertible_v<G, UnaryFn>) OpFn u(G g) {
  return [g](const V& in, Args& a) { return V{g(in[0], a)}; };
}
OpFn b(BinaryFn g) {
  return [g](const V& in, Args& a) { return V{g(in[0], in[1], a)}; };
}
template <class G>
requires(!std::is_convertible_v<G, BinaryFn>) OpFn b(G g) {
  return [g](const V& in, Args& a) { return V{g(in[0], in[1], a)}; };
}
OpFn t3(TernaryFn g) {
  return [g](const V& in, Args& a) { return V{g(in[0], in[1], in[2], a)}; };
}
template <class G>
requires(!std::is_convertible_v<G, TernaryFn>) OpFn t3(G g) {
  return [g](const V& in, Args& a) { return V{g(in[0], in[1], in[2], a)}; };
}
// The entry returns its own vector (tuples, lists of pieces).
OpFn many(ManyFn g) {
  return [g](const V& in, Args& a) { return g(in, a); };
}
template <class G>
requires(!std::is_convertible_v<G, ManyFn>) OpFn many(G g) {
  return [g](const V& in, Args& a) { return V(g(in, a)); };
}
// A bool result (allclose, equal) as a 0-d bool tensor.
Tensor as_tensor(bool value) { return tg::scalar_tensor(value ? 1 : 0, {.dtype = kBool}); }

// In place on the first input, whose handle is the result.
template <class G>
OpFn inplace(G g) {
  return [g](const V& in, Args& a) {
    Tensor self = in[0];
    g(self, in, a);
    return V{self};
  };
}

const char* const kUnary = "3x4 | 5 | [] | 2x3x2";
const char* const kBinary = "3x4 3x4 | 3x1 1x4 | 2x3x4 4 | 3 []";
const char* const kSelfBroadcast = "3x4 3x4 | 3x4 4 | 2x3x4 3x1 | 3 []";  // the first is the result's shape
const char* const kSelfBroadcast3 = "3x4 3x4 3x4 | 3x4 4 3x1 | 2x3x4 3x1 [] | 3 [] 3";
const char* const kDims = "3x4 | 2x3x2";

class Builder {
 public:
  std::vector<OpInfo> ops;
  std::string family;
  std::vector<DType> dtypes = float_types();

  Builder& add(std::string name, std::string variant, std::string_view shapes, OpFn fn) {
    OpInfo op;
    op.name = std::move(name);
    op.variant = std::move(variant);
    op.family = family;
    op.samples = parse_shapes(shapes);
    op.arity = op.samples.empty() ? 0 : static_cast<int>(op.samples[0].size());
    for (const auto& s : op.samples)
      if (static_cast<int>(s.size()) != op.arity)
        throw std::logic_error("op registry: " + op.label() + ": sample configurations differ in arity");
    op.dtypes = dtypes;
    op.fn = std::move(fn);
    ops.push_back(std::move(op));
    return *this;
  }
  // Modifiers of the last entry added.
  Builder& dom(std::vector<Domain> d) {
    return set([&](OpInfo& o) { o.domains = std::move(d); });
  }
  Builder& types(std::vector<DType> t) {
    return set([&](OpInfo& o) { o.dtypes = std::move(t); });
  }
  Builder& no_grad() {
    return set([](OpInfo& o) { o.differentiable = false; });
  }
  Builder& once_differentiable() {
    return set([](OpInfo& o) { o.twice_differentiable = false; });
  }
  Builder& in_place() {
    return set([](OpInfo& o) { o.in_place = true; });
  }
  Builder& no_expand() {
    return set([](OpInfo& o) { o.expand_ok = false; });
  }
  Builder& contiguous_only() {
    return set([](OpInfo& o) { o.strided_ok = false; });
  }
  Builder& alias(std::string of) {
    return set([&](OpInfo& o) { o.alias_of = std::move(of); });
  }
  Builder& tol(GradcheckOptions t) {
    return set([&](OpInfo& o) { o.tolerance = t; });
  }

 private:
  template <class S>
  Builder& set(S s) {
    s(ops.back());
    return *this;
  }
};

constexpr auto A = Domain::Any;
constexpr auto P = Domain::Positive;
constexpr auto Z = Domain::AwayFromZero;
constexpr auto Pr = Domain::Probability;
constexpr auto I = Domain::Index;

void elementwise(Builder& r) {
  r.family = "elementwise";
  r.dtypes = all_types();
  r.add("add", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::add(x, y); }));
  r.add("add", "alpha", kBinary, b([](auto& x, auto& y, Args& a) { return tg::add(x, y, a.scalar(-2.5)); }))
      .types(float_types());
  r.add("add", "scalar", kUnary, u([](auto& x, Args& a) { return tg::add(x, a.scalar(1.5)); }));
  r.add("sub", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::sub(x, y); })).types(number_types());
  r.add("sub", "alpha", kBinary, b([](auto& x, auto& y, Args& a) { return tg::sub(x, y, a.scalar(0.5)); }))
      .types(float_types());
  r.add("sub", "scalar", kUnary, u([](auto& x, Args& a) { return tg::sub(x, a.scalar(1.5)); })).types(number_types());
  r.add("rsub", "scalar", kUnary, u([](auto& x, Args& a) { return tg::rsub(x, a.scalar(1.5)); })).types(number_types());
  r.add("mul", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::mul(x, y); }));
  r.add("mul", "scalar", kUnary, u([](auto& x, Args& a) { return tg::mul(x, a.scalar(-3.0)); }));
  r.add("div", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::div(x, y); })).dom({A, Z});
  r.add("div", "scalar", kUnary, u([](auto& x, Args& a) { return tg::div(x, a.scalar(-2.5)); }));
  r.add("rdiv", "scalar", kUnary, u([](auto& x, Args& a) { return tg::rdiv(x, a.scalar(2.0)); })).dom({Z});
  r.add("neg", "", kUnary, u([](auto& x, Args&) { return tg::neg(x); })).types(number_types());
  r.add("exp", "", kUnary, u([](auto& x, Args&) { return tg::exp(x); }));
  r.add("log", "", kUnary, u([](auto& x, Args&) { return tg::log(x); })).dom({P});
  r.add("log1p", "", kUnary, u([](auto& x, Args&) { return tg::log1p(x); })).dom({P});
  r.add("sqrt", "", kUnary, u([](auto& x, Args&) { return tg::sqrt(x); })).dom({P});
  r.add("rsqrt", "", kUnary, u([](auto& x, Args&) { return tg::rsqrt(x); })).dom({P});
  r.add("pow", "tensor^2.5", kUnary, u([](auto& x, Args& a) { return tg::pow(x, a.scalar(2.5)); })).dom({P});
  r.add("pow", "tensor^3", kUnary, u([](auto& x, Args& a) { return tg::pow(x, a.scalar(3.0)); }));
  r.add("pow", "tensor^tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::pow(x, y); }))
      .dom({P, A})
      .types(number_types());
  r.add("pow", "scalar^tensor", kUnary, u([](auto& x, Args& a) { return tg::pow(a.scalar(1.7), x); }));
  r.add("abs", "", kUnary, u([](auto& x, Args&) { return tg::abs(x); })).dom({Z}).types(number_types());
  r.add("sign", "", kUnary, u([](auto& x, Args&) { return tg::sign(x); })).dom({Z});
  r.add("relu", "", kUnary, u([](auto& x, Args&) { return tg::relu(x); })).dom({Z}).types(number_types());
  r.add("leaky_relu", "default slope", kUnary, u([](auto& x, Args&) { return tg::leaky_relu(x); }))
      .dom({Z})
      .types(float_types());
  r.add("leaky_relu", "slope 0.2", kUnary, u([](auto& x, Args& a) { return tg::leaky_relu(x, a.scalar(0.2)); }))
      .dom({Z})
      .types(float_types());
  r.add("sigmoid", "", kUnary, u([](auto& x, Args&) { return tg::sigmoid(x); }));
  r.add("tanh", "", kUnary, u([](auto& x, Args&) { return tg::tanh(x); }));
  r.add("gelu", "", kUnary, u([](auto& x, Args&) { return tg::gelu(x); })).types(float_types());
  r.add("clamp", "min and max", kUnary,
        u([](auto& x, Args& a) { return tg::clamp(x, a.scalar(-0.7), a.scalar(0.8)); }));
  r.add("clamp", "min", kUnary, u([](auto& x, Args& a) { return tg::clamp(x, a.scalar(-0.3), std::nullopt); }));
  r.add("clamp", "max", kUnary, u([](auto& x, Args& a) { return tg::clamp(x, std::nullopt, a.scalar(0.4)); }));
  r.add("clamp_min", "", kUnary, u([](auto& x, Args& a) { return tg::clamp_min(x, a.scalar(-0.3)); }));
  r.add("clamp_max", "", kUnary, u([](auto& x, Args& a) { return tg::clamp_max(x, a.scalar(0.4)); }));
  r.add("square", "", kUnary, u([](auto& x, Args&) { return tg::square(x); }));
  r.add("maximum", "", kBinary, b([](auto& x, auto& y, Args&) { return tg::maximum(x, y); }));
  r.add("minimum", "", kBinary, b([](auto& x, auto& y, Args&) { return tg::minimum(x, y); }));
  r.add("where", "tensor, tensor", kBinary, b([](auto& x, auto& y, Args& a) {
          return tg::where(a.mask(pattern_mask(tg::broadcast_shapes(x.shape(), y.shape(), "where"))), x, y);
        }));
  r.add("where", "tensor, scalar", kUnary,
        u([](auto& x, Args& a) { return tg::where(a.mask(pattern_mask(x.shape())), x, a.scalar(2.0)); }));
  r.add("where", "scalar, tensor", kUnary,
        u([](auto& x, Args& a) { return tg::where(a.mask(pattern_mask(x.shape())), a.scalar(-1.0), x); }));
  // The operators forward to the ops above.
  r.add("operator+", "tensor + tensor", kBinary, b([](auto& x, auto& y, Args&) { return x + y; })).alias("add");
  r.add("operator+", "tensor + scalar", kUnary, u([](auto& x, Args& a) { return x + a.scalar(2.0); })).alias("add");
  r.add("operator+", "scalar + tensor", kUnary, u([](auto& x, Args& a) { return a.scalar(2.0) + x; })).alias("add");
  r.add("operator-", "tensor - tensor", kBinary, b([](auto& x, auto& y, Args&) { return x - y; }))
      .alias("sub")
      .types(number_types());
  r.add("operator-", "tensor - scalar", kUnary, u([](auto& x, Args& a) { return x - a.scalar(2.0); }))
      .alias("sub")
      .types(number_types());
  r.add("operator-", "scalar - tensor", kUnary, u([](auto& x, Args& a) { return a.scalar(2.0) - x; }))
      .alias("rsub")
      .types(number_types());
  r.add("operator-", "-tensor", kUnary, u([](auto& x, Args&) { return -x; })).alias("neg").types(number_types());
  r.add("operator*", "tensor * tensor", kBinary, b([](auto& x, auto& y, Args&) { return x * y; })).alias("mul");
  r.add("operator*", "tensor * scalar", kUnary, u([](auto& x, Args& a) { return x * a.scalar(2.0); })).alias("mul");
  r.add("operator*", "scalar * tensor", kUnary, u([](auto& x, Args& a) { return a.scalar(2.0) * x; })).alias("mul");
  r.add("operator/", "tensor / tensor", kBinary, b([](auto& x, auto& y, Args&) { return x / y; }))
      .dom({A, Z})
      .alias("div");
  r.add("operator/", "tensor / scalar", kUnary, u([](auto& x, Args& a) { return x / a.scalar(2.0); })).alias("div");
  r.add("operator/", "scalar / tensor", kUnary, u([](auto& x, Args& a) { return a.scalar(2.0) / x; }))
      .dom({Z})
      .alias("rdiv");
  r.add("operator+=", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s += in[1]; }))
      .in_place()
      .alias("Tensor::add_");
  r.add("operator+=", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s += a.scalar(2.0); }))
      .in_place()
      .alias("Tensor::add_")
      .types(number_types());
  r.add("operator-=", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s -= in[1]; }))
      .in_place()
      .alias("Tensor::sub_")
      .types(number_types());
  r.add("operator-=", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s -= a.scalar(2.0); }))
      .in_place()
      .alias("Tensor::sub_")
      .types(number_types());
  r.add("operator*=", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s *= in[1]; }))
      .in_place()
      .alias("Tensor::mul_");
  r.add("operator*=", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s *= a.scalar(2.0); }))
      .in_place()
      .alias("Tensor::mul_")
      .types(number_types());
  r.add("operator/=", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s /= in[1]; }))
      .dom({A, Z})
      .in_place()
      .alias("Tensor::div_")
      .types(float_types());
  r.add("operator/=", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s /= a.scalar(2.0); }))
      .in_place()
      .alias("Tensor::div_")
      .types(float_types());
  // The Tensor methods forward to the ops above.
  r.add("Tensor::neg", "", kUnary, u([](auto& x, Args&) { return x.neg(); })).alias("neg").types(number_types());
  r.add("Tensor::exp", "", kUnary, u([](auto& x, Args&) { return x.exp(); })).alias("exp");
  r.add("Tensor::log", "", kUnary, u([](auto& x, Args&) { return x.log(); })).dom({P}).alias("log");
  r.add("Tensor::log1p", "", kUnary, u([](auto& x, Args&) { return x.log1p(); })).dom({P}).alias("log1p");
  r.add("Tensor::sqrt", "", kUnary, u([](auto& x, Args&) { return x.sqrt(); })).dom({P}).alias("sqrt");
  r.add("Tensor::rsqrt", "", kUnary, u([](auto& x, Args&) { return x.rsqrt(); })).dom({P}).alias("rsqrt");
  r.add("Tensor::pow", "tensor^scalar", kUnary, u([](auto& x, Args& a) { return x.pow(a.scalar(2.5)); }))
      .dom({P})
      .alias("pow");
  r.add("Tensor::pow", "tensor^tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.pow(y); }))
      .dom({P, A})
      .alias("pow")
      .types(number_types());
  r.add("Tensor::abs", "", kUnary, u([](auto& x, Args&) { return x.abs(); }))
      .dom({Z})
      .alias("abs")
      .types(number_types());
  r.add("Tensor::sign", "", kUnary, u([](auto& x, Args&) { return x.sign(); })).dom({Z}).alias("sign");
  r.add("Tensor::relu", "", kUnary, u([](auto& x, Args&) { return x.relu(); }))
      .dom({Z})
      .alias("relu")
      .types(number_types());
  r.add("Tensor::sigmoid", "", kUnary, u([](auto& x, Args&) { return x.sigmoid(); })).alias("sigmoid");
  r.add("Tensor::tanh", "", kUnary, u([](auto& x, Args&) { return x.tanh(); })).alias("tanh");
  r.add("Tensor::gelu", "", kUnary, u([](auto& x, Args&) { return x.gelu(); })).alias("gelu").types(float_types());
  r.add("Tensor::clamp", "", kUnary, u([](auto& x, Args& a) { return x.clamp(a.scalar(-0.5), a.scalar(0.5)); }))
      .alias("clamp");
  r.add("Tensor::clamp_min", "", kUnary, u([](auto& x, Args& a) { return x.clamp_min(a.scalar(-0.3)); }))
      .alias("clamp_min");
  r.add("Tensor::clamp_max", "", kUnary, u([](auto& x, Args& a) { return x.clamp_max(a.scalar(0.4)); }))
      .alias("clamp_max");
  r.add("Tensor::square", "", kUnary, u([](auto& x, Args&) { return x.square(); })).alias("square");
}

void compare(Builder& r) {
  // Comparisons and logic: bool results that cut the tape.
  r.family = "compare";
  r.dtypes = all_types();
  const std::pair<const char*, Tensor (*)(const Tensor&, const Tensor&)> binary[] = {{"eq", tg::eq},
                                                                                     {"ne", tg::ne},
                                                                                     {"lt", tg::lt},
                                                                                     {"le", tg::le},
                                                                                     {"gt", tg::gt},
                                                                                     {"ge", tg::ge},
                                                                                     {"logical_and", tg::logical_and},
                                                                                     {"logical_or", tg::logical_or}};
  for (const auto& entry : binary) {
    const auto f = entry.second;  // a structured binding cannot be captured before Clang 16
    r.add(entry.first, "", kBinary, b([f](auto& x, auto& y, Args&) { return f(x, y); })).no_grad();
  }
  r.add("logical_not", "", kUnary, u([](auto& x, Args&) { return tg::logical_not(x); })).no_grad();
  r.add("isnan", "", kUnary, u([](auto& x, Args&) { return tg::isnan(x); })).no_grad();
  r.add("isfinite", "", kUnary, u([](auto& x, Args&) { return tg::isfinite(x); })).no_grad();
  r.add("allclose", "", kBinary,
        b([](auto& x, auto& y, Args& a) { return as_tensor(tg::allclose(x, y, a.scalar(1e-5), a.scalar(1e-8))); }))
      .no_grad();
  r.add("equal", "", kBinary, b([](auto& x, auto& y, Args&) { return as_tensor(tg::equal(x, y)); })).no_grad();
  r.add("operator==", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x == y; })).no_grad().alias("eq");
  r.add("operator!=", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x != y; })).no_grad().alias("ne");
  r.add("operator<", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x < y; })).no_grad().alias("lt");
  r.add("operator<=", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x <= y; })).no_grad().alias("le");
  r.add("operator>", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x > y; })).no_grad().alias("gt");
  r.add("operator>=", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x >= y; })).no_grad().alias("ge");
  r.add("operator==", "scalar", kUnary, u([](auto& x, Args& a) { return x == a.scalar(0.0); })).no_grad().alias("eq");
  r.add("operator!=", "scalar", kUnary, u([](auto& x, Args& a) { return x != a.scalar(0.0); })).no_grad().alias("ne");
  r.add("operator<", "scalar", kUnary, u([](auto& x, Args& a) { return x < a.scalar(0.0); })).no_grad().alias("lt");
  r.add("operator<=", "scalar", kUnary, u([](auto& x, Args& a) { return x <= a.scalar(0.0); })).no_grad().alias("le");
  r.add("operator>", "scalar", kUnary, u([](auto& x, Args& a) { return x > a.scalar(0.0); })).no_grad().alias("gt");
  r.add("operator>=", "scalar", kUnary, u([](auto& x, Args& a) { return x >= a.scalar(0.0); })).no_grad().alias("ge");
  r.add("Tensor::eq", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.eq(y); })).no_grad().alias("eq");
  r.add("Tensor::ne", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.ne(y); })).no_grad().alias("ne");
  r.add("Tensor::lt", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.lt(y); })).no_grad().alias("lt");
  r.add("Tensor::le", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.le(y); })).no_grad().alias("le");
  r.add("Tensor::gt", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.gt(y); })).no_grad().alias("gt");
  r.add("Tensor::ge", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.ge(y); })).no_grad().alias("ge");
  r.add("Tensor::eq", "scalar", kUnary, u([](auto& x, Args& a) { return x.eq(a.scalar(0.0)); })).no_grad().alias("eq");
  r.add("Tensor::ne", "scalar", kUnary, u([](auto& x, Args& a) { return x.ne(a.scalar(0.0)); })).no_grad().alias("ne");
  r.add("Tensor::lt", "scalar", kUnary, u([](auto& x, Args& a) { return x.lt(a.scalar(0.0)); })).no_grad().alias("lt");
  r.add("Tensor::le", "scalar", kUnary, u([](auto& x, Args& a) { return x.le(a.scalar(0.0)); })).no_grad().alias("le");
  r.add("Tensor::gt", "scalar", kUnary, u([](auto& x, Args& a) { return x.gt(a.scalar(0.0)); })).no_grad().alias("gt");
  r.add("Tensor::ge", "scalar", kUnary, u([](auto& x, Args& a) { return x.ge(a.scalar(0.0)); })).no_grad().alias("ge");
}

void reduce(Builder& r) {
  r.family = "reduce";
  r.dtypes = all_types();
  r.add("sum", "all", kUnary, u([](auto& x, Args&) { return tg::sum(x); }));
  r.add("sum", "dim 0", "3x4 | 5 | 2x3x2", u([](auto& x, Args& a) { return tg::sum(x, a.dims({0})); }));
  r.add("sum", "dims 0, -1 keepdim", kDims, u([](auto& x, Args& a) {
          return tg::sum(x, a.dims({0, -1}), a.flag(true));
        }));
  r.add("mean", "all", kUnary, u([](auto& x, Args&) { return tg::mean(x); })).types(float_types());
  r.add("mean", "dim 1", kDims, u([](auto& x, Args& a) { return tg::mean(x, a.dims({1})); })).types(float_types());
  r.add("mean", "dim -1 keepdim", kDims, u([](auto& x, Args& a) { return tg::mean(x, a.dims({-1}), a.flag(true)); }))
      .types(float_types());
  r.add("var", "all", kDims, u([](auto& x, Args&) { return tg::var(x); })).types(float_types());
  r.add("var", "dim 1", kDims, u([](auto& x, Args& a) { return tg::var(x, a.dims({1})); })).types(float_types());
  r.add("var", "dim 0, correction 0, keepdim", kDims,
        u([](auto& x, Args& a) { return tg::var(x, a.dims({0}), a.scalar(0.0), a.flag(true)); }))
      .types(float_types());
  r.add("var", "dims 0, 1", kDims, u([](auto& x, Args& a) { return tg::var(x, a.dims({0, 1})); })).types(float_types());
  r.add("std", "all", kDims, u([](auto& x, Args&) { return tg::std(x); })).types(float_types());
  r.add("std", "dim 1", kDims, u([](auto& x, Args& a) { return tg::std(x, a.dims({1})); })).types(float_types());
  r.add("std", "dims 0, 1, correction 0", kDims, u([](auto& x, Args& a) {
          return tg::std(x, a.dims({0, 1}), a.scalar(0.0));
        }))
      .types(float_types());
  r.add("amax", "dim 1", kDims, u([](auto& x, Args& a) { return tg::amax(x, a.dims({1})); }));
  r.add("amax", "dims 0, 1 keepdim", kDims, u([](auto& x, Args& a) {
          return tg::amax(x, a.dims({0, 1}), a.flag(true));
        }))
      .no_expand();
  r.add("amin", "dim 0", kDims, u([](auto& x, Args& a) { return tg::amin(x, a.dims({0})); })).no_expand();
  r.add("max", "all", kUnary, u([](auto& x, Args&) { return tg::max(x); })).no_expand();
  r.add("max", "dim", kDims, many([](const V& in, Args& a) {
          auto [values, indices] = tg::max(in[0], a.dim(1), a.flag(false));
          return V{values, indices};
        }));
  r.add("min", "all", kUnary, u([](auto& x, Args&) { return tg::min(x); })).no_expand();
  r.add("min", "dim keepdim", kDims, many([](const V& in, Args& a) {
          auto [values, indices] = tg::min(in[0], a.dim(-1), a.flag(true));
          return V{values, indices};
        }));
  r.add("argmax", "all", kUnary, u([](auto& x, Args&) { return tg::argmax(x); }))
      .types(number_types())
      .no_grad()
      .no_expand();
  r.add("argmax", "dim keepdim", kDims, u([](auto& x, Args& a) { return tg::argmax(x, a.dim(1), a.flag(true)); }))
      .types(number_types())
      .no_grad()
      .no_expand();
  r.add("argmin", "all", kUnary, u([](auto& x, Args&) { return tg::argmin(x); }))
      .types(number_types())
      .no_grad()
      .no_expand();
  r.add("argmin", "dim", kDims, u([](auto& x, Args& a) { return tg::argmin(x, a.dim(0), a.flag(false)); }))
      .types(number_types())
      .no_grad()
      .no_expand();
  r.add("logsumexp", "dim 1", kDims, u([](auto& x, Args& a) { return tg::logsumexp(x, a.dims({1})); }));
  r.add("logsumexp", "dim 0 keepdim", kDims,
        u([](auto& x, Args& a) { return tg::logsumexp(x, a.dims({0}), a.flag(true)); }));
  r.add("prod", "all", "3x2 | 4 | []", u([](auto& x, Args&) { return tg::prod(x); })).dom({Z});
  r.add("prod", "dim 1", kDims, u([](auto& x, Args& a) { return tg::prod(x, a.dim(1)); })).dom({Z});
  r.add("prod", "dim 0 keepdim", kDims, u([](auto& x, Args& a) { return tg::prod(x, a.dim(0), a.flag(true)); }))
      .dom({Z});
  r.add("norm", "p=2", kUnary, u([](auto& x, Args&) { return tg::norm(x); })).dom({Z}).types(float_types());
  r.add("norm", "p=1", kUnary, u([](auto& x, Args& a) { return tg::norm(x, a.scalar(1.0)); }))
      .dom({Z})
      .types(float_types());
  r.add("norm", "p=3", kUnary, u([](auto& x, Args& a) { return tg::norm(x, a.scalar(3.0)); }))
      .dom({Z})
      .types(float_types());
  r.add("norm", "dim 1 (p=2)", kDims, u([](auto& x, Args& a) { return tg::norm(x, a.dims({1})); }))
      .dom({Z})
      .types(float_types());
  r.add("norm", "p=2 dim 1", kDims, u([](auto& x, Args& a) { return tg::norm(x, a.scalar(2.0), a.dims({1})); }))
      .dom({Z})
      .types(float_types());
  r.add("norm", "p=1.5 dim 0 keepdim", kDims,
        u([](auto& x, Args& a) { return tg::norm(x, a.scalar(1.5), a.dims({0}), a.flag(true)); }))
      .dom({Z})
      .types(float_types());
  r.add("softmax", "dim 1", kDims, u([](auto& x, Args& a) { return tg::softmax(x, a.dim(1)); })).types(float_types());
  r.add("softmax", "dim 0", "3x4 | 2x3x2 | 5", u([](auto& x, Args& a) { return tg::softmax(x, a.dim(0)); }))
      .types(float_types());
  r.add("log_softmax", "dim -1", "3x4 | 2x3x2 | 5", u([](auto& x, Args& a) { return tg::log_softmax(x, a.dim(-1)); }))
      .types(float_types());
  r.add("log_softmax", "dim 0", kDims, u([](auto& x, Args& a) { return tg::log_softmax(x, a.dim(0)); }))
      .types(float_types());
  // The Tensor methods.
  r.add("Tensor::sum", "all", kUnary, u([](auto& x, Args&) { return x.sum(); })).alias("sum");
  r.add("Tensor::sum", "dim 1 keepdim", kDims, u([](auto& x, Args& a) { return x.sum(a.dims({1}), a.flag(true)); }))
      .alias("sum");
  r.add("Tensor::amax", "all", kUnary, u([](auto& x, Args&) { return x.amax(); })).alias("amax").no_expand();
  r.add("Tensor::amin", "dim 1 keepdim", kDims, u([](auto& x, Args& a) { return x.amin(a.dims({1}), a.flag(true)); }))
      .alias("amin");
  r.add("Tensor::mean", "all", kUnary, u([](auto& x, Args&) { return x.mean(); })).alias("mean").types(float_types());
  r.add("Tensor::mean", "dim 0", kDims, u([](auto& x, Args& a) { return x.mean(a.dims({0})); }))
      .alias("mean")
      .types(float_types());
  r.add("Tensor::var", "all", kDims, u([](auto& x, Args&) { return x.var(); })).alias("var").types(float_types());
  r.add("Tensor::var", "dim 1", kDims, u([](auto& x, Args& a) { return x.var(a.dims({1})); }))
      .alias("var")
      .types(float_types());
  r.add("Tensor::var", "dim 0, correction 0, keepdim", kDims,
        u([](auto& x, Args& a) { return x.var(a.dims({0}), a.scalar(0.0), a.flag(true)); }))
      .alias("var")
      .types(float_types());
  r.add("Tensor::std", "all", kDims, u([](auto& x, Args&) { return x.std(); })).alias("std").types(float_types());
  r.add("Tensor::std", "dim 1", kDims, u([](auto& x, Args& a) { return x.std(a.dims({1})); }))
      .alias("std")
      .types(float_types());
  r.add("Tensor::std", "dim 0, correction 0", kDims,
        u([](auto& x, Args& a) { return x.std(a.dims({0}), a.scalar(0.0)); }))
      .no_expand()  // expanded along dim 0: every std is sqrt(0), a kink
      .alias("std")
      .types(float_types());
  r.add("Tensor::max", "all", kUnary, u([](auto& x, Args&) { return x.max(); })).no_expand().alias("max");
  r.add("Tensor::max", "dim", kDims, many([](const V& in, Args& a) {
          auto [values, indices] = in[0].max(a.dim(0), a.flag(false));
          return V{values, indices};
        }))
      .no_expand()
      .alias("max");
  r.add("Tensor::min", "all", kUnary, u([](auto& x, Args&) { return x.min(); })).no_expand().alias("min");
  r.add("Tensor::min", "dim", kDims, many([](const V& in, Args& a) {
          auto [values, indices] = in[0].min(a.dim(1), a.flag(true));
          return V{values, indices};
        }))
      .alias("min");
  r.add("Tensor::argmax", "all", kUnary, u([](auto& x, Args&) { return x.argmax(); }))
      .types(number_types())
      .no_grad()
      .no_expand()
      .alias("argmax");
  r.add("Tensor::argmax", "dim", kDims, u([](auto& x, Args& a) { return x.argmax(a.dim(1), a.flag(false)); }))
      .types(number_types())
      .no_grad()
      .no_expand()
      .alias("argmax");
  r.add("Tensor::argmin", "all", kUnary, u([](auto& x, Args&) { return x.argmin(); }))
      .types(number_types())
      .no_grad()
      .no_expand()
      .alias("argmin");
  r.add("Tensor::argmin", "dim", kDims, u([](auto& x, Args& a) { return x.argmin(a.dim(0), a.flag(true)); }))
      .types(number_types())
      .no_grad()
      .no_expand()
      .alias("argmin");
  r.add("Tensor::logsumexp", "dim 1", kDims, u([](auto& x, Args& a) { return x.logsumexp(a.dims({1})); }))
      .alias("logsumexp");
  r.add("Tensor::prod", "all", "3x2 | 4 | []", u([](auto& x, Args&) { return x.prod(); })).dom({Z}).alias("prod");
  r.add("Tensor::prod", "dim 1", kDims, u([](auto& x, Args& a) { return x.prod(a.dim(1)); })).dom({Z}).alias("prod");
  r.add("Tensor::norm", "p=2", kUnary, u([](auto& x, Args&) { return x.norm(); }))
      .dom({Z})
      .alias("norm")
      .types(float_types());
  r.add("Tensor::norm", "p=1", kUnary, u([](auto& x, Args& a) { return x.norm(a.scalar(1.0)); }))
      .dom({Z})
      .alias("norm")
      .types(float_types());
  r.add("Tensor::norm", "dim 1", kDims, u([](auto& x, Args& a) { return x.norm(a.dims({1})); }))
      .dom({Z})
      .alias("norm")
      .types(float_types());
  r.add("Tensor::norm", "p=3 dim 0 keepdim", kDims,
        u([](auto& x, Args& a) { return x.norm(a.scalar(3.0), a.dims({0}), a.flag(true)); }))
      .dom({Z})
      .alias("norm")
      .types(float_types());
}

void linalg(Builder& r) {
  r.family = "linalg";
  r.dtypes = number_types();
  r.add("matmul", "", "3x4 4x2 | 4 4x2 | 3x4 4 | 4 4 | 2x3x4 4x2 | 3x4 2x4x2 | 1x3x4 2x4x2",
        b([](auto& x, auto& y, Args&) { return tg::matmul(x, y); }));
  r.add("mm", "", "3x4 4x2 | 1x3 3x1", b([](auto& x, auto& y, Args&) { return tg::mm(x, y); }));
  r.add("addmm", "", "3x2 3x4 4x2 | 2 3x4 4x2",
        t3([](auto& c, auto& x, auto& y, Args&) { return tg::addmm(c, x, y); }));
  r.add("addmm", "beta 0.5 alpha -2", "3x2 3x4 4x2 | 3x1 3x4 4x2",
        t3([](auto& c, auto& x, auto& y, Args& a) { return tg::addmm(c, x, y, a.scalar(0.5), a.scalar(-2.0)); }))
      .types(float_types());
  r.add("linear", "with bias", "3x4 2x4 2 | 2x3x4 2x4 2 | 4 2x4 2",
        t3([](auto& x, auto& w, auto& bias, Args&) { return tg::linear(x, w, bias); }));
  r.add("linear", "without bias", "3x4 2x4 | 2x3x4 2x4", b([](auto& x, auto& w, Args&) { return tg::linear(x, w); }));
  r.add("dot", "", "4 4", b([](auto& x, auto& y, Args&) { return tg::dot(x, y); }));
  r.add("outer", "", "3 4", b([](auto& x, auto& y, Args&) { return tg::outer(x, y); })).types(all_types());
  r.add("Tensor::matmul", "", "3x4 4x2 | 2x3x4 4", b([](auto& x, auto& y, Args&) { return x.matmul(y); }))
      .alias("matmul");
}

void shape(Builder& r) {
  r.family = "shape";
  r.dtypes = all_types();
  const auto pieces = [](const std::vector<Tensor>& parts) { return V(parts.begin(), parts.end()); };
  r.add("view", "", "3x4 | 1x5", u([](auto& x, Args& a) {
          return tg::view(x, a.shape({x.size(1), x.size(0)}));
        }))
      .contiguous_only();
  r.add("reshape", "", "3x4 | 2x3x2 | 2", u([](auto& x, Args& a) { return tg::reshape(x, a.shape({-1, 2})); }));
  r.add("transpose", "", kDims, u([](auto& x, Args& a) { return tg::transpose(x, a.dim(0), a.dim(-1)); }));
  r.add("permute", "", "2x3x4", u([](auto& x, Args& a) { return tg::permute(x, a.dims({2, 0, 1})); }));
  r.add("narrow", "", kDims, u([](auto& x, Args& a) { return tg::narrow(x, a.dim(1), a.count(1), a.count(2)); }));
  r.add("slice", "step 2", "3x4 | 2x5",
        u([](auto& x, Args& a) { return tg::slice(x, a.dim(1), a.count(0), a.count(5), a.count(2)); }));
  r.add("slice", "negative start", "3x4 | 4",
        u([](auto& x, Args& a) { return tg::slice(x, a.dim(0), a.count(-2), a.count(3)); }));
  r.add("select", "", "3x4 | 2x3x2 | 3", u([](auto& x, Args& a) { return tg::select(x, a.dim(0), a.count(1)); }));
  // To x's shape with its 1s as 4, behind 2, 3, 4 up to three dims ([3, 1]
  // and [] to [2, 3, 4]): a sweep may grow dim 0.
  r.add("expand", "", "3x1 | 4 | []", u([](auto& x, Args& a) {
          const Dims lead{2, 3, 4};
          Dims target;
          for (std::int64_t i = 0; i < 3 - x.dim(); ++i) target.push_back(lead[static_cast<std::size_t>(i)]);
          for (const std::int64_t size : x.shape()) target.push_back(size == 1 ? 4 : size);
          return tg::expand(x, a.shape(target));
        }));
  r.add("squeeze", "all", "3x1x4 | 1", u([](auto& x, Args&) { return tg::squeeze(x); }));
  r.add("squeeze", "dim", "3x1x4", u([](auto& x, Args& a) { return tg::squeeze(x, a.dim(1)); }));
  r.add("unsqueeze", "", "3x4 | 5", u([](auto& x, Args& a) { return tg::unsqueeze(x, a.dim(1)); }));
  r.add("flatten", "all", "2x3x2 | 3x4", u([](auto& x, Args&) { return tg::flatten(x); }));
  r.add("flatten", "dims 1..2", "2x3x2", u([](auto& x, Args& a) { return tg::flatten(x, a.dim(1), a.dim(2)); }));
  r.add("cat", "dim 0", "2x3 4x3 | 2 3", b([](auto& x, auto& y, Args& a) { return tg::cat({x, y}, a.dim(0)); }));
  r.add("cat", "dim 1, three inputs", "3x2 3x4 3x1", t3([](auto& x, auto& y, auto& z, Args& a) {
          return tg::cat({x, y, z}, a.dim(1));
        }));
  r.add("stack", "dim 0", "3x4 3x4 | [] []", b([](auto& x, auto& y, Args& a) { return tg::stack({x, y}, a.dim(0)); }));
  r.add("stack", "dim -1", "3x4 3x4", b([](auto& x, auto& y, Args& a) { return tg::stack({x, y}, a.dim(-1)); }));
  r.add("split", "dim 0", "5x3",
        many([pieces](const V& in, Args& a) { return pieces(tg::split(in[0], a.count(2), a.dim(0))); }));
  r.add("split", "dim 1", "2x4",
        many([pieces](const V& in, Args& a) { return pieces(tg::split(in[0], a.count(3), a.dim(1))); }));
  r.add("chunk", "", "3x4 | 3x5",
        many([pieces](const V& in, Args& a) { return pieces(tg::chunk(in[0], a.count(2), a.dim(1))); }));
  r.add("contiguous", "", "3x4 | 5", u([](auto& x, Args&) { return tg::contiguous(x); }));
  r.add("clone", "", "3x4 | []", u([](auto& x, Args&) { return tg::clone(x); }));
  r.add("to_dtype", "same dtype", "3x4", u([](auto& x, Args&) { return tg::to_dtype(x, x.dtype()); }));
  // Through float32 and back: finite differences need a step far above float32's resolution.
  r.add("to_dtype", "float32 and back", "3x4 | 5",
        u([](auto& x, Args&) { return tg::to_dtype(tg::to_dtype(x, kFloat32), x.dtype()); }))
      .tol({.eps = 1e-2, .atol = 1e-3, .rtol = 1e-2});
  // The Tensor methods.
  r.add("Tensor::view", "", "3x4", u([](auto& x, Args& a) {
          return x.view(a.shape({2, 6}));
        }))
      .contiguous_only()
      .alias("view");
  r.add("Tensor::view_as", "", "3x4 2x6", b([](auto& x, auto& y, Args&) { return x.view_as(y); }))
      .contiguous_only()
      .alias("view");
  r.add("Tensor::reshape", "", "3x4 | 2x3x2", u([](auto& x, Args& a) {
          return x.reshape(a.shape({2, -1}));
        }))
      .alias("reshape");
  r.add("Tensor::reshape_as", "", "3x4 2x6", b([](auto& x, auto& y, Args&) { return x.reshape_as(y); }))
      .alias("reshape");
  r.add("Tensor::transpose", "", kDims, u([](auto& x, Args& a) { return x.transpose(a.dim(0), a.dim(1)); }))
      .alias("transpose");
  r.add("Tensor::permute", "", "2x3x4", u([](auto& x, Args& a) {
          return x.permute(a.dims({1, 2, 0}));
        }))
      .alias("permute");
  r.add("Tensor::t", "", "3x4 | 5", u([](auto& x, Args&) { return x.t(); })).alias("transpose");
  r.add("Tensor::narrow", "", kDims, u([](auto& x, Args& a) { return x.narrow(a.dim(0), a.count(1), a.count(1)); }))
      .alias("narrow");
  r.add("Tensor::slice", "", "3x4 | 2x5",
        u([](auto& x, Args& a) { return x.slice(a.dim(-1), a.count(1), a.count(4), a.count(2)); }))
      .alias("slice");
  r.add("Tensor::select", "", kDims, u([](auto& x, Args& a) { return x.select(a.dim(1), a.count(-1)); }))
      .alias("select");
  r.add("Tensor::operator[]", "", "3x4 | 3", u([](auto& x, Args& a) { return x[a.count(2)]; })).alias("select");
  r.add("Tensor::expand", "", "3x1 | []", u([](auto& x, Args& a) {
          return x.expand(a.shape({2, 3, 5}));
        }))
      .alias("expand");
  r.add("Tensor::expand_as", "", "3x1 2x3x4", b([](auto& x, auto& y, Args&) { return x.expand_as(y); }))
      .alias("expand");
  r.add("Tensor::squeeze", "all", "3x1x4", u([](auto& x, Args&) { return x.squeeze(); })).alias("squeeze");
  r.add("Tensor::squeeze", "dim", "1x4", u([](auto& x, Args& a) { return x.squeeze(a.dim(0)); })).alias("squeeze");
  r.add("Tensor::unsqueeze", "", "3x4 | []", u([](auto& x, Args& a) { return x.unsqueeze(a.dim(0)); }))
      .alias("unsqueeze");
  r.add("Tensor::flatten", "", "2x3x2", u([](auto& x, Args& a) { return x.flatten(a.dim(0), a.dim(1)); }))
      .alias("flatten");
  r.add("Tensor::contiguous", "", "3x4", u([](auto& x, Args&) { return x.contiguous(); })).alias("contiguous");
  r.add("Tensor::clone", "", "3x4", u([](auto& x, Args&) { return x.clone(); })).alias("clone");
  r.add("Tensor::to", "", "3x4", u([](auto& x, Args&) { return x.to(x.dtype()); })).alias("to_dtype");
  r.add("Tensor::type_as", "", "3x4", u([](auto& x, Args&) { return x.type_as(x); })).alias("to_dtype");
  r.add("Tensor::detach", "", "3x4", u([](auto& x, Args&) { return x.detach(); })).no_grad();
}

void index(Builder& r) {
  r.family = "index";
  r.dtypes = all_types();
  r.add("index_select", "dim 0, repeated", "3x4 | 4", u([](auto& x, Args& a) {
          return tg::index_select(x, a.dim(0), a.index(index_tensor({2, 0, 2}, {3})));
        }));
  r.add("index_select", "dim 1", kDims, u([](auto& x, Args& a) {
          return tg::index_select(x, a.dim(1), a.index(index_tensor({1, 1, 0}, {3})));
        }));
  r.add("gather", "dim 1", "3x4", u([](auto& x, Args& a) {
          return tg::gather(x, a.dim(1), a.index(index_tensor({0, 3, 1, 1, 2, 0}, {3, 2})));
        }));
  r.add("gather", "dim 0", "3x4", u([](auto& x, Args& a) {
          return tg::gather(x, a.dim(0), a.index(index_tensor({2, 0, 1, 1, 0, 0, 2, 2}, {2, 4})));
        }));
  r.add("scatter_add", "dim 1, repeated", "3x4 3x2", b([](auto& x, auto& src, Args& a) {
          return tg::scatter_add(x, a.dim(1), a.index(index_tensor({0, 0, 3, 1, 2, 2}, {3, 2})), src);
        }))
      .types(number_types());
  r.add("scatter_add", "dim 0", "3x4 1x4", b([](auto& x, auto& src, Args& a) {
          return tg::scatter_add(x, a.dim(0), a.index(index_tensor({2, 0, 1, 2}, {1, 4})), src);
        }))
      .types(number_types());
  r.add("masked_fill", "", "3x4 | 5 | 2x3x2",
        u([](auto& x, Args& a) { return tg::masked_fill(x, a.mask(pattern_mask(x.shape())), a.scalar(-2.0)); }));
  r.add("masked_fill", "broadcast mask", "3x4",
        u([](auto& x, Args& a) { return tg::masked_fill(x, a.mask(pattern_mask({x.size(-1)})), a.scalar(7.0)); }));
  r.add("one_hot", "", "4 | 2x3", u([](auto& labels, Args& a) { return tg::one_hot(labels, a.count(-1)); }))
      .dom({I})
      .no_grad();
  r.add("one_hot", "num_classes 5", "4", u([](auto& labels, Args& a) { return tg::one_hot(labels, a.count(5)); }))
      .dom({I})
      .no_grad();
  r.add("Tensor::index_select", "", "3x4", u([](auto& x, Args& a) {
          return x.index_select(a.dim(1), a.index(index_tensor({3, 0}, {2})));
        }))
      .alias("index_select");
  r.add("Tensor::gather", "", "3x4", u([](auto& x, Args& a) {
          return x.gather(a.dim(1), a.index(index_tensor({0, 3, 1}, {3, 1})));
        }))
      .alias("gather");
  r.add("Tensor::scatter_add", "", "3x4 3x1", b([](auto& x, auto& src, Args& a) {
          return x.scatter_add(a.dim(1), a.index(index_tensor({2, 2, 0}, {3, 1})), src);
        }))
      .alias("scatter_add")
      .types(number_types());
  r.add("Tensor::masked_fill", "", "3x4",
        u([](auto& x, Args& a) { return x.masked_fill(a.mask(pattern_mask(x.shape())), a.scalar(0.5)); }))
      .alias("masked_fill");
}

void in_place_methods(Builder& r) {
  // On a copy of a tensor that requires grad (gradcheck hands them one) they
  // record; on a leaf they refuse.
  r.family = "inplace";
  r.dtypes = number_types();
  auto entry = [&](std::string name, std::string variant, std::string_view shapes, OpFn fn) -> Builder& {
    return r.add(std::move(name), std::move(variant), shapes, std::move(fn)).in_place();
  };
  entry("Tensor::add_", "tensor, alpha", kSelfBroadcast,
        inplace([](Tensor& s, const V& in, Args& a) { s.add_(in[1], a.scalar(-1.5)); }))
      .types(float_types());
  entry("Tensor::add_", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.add_(a.scalar(2.0)); }));
  entry("Tensor::sub_", "tensor, alpha", kSelfBroadcast,
        inplace([](Tensor& s, const V& in, Args& a) { s.sub_(in[1], a.scalar(0.5)); }))
      .types(float_types());
  entry("Tensor::sub_", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.sub_(a.scalar(2.0)); }));
  entry("Tensor::mul_", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s.mul_(in[1]); }))
      .types(all_types());
  entry("Tensor::mul_", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.mul_(a.scalar(-2.0)); }));
  entry("Tensor::div_", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s.div_(in[1]); }))
      .dom({A, Z})
      .types(float_types());
  entry("Tensor::div_", "scalar", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.div_(a.scalar(4.0)); }))
      .types(float_types());
  entry("Tensor::zero_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.zero_(); })).types(all_types());
  entry("Tensor::fill_", "", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.fill_(a.scalar(1.5)); }))
      .types(all_types());
  entry("Tensor::copy_", "", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s.copy_(in[1]); }))
      .types(all_types());
  entry("Tensor::clamp_", "", kUnary,
        inplace([](Tensor& s, const V&, Args& a) { s.clamp_(a.scalar(-0.6), a.scalar(0.7)); }))
      .types(float_types());
  entry("Tensor::relu_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.relu_(); })).dom({Z});
  entry("Tensor::masked_fill_", "", kUnary,
        inplace([](Tensor& s, const V&, Args& a) { s.masked_fill_(a.mask(pattern_mask(s.shape())), a.scalar(3.0)); }))
      .types(all_types());
  // The in-place math (autograd/ops/inplace_math.cpp): the out-of-place op
  // written back, so the dtypes are those whose result self can hold (exp_
  // of an integer tensor is refused, floor_ is not).
  entry("Tensor::neg_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.neg_(); })).types(number_types());
  entry("Tensor::abs_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.abs_(); }))
      .dom({Z})
      .types(number_types());
  entry("Tensor::exp_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.exp_(); })).types(float_types());
  entry("Tensor::log_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.log_(); }))
      .dom({P})
      .types(float_types());
  entry("Tensor::sqrt_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.sqrt_(); }))
      .dom({P})
      .types(float_types());
  entry("Tensor::rsqrt_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.rsqrt_(); }))
      .dom({P})
      .types(float_types());
  entry("Tensor::sigmoid_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.sigmoid_(); })).types(float_types());
  entry("Tensor::tanh_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.tanh_(); })).types(float_types());
  entry("Tensor::sin_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.sin_(); })).types(float_types());
  entry("Tensor::cos_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.cos_(); })).types(float_types());
  entry("Tensor::reciprocal_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.reciprocal_(); }))
      .dom({Z})
      .types(float_types());
  entry("Tensor::floor_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.floor_(); })).types(number_types());
  entry("Tensor::ceil_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.ceil_(); })).types(number_types());
  entry("Tensor::round_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.round_(); })).types(number_types());
  entry("Tensor::trunc_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.trunc_(); })).types(number_types());
  entry("Tensor::sign_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.sign_(); }))
      .dom({Z})
      .types(all_types());
  entry("Tensor::square_", "", kUnary, inplace([](Tensor& s, const V&, Args&) { s.square_(); })).types(number_types());
  entry("Tensor::pow_", "2.5", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.pow_(a.scalar(2.5)); }))
      .dom({P})
      .types(float_types());
  entry("Tensor::pow_", "3", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.pow_(a.scalar(3.0)); }))
      .types(number_types());
  entry("Tensor::pow_", "tensor", kSelfBroadcast, inplace([](Tensor& s, const V& in, Args&) { s.pow_(in[1]); }))
      .dom({P, A})
      .types(number_types());
  entry("Tensor::clamp_min_", "", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.clamp_min_(a.scalar(-0.3)); }))
      .types(float_types());
  entry("Tensor::clamp_max_", "", kUnary, inplace([](Tensor& s, const V&, Args& a) { s.clamp_max_(a.scalar(0.4)); }))
      .types(float_types());
  entry("Tensor::addcmul_", "value -0.7", kSelfBroadcast3,
        inplace([](Tensor& s, const V& in, Args& a) { s.addcmul_(in[1], in[2], a.scalar(-0.7)); }))
      .types(float_types());
  entry("Tensor::addcmul_", "value 2", kSelfBroadcast3,
        inplace([](Tensor& s, const V& in, Args& a) { s.addcmul_(in[1], in[2], a.scalar(2.0)); }))
      .types(number_types());
  entry("Tensor::addcdiv_", "value 1.5", kSelfBroadcast3,
        inplace([](Tensor& s, const V& in, Args& a) { s.addcdiv_(in[1], in[2], a.scalar(1.5)); }))
      .dom({A, A, Z})
      .types(float_types());
  entry("Tensor::lerp_", "scalar weight", kSelfBroadcast,
        inplace([](Tensor& s, const V& in, Args& a) { s.lerp_(in[1], a.scalar(0.3)); }))
      .types(float_types());
  entry("Tensor::lerp_", "tensor weight", kSelfBroadcast3,
        inplace([](Tensor& s, const V& in, Args&) { s.lerp_(in[1], in[2]); }))
      .types(float_types());
}

void nn_ops(Builder& r) {
  r.family = "nn";
  r.dtypes = float_types();
  // Class targets and weights in the inputs' dtype (float64 under gradcheck).
  // One class index per row of x (1, 0, 3, 1, 0, 3, ...), so that a sweep may
  // grow the batch (the thread sweep scales dim 0).
  const auto classes = [](const Tensor& x, Args& a) {
    const std::int64_t rows = x.dim() > 0 ? x.size(0) : 1;
    std::vector<std::int64_t> values(static_cast<std::size_t>(rows));
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = std::array<std::int64_t, 3>{1, 0, 3}[i % 3];
    return a.index(index_tensor(values, {rows}));
  };
  const auto class_weight = [](const Tensor& like) {
    return tg::tensor({0.5, 1, 2, 1.5}, {4}, {.dtype = like.dtype()});
  };
  // Forwarders of tg:: ops, kept in nn/functional.h for torch.nn.functional's spelling.
  r.add("F::relu", "", kUnary, u([](auto& x, Args&) { return F::relu(x); }))
      .dom({Z})
      .alias("relu")
      .types(number_types());
  r.add("F::leaky_relu", "", kUnary, u([](auto& x, Args& a) { return F::leaky_relu(x, a.scalar(0.1)); }))
      .dom({Z})
      .alias("leaky_relu")
      .types(float_types());
  r.add("F::gelu", "", kUnary, u([](auto& x, Args&) { return F::gelu(x); })).alias("gelu").types(float_types());
  r.add("F::sigmoid", "", kUnary, u([](auto& x, Args&) { return F::sigmoid(x); })).alias("sigmoid").types(all_types());
  r.add("F::tanh", "", kUnary, u([](auto& x, Args&) { return F::tanh(x); })).alias("tanh").types(all_types());
  r.add("F::softmax", "", kDims, u([](auto& x, Args& a) { return F::softmax(x, a.dim(-1)); })).alias("softmax");
  r.add("F::log_softmax", "", kDims, u([](auto& x, Args& a) { return F::log_softmax(x, a.dim(1)); }))
      .alias("log_softmax");
  r.add("F::flatten", "", "2x3x2", u([](auto& x, Args& a) { return F::flatten(x, a.dim(1)); }))
      .alias("flatten")
      .types(all_types());
  r.add("F::linear", "", "3x4 2x4 2", t3([](auto& x, auto& w, auto& bias, Args&) { return F::linear(x, w, bias); }))
      .alias("linear")
      .types(number_types());
  // The ops of their own.
  r.add("F::dropout", "training, fixed generator", "3x4 | 2x3x2", u([](auto& x, Args& a) {
          tg::Generator gen(11);  // the same mask on every call
          return F::dropout(x, a.scalar(0.3), a.flag(true), &gen);
        }));
  r.add("F::dropout", "p = 0", "3x4", u([](auto& x, Args& a) { return F::dropout(x, a.scalar(0.0), a.flag(true)); }))
      .types(all_types());
  r.add("F::dropout", "eval", "3x4", u([](auto& x, Args& a) { return F::dropout(x, a.scalar(0.3), a.flag(false)); }))
      .types(all_types());
  r.add("F::conv2d", "bias", "1x2x4x4 2x2x2x2 2 | 2x4x4 2x2x2x2 2",
        t3([](auto& x, auto& w, auto& bias, Args&) { return F::conv2d(x, w, bias); }));
  r.add("F::conv2d", "stride 2, padding 1", "1x2x4x4 3x2x3x3 3",
        t3([](auto& x, auto& w, auto& bias, Args& a) { return F::conv2d(x, w, bias, a.count(2), a.count(1)); }));
  r.add("F::conv2d", "dilation 2, no bias, rectangular", "2x1x4x5 2x1x2x2", b([](auto& x, auto& w, Args& a) {
          return F::conv2d(x, w, {}, {a.count(1), a.count(2)}, {a.count(1), a.count(0)}, a.count(2));
        }));
  r.add("F::conv2d", "groups 2, padding 1", "1x4x5x5 4x2x3x3 4", t3([](auto& x, auto& w, auto& bias, Args& a) {
          return F::conv2d(x, w, bias, a.count(1), a.count(1), a.count(1), a.count(2));
        }));
  r.add("F::conv1d", "bias, groups 2, stride 2, padding 1, dilation 2", "2x4x9 6x2x3 6 | 4x9 6x2x3 6",
        t3([](auto& x, auto& w, auto& bias, Args& a) {
          return F::conv1d(x, w, bias, a.count(2), a.count(1), a.count(2), a.count(2));
        }));
  r.add("F::conv1d", "no bias", "1x3x7 2x3x3", b([](auto& x, auto& w, Args&) { return F::conv1d(x, w); }));
  // padding="same" (an odd total puts the extra zero after) and "valid".
  r.add("F::conv2d", "padding same, kernel (2, 3), dilation (3, 1)", "1x2x5x4 3x2x2x3 3 | 2x5x4 3x2x2x3 3",
        t3([](auto& x, auto& w, auto& bias, Args& a) {
          return F::conv2d(x, w, bias, a.count(1), "same", {a.count(3), a.count(1)});
        }));
  r.add("F::conv2d", "padding valid, stride 2", "1x2x5x5 2x2x3x3",
        b([](auto& x, auto& w, Args& a) { return F::conv2d(x, w, {}, a.count(2), "valid"); }));
  r.add("F::conv1d", "padding same, kernel 4, groups 2", "2x4x7 4x2x4 4 | 4x7 4x2x4 4",
        t3([](auto& x, auto& w, auto& bias, Args& a) {
          return F::conv1d(x, w, bias, a.count(1), "same", a.count(1), a.count(2));
        }));
  r.add("F::conv1d", "padding same, dilation 2", "1x3x6 2x3x3",
        b([](auto& x, auto& w, Args& a) { return F::conv1d(x, w, {}, a.count(1), "same", a.count(2)); }));
  r.add("F::conv_transpose1d", "bias, stride 2, padding 1, output_padding 1", "1x4x5 4x3x3 3 | 4x5 4x3x3 3",
        t3([](auto& x, auto& w, auto& bias, Args& a) {
          return F::conv_transpose1d(x, w, bias, a.count(2), a.count(1), a.count(1));
        }));
  r.add("F::conv_transpose1d", "groups 2, stride 3, output_padding 2, dilation 2, no bias", "2x4x4 4x1x2",
        b([](auto& x, auto& w, Args& a) {
          return F::conv_transpose1d(x, w, {}, a.count(3), a.count(0), a.count(2), a.count(2), a.count(2));
        }));
  r.add("F::conv_transpose2d", "bias, stride 2, padding 1, output_padding 1", "1x3x3x4 3x2x3x3 2 | 3x3x4 3x2x3x3 2",
        t3([](auto& x, auto& w, auto& bias, Args& a) {
          return F::conv_transpose2d(x, w, bias, a.count(2), a.count(1), a.count(1));
        }));
  r.add("F::conv_transpose2d", "groups 2, rectangular, no bias", "1x4x3x4 4x3x2x3", b([](auto& x, auto& w, Args& a) {
          return F::conv_transpose2d(x, w, {}, {a.count(1), a.count(2)}, {a.count(0), a.count(1)}, a.count(1),
                                     a.count(2), {a.count(2), a.count(1)});
        }));
  r.add("F::max_pool2d", "kernel 2", "1x2x4x4 | 2x4x4",
        u([](auto& x, Args& a) { return F::max_pool2d(x, a.count(2)); }));
  r.add("F::max_pool2d", "kernel 3, stride 2, padding 1", "1x2x5x5",
        u([](auto& x, Args& a) { return F::max_pool2d(x, a.count(3), a.count(2), a.count(1)); }));
  r.add("F::max_pool2d_with_indices", "", "1x2x3x4", many([](const V& in, Args& a) {
          auto [values, indices] = F::max_pool2d_with_indices(in[0], a.count(2), a.count(1));
          return V{values, indices};
        }));
  r.add("F::avg_pool2d", "kernel 2", "1x2x4x4 | 2x4x4",
        u([](auto& x, Args& a) { return F::avg_pool2d(x, a.count(2)); }));
  r.add("F::avg_pool2d", "kernel 3, stride 2, padding 1, padding not counted", "1x2x5x5",
        u([](auto& x, Args& a) { return F::avg_pool2d(x, a.count(3), a.count(2), a.count(1), a.flag(false)); }));
  r.add("F::avg_pool1d", "kernel 3, stride 2, padding 1", "2x3x8 | 3x8",
        u([](auto& x, Args& a) { return F::avg_pool1d(x, a.count(3), a.count(2), a.count(1)); }));
  r.add("F::avg_pool1d", "kernel 4, stride 3, padding 2, padding not counted", "1x2x9",
        u([](auto& x, Args& a) { return F::avg_pool1d(x, a.count(4), a.count(3), a.count(2), a.flag(false)); }));
  r.add("F::adaptive_avg_pool1d", "7 -> 3", "2x3x7 | 3x7",
        u([](auto& x, Args& a) { return F::adaptive_avg_pool1d(x, a.count(3)); }));
  r.add("F::adaptive_avg_pool1d", "5 -> 8", "1x2x5",
        u([](auto& x, Args& a) { return F::adaptive_avg_pool1d(x, a.count(8)); }));
  r.add("F::adaptive_avg_pool2d", "7x5 -> 3x4", "2x3x7x5 | 3x7x5", u([](auto& x, Args& a) {
          return F::adaptive_avg_pool2d(x, {a.count(3), a.count(4)});
        }));
  // ceil_mode, max_pool1d and adaptive max pooling (kept together for merges).
  r.add("F::max_pool2d", "kernel 3, stride 2, padding 1, ceil_mode", "1x2x6x5 | 2x6x5", u([](auto& x, Args& a) {
          return F::max_pool2d(x, a.count(3), a.count(2), a.count(1), a.count(1), a.flag(true));
        }));
  r.add("F::avg_pool2d", "kernel 3, stride 2, padding 1, ceil_mode", "1x2x6x5 | 2x6x5", u([](auto& x, Args& a) {
          return F::avg_pool2d(x, a.count(3), a.count(2), a.count(1), a.flag(true), a.flag(true));
        }));
  r.add("F::avg_pool1d", "kernel 3, stride 2, ceil_mode, padding not counted", "2x3x8", u([](auto& x, Args& a) {
          return F::avg_pool1d(x, a.count(3), a.count(2), a.count(1), a.flag(false), a.flag(true));
        }));
  r.add("F::max_pool1d", "kernel 3, stride 2, padding 1", "2x3x8 | 3x8",
        u([](auto& x, Args& a) { return F::max_pool1d(x, a.count(3), a.count(2), a.count(1)); }));
  r.add("F::max_pool1d", "kernel 2, dilation 2, ceil_mode", "1x2x8", u([](auto& x, Args& a) {
          return F::max_pool1d(x, a.count(2), a.count(2), a.count(0), a.count(2), a.flag(true));
        }));
  r.add("F::max_pool1d_with_indices", "", "1x2x7", many([](const V& in, Args& a) {
          auto [values, indices] = F::max_pool1d_with_indices(in[0], a.count(3), a.count(2), a.count(1));
          return V{values, indices};
        }));
  r.add("F::adaptive_max_pool2d", "7x5 -> 3x4", "2x3x7x5 | 3x7x5", u([](auto& x, Args& a) {
          return F::adaptive_max_pool2d(x, {a.count(3), a.count(4)});
        }));
  r.add("F::adaptive_max_pool2d_with_indices", "", "1x2x5x4", many([](const V& in, Args& a) {
          auto [values, indices] = F::adaptive_max_pool2d_with_indices(in[0], {a.count(3), a.count(2)});
          return V{values, indices};
        }));
  r.add("F::adaptive_max_pool1d", "7 -> 3", "2x3x7 | 3x7",
        u([](auto& x, Args& a) { return F::adaptive_max_pool1d(x, a.count(3)); }));
  r.add("F::adaptive_max_pool1d_with_indices", "", "1x2x5", many([](const V& in, Args& a) {
          auto [values, indices] = F::adaptive_max_pool1d_with_indices(in[0], a.count(3));
          return V{values, indices};
        }));
  r.add("F::interpolate", "nearest, size 8", "1x2x5",
        u([](auto& x, Args& a) { return F::interpolate(x, {.size = {a.count(8)}}); }));
  r.add("F::interpolate", "nearest 2-D, scale 1.7", "1x2x4x5",
        u([](auto& x, Args& a) { return F::interpolate(x, {.scale_factor = {a.scalar(1.7)}}); }));
  r.add("F::interpolate", "linear, scale 2.5, align_corners", "2x3x5", u([](auto& x, Args& a) {
          return F::interpolate(x, {.scale_factor = {a.scalar(2.5)}, .mode = "linear", .align_corners = a.flag(true)});
        }));
  r.add("F::interpolate", "bilinear, size (7, 3)", "1x2x4x5", u([](auto& x, Args& a) {
          return F::interpolate(x,
                                {.size = {a.count(7), a.count(3)}, .mode = "bilinear", .align_corners = a.flag(false)});
        }));
  r.add("F::interpolate", "bilinear, scale 1.5, align_corners", "1x2x4x5", u([](auto& x, Args& a) {
          return F::interpolate(x,
                                {.scale_factor = {a.scalar(1.5)}, .mode = "bilinear", .align_corners = a.flag(true)});
        }));
  r.add("F::pixel_shuffle", "2", "2x8x3x2 | 8x2x3", u([](auto& x, Args& a) { return F::pixel_shuffle(x, a.count(2)); }))
      .types(all_types());
  r.add("F::pixel_unshuffle", "2", "2x2x4x6 | 2x4x6",
        u([](auto& x, Args& a) { return F::pixel_unshuffle(x, a.count(2)); }))
      .types(all_types());
  r.add("F::layer_norm", "affine", "3x4 4 4 | 2x3x4 4 4",
        t3([](auto& x, auto& w, auto& bias, Args& a) { return F::layer_norm(x, a.shape({x.size(-1)}), w, bias); }));
  r.add("F::layer_norm", "two dims, no affine", "2x3x4", u([](auto& x, Args& a) {
          return F::layer_norm(x, a.shape({3, 4}));
        }));
  r.add("F::rms_norm", "affine", "3x4 4 | 2x3x4 4",
        b([](auto& x, auto& w, Args& a) { return F::rms_norm(x, a.shape({x.size(-1)}), w); }));
  r.add("F::rms_norm", "two dims, no affine, eps 1e-5", "2x3x4", u([](auto& x, Args& a) {
          return F::rms_norm(x, a.shape({3, 4}), {}, a.scalar(1e-5));
        }));
  r.add("F::group_norm", "2 groups, affine", "2x6x3 6 6 | 3x4x2x2 4 4",
        t3([](auto& x, auto& w, auto& bias, Args& a) { return F::group_norm(x, a.count(2), w, bias); }));
  r.add("F::group_norm", "3 groups, no affine", "2x6x2",
        u([](auto& x, Args& a) { return F::group_norm(x, a.count(3), {}, {}, a.scalar(1e-3)); }));
  r.add("F::batch_norm", "training, affine", "4x3 3 3 | 2x3x2x2 3 3",
        t3([](auto& x, auto& w, auto& bias, Args&) { return F::batch_norm(x, {}, {}, w, bias, true); }));
  r.add("F::batch_norm", "training, updating running statistics", "4x3", u([](auto& x, Args& a) {
          Tensor running_mean = tg::zeros({x.size(1)}, {.dtype = x.dtype()});
          Tensor running_var = tg::ones({x.size(1)}, {.dtype = x.dtype()});
          return F::batch_norm(x, running_mean, running_var, {}, {}, true, a.scalar(0.1));
        }));
  r.add("F::batch_norm", "eval, running statistics", "4x3 3 3 | 2x3x2 3 3", t3([](auto& x, auto& w, auto& bias, Args&) {
          return F::batch_norm(x, tg::tensor({0.5, -1, 0}, {3}, {.dtype = x.dtype()}),
                               tg::tensor({2, 0.5, 1}, {3}, {.dtype = x.dtype()}), w, bias, false);
        }));
  r.add("F::embedding", "", "5x3", u([](auto& w, Args& a) {
          return F::embedding(a.index(index_tensor({0, 4, 1, 1, 3, 0}, {2, 3})), w);
        }))
      .types(all_types());
  // The padding row gets no gradient by design, which is not the derivative:
  // the output rows it fills are zeroed so that the two agree.
  r.add("F::embedding", "padding_idx", "5x3", u([](auto& w, Args& a) {
          const Tensor not_padding = tg::tensor({1, 1, 0, 0, 1, 1}, {2, 3, 1}, {.dtype = w.dtype()});
          return F::embedding(a.index(index_tensor({0, 4, 1, 1, 3, 0}, {2, 3})), w, a.count(1)) * not_padding;
        }))
      .types(all_types());
  r.add("F::cross_entropy", "class indices", "3x4",
        u([classes](auto& x, Args& a) { return F::cross_entropy(x, classes(x, a)); }));
  r.add("F::cross_entropy", "weight, label smoothing, sum", "3x4", u([classes, class_weight](auto& x, Args& a) {
          return F::cross_entropy(
              x, classes(x, a),
              {.weight = class_weight(x), .label_smoothing = a.scalar(0.1), .reduction = Reduction::Sum});
        }));
  r.add("F::cross_entropy", "ignore_index, none", "3x4", u([](auto& x, Args& a) {
          return F::cross_entropy(x, a.index(index_tensor({1, 2, 3}, {3})),
                                  {.ignore_index = a.count(2), .reduction = Reduction::None});
        }));
  r.add("F::cross_entropy", "spatial [N, C, d]", "2x3x2", u([](auto& x, Args& a) {
          return F::cross_entropy(x, a.index(index_tensor({0, 2, 1, 1}, {2, 2})));
        }));
  r.add("F::cross_entropy", "probabilities", "3x4 3x4",
        b([](auto& x, auto& t, Args& a) { return F::cross_entropy(x, t, {.label_smoothing = a.scalar(0.2)}); }))
      .dom({A, Pr});
  r.add("F::nll_loss", "", "3x4", u([classes](auto& x, Args& a) { return F::nll_loss(x, classes(x, a)); }));
  r.add("F::nll_loss", "weight, none", "3x4", u([classes, class_weight](auto& x, Args& a) {
          return F::nll_loss(x, classes(x, a), {.weight = class_weight(x), .reduction = Reduction::None});
        }));
  // The reduction step every loss ends with (autograd/nn_ops.h).
  r.add("reduce_loss", "mean", "3x4", u([](auto& x, Args&) { return tg::reduce_loss(x, Reduction::Mean); }));
  r.add("reduce_loss", "sum", "3x4", u([](auto& x, Args&) { return tg::reduce_loss(x, Reduction::Sum); }))
      .types(all_types());
  r.add("reduce_loss", "none", "3x4", u([](auto& x, Args&) { return tg::reduce_loss(x, Reduction::None); }))
      .types(all_types());
  r.add("F::mse_loss", "mean", "3x4 3x4 | [] []", b([](auto& x, auto& t, Args&) { return F::mse_loss(x, t); }));
  r.add("F::mse_loss", "none", "3x4 3x4",
        b([](auto& x, auto& t, Args&) { return F::mse_loss(x, t, {Reduction::None}); }));
  r.add("F::l1_loss", "mean", "3x4 3x4", b([](auto& x, auto& t, Args&) { return F::l1_loss(x, t); }));
  r.add("F::l1_loss", "sum", "5 5", b([](auto& x, auto& t, Args&) { return F::l1_loss(x, t, {Reduction::Sum}); }));
  r.add("F::huber_loss", "delta 0.5", "3x4 3x4",
        b([](auto& x, auto& t, Args& a) { return F::huber_loss(x, t, {.delta = a.scalar(0.5)}); }));
  r.add("F::binary_cross_entropy", "", "3x4 3x4 | [] []",
        b([](auto& x, auto& t, Args&) { return F::binary_cross_entropy(x, t); }))
      .dom({Pr, Pr});
  r.add("F::binary_cross_entropy", "weight, sum", "3x4 3x4", b([class_weight](auto& x, auto& t, Args&) {
          return F::binary_cross_entropy(x, t, {.weight = class_weight(x), .reduction = Reduction::Sum});
        }))
      .dom({Pr, Pr});
  r.add("F::binary_cross_entropy_with_logits", "", "3x4 3x4",
        b([](auto& x, auto& t, Args&) { return F::binary_cross_entropy_with_logits(x, t); }))
      .dom({A, Pr});
  r.add("F::binary_cross_entropy_with_logits", "weight, pos_weight, none", "3x4 3x4",
        b([class_weight](auto& x, auto& t, Args&) {
          return F::binary_cross_entropy_with_logits(
              x, t, {.weight = class_weight(x), .pos_weight = class_weight(x) * 2.0, .reduction = Reduction::None});
        }))
      .dom({A, Pr});
}

// Issue 14: shape ops, scans and order statistics (autograd/ops/order.cpp).
// Order statistics and cummax/cummin skip the expanded layout: its repeated
// values are ties, where finite differences mean nothing.
void order_ops(Builder& r) {
  const auto pieces = [](const std::vector<Tensor>& parts) { return V(parts.begin(), parts.end()); };
  const auto pair = [](const std::tuple<Tensor, Tensor>& t) { return V{std::get<0>(t), std::get<1>(t)}; };
  const auto sizes = [](const Dims& d) { return std::vector<std::int64_t>(d.begin(), d.end()); };
  r.family = "shape";
  r.dtypes = all_types();
  r.add("tril", "", "3x4 | 2x3x3 | 4x2", u([](auto& x, Args&) { return tg::tril(x); }));
  r.add("tril", "diagonal -1", "3x4 | 2x4x3", u([](auto& x, Args& a) { return tg::tril(x, a.count(-1)); }));
  r.add("triu", "", "3x4 | 2x3x3", u([](auto& x, Args&) { return tg::triu(x); }));
  r.add("triu", "diagonal 1", "3x4 | 4x2", u([](auto& x, Args& a) { return tg::triu(x, a.count(1)); }));
  r.add("diagonal", "", "3x4 | 4x2", u([](auto& x, Args&) { return tg::diagonal(x); }));
  r.add("diagonal", "offset, dims", "2x3x4 | 3x3x3",
        u([](auto& x, Args& a) { return tg::diagonal(x, a.count(-1), a.dim(-1), a.dim(0)); }));
  r.add("diag", "vector", "3 | 1", u([](auto& x, Args& a) { return tg::diag(x, a.count(0)); }));
  r.add("diag", "vector, offset", "3", u([](auto& x, Args& a) { return tg::diag(x, a.count(-2)); }));
  r.add("diag", "matrix", "3x4 | 4x2", u([](auto& x, Args& a) { return tg::diag(x, a.count(1)); }));
  r.add("trace", "", "3x4 | 3x3", u([](auto& x, Args&) { return tg::trace(x); })).types(number_types());
  r.add("repeat", "", "3x2 | 2 | []", u([](auto& x, Args& a) { return tg::repeat(x, a.shape({2, 1, 3})); }));
  r.add("flip", "", "3x4 | 2x3x2", u([](auto& x, Args& a) { return tg::flip(x, a.dims({0, -1})); }));
  r.add("roll", "dims", "3x4 | 2x3x2", u([](auto& x, Args& a) {
          return tg::roll(x, a.dims({1, -5}), a.dims({0, 1}));
        }));
  r.add("roll", "flattened", "3x4 | 5", u([](auto& x, Args& a) { return tg::roll(x, a.dims({3})); }));
  r.add("split", "sizes", "5x3 | 5", many([pieces, sizes](const V& in, Args& a) {
          return pieces(tg::split(in[0], sizes(a.shape({1, 0, 3, 1})), a.dim(0)));
        }));
  r.add("unbind", "", "3x4 | 2x3x2",
        many([pieces](const V& in, Args& a) { return pieces(tg::unbind(in[0], a.dim(1))); }));
  r.add("movedim", "lists", "2x3x4", u([](auto& x, Args& a) {
          return tg::movedim(x, a.dims({0, 1}), a.dims({2, 0}));
        }));
  r.add("movedim", "one dim", "2x3x4 | 3x4", u([](auto& x, Args& a) { return tg::movedim(x, a.dim(0), a.dim(-1)); }));
  r.add("unflatten", "", "6x2 | 12", u([](auto& x, Args& a) { return tg::unflatten(x, a.dim(0), a.shape({2, -1})); }));
  r.add("meshgrid", "ij", "3 4 | 2 []", many([pieces](const V& in, Args&) {
          return pieces(tg::meshgrid({in[0], in[1]}));
        }));
  r.add("meshgrid", "xy, three", "3 4 2", many([pieces](const V& in, Args&) {
          return pieces(tg::meshgrid({in[0], in[1], in[2]}, "xy"));
        }));
  r.add("Tensor::tril", "", "3x4", u([](auto& x, Args& a) { return x.tril(a.count(1)); })).alias("tril");
  r.add("Tensor::triu", "", "3x4", u([](auto& x, Args& a) { return x.triu(a.count(-1)); })).alias("triu");
  r.add("Tensor::diagonal", "", "3x4", u([](auto& x, Args& a) { return x.diagonal(a.count(1)); })).alias("diagonal");
  r.add("Tensor::diag", "", "3", u([](auto& x, Args&) { return x.diag(); })).alias("diag");
  r.add("Tensor::trace", "", "3x4", u([](auto& x, Args&) { return x.trace(); })).types(number_types()).alias("trace");
  r.add("Tensor::repeat", "", "3x2", u([](auto& x, Args& a) { return x.repeat(a.shape({2, 2})); })).alias("repeat");
  r.add("Tensor::flip", "", "3x4", u([](auto& x, Args& a) { return x.flip(a.dims({1})); })).alias("flip");
  r.add("Tensor::roll", "", "3x4", u([](auto& x, Args& a) { return x.roll(a.dims({2}), a.dims({1})); })).alias("roll");
  r.add("Tensor::split", "size", "5x3",
        many([pieces](const V& in, Args& a) { return pieces(in[0].split(a.count(2), a.dim(0))); }))
      .alias("split");
  r.add("Tensor::split", "sizes", "5x3", many([pieces, sizes](const V& in, Args& a) {
          return pieces(in[0].split(sizes(a.shape({2, 1})), a.dim(1)));
        }))
      .alias("split");
  r.add("Tensor::chunk", "", "3x4 | 3x5",
        many([pieces](const V& in, Args& a) { return pieces(in[0].chunk(a.count(2), a.dim(1))); }))
      .alias("chunk");
  r.add("Tensor::unbind", "", "3x4", many([pieces](const V& in, Args& a) { return pieces(in[0].unbind(a.dim(0))); }))
      .alias("unbind");
  r.add("Tensor::movedim", "lists", "2x3x4", u([](auto& x, Args& a) { return x.movedim(a.dims({-1}), a.dims({0})); }))
      .alias("movedim");
  r.add("Tensor::movedim", "one dim", "2x3x4", u([](auto& x, Args& a) { return x.movedim(a.dim(1), a.dim(2)); }))
      .alias("movedim");
  r.add("Tensor::unflatten", "", "2x6", u([](auto& x, Args& a) {
          return x.unflatten(a.dim(1), a.shape({3, 2}));
        }))
      .alias("unflatten");

  r.family = "reduce";
  r.add("cumsum", "", "3x4 | 5 | []", u([](auto& x, Args& a) { return tg::cumsum(x, a.dim(0)); }));
  r.add("cumprod", "", "3x4 | 5 | []", u([](auto& x, Args& a) { return tg::cumprod(x, a.dim(-1)); }));
  r.add("logcumsumexp", "", "3x4 | 5 | []", u([](auto& x, Args& a) { return tg::logcumsumexp(x, a.dim(-1)); }))
      .types(float_types());
  r.add("cummax", "", "3x4 | 5", many([pair](const V& in, Args& a) { return pair(tg::cummax(in[0], a.dim(-1))); }))
      .no_expand();
  r.add("cummin", "", "3x4 | 2x3x2", many([pair](const V& in, Args& a) { return pair(tg::cummin(in[0], a.dim(1))); }));
  r.add("sort", "", "3x4 | 5 | []", many([pair](const V& in, Args&) { return pair(tg::sort(in[0])); })).no_expand();
  r.add("sort", "dim 0 descending stable", "3x4 | 2x3x2",
        many([pair](const V& in, Args& a) { return pair(tg::sort(in[0], a.dim(0), a.flag(true), a.flag(true))); }))
      .no_expand();
  r.add("argsort", "", "3x4 | 5", u([](auto& x, Args& a) { return tg::argsort(x, a.dim(0), a.flag(true)); }))
      .no_grad()
      .no_expand();
  r.add("msort", "", "3x4 | 5", u([](auto& x, Args&) { return tg::msort(x); })).no_expand();
  r.add("topk", "", "3x4 | 5", many([pair](const V& in, Args& a) { return pair(tg::topk(in[0], a.count(2))); }))
      .types(number_types())
      .no_expand();
  r.add("topk", "smallest along dim 0", "3x4 | 4x2", many([pair](const V& in, Args& a) {
          return pair(tg::topk(in[0], a.count(3), a.dim(0), a.flag(false), a.flag(false)));
        }))
      .types(number_types())
      .no_expand();
  r.add("kthvalue", "", "3x4 | 5", many([pair](const V& in, Args& a) { return pair(tg::kthvalue(in[0], a.count(2))); }))
      .types(number_types())
      .no_expand();
  r.add("kthvalue", "dim 0 keepdim", "3x4",
        many([pair](const V& in, Args& a) { return pair(tg::kthvalue(in[0], a.count(3), a.dim(0), a.flag(true))); }))
      .types(number_types())
      .no_expand();
  r.add("median", "all", "3x4 | 5 | []", u([](auto& x, Args&) { return tg::median(x); }))
      .types(number_types())
      .no_expand();
  r.add("median", "dim", "3x4 | 2x3x2",
        many([pair](const V& in, Args& a) { return pair(tg::median(in[0], a.dim(1), a.flag(false))); }))
      .types(number_types());
  r.add("Tensor::cumsum", "", "3x4", u([](auto& x, Args& a) { return x.cumsum(a.dim(1)); })).alias("cumsum");
  r.add("Tensor::cumprod", "", "3x4", u([](auto& x, Args& a) { return x.cumprod(a.dim(0)); })).alias("cumprod");
  r.add("Tensor::logcumsumexp", "", "3x4", u([](auto& x, Args& a) { return x.logcumsumexp(a.dim(0)); }))
      .types(float_types())
      .alias("logcumsumexp");
  r.add("Tensor::cummax", "", "3x4", many([pair](const V& in, Args& a) { return pair(in[0].cummax(a.dim(0))); }))
      .no_expand()
      .alias("cummax");
  r.add("Tensor::cummin", "", "3x4", many([pair](const V& in, Args& a) { return pair(in[0].cummin(a.dim(0))); }))
      .no_expand()
      .alias("cummin");
  r.add("Tensor::sort", "", "3x4",
        many([pair](const V& in, Args& a) { return pair(in[0].sort(a.dim(1), a.flag(true))); }))
      .alias("sort");
  r.add("Tensor::argsort", "", "3x4", u([](auto& x, Args& a) { return x.argsort(a.dim(1)); }))
      .no_grad()
      .no_expand()
      .alias("argsort");
  r.add("Tensor::msort", "", "3x4", u([](auto& x, Args&) { return x.msort(); })).no_expand().alias("msort");
  r.add("Tensor::topk", "", "3x4", many([pair](const V& in, Args& a) { return pair(in[0].topk(a.count(1))); }))
      .types(number_types())
      .alias("topk");
  r.add("Tensor::kthvalue", "", "3x4", many([pair](const V& in, Args& a) { return pair(in[0].kthvalue(a.count(1))); }))
      .types(number_types())
      .alias("kthvalue");
  r.add("Tensor::median", "all", "3x4", u([](auto& x, Args&) { return x.median(); }))
      .types(number_types())
      .no_expand()
      .alias("median");
  r.add("Tensor::median", "dim", "3x4", many([pair](const V& in, Args& a) { return pair(in[0].median(a.dim(0))); }))
      .types(number_types())
      .no_expand()
      .alias("median");
}

// The math functions and activations of issue 14 (autograd/ops/math_functions.cpp,
// activation_functions.cpp), appended after the others so that the entries
// before them keep their positions (the fuzzer's seeds index entries).
void math_functions(Builder& r) {
  constexpr auto U = Domain::Unit;
  constexpr auto G1 = Domain::AboveOne;
  r.family = "elementwise";
  r.dtypes = all_types();
  // Real functions: int64 and bool inputs give float32.
  r.add("sin", "", kUnary, u([](auto& x, Args&) { return tg::sin(x); }));
  r.add("cos", "", kUnary, u([](auto& x, Args&) { return tg::cos(x); }));
  r.add("tan", "", kUnary, u([](auto& x, Args&) { return tg::tan(x); })).dom({U});
  r.add("asin", "", kUnary, u([](auto& x, Args&) { return tg::asin(x); })).dom({U});
  r.add("acos", "", kUnary, u([](auto& x, Args&) { return tg::acos(x); })).dom({U});
  r.add("atan", "", kUnary, u([](auto& x, Args&) { return tg::atan(x); }));
  r.add("sinh", "", kUnary, u([](auto& x, Args&) { return tg::sinh(x); }));
  r.add("cosh", "", kUnary, u([](auto& x, Args&) { return tg::cosh(x); }));
  r.add("asinh", "", kUnary, u([](auto& x, Args&) { return tg::asinh(x); }));
  r.add("acosh", "", kUnary, u([](auto& x, Args&) { return tg::acosh(x); })).dom({G1});
  r.add("atanh", "", kUnary, u([](auto& x, Args&) { return tg::atanh(x); })).dom({U});
  r.add("erf", "", kUnary, u([](auto& x, Args&) { return tg::erf(x); }));
  r.add("erfc", "", kUnary, u([](auto& x, Args&) { return tg::erfc(x); }));
  r.add("erfinv", "", kUnary, u([](auto& x, Args&) { return tg::erfinv(x); })).dom({U});
  r.add("expm1", "", kUnary, u([](auto& x, Args&) { return tg::expm1(x); }));
  r.add("log2", "", kUnary, u([](auto& x, Args&) { return tg::log2(x); })).dom({P});
  r.add("log10", "", kUnary, u([](auto& x, Args&) { return tg::log10(x); })).dom({P});
  r.add("exp2", "", kUnary, u([](auto& x, Args&) { return tg::exp2(x); }));
  r.add("reciprocal", "", kUnary, u([](auto& x, Args&) { return tg::reciprocal(x); })).dom({Z});
  // Rounding: zero gradient; int64 is kept, bool refused.
  r.add("floor", "", kUnary, u([](auto& x, Args&) { return tg::floor(x); })).types(number_types());
  r.add("ceil", "", kUnary, u([](auto& x, Args&) { return tg::ceil(x); })).types(number_types());
  r.add("round", "", kUnary, u([](auto& x, Args&) { return tg::round(x); })).types(number_types());
  r.add("round", "decimals 2", kUnary, u([](auto& x, Args& a) { return tg::round(x, a.count(2)); }))
      .types(float_types());
  r.add("round", "decimals -1", kUnary, u([](auto& x, Args& a) { return tg::round(x, a.count(-1)); }))
      .types(float_types());
  r.add("trunc", "", kUnary, u([](auto& x, Args&) { return tg::trunc(x); })).types(number_types());
  r.add("frac", "", kUnary, u([](auto& x, Args&) { return tg::frac(x); })).types(float_types());
  // Binary functions.
  r.add("atan2", "", kBinary, b([](auto& x, auto& y, Args&) { return tg::atan2(x, y); })).dom({Z, Z});
  r.add("hypot", "", kBinary, b([](auto& x, auto& y, Args&) { return tg::hypot(x, y); }))
      .dom({Z, Z})
      .types(float_types());
  r.add("fmod", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::fmod(x, y); }))
      .dom({A, Z})
      .types(number_types());
  r.add("fmod", "scalar", kUnary, u([](auto& x, Args& a) { return tg::fmod(x, a.scalar(1.5)); }));
  r.add("remainder", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return tg::remainder(x, y); }))
      .dom({A, Z})
      .types(number_types());
  r.add("remainder", "scalar", kUnary, u([](auto& x, Args& a) { return tg::remainder(x, a.scalar(-1.5)); }));
  r.add("lerp", "scalar weight", kBinary, b([](auto& x, auto& y, Args& a) { return tg::lerp(x, y, a.scalar(0.3)); }))
      .types(float_types());
  r.add("lerp", "tensor weight", "3x4 3x4 3x4 | 3x1 1x4 4 | 2x3x4 4 [] | [] [] []",
        t3([](auto& s, auto& e, auto& w, Args&) { return tg::lerp(s, e, w); }))
      .types(float_types());
  r.add("addcmul", "value -0.7", "3x4 3x4 3x4 | 3x1 1x4 4 | 2x3x4 4 [] | [] [] []",
        t3([](auto& x, auto& t1, auto& t2, Args& a) { return tg::addcmul(x, t1, t2, a.scalar(-0.7)); }))
      .types(float_types());
  r.add("addcmul", "value 1", "3x4 3x4 3x4 | 4 3x1 []",
        t3([](auto& x, auto& t1, auto& t2, Args&) { return tg::addcmul(x, t1, t2); }))
      .types(number_types());
  r.add("addcdiv", "value 1.5", "3x4 3x4 3x4 | 3x1 1x4 4 | 2x3x4 4 [] | [] [] []",
        t3([](auto& x, auto& t1, auto& t2, Args& a) { return tg::addcdiv(x, t1, t2, a.scalar(1.5)); }))
      .dom({A, A, Z})
      .types(float_types());
  r.add("Tensor::addcmul", "", "3x4 3x4 4",
        t3([](auto& x, auto& t1, auto& t2, Args& a) { return x.addcmul(t1, t2, a.scalar(0.5)); }))
      .alias("addcmul")
      .types(float_types());
  r.add("Tensor::addcdiv", "", "3x4 3x4 4",
        t3([](auto& x, auto& t1, auto& t2, Args& a) { return x.addcdiv(t1, t2, a.scalar(0.5)); }))
      .dom({A, A, Z})
      .alias("addcdiv")
      .types(float_types());
  r.add("clamp", "tensor min and max", "3x4 3x4 3x4 | 3x4 4 3x1 | 2x3 [] [] | [] [] []",
        t3([](auto& x, auto& lo, auto& hi, Args&) { return tg::clamp(x, lo, hi); }));
  r.add("clamp", "tensor min", kBinary, b([](auto& x, auto& lo, Args&) { return tg::clamp(x, lo, Tensor()); }));
  r.add("clamp", "tensor max", kBinary, b([](auto& x, auto& hi, Args&) { return tg::clamp(x, Tensor(), hi); }));
  r.add("nan_to_num", "defaults", kUnary, u([](auto& x, Args&) { return tg::nan_to_num(x); }));
  r.add("nan_to_num", "nan 1, posinf 2, neginf -2", kUnary,
        u([](auto& x, Args& a) { return tg::nan_to_num(x, a.scalar(1.0), a.scalar(2.0), a.scalar(-2.0)); }));
  r.add("isinf", "", kUnary, u([](auto& x, Args&) { return tg::isinf(x); })).no_grad();
  r.add("isposinf", "", kUnary, u([](auto& x, Args&) { return tg::isposinf(x); })).no_grad();
  r.add("isneginf", "", kUnary, u([](auto& x, Args&) { return tg::isneginf(x); })).no_grad();
  r.add("isclose", "", kBinary,
        b([](auto& x, auto& y, Args& a) { return tg::isclose(x, y, a.scalar(1e-5), a.scalar(1e-8), a.flag(false)); }))
      .no_grad();
  // Activations: floating inputs only, but hardtanh (int64 kept) and softsign (int64 gives float32).
  r.dtypes = float_types();
  r.add("softplus", "defaults", kUnary, u([](auto& x, Args&) { return tg::softplus(x); }));
  r.add("softplus", "beta 2, threshold 1", kUnary,
        u([](auto& x, Args& a) { return tg::softplus(x, a.scalar(2.0), a.scalar(1.0)); }));
  r.add("silu", "", kUnary, u([](auto& x, Args&) { return tg::silu(x); }));
  r.add("elu", "", kUnary, u([](auto& x, Args&) { return tg::elu(x); })).dom({Z});
  r.add("elu", "alpha 0.5", kUnary, u([](auto& x, Args& a) { return tg::elu(x, a.scalar(0.5)); })).dom({Z});
  r.add("selu", "", kUnary, u([](auto& x, Args&) { return tg::selu(x); })).dom({Z});
  r.add("celu", "alpha 2", kUnary, u([](auto& x, Args& a) { return tg::celu(x, a.scalar(2.0)); })).dom({Z});
  r.add("mish", "", kUnary, u([](auto& x, Args&) { return tg::mish(x); }));
  r.add("hardtanh", "", kUnary, u([](auto& x, Args&) { return tg::hardtanh(x); })).types(without_uint8(number_types()));
  r.add("hardtanh", "min -0.5, max 2", kUnary,
        u([](auto& x, Args& a) { return tg::hardtanh(x, a.scalar(-0.5), a.scalar(2.0)); }))
      .types(number_types());
  r.add("hardswish", "", kUnary, u([](auto& x, Args&) { return tg::hardswish(x); }));
  r.add("hardsigmoid", "", kUnary, u([](auto& x, Args&) { return tg::hardsigmoid(x); }));
  r.add("logsigmoid", "", kUnary, u([](auto& x, Args&) { return tg::logsigmoid(x); }));
  r.add("softsign", "", kUnary, u([](auto& x, Args&) { return tg::softsign(x); })).dom({Z}).types(number_types());
  r.add("glu", "last dim", "3x4 | 2x3x2", u([](auto& x, Args& a) { return tg::glu(x, a.dim(-1)); }));
  r.add("glu", "dim 0", "4x3 | 2", u([](auto& x, Args& a) { return tg::glu(x, a.dim(0)); }));
  // The Tensor methods forward to the ops above.
  const char* const one = "3x4";
  r.dtypes = all_types();
  const auto method = [&](const char* name, const char* of, auto fn) -> Builder& {
    return r.add(name, "", one, u(fn)).alias(of);
  };
  method("Tensor::sin", "sin", [](auto& x, Args&) { return x.sin(); });
  method("Tensor::cos", "cos", [](auto& x, Args&) { return x.cos(); });
  method("Tensor::tan", "tan", [](auto& x, Args&) { return x.tan(); }).dom({U});
  method("Tensor::asin", "asin", [](auto& x, Args&) { return x.asin(); }).dom({U});
  method("Tensor::acos", "acos", [](auto& x, Args&) { return x.acos(); }).dom({U});
  method("Tensor::atan", "atan", [](auto& x, Args&) { return x.atan(); });
  method("Tensor::sinh", "sinh", [](auto& x, Args&) { return x.sinh(); });
  method("Tensor::cosh", "cosh", [](auto& x, Args&) { return x.cosh(); });
  method("Tensor::asinh", "asinh", [](auto& x, Args&) { return x.asinh(); });
  method("Tensor::acosh", "acosh", [](auto& x, Args&) { return x.acosh(); }).dom({G1});
  method("Tensor::atanh", "atanh", [](auto& x, Args&) { return x.atanh(); }).dom({U});
  method("Tensor::erf", "erf", [](auto& x, Args&) { return x.erf(); });
  method("Tensor::erfc", "erfc", [](auto& x, Args&) { return x.erfc(); });
  method("Tensor::erfinv", "erfinv", [](auto& x, Args&) { return x.erfinv(); }).dom({U});
  method("Tensor::expm1", "expm1", [](auto& x, Args&) { return x.expm1(); });
  method("Tensor::log2", "log2", [](auto& x, Args&) { return x.log2(); }).dom({P});
  method("Tensor::log10", "log10", [](auto& x, Args&) { return x.log10(); }).dom({P});
  method("Tensor::exp2", "exp2", [](auto& x, Args&) { return x.exp2(); });
  method("Tensor::reciprocal", "reciprocal", [](auto& x, Args&) { return x.reciprocal(); }).dom({Z});
  method("Tensor::floor", "floor", [](auto& x, Args&) { return x.floor(); }).types(number_types());
  method("Tensor::ceil", "ceil", [](auto& x, Args&) { return x.ceil(); }).types(number_types());
  method("Tensor::round", "round", [](auto& x, Args&) { return x.round(); }).types(number_types());
  method("Tensor::trunc", "trunc", [](auto& x, Args&) { return x.trunc(); }).types(number_types());
  r.add("Tensor::round", "decimals 1", one, u([](auto& x, Args& a) { return x.round(a.count(1)); }))
      .alias("round")
      .types(float_types());
  method("Tensor::frac", "frac", [](auto& x, Args&) { return x.frac(); }).types(float_types());
  method("Tensor::nan_to_num", "nan_to_num", [](auto& x, Args& a) { return x.nan_to_num(a.scalar(0.5)); });
  method("Tensor::isinf", "isinf", [](auto& x, Args&) { return x.isinf(); }).no_grad();
  method("Tensor::isposinf", "isposinf", [](auto& x, Args&) { return x.isposinf(); }).no_grad();
  method("Tensor::isneginf", "isneginf", [](auto& x, Args&) { return x.isneginf(); }).no_grad();
  const char* const two = "3x4 3x4 | 3x1 4";
  r.add("Tensor::atan2", "", two, b([](auto& x, auto& y, Args&) { return x.atan2(y); })).dom({Z, Z}).alias("atan2");
  r.add("Tensor::hypot", "", two, b([](auto& x, auto& y, Args&) { return x.hypot(y); }))
      .dom({Z, Z})
      .alias("hypot")
      .types(float_types());
  r.add("Tensor::fmod", "tensor", two, b([](auto& x, auto& y, Args&) { return x.fmod(y); }))
      .dom({A, Z})
      .alias("fmod")
      .types(number_types());
  r.add("Tensor::fmod", "scalar", one, u([](auto& x, Args& a) { return x.fmod(a.scalar(0.7)); })).alias("fmod");
  r.add("Tensor::remainder", "tensor", two, b([](auto& x, auto& y, Args&) { return x.remainder(y); }))
      .dom({A, Z})
      .alias("remainder")
      .types(number_types());
  r.add("Tensor::remainder", "scalar", one, u([](auto& x, Args& a) { return x.remainder(a.scalar(0.7)); }))
      .alias("remainder");
  r.add("Tensor::lerp", "scalar weight", two, b([](auto& x, auto& y, Args& a) { return x.lerp(y, a.scalar(0.8)); }))
      .alias("lerp")
      .types(float_types());
  r.add("Tensor::lerp", "tensor weight", "3x4 3x4 4", t3([](auto& s, auto& e, auto& w, Args&) { return s.lerp(e, w); }))
      .alias("lerp")
      .types(float_types());
  r.add("Tensor::clamp", "tensor bounds", "3x4 4 3x1",
        t3([](auto& x, auto& lo, auto& hi, Args&) { return x.clamp(lo, hi); }))
      .alias("clamp");
  r.add("Tensor::isclose", "", two, b([](auto& x, auto& y, Args& a) { return x.isclose(y, a.scalar(1e-3)); }))
      .alias("isclose")
      .no_grad();
  // tg::nn::functional forwards the activations.
  r.family = "nn";
  r.dtypes = float_types();
  r.add("F::softplus", "", one, u([](auto& x, Args& a) { return F::softplus(x, a.scalar(0.5), a.scalar(5.0)); }))
      .alias("softplus");
  r.add("F::silu", "", one, u([](auto& x, Args&) { return F::silu(x); })).alias("silu");
  r.add("F::elu", "", one, u([](auto& x, Args& a) { return F::elu(x, a.scalar(1.5)); })).dom({Z}).alias("elu");
  r.add("F::selu", "", one, u([](auto& x, Args&) { return F::selu(x); })).dom({Z}).alias("selu");
  r.add("F::celu", "", one, u([](auto& x, Args&) { return F::celu(x); })).dom({Z}).alias("celu");
  r.add("F::mish", "", one, u([](auto& x, Args&) { return F::mish(x); })).alias("mish");
  r.add("F::hardtanh", "", one, u([](auto& x, Args& a) { return F::hardtanh(x, a.scalar(-2.0), a.scalar(0.5)); }))
      .alias("hardtanh")
      .types(number_types());
  r.add("F::hardswish", "", one, u([](auto& x, Args&) { return F::hardswish(x); })).alias("hardswish");
  r.add("F::hardsigmoid", "", one, u([](auto& x, Args&) { return F::hardsigmoid(x); })).alias("hardsigmoid");
  r.add("F::logsigmoid", "", one, u([](auto& x, Args&) { return F::logsigmoid(x); })).alias("logsigmoid");
  r.add("F::softsign", "", one, u([](auto& x, Args&) { return F::softsign(x); }))
      .dom({Z})
      .alias("softsign")
      .types(number_types());
  r.add("F::glu", "", "2x4", u([](auto& x, Args& a) { return F::glu(x, a.dim(1)); })).alias("glu");
}

// pad, repeat_interleave and mode (autograd/ops/pad.cpp), appended after the
// others so that the entries before them keep their positions (the fuzzer's
// seeds index entries).
void pad_repeat_mode(Builder& r) {
  const auto pair = [](const std::tuple<Tensor, Tensor>& t) { return V{std::get<0>(t), std::get<1>(t)}; };
  r.family = "shape";
  r.dtypes = all_types();
  r.add("pad", "constant", "3x4 | 2x3x2 | 5", u([](auto& x, Args& a) {
          return tg::pad(x, {1, 2}, "constant", a.scalar(1.5));
        }));
  r.add("pad", "constant, two dims, cropping", "3x4 | 2x3x2", u([](auto& x, Args& a) {
          return tg::pad(x, {-1, 2, 1, a.count(0)});
        }));
  r.add("pad", "reflect", "3x4 | 2x3x4", u([](auto& x, Args&) { return tg::pad(x, {2, 1, 1, 2}, "reflect"); }));
  r.add("pad", "replicate", "3x4 | 2x3x2", u([](auto& x, Args&) { return tg::pad(x, {2, 3, 0, 1}, "replicate"); }));
  r.add("pad", "circular", "3x4 | 2x3x2 | 4", u([](auto& x, Args&) { return tg::pad(x, {2, -1}, "circular"); }));
  r.add("F::pad", "", "2x3x4", u([](auto& x, Args&) {
          return tg::nn::functional::pad(x, {1, 1, 2, 0}, "reflect");
        }))
      .alias("pad");
  r.add("repeat_interleave", "int, dim", "3x4 | 2x3x2",
        u([](auto& x, Args& a) { return tg::repeat_interleave(x, a.count(2), a.dim(1)); }));
  r.add("repeat_interleave", "int, flattened", "3x4 | []",
        u([](auto& x, Args& a) { return tg::repeat_interleave(x, a.count(3)); }));
  r.add("repeat_interleave", "tensor, dim", "3x4", u([](auto& x, Args& a) {
          return tg::repeat_interleave(x, a.index(index_tensor({2, 0, 3}, {3})), a.dim(0));
        }));
  r.add("Tensor::repeat_interleave", "", "3x4",
        u([](auto& x, Args& a) { return x.repeat_interleave(a.count(2), a.dim(-1)); }))
      .alias("repeat_interleave");
  r.add("Tensor::repeat_interleave", "tensor", "3x4", u([](auto& x, Args& a) {
          return x.repeat_interleave(a.index(index_tensor({1, 2, 0}, {3})), a.dim(0));
        }))
      .alias("repeat_interleave");
  r.family = "reduce";
  r.add("mode", "", "3x4 | 5 | []", many([pair](const V& in, Args&) { return pair(tg::mode(in[0])); })).no_expand();
  r.add("mode", "dim 0 keepdim", "3x4 | 2x3x2",
        many([pair](const V& in, Args& a) { return pair(tg::mode(in[0], a.dim(0), a.flag(true))); }))
      .no_expand();
  r.add("Tensor::mode", "", "3x4", many([pair](const V& in, Args& a) { return pair(in[0].mode(a.dim(1))); }))
      .alias("mode");
}

// Products and einsum (autograd/ops/products.cpp) and random sampling
// (autograd/ops/random_ops.cpp), issue 14. Random entries draw from a
// generator made anew on every call, so each is a fixed function of its
// inputs; the in-place fills give a zero gradient, as fill_.
void products_random(Builder& r) {
  r.family = "linalg";
  r.dtypes = number_types();
  r.add("bmm", "", "2x3x4 2x4x2 | 1x2x3 1x3x1 | 3x1x2 3x2x2", b([](auto& x, auto& y, Args&) { return tg::bmm(x, y); }));
  r.add("baddbmm", "", "2x3x2 2x3x4 2x4x2 | 2 2x3x4 2x4x2",
        t3([](auto& c, auto& x, auto& y, Args&) { return tg::baddbmm(c, x, y); }));
  r.add("baddbmm", "beta 0.5 alpha -2", "2x3x2 2x3x4 2x4x2 | 3x1 2x3x4 2x4x2",
        t3([](auto& c, auto& x, auto& y, Args& a) { return tg::baddbmm(c, x, y, a.scalar(0.5), a.scalar(-2.0)); }))
      .types(float_types());
  r.add("addbmm", "", "3x2 2x3x4 2x4x2 | 2 3x3x4 3x4x2",
        t3([](auto& c, auto& x, auto& y, Args&) { return tg::addbmm(c, x, y); }));
  r.add("addbmm", "beta -1.5 alpha 0.25", "3x1 2x3x4 2x4x2",
        t3([](auto& c, auto& x, auto& y, Args& a) { return tg::addbmm(c, x, y, a.scalar(-1.5), a.scalar(0.25)); }))
      .types(float_types());
  r.add("mv", "", "3x4 4 | 1x2 2", b([](auto& x, auto& y, Args&) { return tg::mv(x, y); }));
  r.add("addmv", "", "3 3x4 4 | [] 3x4 4", t3([](auto& c, auto& x, auto& y, Args&) { return tg::addmv(c, x, y); }));
  r.add("addmv", "beta 2 alpha 0.5", "3 3x4 4",
        t3([](auto& c, auto& x, auto& y, Args& a) { return tg::addmv(c, x, y, a.scalar(2.0), a.scalar(0.5)); }))
      .types(float_types());
  r.add("vdot", "", "4 4", b([](auto& x, auto& y, Args&) { return tg::vdot(x, y); }));
  r.add("kron", "", "2x3 3x2 | 3 2x2 | 2x1x2 3x2", b([](auto& x, auto& y, Args&) { return tg::kron(x, y); }))
      .types(all_types());
  r.add("tensordot", "dims 2", "2x3x4 3x4x2 | 3x2 3x2",
        b([](auto& x, auto& y, Args& a) { return tg::tensordot(x, y, a.count(2)); }));
  r.add("tensordot", "dim lists", "3x4x2 2x3x5", b([](auto& x, auto& y, Args&) {
          return tg::tensordot(x, y, {0, 2}, {1, 0});
        }));
  const auto einsum = [&r](const char* equation, std::string_view shapes) {
    r.add("einsum", equation, shapes, many([equation](const V& in, Args&) { return V{tg::einsum(equation, in)}; }));
  };
  einsum("ij,jk->ik", "3x4 4x2 | 1x3 3x2");
  einsum("bij,bjk->bik", "2x3x4 2x4x2");
  einsum("ii->i", "3x3");
  einsum("ii", "3x3");
  einsum("bii->bi", "2x3x3");
  einsum("i,j->ij", "3 4");
  einsum("i,i->", "4 4");
  einsum("ij->", "3x4");
  einsum("...ij,...jk", "2x3x4 4x2 | 3x4 2x4x2");
  einsum("i...j->j...i", "2x3x4");
  einsum("ij,jk,kl->il", "2x3 3x4 4x2");
  einsum("bn,anm,bm->ba", "2x3 4x3x2 2x2");
  einsum("ij,ij->i", "3x1 3x4 | 3x4 3x4");
  einsum("iij,jk->ik", "3x3x2 2x2");

  r.family = "random";
  r.dtypes = float_types();
  r.add("multinomial", "with replacement", "5 | 3x4", u([](auto& p, Args& a) {
          tg::Generator gen(11);
          return tg::multinomial(p, a.count(6), a.flag(true), &gen);
        }))
      .dom({Pr})
      .no_grad();
  r.add("multinomial", "without replacement", "5 | 3x4", u([](auto& p, Args& a) {
          tg::Generator gen(11);
          return tg::multinomial(p, a.count(3), a.flag(false), &gen);
        }))
      .dom({Pr})
      .no_grad();
  r.add("normal", "tensor mean, tensor std", "3x4 3x4 | 3x1 4", b([](auto& m, auto& s, Args&) {
          tg::Generator gen(11);
          return tg::normal(m, s, &gen);
        }))
      .dom({A, P})
      .no_grad();
  r.add("normal", "tensor mean, scalar std", "3x4 | []", u([](auto& m, Args& a) {
          tg::Generator gen(11);
          return tg::normal(m, a.scalar(2.0), &gen);
        }))
      .no_grad();
  r.add("normal", "scalar mean, tensor std", "3x4 | 5", u([](auto& s, Args& a) {
          tg::Generator gen(11);
          return tg::normal(a.scalar(1.0), s, &gen);
        }))
      .dom({P})
      .no_grad();
  r.add("normal", "scalar mean and std, size", "3x4 | []", u([](auto& x, Args& a) {
          tg::Generator gen(11);
          return tg::normal(a.scalar(1.0), a.scalar(2.0), a.shape(x.shape()), {.dtype = x.dtype()}, &gen);
        }))
      .no_grad();
  r.add("rand_like", "", "3x4 | []", u([](auto& x, Args&) {
          tg::Generator gen(11);
          return tg::rand_like(x, {}, &gen);
        }))
      .no_grad();
  r.add("randn_like", "", "3x4 | []", u([](auto& x, Args&) {
          tg::Generator gen(11);
          return tg::randn_like(x, {}, &gen);
        }))
      .no_grad();
  r.add("randint_like", "high", "3x4 | []", u([](auto& x, Args& a) {
          tg::Generator gen(11);
          return tg::randint_like(x, a.count(5), &gen);
        }))
      .types(number_types())
      .no_grad();
  r.add("randint_like", "low, high", "3x4", u([](auto& x, Args& a) {
          tg::Generator gen(11);
          return tg::randint_like(x, a.count(-3), a.count(4), &gen);
        }))
      .types(without_uint8(number_types()))
      .no_grad();

  r.family = "inplace";
  const auto fill = [&r](std::string name, std::string variant, std::string_view shapes, OpFn fn) -> Builder& {
    return r.add(std::move(name), std::move(variant), shapes, std::move(fn)).in_place();
  };
  fill("Tensor::uniform_", "", kUnary, inplace([](Tensor& s, const V&, Args& a) {
         tg::Generator gen(11);
         s.uniform_(a.scalar(-1.0), a.scalar(2.0), &gen);
       }));
  fill("Tensor::normal_", "", kUnary, inplace([](Tensor& s, const V&, Args& a) {
         tg::Generator gen(11);
         s.normal_(a.scalar(1.0), a.scalar(0.5), &gen);
       }));
  fill("Tensor::bernoulli_", "scalar p", kUnary, inplace([](Tensor& s, const V&, Args& a) {
         tg::Generator gen(11);
         s.bernoulli_(a.scalar(0.3), &gen);
       }))
      .types(all_types());
  fill("Tensor::bernoulli_", "tensor p", "3x4 3x4 | 3x4 4", inplace([](Tensor& s, const V& in, Args&) {
         tg::Generator gen(11);
         s.bernoulli_(in[1], &gen);
       }))
      .dom({A, Pr});
  fill("Tensor::exponential_", "", kUnary, inplace([](Tensor& s, const V&, Args& a) {
         tg::Generator gen(11);
         s.exponential_(a.scalar(2.0), &gen);
       }));
  fill("Tensor::random_", "from, to", kUnary, inplace([](Tensor& s, const V&, Args& a) {
         tg::Generator gen(11);
         s.random_(a.count(0), a.count(2), &gen);
       }))
      .types(all_types());
  fill("Tensor::random_", "to", kUnary, inplace([](Tensor& s, const V&, Args& a) {
         tg::Generator gen(11);
         s.random_(a.count(2), &gen);
       }))
      .types(all_types());
  fill("Tensor::random_", "", kUnary, inplace([](Tensor& s, const V&, Args&) {
         tg::Generator gen(11);
         s.random_(&gen);
       }))
      .types(all_types());
}

// tg::linalg (issue 14). Inputs are made well-conditioned inside the entry,
// as PyTorch's own samples are: a shifted diagonal for solvers and
// factorizations, A A^T + I for Cholesky, a symmetric matrix with spread-out
// eigenvalues for eigh. Factors with a free sign (eigh, svd) are compared
// through sign-free functions of them (V * V elementwise).
void linalg_decompositions(Builder& r) {
  namespace L = tg::linalg;
  r.family = "linalg";
  r.dtypes = lapack_types();
  const auto mT = [](const Tensor& x) { return x.transpose(-1, -2); };
  // x + k I on each matrix's leading diagonal.
  const auto shifted = [](const Tensor& x, double k) {
    return x + tg::eye(x.size(-2), x.size(-1), {.dtype = x.dtype()}) * k;
  };
  const auto spd = [mT](const Tensor& x) {
    return tg::matmul(x, mT(x)) + tg::eye(x.size(-1), {}, {.dtype = x.dtype()});
  };
  // Symmetric, with eigenvalues about 3 apart.
  const auto spread = [mT](const Tensor& x) {
    const Tensor d = tg::arange(0, x.size(-1), 1, {.dtype = x.dtype()}) * 3;
    return x + mT(x) + tg::unsqueeze(d, -1) * tg::eye(x.size(-1), {}, {.dtype = x.dtype()});
  };
  const auto vv = [](const std::tuple<Tensor, Tensor>& t) {
    const Tensor& v = std::get<1>(t);
    return V{std::get<0>(t), v * v};
  };
  const auto svd_parts = [](const std::tuple<Tensor, Tensor, Tensor>& t) {
    const Tensor& s = std::get<1>(t);
    const Tensor u = tg::narrow(std::get<0>(t), -1, 0, s.size(-1)), vh = tg::narrow(std::get<2>(t), -2, 0, s.size(-1));
    return V{s, u * u, vh * vh};
  };
  r.add("linalg::solve", "", "3x3 3x2 | 2x3x3 2x3x1 | 3x3 3 | 3x3 2x3x2 | 2x3x3 2x3",
        b([shifted](auto& a, auto& y, Args& args) { return L::solve(shifted(a, args.scalar(4)), y); }));
  r.add("linalg::inv", "", "3x3 | 2x2x2 | 1x1",
        u([shifted](auto& x, Args& args) { return L::inv(shifted(x, args.scalar(4))); }));
  // Expanded, a matrix of rank 1: det's derivatives there come from the
  // polynomial (det reads as 0), checked like any other layout. Singular
  // first derivatives are checked against PyTorch in tests/autograd/test_linalg.cpp.
  r.add("linalg::det", "", "3x3 | 2x2x2 | 1x1", u([](auto& x, Args&) { return L::det(x); }));
  r.add("linalg::slogdet", "", "3x3 | 2x2x2", many([shifted](const V& in, Args& args) {
          const auto [sign, logabs] = L::slogdet(shifted(in[0], args.scalar(4)));
          return V{sign, logabs};
        }));
  r.add("linalg::cholesky", "", "3x3 | 2x2x2", u([spd](auto& x, Args&) { return L::cholesky(spd(x)); }));
  r.add("linalg::cholesky", "upper", "3x3",
        u([spd](auto& x, Args& args) { return L::cholesky(spd(x), args.flag(true)); }));
  r.add("linalg::cholesky_solve", "", "3x2 3x3 | 2x3x1 2x3x3 | 3x2 2x3x3", b([shifted](auto& y, auto& l, Args& args) {
          return L::cholesky_solve(y, shifted(tg::tril(l), args.scalar(4)));
        }));
  r.add("linalg::cholesky_solve", "upper", "3x2 3x3", b([shifted](auto& y, auto& l, Args& args) {
          return L::cholesky_solve(y, shifted(tg::triu(l), args.scalar(4)), args.flag(true));
        }));
  r.add("linalg::qr", "reduced", "4x3 | 3x3 | 2x3x5", many([shifted](const V& in, Args& args) {
          const auto [q, rr] = L::qr(shifted(in[0], args.scalar(3)));
          return V{q, rr};
        }));
  r.add("linalg::qr", "complete", "2x4 | 3x3", many([shifted](const V& in, Args& args) {
          const auto [q, rr] = L::qr(shifted(in[0], args.scalar(3)), "complete");
          return V{q, rr};
        }));
  r.add("linalg::eigh", "", "3x3 | 2x3x3",
        many([spread, vv](const V& in, Args&) { return vv(L::eigh(spread(in[0]))); }));
  r.add("linalg::eigh", "UPLO U", "3x3",
        many([spread, vv](const V& in, Args&) { return vv(L::eigh(spread(in[0]), "U")); }));
  r.add("linalg::svd", "reduced", "4x3 | 3x5 | 2x3x3", many([shifted, svd_parts](const V& in, Args& args) {
          return svd_parts(L::svd(shifted(in[0], args.scalar(2)), false));
        }));
  r.add("linalg::svd", "full_matrices", "4x2 | 3x3", many([shifted, svd_parts](const V& in, Args& args) {
          return svd_parts(L::svd(shifted(in[0], args.scalar(2)), true));
        }));
  r.add("linalg::svdvals", "", "4x3 | 2x3x5",
        u([shifted](auto& x, Args& args) { return L::svdvals(shifted(x, args.scalar(2))); }));
  r.add("linalg::pinv", "", "4x3 | 2x3 | 2x3x3",
        u([shifted](auto& x, Args& args) { return L::pinv(shifted(x, args.scalar(2))); }));
  r.add("linalg::lstsq", "solution", "4x3 4x2 | 2x4x3 2x4x1 | 2x3 2x1",
        b([shifted](auto& a, auto& y, Args& args) { return std::get<0>(L::lstsq(shifted(a, args.scalar(2)), y)); }));
  r.dtypes = float_types();  // norms need no LAPACK, but nuclear and spectral ones do (svdvals)
  r.add("linalg::vector_norm", "", "3x4 | 5 | 2x3x2", u([](auto& x, Args&) { return L::vector_norm(x); }));
  r.add("linalg::vector_norm", "ord 3 dims 0 2 keepdim", "2x3x2", u([](auto& x, Args& args) {
          return L::vector_norm(x, args.scalar(3.0), args.dims({0, 2}), args.flag(true));
        }));
  r.add("linalg::vector_norm", "ord inf dim 1", "3x4", u([](auto& x, Args& args) {
          return L::vector_norm(x, args.scalar(std::numeric_limits<double>::infinity()), args.dims({1}));
        }));
  r.add("linalg::matrix_norm", "fro", "3x4 | 2x3x4", u([](auto& x, Args&) { return L::matrix_norm(x); }));
  r.add("linalg::matrix_norm", "nuc dims 2 0 keepdim", "2x3x4", u([shifted](auto& x, Args& args) {
          return L::matrix_norm(shifted(x, args.scalar(2)), "nuc", args.dims({2, 0}), args.flag(true));
        }))
      .no_expand()  // repeated columns: a zero singular value, where the nuclear norm has a kink
      .types(lapack_types());
  r.add("linalg::matrix_norm", "ord 1", "3x4 | 2x3x4",
        u([](auto& x, Args& args) { return L::matrix_norm(x, args.scalar(1.0)); }));
  r.add("linalg::matrix_norm", "ord -inf", "3x4",
        u([](auto& x, Args& args) { return L::matrix_norm(x, args.scalar(-std::numeric_limits<double>::infinity())); }))
      .no_expand();
  r.add("linalg::matrix_norm", "ord 2", "3x4 | 2x3x3",
        u([shifted](auto& x, Args& args) { return L::matrix_norm(shifted(x, args.scalar(2)), args.scalar(2.0)); }))
      .types(lapack_types());
}

// Advanced indexing and the scatter family (autograd/indexing.h). Targets
// repeat only where the op accumulates (a value that is overwritten has no
// numerical gradient but gets PyTorch's analytical one).
void index_scatter(Builder& r) {
  using namespace tg::indexing;
  r.family = "index";
  r.dtypes = all_types();
  const auto rows = [](Args& a) { return a.index(index_tensor({2, 0}, {2})); };
  r.add("index", "basic: int, slice, None, ellipsis", "3x4 | 2x3x2", u([](auto& x, Args& a) {
          return tg::index(x, {Ellipsis, Slice(a.count(1), None), None, a.count(-1)});
        }));
  r.add("index", "tensors separated by a slice", "2x3x4", u([](auto& x, Args& a) {
          return tg::index(x, {a.index(index_tensor({1, 0, 1}, {3})), Slice(), a.index(index_tensor({3, 3, 0}, {3}))});
        }));
  r.add("index", "mask, repeated rows", "3x4", u([rows](auto& x, Args& a) {
          return tg::index(x, {a.mask(pattern_mask({x.size(0)})), rows(a)}).sum(0) +
                 tg::index(x, {a.index(index_tensor({1, 1}, {2}))}).sum(0);
        }));
  r.add("Tensor::index", "", "3x4", u([](auto& x, Args& a) {
          return x.index({a.index(index_tensor({0, 2}, {2, 1})), a.index(index_tensor({3, 1, 1}, {3}))});
        }))
      .alias("index");
  r.add("Tensor::index", "vector", "3x4", u([](auto& x, Args& a) {
          const std::vector<TensorIndex> key{a.mask(pattern_mask(x.shape()))};
          return x.index(key);
        }))
      .alias("index");
  r.add("index_put", "tensors, distinct", "3x4 2", b([](auto& x, auto& v, Args& a) {
          return tg::index_put(x, {a.index(index_tensor({0, 2}, {2})), a.index(index_tensor({3, 1}, {2}))}, v);
        }));
  r.add("index_put", "accumulate, repeated", "3x4 3x4 | 3x4 4", b([](auto& x, auto& v, Args& a) {
          return tg::index_put(x, {a.index(index_tensor({1, 1, 0}, {3}))}, v, a.flag(true));
        }))
      .types(all_types());
  r.add("Tensor::index_put", "", "3x4 4",
        b([](auto& x, auto& v, Args& a) { return x.index_put({a.mask(pattern_mask({x.size(0)}))}, v); }))
      .alias("index_put");
  r.add("Tensor::index_put", "vector", "3x4 3", b([](auto& x, auto& v, Args& a) {
          const std::vector<TensorIndex> key{Slice(), a.count(2)};
          return x.index_put(key, v, a.flag(true));
        }))
      .alias("index_put")
      .types(all_types());
  r.add("scatter", "src", "3x4 3x2", b([](auto& x, auto& src, Args& a) {
          return tg::scatter(x, a.dim(1), a.index(index_tensor({0, 3, 1, 2, 2, 0}, {3, 2})), src);
        }));
  r.add("scatter", "value", "3x4", u([](auto& x, Args& a) {
          return tg::scatter(x, a.dim(0), a.index(index_tensor({2, 0, 1, 2}, {1, 4})), a.scalar(1.5));
        }));
  r.add("scatter", "src, reduce add", "3x4 3x2", b([](auto& x, auto& src, Args& a) {
          return tg::scatter(x, a.dim(1), a.index(index_tensor({0, 0, 1, 1, 2, 0}, {3, 2})), src, "add");
        }))
      .types(all_types());
  r.add(
       "scatter", "value, reduce multiply", "3x4", u([](auto& x, Args& a) {
         return tg::scatter(x, a.dim(1), a.index(index_tensor({0, 0, 1, 1, 2, 0}, {3, 2})), a.scalar(-1.5), "multiply");
       }))
      .types(without_uint8(all_types()));
  for (const char* reduce : {"sum", "prod", "mean", "amax", "amin"})
    for (bool include_self : {true, false}) {
      r.add("scatter_reduce", std::string(reduce) + (include_self ? "" : ", exclude self"), "3x4 3x3",
            b([reduce, include_self](auto& x, auto& src, Args& a) {
              return tg::scatter_reduce(x, a.dim(1), a.index(index_tensor({0, 3, 0, 2, 2, 1, 3, 0, 3}, {3, 3})), src,
                                        reduce, a.flag(include_self));
            }))
          .types(std::string_view(reduce) == "mean" ? number_types() : all_types())
          .dom({Z, Z});
    }
  r.add("index_add", "repeated", "3x4 3x4 | 3x2x2 3x2x2", b([](auto& x, auto& src, Args& a) {
          return tg::index_add(x, a.dim(0), a.index(index_tensor({2, 0, 2}, {3})), src, a.scalar(-2.0));
        }));
  r.add("index_copy", "", "3x4 3x2", b([](auto& x, auto& src, Args& a) {
          return tg::index_copy(x, a.dim(1), a.index(index_tensor({3, 0}, {2})), src);
        }));
  r.add("index_fill", "", "3x4 | 2x3x2", u([](auto& x, Args& a) {
          return tg::index_fill(x, a.dim(1), a.index(index_tensor({-1, 0}, {2})), a.scalar(2.5));
        }));
  r.add("masked_select", "", "3x4 | 2x3x2",
        u([](auto& x, Args& a) { return tg::masked_select(x, a.mask(pattern_mask(x.shape()))); }));
  r.add("masked_select", "broadcast mask", "3x1", u([](auto& x, Args& a) {
          return tg::masked_select(x, a.mask(pattern_mask({2, 3, 4})));
        }));
  r.add("nonzero", "", "3x4 | [] | 2x3x2", u([](auto& x, Args&) { return tg::nonzero(x); })).no_grad();
  r.add("argwhere", "", "3x4", u([](auto& x, Args&) { return tg::argwhere(x); })).no_grad();
  r.add("any", "", "3x4 | []", u([](auto& x, Args&) { return tg::any(x); })).no_grad();
  r.add("any", "dim keepdim", "3x4 | 2x3x2", u([](auto& x, Args& a) { return tg::any(x, a.dim(1), a.flag(true)); }))
      .no_grad();
  r.add("all", "", "3x4 | []", u([](auto& x, Args&) { return tg::all(x); })).no_grad();
  r.add("all", "dim", "3x4 | 2x3x2", u([](auto& x, Args& a) { return tg::all(x, a.dim(0)); })).no_grad();
  // Methods.
  r.add("Tensor::scatter", "src", "3x4 3x1", b([](auto& x, auto& src, Args& a) {
          return x.scatter(a.dim(1), a.index(index_tensor({2, 1, 0}, {3, 1})), src);
        }))
      .alias("scatter");
  r.add("Tensor::scatter", "value", "3x4", u([](auto& x, Args& a) {
          return x.scatter(a.dim(1), a.index(index_tensor({2, 1, 0}, {3, 1})), a.scalar(-1.0));
        }))
      .alias("scatter");
  r.add("Tensor::scatter", "src, reduce multiply", "3x4 3x1", b([](auto& x, auto& src, Args& a) {
          return x.scatter(a.dim(1), a.index(index_tensor({2, 1, 0}, {3, 1})), src, "multiply");
        }))
      .alias("scatter")
      .types(all_types());
  r.add("Tensor::scatter", "value, reduce add", "3x4", u([](auto& x, Args& a) {
          return x.scatter(a.dim(1), a.index(index_tensor({2, 2, 0}, {3, 1})), a.scalar(2.0), "add");
        }))
      .alias("scatter")
      .types(all_types());
  r.add("Tensor::scatter_reduce", "", "3x4 3x3", b([](auto& x, auto& src, Args& a) {
          return x.scatter_reduce(a.dim(1), a.index(index_tensor({0, 3, 0, 2, 2, 1, 3, 0, 3}, {3, 3})), src, "mean",
                                  a.flag(false));
        }))
      .alias("scatter_reduce")
      .types(number_types());
  r.add("Tensor::index_add", "", "3x4 3x1",
        b([](auto& x, auto& src, Args& a) { return x.index_add(a.dim(1), a.index(index_tensor({1}, {1})), src); }))
      .alias("index_add")
      .types(all_types());
  r.add("Tensor::index_copy", "", "3x4 1x4",
        b([](auto& x, auto& src, Args& a) { return x.index_copy(a.dim(0), a.index(index_tensor({1}, {1})), src); }))
      .alias("index_copy");
  r.add("Tensor::index_fill", "", "3x4",
        u([](auto& x, Args& a) { return x.index_fill(a.dim(0), a.index(index_tensor({2}, {1})), a.scalar(-3.0)); }))
      .alias("index_fill");
  r.add("Tensor::masked_select", "", "3x4",
        u([](auto& x, Args& a) { return x.masked_select(a.mask(pattern_mask({x.size(-1)}))); }))
      .alias("masked_select");
  r.add("Tensor::nonzero", "", "3x4", u([](auto& x, Args&) { return x.nonzero(); })).alias("nonzero").no_grad();
  r.add("Tensor::argwhere", "", "3x4", u([](auto& x, Args&) { return x.argwhere(); })).alias("argwhere").no_grad();
  r.add("Tensor::any", "", "3x4", u([](auto& x, Args&) { return x.any(); })).alias("any").no_grad();
  r.add("Tensor::any", "dim", "3x4", u([](auto& x, Args& a) { return x.any(a.dim(0)); })).alias("any").no_grad();
  r.add("Tensor::all", "", "3x4", u([](auto& x, Args&) { return x.all(); })).alias("all").no_grad();
  r.add("Tensor::all", "dim keepdim", "3x4", u([](auto& x, Args& a) { return x.all(a.dim(1), a.flag(true)); }))
      .alias("all")
      .no_grad();
  // In place (recorded on the copy gradcheck hands them).
  r.family = "inplace";
  auto entry = [&](std::string name, std::string variant, std::string_view shapes, OpFn fn) -> Builder& {
    return r.add(std::move(name), std::move(variant), shapes, std::move(fn)).in_place();
  };
  entry("index_put_", "tensor values", "3x4 2x4", inplace([](Tensor& s, const V& in, Args& a) {
          tg::index_put_(s, {a.index(index_tensor({2, 0}, {2}))}, in[1]);
        }));
  entry("index_put_", "value", "3x4", inplace([](Tensor& s, const V&, Args& a) {
          tg::index_put_(s, {a.mask(pattern_mask(s.shape()))}, a.scalar(2.0));
        }));
  entry("Tensor::index_put_", "tensor values", "3x4 3", inplace([](Tensor& s, const V& in, Args& a) {
          s.index_put_({a.index(index_tensor({1, 1, 2}, {3})), a.index(index_tensor({0, 0, 3}, {3}))}, in[1],
                       a.flag(true));
        }))
      .alias("index_put_")
      .types(all_types());
  entry("Tensor::index_put_", "basic, vector", "3x4 4", inplace([](Tensor& s, const V& in, Args& a) {
          const std::vector<TensorIndex> key{a.count(1)};
          s.index_put_(key, in[1]);
        }))
      .alias("index_put_");
  entry("Tensor::index_put_", "value", "3x4", inplace([](Tensor& s, const V&, Args& a) {
          s.index_put_({Slice(), a.index(index_tensor({3, 0}, {2}))}, a.scalar(-1.0));
        }))
      .alias("index_put_");
  entry("Tensor::index_put_", "value, vector", "3x4", inplace([](Tensor& s, const V&, Args& a) {
          const std::vector<TensorIndex> key{None, Slice(None, a.count(2))};
          s.index_put_(key, a.scalar(0.5));
        }))
      .alias("index_put_");
  const auto idx31 = [](Args& a) { return a.index(index_tensor({2, 1, 0}, {3, 1})); };
  entry("Tensor::scatter_", "src", "3x4 3x1",
        inplace([idx31](Tensor& s, const V& in, Args& a) { s.scatter_(a.dim(1), idx31(a), in[1]); }))
      .types(all_types());
  entry("Tensor::scatter_", "value", "3x4",
        inplace([idx31](Tensor& s, const V&, Args& a) { s.scatter_(a.dim(1), idx31(a), a.scalar(4.0)); }))
      .types(all_types());
  entry("Tensor::scatter_", "src, reduce add", "3x4 3x1",
        inplace([idx31](Tensor& s, const V& in, Args& a) { s.scatter_(a.dim(1), idx31(a), in[1], "add"); }))
      .types(all_types());
  entry("Tensor::scatter_", "value, reduce multiply", "3x4",
        inplace([idx31](Tensor& s, const V&, Args& a) { s.scatter_(a.dim(1), idx31(a), a.scalar(2.0), "multiply"); }))
      .types(all_types());
  entry("Tensor::scatter_add_", "", "3x4 3x1",
        inplace([idx31](Tensor& s, const V& in, Args& a) { s.scatter_add_(a.dim(1), idx31(a), in[1]); }))
      .types(number_types());
  entry("Tensor::scatter_reduce_", "", "3x4 3x1",
        inplace([idx31](Tensor& s, const V& in, Args& a) { s.scatter_reduce_(a.dim(1), idx31(a), in[1], "prod"); }))
      .dom({Z, Z})
      .types(all_types());
  entry("Tensor::index_add_", "", "3x4 2x4",
        inplace([rows](Tensor& s, const V& in, Args& a) { s.index_add_(a.dim(0), rows(a), in[1], a.scalar(0.5)); }))
      .types(all_types());
  entry("Tensor::index_copy_", "", "3x4 2x4",
        inplace([rows](Tensor& s, const V& in, Args& a) { s.index_copy_(a.dim(0), rows(a), in[1]); }))
      .types(all_types());
  entry("Tensor::index_fill_", "", "3x4",
        inplace([rows](Tensor& s, const V&, Args& a) { s.index_fill_(a.dim(1), rows(a), a.scalar(1.0)); }))
      .types(all_types());
}

// Issue 15: attention. Dropout entries use a fixed generator so that every
// call draws the same mask.
void attention_ops(Builder& r) {
  r.family = "nn";
  r.dtypes = float_types();
  const char* const shapes = "2x3x2 2x4x2 2x4x3 | 3x2 1x4x2 2x1x4x1 | 2x2x5x3 2x2x5x3 2x2x5x2";
  r.add("scaled_dot_product_attention", "", shapes, t3([](auto& q, auto& k, auto& v, Args& a) {
          return tg::scaled_dot_product_attention(q, k, v, {}, 0.0, a.flag(false), a.scalar(0.8));
        }));
  r.add("scaled_dot_product_attention", "causal", shapes, t3([](auto& q, auto& k, auto& v, Args& a) {
          return tg::scaled_dot_product_attention(q, k, v, {}, 0.0, a.flag(true));
        }));
  r.add("scaled_dot_product_attention", "bool mask", "2x3x2 2x4x2 2x4x3", t3([](auto& q, auto& k, auto& v, Args& a) {
          const Tensor mask = a.mask(tg::tensor({1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0}, {3, 4}, {.dtype = kBool}));
          return tg::scaled_dot_product_attention(q, k, v, mask);
        }));
  r.add("scaled_dot_product_attention", "float mask", "2x3x2 2x4x2 2x4x3 3x4",
        [](const V& in, Args&) { return V{tg::scaled_dot_product_attention(in[0], in[1], in[2], in[3])}; });
  r.add("scaled_dot_product_attention", "dropout, fixed generator", "2x3x2 2x4x2 2x4x3",
        t3([](auto& q, auto& k, auto& v, Args& a) {
          tg::Generator gen(5);
          return tg::scaled_dot_product_attention(q, k, v, {}, a.scalar(0.25), false, {}, &gen);
        }));
  r.add("F::scaled_dot_product_attention", "", "2x3x2 2x4x2 2x4x3",
        t3([](auto& q, auto& k, auto& v, Args&) { return F::scaled_dot_product_attention(q, k, v); }))
      .alias("scaled_dot_product_attention");
  r.add("scaled_dot_product_attention_math", "causal, dropout, fixed generator", "2x3x2 2x4x2 2x4x3",
        many([](const V& in, Args& a) {
          tg::Generator gen(5);
          auto [out, weights] =
              tg::scaled_dot_product_attention_math(in[0], in[1], in[2], {}, a.scalar(0.25), a.flag(true), {}, &gen);
          return V{out, weights};
        }));
}

// Issue 14's habits: the method forms of common ops (x.add(y), x.softmax(1))
// and the dtype shorthands, each forwarding to its op.
void habit_methods(Builder& r) {
  r.family = "elementwise";
  r.dtypes = all_types();
  r.add("Tensor::add", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.add(y); })).alias("add");
  r.add("Tensor::add", "alpha", kBinary, b([](auto& x, auto& y, Args& a) { return x.add(y, a.scalar(-2.5)); }))
      .alias("add")
      .types(float_types());
  r.add("Tensor::add", "scalar", kUnary, u([](auto& x, Args& a) { return x.add(a.scalar(1.5)); })).alias("add");
  r.add("Tensor::sub", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.sub(y); }))
      .alias("sub")
      .types(number_types());
  r.add("Tensor::sub", "alpha", kBinary, b([](auto& x, auto& y, Args& a) { return x.sub(y, a.scalar(0.5)); }))
      .alias("sub")
      .types(float_types());
  r.add("Tensor::sub", "scalar", kUnary, u([](auto& x, Args& a) { return x.sub(a.scalar(1.5)); }))
      .alias("sub")
      .types(number_types());
  r.add("Tensor::mul", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.mul(y); })).alias("mul");
  r.add("Tensor::mul", "scalar", kUnary, u([](auto& x, Args& a) { return x.mul(a.scalar(-3.0)); })).alias("mul");
  r.add("Tensor::div", "tensor", kBinary, b([](auto& x, auto& y, Args&) { return x.div(y); })).dom({A, Z}).alias("div");
  r.add("Tensor::div", "scalar", kUnary, u([](auto& x, Args& a) { return x.div(a.scalar(-2.5)); })).alias("div");
  r.add("Tensor::softmax", "", kDims, u([](auto& x, Args& a) { return x.softmax(a.dim(1)); }))
      .alias("softmax")
      .types(float_types());
  r.add("Tensor::log_softmax", "", kDims, u([](auto& x, Args& a) { return x.log_softmax(a.dim(1)); }))
      .alias("log_softmax")
      .types(float_types());
  // A 16-bit result rounds every value, so the entries go there and back
  // (the gradient passes straight through), and the finite differences take
  // steps of 1: a difference is then off by at most half a unit in the last
  // place of numbers below 8 (2^-9 for float16, 2^-6 for bfloat16).
  r.add("Tensor::half", "and back", kUnary, u([](auto& x, Args&) { return x.half().to(x.dtype()); }))
      .alias("to_dtype")
      .tol({.eps = 1.0, .atol = 0.01});
  r.add("Tensor::bfloat16", "and back", kUnary, u([](auto& x, Args&) { return x.bfloat16().to(x.dtype()); }))
      .alias("to_dtype")
      .tol({.eps = 1.0, .atol = 0.05});
  r.add("Tensor::byte", "", kUnary, u([](auto& x, Args&) { return x.byte(); })).alias("to_dtype").no_grad();
}

// Issue 15: the losses of autograd/ops/loss.cpp composed of differentiable ops.
void more_losses(Builder& r) {
  r.family = "nn";
  r.dtypes = float_types();
  // PyTorch's ctc gradient assumes log_probs from log_softmax, so the entry
  // starts from logits. Sample 1 repeats a label; its input is shorter.
  const auto ctc = [](const Tensor& logits, Args& a, const Tensor& targets, Reduction reduction) {
    return F::ctc_loss(tg::log_softmax(logits, 2), a.index(targets),
                       a.index(index_tensor({logits.size(0), logits.size(0) - 1}, {2})),
                       a.index(index_tensor({2, 2}, {2})), {.reduction = reduction});
  };
  r.add("F::ctc_loss", "padded targets, mean", "5x2x4", u([ctc](auto& x, Args& a) {
          return ctc(x, a, index_tensor({1, 2, 3, 3}, {2, 2}), Reduction::Mean);
        }))
      .once_differentiable();
  r.add("F::ctc_loss", "concatenated targets, none", "5x2x4", u([ctc](auto& x, Args& a) {
          return ctc(x, a, index_tensor({2, 1, 3, 3}, {4}), Reduction::None);
        }))
      .once_differentiable();
  const auto signs = [](const Tensor& like, std::vector<double> v) {
    const auto n = static_cast<std::int64_t>(v.size());
    return tg::tensor(v, {n}, like.dtype());
  };
  r.add("F::kl_div", "batchmean", "3x4 3x4 | [] []",
        b([](auto& x, auto& t, Args&) { return F::kl_div(x, t, {.reduction = tg::KLDivReduction::BatchMean}); }))
      .dom({A, Pr});
  r.add("F::kl_div", "mean", "3x4 3x4", b([](auto& x, auto& t, Args&) { return F::kl_div(x, t); })).dom({A, Pr});
  r.add("F::kl_div", "log_target, none", "3x4 3x4", b([](auto& x, auto& t, Args& a) {
          return F::kl_div(x, t, {.reduction = tg::KLDivReduction::None, .log_target = a.flag(true)});
        }));
  r.add("F::smooth_l1_loss", "beta 0.5", "3x4 3x4 | [] []",
        b([](auto& x, auto& t, Args& a) { return F::smooth_l1_loss(x, t, {.beta = a.scalar(0.5)}); }));
  r.add("F::smooth_l1_loss", "beta 2, none", "3x4 3x4", b([](auto& x, auto& t, Args& a) {
          return F::smooth_l1_loss(x, t, {.reduction = Reduction::None, .beta = a.scalar(2.0)});
        }));
  r.add("F::cosine_embedding_loss", "margin 0.2", "4x3 4x3", b([signs](auto& x1, auto& x2, Args& a) {
          return F::cosine_embedding_loss(x1, x2, signs(x1, {1, -1, -1, 1}), {.margin = a.scalar(0.2)});
        }));
  r.add("F::cosine_embedding_loss", "margin -0.5, 1-D, sum", "3 3", b([](auto& x1, auto& x2, Args& a) {
          return F::cosine_embedding_loss(x1, x2, tg::scalar_tensor(-1.0, {.dtype = x1.dtype()}),
                                          {.margin = a.scalar(-0.5), .reduction = Reduction::Sum});
        }));
  r.add("F::margin_ranking_loss", "margin 0.3", "3x2 3x2 3x2", t3([](auto& x1, auto& x2, auto& y, Args& a) {
          return F::margin_ranking_loss(x1, x2, y, {.margin = a.scalar(0.3)});
        }))
      .dom({A, A, Z});
  r.add("F::triplet_margin_loss", "", "4x3 4x3 4x3 | 3 3 3",
        t3([](auto& an, auto& po, auto& ne, Args&) { return F::triplet_margin_loss(an, po, ne); }));
  r.add("F::triplet_margin_loss", "p 1.5, margin 2, swap, none", "4x3 4x3 4x3",
        t3([](auto& an, auto& po, auto& ne, Args& a) {
          return F::triplet_margin_loss(
              an, po, ne,
              {.margin = a.scalar(2.0), .p = a.scalar(1.5), .swap = a.flag(true), .reduction = Reduction::None});
        }));
  r.add("F::poisson_nll_loss", "log_input", "3x4 3x4 | [] []",
        b([](auto& x, auto& t, Args&) { return F::poisson_nll_loss(x, t); }))
      .dom({A, P});
  r.add("F::poisson_nll_loss", "rate, full, sum", "3x4 3x4", b([](auto& x, auto& t, Args& a) {
          return F::poisson_nll_loss(
              x, t,
              {.log_input = a.flag(false), .full = a.flag(true), .eps = a.scalar(1e-8), .reduction = Reduction::Sum});
        }))
      .dom({P, P});
  r.add("F::gaussian_nll_loss", "", "4x3 4x3 4x3 | 4x3 4x3 4 | 2x3 2x3 2x1",
        t3([](auto& x, auto& t, auto& var, Args&) { return F::gaussian_nll_loss(x, t, var); }))
      .dom({A, A, P});
  r.add("F::gaussian_nll_loss", "full, none", "4x3 4x3 4x3", t3([](auto& x, auto& t, auto& var, Args& a) {
          return F::gaussian_nll_loss(x, t, var, {.full = a.flag(true), .reduction = Reduction::None});
        }))
      .dom({A, A, P});
  r.add("F::multilabel_soft_margin_loss", "", "3x4 3x4 | 4 4",
        b([](auto& x, auto& t, Args&) { return F::multilabel_soft_margin_loss(x, t); }))
      .dom({A, Pr});
  r.add("F::multilabel_soft_margin_loss", "weight, none", "3x4 3x4", b([](auto& x, auto& t, Args&) {
          return F::multilabel_soft_margin_loss(
              x, t, {.weight = tg::tensor({0.5, 1, 2, 1.5}, {4}, {.dtype = x.dtype()}), .reduction = Reduction::None});
        }))
      .dom({A, Pr});
}

// relu6, prelu, gelu's tanh form, the distances, instance_norm and
// parameters_to_vector (the nn-breadth round), appended last: the fuzzer's
// seeds index entries by position.
void nn_breadth(Builder& r) {
  r.family = "elementwise";
  r.dtypes = float_types();
  r.add("relu6", "", kUnary, u([](auto& x, Args&) { return tg::relu6(x); })).dom({Z}).types(number_types());
  r.add("prelu", "one weight", "3x4 1 | 2x3x2 [] | 5 1 | [] 1",
        b([](auto& x, auto& w, Args&) { return tg::prelu(x, w); }))
      .dom({Z, A});
  r.add("prelu", "a weight per channel", "2x3x2 3 | 3x4 4 | 2x3x2x2 3",
        b([](auto& x, auto& w, Args&) { return tg::prelu(x, w); }))
      .dom({Z, A});
  r.add("gelu", "tanh", kUnary, u([](auto& x, Args&) { return tg::gelu(x, "tanh"); }));
  r.family = "nn";
  r.add("F::relu6", "", "3x4", u([](auto& x, Args&) { return F::relu6(x); }))
      .dom({Z})
      .alias("relu6")
      .types(number_types());
  r.add("F::prelu", "", "2x3x2 3", b([](auto& x, auto& w, Args&) { return F::prelu(x, w); }))
      .dom({Z, A})
      .alias("prelu");
  r.add("F::gelu", "tanh", "3x4", u([](auto& x, Args&) { return F::gelu(x, "tanh"); })).alias("gelu");
  r.add("F::normalize", "p 2, dim 1", "3x4 | 2x3x2", u([](auto& x, Args&) { return F::normalize(x); }));
  r.add("F::normalize", "p 1, dim 0", "3x4", u([](auto& x, Args& a) { return F::normalize(x, 1.0, a.dim(0)); }))
      .dom({Z});
  r.add("F::normalize", "p 3, dim -1, eps 1e-6", "2x3x2 | 4",
        u([](auto& x, Args& a) { return F::normalize(x, a.scalar(3.0), a.dim(-1), a.scalar(1e-6)); }));
  r.add("F::cosine_similarity", "dim 1", "3x4 3x4 | 2x3x4 3x1 | 4x3 3",
        b([](auto& x1, auto& x2, Args&) { return F::cosine_similarity(x1, x2); }));
  r.add("F::cosine_similarity", "dim -1, eps 1e-6", "5 5 | 2x3 2x3",
        b([](auto& x1, auto& x2, Args& a) { return F::cosine_similarity(x1, x2, a.dim(-1), a.scalar(1e-6)); }));
  r.add("F::pairwise_distance", "p 2", "3x4 3x4 | 2x3x4 4 | 5 5",
        b([](auto& x1, auto& x2, Args&) { return F::pairwise_distance(x1, x2); }))
      .types(number_types());  // x1 - x2 + eps is floating, as PyTorch's
  r.add("F::pairwise_distance", "p 1.5, eps 0.1, keepdim", "3x4 3x4 | 4 2x4", b([](auto& x1, auto& x2, Args& a) {
          return F::pairwise_distance(x1, x2, a.scalar(1.5), a.scalar(0.1), a.flag(true));
        }))
      .types(number_types());
  r.add("F::instance_norm", "input statistics, affine", "2x3x4 3 3 | 2x2x3x2 2 2",
        t3([](auto& x, auto& w, auto& bias, Args&) { return F::instance_norm(x, {}, {}, w, bias); }));
  r.add("F::instance_norm", "updating running statistics", "2x3x4", u([](auto& x, Args& a) {
          Tensor running_mean = tg::zeros({x.size(1)}, {.dtype = x.dtype()});
          Tensor running_var = tg::ones({x.size(1)}, {.dtype = x.dtype()});
          return F::instance_norm(x, running_mean, running_var, {}, {}, true, a.scalar(0.1), a.scalar(1e-3));
        }));
  r.add("F::instance_norm", "running statistics", "2x3x4 3 3 | 1x3x2x2 3 3",
        t3([](auto& x, auto& w, auto& bias, Args&) {
          return F::instance_norm(x, tg::tensor({0.5, -1, 0}, {3}, {.dtype = x.dtype()}),
                                  tg::tensor({2, 0.5, 1}, {3}, {.dtype = x.dtype()}), w, bias, false);
        }));
  r.dtypes = all_types();
  r.add("nn::utils::parameters_to_vector", "", "3x4 5 2x3x2 | [] 2x1 3",
        many([](const V& in, Args&) { return V{tg::nn::utils::parameters_to_vector(in)}; }));
}

// Round twenty-eight's additions, appended last.
void autograd_methods(Builder& r) {
  r.family = "shape";
  r.dtypes = all_types();
  // On a copy: the sweeps run an entry again on the same inputs.
  r.add("Tensor::detach_", "", "3x4", u([](auto& x, Args&) {
          Tensor y = x.clone();
          return y.detach_();
        }))
      .no_grad();
}

std::vector<OpInfo> build() {
  Builder r;
  elementwise(r);
  compare(r);
  reduce(r);
  linalg(r);
  shape(r);
  index(r);
  in_place_methods(r);
  nn_ops(r);
  order_ops(r);  // issue 14: appended last (fuzzer seeds index entries by position)
  math_functions(r);
  pad_repeat_mode(r);        // appended last (fuzzer seeds index entries by position)
  products_random(r);        // issue 14, appended last (fuzzer seeds index entries by position)
  linalg_decompositions(r);  // issue 14, appended last
  index_scatter(r);          // issue 14, indexing: appended last (fuzzer seeds index entries by position)
  attention_ops(r);          // issue 15: appended last
  habit_methods(r);          // issue 14 habits: appended last as well
  more_losses(r);            // issue 15, losses: appended last
  nn_breadth(r);             // relu6 ... parameters_to_vector: appended last
  autograd_methods(r);       // detach_: appended last
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < r.ops.size(); ++i) first.emplace(r.ops[i].name, i);
  // Each known bad input joins the first entry of its op.
  detail::add_bad_inputs([&](const char* op, const char* what, ErrorKind kind, const char* fragment, void (*run)()) {
    const auto it = first.find(op);
    if (it == first.end())
      throw std::logic_error("op registry: a bad input for \"" + std::string(op) + "\", which has no entry");
    r.ops[it->second].bad_inputs.push_back({what, kind, fragment, run});
  });
  for (const auto& op : r.ops)
    if (!op.alias_of.empty() && !first.contains(op.alias_of))
      throw std::logic_error("op registry: " + op.label() + " is an alias of \"" + op.alias_of +
                             "\", which has no entry");
  return std::move(r.ops);
}

double draw(Domain domain, Generator& gen) {
  switch (domain) {
    case Domain::Any:
      return gen.normal();
    case Domain::Positive:
      return 0.5 + 1.5 * gen.uniform();
    case Domain::AwayFromZero:
      return (gen.uniform() < 0.5 ? -1 : 1) * (0.5 + gen.uniform());
    case Domain::Probability:
      return 0.1 + 0.8 * gen.uniform();
    case Domain::Index:
      return static_cast<double>(gen.below(3));
    case Domain::Unit:
      return -0.9 + 1.8 * gen.uniform();
    case Domain::AboveOne:
      return 1.5 + 1.5 * gen.uniform();
  }
  return 0;
}

}  // namespace

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Base:
      return "tg::Error";
    case ErrorKind::Shape:
      return "tg::ShapeError";
    case ErrorKind::DType:
      return "tg::DTypeError";
    case ErrorKind::Index:
      return "tg::IndexError";
    case ErrorKind::Format:
      return "tg::FormatError";
    case ErrorKind::Autograd:
      return "tg::AutogradError";
    case ErrorKind::Value:
      return "tg::ValueError";
    case ErrorKind::OutOfMemory:
      return "tg::OutOfMemoryError";
  }
  return "?";
}

ErrorKind error_kind_of(const std::exception& e) {
  if (dynamic_cast<const ShapeError*>(&e)) return ErrorKind::Shape;
  if (dynamic_cast<const DTypeError*>(&e)) return ErrorKind::DType;
  if (dynamic_cast<const IndexError*>(&e)) return ErrorKind::Index;
  if (dynamic_cast<const FormatError*>(&e)) return ErrorKind::Format;
  if (dynamic_cast<const AutogradError*>(&e)) return ErrorKind::Autograd;
  if (dynamic_cast<const ValueError*>(&e)) return ErrorKind::Value;
  if (dynamic_cast<const OutOfMemoryError*>(&e)) return ErrorKind::OutOfMemory;
  return ErrorKind::Base;
}

std::vector<Tensor> OpInfo::operator()(const std::vector<Tensor>& inputs) const {
  Args fixed;
  return fn(inputs, fixed);
}

std::vector<Tensor> OpInfo::sample(std::size_t k, DType dtype, Generator& gen) const {
  std::vector<Tensor> out;
  const auto& shapes = samples.at(k);
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Domain domain = i < domains.size() ? domains[i] : Domain::Any;
    std::vector<double> v(static_cast<std::size_t>(shapes[i].product()));
    for (auto& x : v) x = draw(domain, gen);
    // Integer and bool inputs: small whole numbers (indices stay in range),
    // and about half true.
    if (is_integer(dtype) && domain != Domain::Index)
      for (auto& x : v) x = dtype == kUInt8 ? std::round(2 * std::abs(x)) : std::round(2 * x);
    if (dtype == kBool)
      for (auto& x : v) x = x > (domain == Domain::Positive || domain == Domain::Probability ? 1.0 : 0.0) ? 1 : 0;
    out.push_back(shaped(v, shapes[i], domain == Domain::Index ? kInt64 : dtype));
  }
  return out;
}

const std::vector<OpInfo>& op_registry() {
  static const std::vector<OpInfo> ops = build();
  return ops;
}

std::vector<std::string> registry_op_names() {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& op : op_registry())
    if (seen.insert(op.name).second) names.push_back(op.name);
  return names;
}

std::vector<std::vector<Dims>> parse_shapes(std::string_view spec) {
  std::vector<std::vector<Dims>> out;
  std::stringstream groups{std::string(spec)};
  std::string group;
  while (std::getline(groups, group, '|')) {
    std::vector<Dims> shapes;
    std::stringstream words(group);
    std::string word;
    while (words >> word) {
      std::vector<std::int64_t> d;
      if (word != "[]") {
        std::stringstream dims(word);
        std::string n;
        while (std::getline(dims, n, 'x')) d.push_back(std::stoll(n));
      }
      shapes.push_back(Dims(d));
    }
    out.push_back(std::move(shapes));
  }
  return out;
}

std::string ops_markdown() {
  std::string md =
      "# Ops\n\n"
      "Every op users call from `<tapegrad/tapegrad.h>`, generated from the op registry\n"
      "(testing/op_registry.cpp) by `write_ops_md` (tests/tools/); the test `docs/ops.md matches the registry`\n"
      "fails when this file is stale. `F::` is `tg::nn::functional::`; `Tensor::` a method. Arity\n"
      "counts tensor inputs (of each form, when an op has several); dtypes are those of its\n"
      "tensor inputs that the op accepts, checked by the test `every registry entry accepts exactly its dtypes`.\n"
      "An op that forwards to another (a method, an operator) names it.\n\n"
      "| op | forms | arity | dtypes | differentiable | forwards to |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& name : registry_op_names()) {
    std::set<int> arities;
    std::set<std::string> dtypes;
    std::vector<std::string> dtype_order;
    bool differentiable = false, twice = true;
    std::string alias;
    int forms = 0;
    for (const auto& op : op_registry()) {
      if (op.name != name) continue;
      ++forms;
      arities.insert(op.arity);
      for (DType d : op.dtypes)
        if (dtypes.insert(std::string(dtype_name(d))).second) dtype_order.push_back(std::string(dtype_name(d)));
      differentiable = differentiable || op.differentiable;
      twice = twice && op.twice_differentiable;
      if (!op.alias_of.empty() && alias.find(op.alias_of) == std::string::npos)
        alias += (alias.empty() ? "" : ", ") + op.alias_of;
    }
    std::string arity, dt;
    for (int a : arities) arity += (arity.empty() ? "" : ", ") + std::to_string(a);
    for (const auto& d : dtype_order) dt += (dt.empty() ? "" : ", ") + d;
    md += "| `" + name + "` | " + std::to_string(forms) + " | " + arity + " | " + dt + " | " +
          (differentiable ? (twice ? "yes" : "once") : "no") + " | " + (alias.empty() ? "" : "`" + alias + "`") +
          " |\n";
  }
  md += "\n" + std::to_string(op_registry().size()) + " registry entries, " +
        std::to_string(registry_op_names().size()) + " op names.\n";
  return md;
}

}  // namespace tg::testing
