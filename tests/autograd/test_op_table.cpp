// Every differentiable op through gradcheck and gradgradcheck, from ONE table.
//
// Each entry builds an op from float64 inputs that require grad, lists input
// shape configurations (broadcast pairs, 0-d tensors, batches), and is run on
// contiguous inputs and on three non-contiguous layouts of the same shapes:
// transposed, sliced with a step, and expanded (one dim of stride 0).
// Non-differentiable arguments (indices, masks, conditions) are built inside
// the entry from the input shapes.
//
// Completeness: the op names declared in autograd/ops.h and
// autograd/nn_ops.h (which tg::nn::functional only forwards to) are read at
// test time; every one must have entries here (at
// least one per overload) unless it is in the explicit list of
// non-differentiable ops. Adding an op without a table entry fails "the op
// table covers every differentiable op".
//
// Kinks are kept away by the input domain: relu, abs, sign, leaky_relu and
// the like get values in +-(0.5, 1.5); log, sqrt and friends get (0.5, 2);
// probabilities (0.1, 0.9). Ties in max/min and max-pooling cannot happen
// with random values except on expanded inputs, which those entries skip.
// Random ops (dropout) draw from a generator re-seeded on every call.
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/nn/functional.h>

#ifndef TAPEGRAD_SOURCE_DIR
#error "tests/CMakeLists.txt must define TAPEGRAD_SOURCE_DIR (the source tree, to read autograd/ops.h)"
#endif

using tg::Dims;
using tg::Tensor;

namespace {

using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
using Shapes = std::vector<Dims>;

enum class Domain { Any, Positive, AwayFromZero, Probability };

struct OpCase {
  std::string op;       // the name declared in autograd/ops.h
  std::string variant;  // which overload or arguments
  std::string family;   // the ops.h block
  Fn fn;
  std::vector<Shapes> configs;
  std::vector<Domain> domains = {};  // per input; missing ones are Any
  bool contiguous_only = false;      // view() needs a compatible layout
  bool expand_ok = true;             // false where repeated values are ties or kinks
  tg::GradcheckOptions options = {};
};

// "3x4 4 | 2x3 []": configurations separated by '|', input shapes by spaces,
// dims by 'x'; [] is a 0-d tensor.
std::vector<Shapes> configs(const std::string& spec) {
  std::vector<Shapes> out;
  std::stringstream groups(spec);
  std::string group;
  while (std::getline(groups, group, '|')) {
    Shapes shapes;
    std::stringstream words(group);
    std::string word;
    while (words >> word) {
      Dims d;
      if (word != "[]") {
        std::stringstream dims(word);
        std::string n;
        while (std::getline(dims, n, 'x')) d.push_back(std::stoll(n));
      }
      shapes.push_back(d);
    }
    out.push_back(shapes);
  }
  return out;
}

Fn one(std::function<Tensor(const Tensor&)> f) {
  return [f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in[0])}; };
}
Fn two(std::function<Tensor(const Tensor&, const Tensor&)> f) {
  return [f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in[0], in[1])}; };
}
Fn three(std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> f) {
  return [f](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in[0], in[1], in[2])}; };
}

// A fixed bool pattern of the given shape (about one in three true).
Tensor pattern_mask(const Dims& shape) {
  std::vector<double> v(static_cast<std::size_t>(shape.product()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = (i * 7 + 3) % 3 == 0 ? 1 : 0;
  return tg::tensor(v, shape, tg::kBool);
}

Tensor index_tensor(const std::vector<std::int64_t>& values, Dims shape) {
  return tg::tensor(values, shape, tg::kInt64);
}

Tensor in_place(Tensor self, const std::function<void(Tensor&)>& op) {
  Tensor y = self.clone();
  op(y);
  return y;
}

const std::string kUnary = "3x4 | 5 | [] | 2x3x2";
const std::string kBinary = "3x4 3x4 | 3x1 1x4 | 2x3x4 4 | 3 []";
const std::string kSelfBroadcast = "3x4 3x4 | 3x4 4 | 2x3x4 3x1 | 3 []";  // the first is the result's shape

std::vector<OpCase> elementwise_ops() {
  const auto A = Domain::Any, P = Domain::Positive, Z = Domain::AwayFromZero;
  const char* f = "elementwise";
  return {
      {"add", "tensor", f, two([](auto& a, auto& b) { return tg::add(a, b); }), configs(kBinary)},
      {"add", "alpha", f, two([](auto& a, auto& b) { return tg::add(a, b, -2.5); }), configs(kBinary)},
      {"add", "scalar", f, one([](auto& x) { return tg::add(x, 1.5); }), configs(kUnary)},
      {"sub", "tensor", f, two([](auto& a, auto& b) { return tg::sub(a, b); }), configs(kBinary)},
      {"sub", "alpha", f, two([](auto& a, auto& b) { return tg::sub(a, b, 0.5); }), configs(kBinary)},
      {"sub", "scalar", f, one([](auto& x) { return tg::sub(x, 1.5); }), configs(kUnary)},
      {"rsub", "scalar", f, one([](auto& x) { return tg::rsub(x, 1.5); }), configs(kUnary)},
      {"mul", "tensor", f, two([](auto& a, auto& b) { return tg::mul(a, b); }), configs(kBinary)},
      {"mul", "scalar", f, one([](auto& x) { return tg::mul(x, -3.0); }), configs(kUnary)},
      {"div", "tensor", f, two([](auto& a, auto& b) { return tg::div(a, b); }), configs(kBinary), {A, Z}},
      {"div", "scalar", f, one([](auto& x) { return tg::div(x, -2.5); }), configs(kUnary)},
      {"rdiv", "scalar", f, one([](auto& x) { return tg::rdiv(x, 2.0); }), configs(kUnary), {Z}},
      {"neg", "", f, one([](auto& x) { return tg::neg(x); }), configs(kUnary)},
      {"exp", "", f, one([](auto& x) { return tg::exp(x); }), configs(kUnary)},
      {"log", "", f, one([](auto& x) { return tg::log(x); }), configs(kUnary), {P}},
      {"log1p", "", f, one([](auto& x) { return tg::log1p(x); }), configs(kUnary), {P}},
      {"sqrt", "", f, one([](auto& x) { return tg::sqrt(x); }), configs(kUnary), {P}},
      {"rsqrt", "", f, one([](auto& x) { return tg::rsqrt(x); }), configs(kUnary), {P}},
      {"pow", "tensor^2.5", f, one([](auto& x) { return tg::pow(x, 2.5); }), configs(kUnary), {P}},
      {"pow", "tensor^3", f, one([](auto& x) { return tg::pow(x, 3.0); }), configs(kUnary)},
      {"pow", "tensor^tensor", f, two([](auto& a, auto& b) { return tg::pow(a, b); }), configs(kBinary), {P, A}},
      {"pow", "scalar^tensor", f, one([](auto& x) { return tg::pow(1.7, x); }), configs(kUnary)},
      {"abs", "", f, one([](auto& x) { return tg::abs(x); }), configs(kUnary), {Z}},
      {"sign", "", f, one([](auto& x) { return tg::sign(x); }), configs(kUnary), {Z}},
      {"relu", "", f, one([](auto& x) { return tg::relu(x); }), configs(kUnary), {Z}},
      {"leaky_relu", "default slope", f, one([](auto& x) { return tg::leaky_relu(x); }), configs(kUnary), {Z}},
      {"leaky_relu", "slope 0.2", f, one([](auto& x) { return tg::leaky_relu(x, 0.2); }), configs(kUnary), {Z}},
      {"sigmoid", "", f, one([](auto& x) { return tg::sigmoid(x); }), configs(kUnary)},
      {"tanh", "", f, one([](auto& x) { return tg::tanh(x); }), configs(kUnary)},
      {"gelu", "", f, one([](auto& x) { return tg::gelu(x); }), configs(kUnary)},
      {"clamp", "min and max", f, one([](auto& x) { return tg::clamp(x, -0.7, 0.8); }), configs(kUnary)},
      {"clamp", "min", f, one([](auto& x) { return tg::clamp(x, -0.3, std::nullopt); }), configs(kUnary)},
      {"clamp", "max", f, one([](auto& x) { return tg::clamp(x, std::nullopt, 0.4); }), configs(kUnary)},
      {"maximum", "", f, two([](auto& a, auto& b) { return tg::maximum(a, b); }), configs(kBinary)},
      {"minimum", "", f, two([](auto& a, auto& b) { return tg::minimum(a, b); }), configs(kBinary)},
      {"where", "tensor, tensor", f,
       two([](auto& a, auto& b) {
         return tg::where(pattern_mask(tg::broadcast_shapes(a.shape(), b.shape(), "test")), a, b);
       }),
       configs(kBinary)},
      {"where", "tensor, scalar", f, one([](auto& x) { return tg::where(pattern_mask(x.shape()), x, 2.0); }),
       configs(kUnary)},
      {"where", "scalar, tensor", f, one([](auto& x) { return tg::where(pattern_mask(x.shape()), -1.0, x); }),
       configs(kUnary)},
      // The operators, which forward to the ops above.
      {"operator+", "tensor + tensor", f, two([](auto& a, auto& b) { return a + b; }), configs(kBinary)},
      {"operator+", "tensor + scalar", f, one([](auto& x) { return x + 2.0; }), configs(kUnary)},
      {"operator+", "scalar + tensor", f, one([](auto& x) { return 2.0 + x; }), configs(kUnary)},
      {"operator-", "tensor - tensor", f, two([](auto& a, auto& b) { return a - b; }), configs(kBinary)},
      {"operator-", "tensor - scalar", f, one([](auto& x) { return x - 2.0; }), configs(kUnary)},
      {"operator-", "scalar - tensor", f, one([](auto& x) { return 2.0 - x; }), configs(kUnary)},
      {"operator-", "-tensor", f, one([](auto& x) { return -x; }), configs(kUnary)},
      {"operator*", "tensor * tensor", f, two([](auto& a, auto& b) { return a * b; }), configs(kBinary)},
      {"operator*", "tensor * scalar", f, one([](auto& x) { return x * 2.0; }), configs(kUnary)},
      {"operator*", "scalar * tensor", f, one([](auto& x) { return 2.0 * x; }), configs(kUnary)},
      {"operator/", "tensor / tensor", f, two([](auto& a, auto& b) { return a / b; }), configs(kBinary), {A, Z}},
      {"operator/", "tensor / scalar", f, one([](auto& x) { return x / 2.0; }), configs(kUnary)},
      {"operator/", "scalar / tensor", f, one([](auto& x) { return 2.0 / x; }), configs(kUnary), {Z}},
      {"operator+=", "tensor", f, two([](auto& a, auto& b) { return in_place(a, [&](Tensor& y) { y += b; }); }),
       configs(kSelfBroadcast)},
      {"operator+=", "scalar", f, one([](auto& x) { return in_place(x, [](Tensor& y) { y += 2.0; }); }),
       configs(kUnary)},
      {"operator-=", "tensor", f, two([](auto& a, auto& b) { return in_place(a, [&](Tensor& y) { y -= b; }); }),
       configs(kSelfBroadcast)},
      {"operator-=", "scalar", f, one([](auto& x) { return in_place(x, [](Tensor& y) { y -= 2.0; }); }),
       configs(kUnary)},
      {"operator*=", "tensor", f, two([](auto& a, auto& b) { return in_place(a, [&](Tensor& y) { y *= b; }); }),
       configs(kSelfBroadcast)},
      {"operator*=", "scalar", f, one([](auto& x) { return in_place(x, [](Tensor& y) { y *= 2.0; }); }),
       configs(kUnary)},
      {"operator/=", "tensor", f, two([](auto& a, auto& b) { return in_place(a, [&](Tensor& y) { y /= b; }); }),
       configs(kSelfBroadcast), {A, Z}},
      {"operator/=", "scalar", f, one([](auto& x) { return in_place(x, [](Tensor& y) { y /= 2.0; }); }),
       configs(kUnary)},
  };
}

std::vector<OpCase> reduce_ops() {
  const auto Z = Domain::AwayFromZero;
  const char* f = "reduce";
  const std::string dims = "3x4 | 2x3x2";
  std::vector<OpCase> cases = {
      {"sum", "all", f, one([](auto& x) { return tg::sum(x); }), configs(kUnary)},
      {"sum", "dim 0", f, one([](auto& x) { return tg::sum(x, {0}); }), configs("3x4 | 5 | 2x3x2")},
      {"sum", "dims 0, -1 keepdim", f, one([](auto& x) { return tg::sum(x, {0, -1}, true); }), configs(dims)},
      {"mean", "all", f, one([](auto& x) { return tg::mean(x); }), configs(kUnary)},
      {"mean", "dim 1", f, one([](auto& x) { return tg::mean(x, {1}); }), configs(dims)},
      {"mean", "dim -1 keepdim", f, one([](auto& x) { return tg::mean(x, {-1}, true); }), configs(dims)},
      {"var", "dim 1", f, one([](auto& x) { return tg::var(x, {1}); }), configs(dims)},
      {"var", "dim 0, correction 0, keepdim", f, one([](auto& x) { return tg::var(x, {0}, 0, true); }),
       configs(dims)},
      {"var", "dims 0, 1", f, one([](auto& x) { return tg::var(x, {0, 1}); }), configs(dims)},
      {"std", "dim 1", f, one([](auto& x) { return tg::std(x, {1}); }), configs(dims), {}, false, false},
      {"std", "dims 0, 1, correction 0", f, one([](auto& x) { return tg::std(x, {0, 1}, 0); }), configs(dims), {},
       false, false},
      {"var", "all", f, one([](auto& x) { return tg::var(x); }), configs(dims)},
      {"std", "all", f, one([](auto& x) { return tg::std(x); }), configs(dims), {}, false, false},
      {"amax", "dim 1", f, one([](auto& x) { return tg::amax(x, {1}); }), configs(dims), {}, false, false},
      {"amax", "dims 0, 1 keepdim", f, one([](auto& x) { return tg::amax(x, {0, 1}, true); }), configs(dims), {},
       false, false},
      {"amin", "dim 0", f, one([](auto& x) { return tg::amin(x, {0}); }), configs(dims), {}, false, false},
      {"max", "dim", f,
       [](const std::vector<Tensor>& in) {
         auto [values, indices] = tg::max(in[0], 1);
         return std::vector<Tensor>{values, indices};
       },
       configs(dims), {}, false, false},
      {"max", "all", f, one([](auto& x) { return tg::max(x); }), configs(kUnary), {}, false, false},
      {"min", "dim keepdim", f,
       [](const std::vector<Tensor>& in) {
         auto [values, indices] = tg::min(in[0], -1, true);
         return std::vector<Tensor>{values, indices};
       },
       configs(dims), {}, false, false},
      {"min", "all", f, one([](auto& x) { return tg::min(x); }), configs(kUnary), {}, false, false},
      {"logsumexp", "dim 1", f, one([](auto& x) { return tg::logsumexp(x, {1}); }), configs(dims)},
      {"logsumexp", "dim 0 keepdim", f, one([](auto& x) { return tg::logsumexp(x, {0}, true); }), configs(dims)},
      {"prod", "all", f, one([](auto& x) { return tg::prod(x); }), configs("3x2 | 4 | []"), {Z}},
      {"prod", "dim 1", f, one([](auto& x) { return tg::prod(x, 1); }), configs(dims), {Z}},
      {"prod", "dim 0 keepdim", f, one([](auto& x) { return tg::prod(x, 0, true); }), configs(dims), {Z}},
      {"norm", "p=2", f, one([](auto& x) { return tg::norm(x); }), configs(kUnary), {Z}},
      {"norm", "p=1", f, one([](auto& x) { return tg::norm(x, 1); }), configs(kUnary), {Z}},
      {"norm", "p=3", f, one([](auto& x) { return tg::norm(x, 3); }), configs(kUnary), {Z}},
      {"norm", "p=2 dim 1", f, one([](auto& x) { return tg::norm(x, 2, {1}); }), configs(dims), {Z}},
      {"norm", "p=1.5 dim 0 keepdim", f, one([](auto& x) { return tg::norm(x, 1.5, {0}, true); }), configs(dims),
       {Z}},
      {"norm", "dim 1 (p=2)", f, one([](auto& x) { return tg::norm(x, {1}); }), configs(dims), {Z}},
      {"softmax", "dim 1", f, one([](auto& x) { return tg::softmax(x, 1); }), configs(dims)},
      {"softmax", "dim 0", f, one([](auto& x) { return tg::softmax(x, 0); }), configs(dims + " | 5")},
      {"log_softmax", "dim -1", f, one([](auto& x) { return tg::log_softmax(x, -1); }), configs(dims + " | 5")},
      {"log_softmax", "dim 0", f, one([](auto& x) { return tg::log_softmax(x, 0); }), configs(dims)},
  };
  return cases;
}

std::vector<OpCase> linalg_ops() {
  const char* f = "linalg";
  return {
      {"matmul", "", f, two([](auto& a, auto& b) { return tg::matmul(a, b); }),
       configs("3x4 4x2 | 4 4x2 | 3x4 4 | 4 4 | 2x3x4 4x2 | 3x4 2x4x2 | 1x3x4 2x4x2")},
      {"mm", "", f, two([](auto& a, auto& b) { return tg::mm(a, b); }), configs("3x4 4x2 | 1x3 3x1")},
      {"addmm", "", f, three([](auto& c, auto& a, auto& b) { return tg::addmm(c, a, b); }),
       configs("3x2 3x4 4x2 | 2 3x4 4x2")},
      {"addmm", "beta 0.5 alpha -2", f, three([](auto& c, auto& a, auto& b) { return tg::addmm(c, a, b, 0.5, -2); }),
       configs("3x2 3x4 4x2 | 3x1 3x4 4x2")},
      {"linear", "with bias", f, three([](auto& x, auto& w, auto& b) { return tg::linear(x, w, b); }),
       configs("3x4 2x4 2 | 2x3x4 2x4 2 | 4 2x4 2")},
      {"linear", "without bias", f, two([](auto& x, auto& w) { return tg::linear(x, w); }),
       configs("3x4 2x4 | 2x3x4 2x4")},
      {"dot", "", f, two([](auto& a, auto& b) { return tg::dot(a, b); }), configs("4 4")},
      {"outer", "", f, two([](auto& a, auto& b) { return tg::outer(a, b); }), configs("3 4")},
  };
}

std::vector<OpCase> shape_ops() {
  const char* f = "shape";
  const auto list = [](std::function<std::vector<Tensor>(const Tensor&)> g) {
    return Fn([g](const std::vector<Tensor>& in) { return g(in[0]); });
  };
  return {
      {"view", "", f, one([](auto& x) { return tg::view(x, {x.size(1), x.size(0)}); }), configs("3x4 | 1x5"), {},
       true},
      {"reshape", "", f, one([](auto& x) { return tg::reshape(x, {-1, 2}); }), configs("3x4 | 2x3x2 | 2")},
      {"transpose", "", f, one([](auto& x) { return tg::transpose(x, 0, -1); }), configs("3x4 | 2x3x2")},
      {"permute", "", f, one([](auto& x) { return tg::permute(x, {2, 0, 1}); }), configs("2x3x4")},
      {"narrow", "", f, one([](auto& x) { return tg::narrow(x, 1, 1, 2); }), configs("3x4 | 2x3x2")},
      {"slice", "step 2", f, one([](auto& x) { return tg::slice(x, 1, 0, 5, 2); }), configs("3x4 | 2x5")},
      {"slice", "negative start", f, one([](auto& x) { return tg::slice(x, 0, -2, 3); }), configs("3x4 | 4")},
      {"select", "", f, one([](auto& x) { return tg::select(x, 0, 1); }), configs("3x4 | 2x3x2 | 3")},
      {"expand", "", f, one([](auto& x) { return tg::expand(x, {2, 3, 4}); }), configs("3x1 | 4 | []")},
      {"squeeze", "all", f, one([](auto& x) { return tg::squeeze(x); }), configs("3x1x4 | 1")},
      {"squeeze", "dim", f, one([](auto& x) { return tg::squeeze(x, 1); }), configs("3x1x4")},
      {"unsqueeze", "", f, one([](auto& x) { return tg::unsqueeze(x, 1); }), configs("3x4 | 5")},
      {"flatten", "all", f, one([](auto& x) { return tg::flatten(x); }), configs("2x3x2 | 3x4")},
      {"flatten", "dims 1..2", f, one([](auto& x) { return tg::flatten(x, 1, 2); }), configs("2x3x2")},
      {"cat", "dim 0", f, two([](auto& a, auto& b) { return tg::cat({a, b}, 0); }), configs("2x3 4x3 | 2 3")},
      {"cat", "dim 1, three inputs", f, three([](auto& a, auto& b, auto& c) { return tg::cat({a, b, c}, 1); }),
       configs("3x2 3x4 3x1")},
      {"stack", "dim 0", f, two([](auto& a, auto& b) { return tg::stack({a, b}, 0); }), configs("3x4 3x4 | [] []")},
      {"stack", "dim -1", f, two([](auto& a, auto& b) { return tg::stack({a, b}, -1); }), configs("3x4 3x4")},
      {"split", "dim 0", f, list([](auto& x) { return tg::split(x, 2, 0); }), configs("5x3")},
      {"split", "dim 1", f, list([](auto& x) { return tg::split(x, 3, 1); }), configs("2x4")},
      {"chunk", "", f, list([](auto& x) { return tg::chunk(x, 2, 1); }), configs("3x4 | 3x5")},
      {"contiguous", "", f, one([](auto& x) { return tg::contiguous(x); }), configs("3x4 | 5")},
      {"clone", "", f, one([](auto& x) { return tg::clone(x); }), configs("3x4 | []")},
      {"to_dtype", "same dtype", f, one([](auto& x) { return tg::to_dtype(x, tg::kFloat64); }),
       configs("3x4")},
      // Through float32 and back: finite differences need a step far above float32's resolution.
      {"to_dtype", "float32 and back", f,
       one([](auto& x) { return tg::to_dtype(tg::to_dtype(x, tg::kFloat32), tg::kFloat64); }), configs("3x4 | 5"),
       {}, false, true, {.eps = 1e-2, .atol = 1e-3, .rtol = 1e-2}},
  };
}

std::vector<OpCase> index_ops() {
  const char* f = "index";
  return {
      {"index_select", "dim 0, repeated", f,
       one([](auto& x) { return tg::index_select(x, 0, index_tensor({2, 0, 2}, {3})); }), configs("3x4 | 4")},
      {"index_select", "dim 1", f, one([](auto& x) { return tg::index_select(x, 1, index_tensor({1, 1, 0}, {3})); }),
       configs("3x4 | 2x3x2")},
      {"gather", "dim 1", f,
       one([](auto& x) { return tg::gather(x, 1, index_tensor({0, 3, 1, 1, 2, 0}, {3, 2})); }), configs("3x4")},
      {"gather", "dim 0", f,
       one([](auto& x) { return tg::gather(x, 0, index_tensor({2, 0, 1, 1, 0, 0, 2, 2}, {2, 4})); }),
       configs("3x4")},
      {"scatter_add", "dim 1, repeated", f,
       two([](auto& x, auto& src) {
         return tg::scatter_add(x, 1, index_tensor({0, 0, 3, 1, 2, 2}, {3, 2}), src);
       }),
       configs("3x4 3x2")},
      {"scatter_add", "dim 0", f,
       two([](auto& x, auto& src) { return tg::scatter_add(x, 0, index_tensor({2, 0, 1, 2}, {1, 4}), src); }),
       configs("3x4 1x4")},
      {"masked_fill", "", f, one([](auto& x) { return tg::masked_fill(x, pattern_mask(x.shape()), -2.0); }),
       configs("3x4 | 5 | 2x3x2")},
      {"masked_fill", "broadcast mask", f,
       one([](auto& x) { return tg::masked_fill(x, pattern_mask({x.size(-1)}), 7.0); }), configs("3x4")},
  };
}


namespace F = tg::nn::functional;
using tg::nn::Reduction;

std::vector<OpCase> nn_ops() {
  const auto A = Domain::Any, Pr = Domain::Probability;
  const char* f = "nn";
  const Tensor classes = index_tensor({1, 0, 3}, {3});
  const Tensor class_weight = tg::tensor({0.5, 1, 2, 1.5}, {4}, {.dtype = tg::kFloat64});
  return {
      {"dropout", "training, fixed generator", f,
       one([](auto& x) {
         tg::Generator gen(11);  // the same mask on every call
         return F::dropout(x, 0.3, true, &gen);
       }),
       configs("3x4 | 2x3x2")},
      {"dropout", "eval", f, one([](auto& x) { return F::dropout(x, 0.3, false); }), configs("3x4")},
      {"conv2d", "bias", f, three([](auto& x, auto& w, auto& b) { return F::conv2d(x, w, b); }),
       configs("1x2x4x4 2x2x2x2 2 | 2x4x4 2x2x2x2 2")},
      {"conv2d", "stride 2, padding 1", f,
       three([](auto& x, auto& w, auto& b) { return F::conv2d(x, w, b, 2, 1); }), configs("1x2x4x4 3x2x3x3 3")},
      {"conv2d", "dilation 2, no bias, rectangular", f,
       two([](auto& x, auto& w) { return F::conv2d(x, w, {}, {1, 2}, {1, 0}, 2); }), configs("2x1x4x5 2x1x2x2")},
      {"max_pool2d", "kernel 2", f, one([](auto& x) { return F::max_pool2d(x, 2); }), configs("1x2x4x4 | 2x4x4"),
       {}, false, false},
      {"max_pool2d", "kernel 3, stride 2, padding 1", f, one([](auto& x) { return F::max_pool2d(x, 3, 2, 1); }),
       configs("1x2x5x5"), {}, false, false},
      {"max_pool2d_with_indices", "", f,
       [](const std::vector<Tensor>& in) {
         auto [values, indices] = F::max_pool2d_with_indices(in[0], 2, 1);
         return std::vector<Tensor>{values, indices};
       },
       configs("1x2x3x4"), {}, false, false},
      {"avg_pool2d", "kernel 2", f, one([](auto& x) { return F::avg_pool2d(x, 2); }), configs("1x2x4x4 | 2x4x4")},
      {"avg_pool2d", "kernel 3, stride 2, padding 1, padding not counted", f,
       one([](auto& x) { return F::avg_pool2d(x, 3, 2, 1, false); }), configs("1x2x5x5")},
      {"layer_norm", "affine", f,
       three([](auto& x, auto& w, auto& b) { return F::layer_norm(x, {x.size(-1)}, w, b); }),
       configs("3x4 4 4 | 2x3x4 4 4")},
      {"layer_norm", "two dims, no affine", f, one([](auto& x) { return F::layer_norm(x, {3, 4}); }),
       configs("2x3x4")},
      {"batch_norm", "training, affine", f,
       three([](auto& x, auto& w, auto& b) { return F::batch_norm(x, {}, {}, w, b, true); }),
       configs("4x3 3 3 | 2x3x2x2 3 3"), {}, false, false},
      {"batch_norm", "training, updating running statistics", f,
       one([](auto& x) {
         Tensor running_mean = tg::zeros({x.size(1)}, {.dtype = tg::kFloat64});
         Tensor running_var = tg::ones({x.size(1)}, {.dtype = tg::kFloat64});
         return F::batch_norm(x, running_mean, running_var, {}, {}, true);
       }),
       configs("4x3"), {}, false, false},
      {"batch_norm", "eval, running statistics", f,
       three([](auto& x, auto& w, auto& b) {
         return F::batch_norm(x, tg::tensor({0.5, -1, 0}, {3}, {.dtype = tg::kFloat64}),
                              tg::tensor({2, 0.5, 1}, {3}, {.dtype = tg::kFloat64}), w, b, false);
       }),
       configs("4x3 3 3 | 2x3x2 3 3")},
      {"embedding", "", f, one([](auto& w) { return F::embedding(index_tensor({0, 4, 1, 1, 3, 0}, {2, 3}), w); }),
       configs("5x3")},
      // The padding row gets no gradient by design, which is not the derivative:
      // the output rows it fills are zeroed so that the two agree.
      {"embedding", "padding_idx", f,
       one([](auto& w) {
         const Tensor not_padding = tg::tensor({1, 1, 0, 0, 1, 1}, {2, 3, 1}, {.dtype = tg::kFloat64});
         return F::embedding(index_tensor({0, 4, 1, 1, 3, 0}, {2, 3}), w, 1) * not_padding;
       }),
       configs("5x3")},
      {"cross_entropy", "class indices", f, one([classes](auto& x) { return F::cross_entropy(x, classes); }),
       configs("3x4")},
      {"cross_entropy", "weight, label smoothing, sum", f,
       one([classes, class_weight](auto& x) {
         return F::cross_entropy(x, classes,
                                 {.weight = class_weight, .label_smoothing = 0.1, .reduction = Reduction::Sum});
       }),
       configs("3x4")},
      {"cross_entropy", "ignore_index, none", f,
       one([](auto& x) {
         return F::cross_entropy(x, index_tensor({1, 2, 3}, {3}), {.ignore_index = 2, .reduction = Reduction::None});
       }),
       configs("3x4")},
      {"cross_entropy", "spatial [N, C, d]", f,
       one([](auto& x) { return F::cross_entropy(x, index_tensor({0, 2, 1, 1}, {2, 2})); }), configs("2x3x2")},
      {"cross_entropy", "probabilities", f,
       two([](auto& x, auto& t) { return F::cross_entropy(x, t, {.label_smoothing = 0.2}); }), configs("3x4 3x4"),
       {A, Pr}},
      {"nll_loss", "", f, one([classes](auto& x) { return F::nll_loss(x, classes); }), configs("3x4")},
      {"nll_loss", "weight, none", f,
       one([classes, class_weight](auto& x) {
         return F::nll_loss(x, classes, {.weight = class_weight, .reduction = Reduction::None});
       }),
       configs("3x4")},
      {"reduce_loss", "mean", f, one([](auto& x) { return tg::reduce_loss(x, Reduction::Mean); }), configs("3x4")},
      {"mse_loss", "mean", f, two([](auto& x, auto& t) { return F::mse_loss(x, t); }), configs("3x4 3x4 | [] []")},
      {"mse_loss", "none", f, two([](auto& x, auto& t) { return F::mse_loss(x, t, {Reduction::None}); }),
       configs("3x4 3x4")},
      {"l1_loss", "mean", f, two([](auto& x, auto& t) { return F::l1_loss(x, t); }), configs("3x4 3x4")},
      {"l1_loss", "sum", f, two([](auto& x, auto& t) { return F::l1_loss(x, t, {Reduction::Sum}); }),
       configs("5 5")},
      {"huber_loss", "delta 0.5", f,
       two([](auto& x, auto& t) { return F::huber_loss(x, t, {.delta = 0.5}); }), configs("3x4 3x4")},
      {"binary_cross_entropy", "", f, two([](auto& x, auto& t) { return F::binary_cross_entropy(x, t); }),
       configs("3x4 3x4 | [] []"), {Pr, Pr}},
      {"binary_cross_entropy", "weight, sum", f,
       two([class_weight](auto& x, auto& t) {
         return F::binary_cross_entropy(x, t, {.weight = class_weight, .reduction = Reduction::Sum});
       }),
       configs("3x4 3x4"), {Pr, Pr}},
      {"binary_cross_entropy_with_logits", "", f,
       two([](auto& x, auto& t) { return F::binary_cross_entropy_with_logits(x, t); }), configs("3x4 3x4"), {A, Pr}},
      {"binary_cross_entropy_with_logits", "weight, pos_weight, none", f,
       two([class_weight](auto& x, auto& t) {
         return F::binary_cross_entropy_with_logits(
             x, t, {.weight = class_weight, .pos_weight = class_weight * 2.0, .reduction = Reduction::None});
       }),
       configs("3x4 3x4"), {A, Pr}},
  };
}

std::vector<OpCase> op_table() {
  std::vector<OpCase> all;
  for (auto family : {elementwise_ops, reduce_ops, linalg_ops, shape_ops, index_ops, nn_ops})
    for (auto& c : family()) all.push_back(std::move(c));
  return all;
}

// Ops of autograd/ops.h that have no gradient by design.
const std::set<std::string> kNonDifferentiable = {
    "eq",        "ne",        "lt",        "le",         "gt",         "ge",         "logical_and",
    "logical_or", "logical_not", "isnan",   "isfinite",   "allclose",   "equal",      "operator==",
    "operator!=", "operator<",  "operator<=", "operator>", "operator>=", "argmax",     "argmin",
    "one_hot"};

// The function name a line declares, if it starts a declaration returning
// Tensor, Tensor&, bool, std::vector<Tensor> or a std::tuple ("operator+=" for
// operators); empty otherwise.
std::string declared_name(const std::string& line) {
  std::size_t i = line.find_first_not_of(' ');
  if (i == std::string::npos) return {};
  std::string rest = line.substr(i);
  std::size_t name_start = std::string::npos;
  for (const char* type : {"Tensor& ", "Tensor ", "bool ", "std::vector<Tensor> "})
    if (rest.rfind(type, 0) == 0) {
      name_start = std::string(type).size();
      break;
    }
  if (rest.rfind("std::tuple<", 0) == 0) {
    const std::size_t close = rest.find("> ");
    if (close != std::string::npos) name_start = close + 2;
  }
  if (name_start == std::string::npos) return {};
  const std::size_t paren = rest.find('(', name_start);
  if (paren == std::string::npos) return {};
  std::string name = rest.substr(name_start, paren - name_start);
  if (name.rfind("operator", 0) == 0) return name;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return {};
  return name;
}

// Every function declared in autograd/ops.h and autograd/nn_ops.h (the ops
// tg::nn::functional forwards to), with its number of overloads.
std::map<std::string, int> declared_ops() {
  std::map<std::string, int> names;
  for (const char* file : {"autograd/ops.h", "autograd/nn_ops.h"}) {
    std::ifstream in(std::string(TAPEGRAD_SOURCE_DIR) + "/" + file);
    REQUIRE_MESSAGE(in.good(), "cannot read " << file << " under " TAPEGRAD_SOURCE_DIR);
    std::string line;
    while (std::getline(in, line)) {
      const std::string name = declared_name(line);
      if (!name.empty()) ++names[name];
    }
  }
  return names;
}

// ---- inputs -------------------------------------------------------------------

enum class Layout { Contiguous, Transposed, Strided, Expanded };

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Strided: return "sliced with step 2";
    case Layout::Expanded: return "expanded";
  }
  return "?";
}

Tensor random_values(const Dims& shape, Domain domain, tg::Generator& gen) {
  std::vector<double> v(static_cast<std::size_t>(shape.product()));
  for (auto& x : v) {
    switch (domain) {
      case Domain::Any: x = gen.normal(); break;
      case Domain::Positive: x = 0.5 + 1.5 * gen.uniform(); break;
      case Domain::AwayFromZero: x = (gen.uniform() < 0.5 ? -1 : 1) * (0.5 + gen.uniform()); break;
      case Domain::Probability: x = 0.1 + 0.8 * gen.uniform(); break;
    }
  }
  return tg::tensor(v, shape, tg::kFloat64);
}

// The values `c` in the given layout, or an undefined tensor when the shape
// has no room for it (0-d, or no dim to transpose or expand).
Tensor in_layout(const Tensor& c, Layout layout) {
  tg::NoGradGuard no_grad;
  const int nd = c.dim();
  switch (layout) {
    case Layout::Contiguous: return c;
    case Layout::Transposed:
      if (nd < 2 || (c.size(-1) == 1 && c.size(-2) == 1)) return {};
      return c.transpose(-1, -2).contiguous().transpose(-1, -2);
    case Layout::Strided: {
      if (nd < 1) return {};
      Dims big = c.shape();
      big[0] *= 2;
      Tensor base = tg::zeros(big, {.dtype = tg::kFloat64});
      Tensor view = base.slice(0, 0, big[0], 2);
      view.copy_(c);
      return view;
    }
    case Layout::Expanded:
      for (int d = 0; d < nd; ++d)
        if (c.size(d) > 1) return c.narrow(d, 0, 1).contiguous().expand(c.shape());
      return {};
  }
  return {};
}

// Whether the check ran; fails the test case if it did not pass.
void run_case(const OpCase& c, std::uint64_t seed, std::int64_t& checks) {
  for (std::size_t k = 0; k < c.configs.size(); ++k) {
    const Shapes& shapes = c.configs[k];
    tg::Generator gen(seed + k);
    std::vector<Tensor> values;
    for (std::size_t i = 0; i < shapes.size(); ++i)
      values.push_back(random_values(shapes[i], i < c.domains.size() ? c.domains[i] : Domain::Any, gen));
    for (Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Expanded}) {
      if (c.contiguous_only && layout != Layout::Contiguous) continue;
      if (!c.expand_ok && layout == Layout::Expanded) continue;
      std::vector<Tensor> inputs;
      bool any_changed = layout == Layout::Contiguous;
      for (const auto& v : values) {
        Tensor t = in_layout(v, layout);
        any_changed = any_changed || t.defined();
        // Leaves of their own, so the shared values never require grad.
        inputs.push_back((t.defined() ? t : v.clone()).detach().set_requires_grad(true));
      }
      if (!any_changed) continue;  // the same as the contiguous run
      std::string shapes_str;
      for (const auto& s : shapes) shapes_str += tg::shape_str(s) + " ";
      CAPTURE(c.op);
      CAPTURE(c.variant);
      CAPTURE(shapes_str);
      CAPTURE(layout_name(layout));
      const auto first = tg::gradcheck_result(c.fn, inputs, c.options);
      CHECK_MESSAGE(first.ok, first.message);
      ++checks;
      // Second derivatives on contiguous and transposed inputs (the others
      // exercise the same backward formulas through the same strided paths).
      if (layout == Layout::Contiguous || layout == Layout::Transposed) {
        const auto second = tg::gradgradcheck_result(c.fn, inputs, {}, c.options);
        CHECK_MESSAGE(second.ok, second.message);
        ++checks;
      }
    }
  }
}

void run_family(const std::string& family) {
  std::int64_t checks = 0;
  std::uint64_t seed = 1000;
  for (const auto& c : op_table()) {
    seed += 100;
    if (c.family == family) run_case(c, seed, checks);
  }
  MESSAGE(family << ": " << checks << " gradient checks");
  CHECK(checks > 0);
}

}  // namespace

TEST_CASE("the op table covers every differentiable op") {
  const auto declared = declared_ops();
  REQUIRE(declared.size() > 50);  // the parse found the headers' declarations
  REQUIRE(declared.contains("conv2d"));
  std::map<std::string, int> entries;
  for (const auto& c : op_table()) ++entries[c.op];
  for (const auto& name : kNonDifferentiable) {
    CAPTURE(name);
    CHECK_MESSAGE(declared.contains(name), "listed as non-differentiable but not declared");
    CHECK_MESSAGE(!entries.contains(name), "listed as non-differentiable but in the op table");
  }
  for (const auto& [op, overloads] : declared) {
    const std::string& name = op;  // CAPTURE cannot take a structured binding in Clang < 16
    if (kNonDifferentiable.contains(name)) continue;
    CAPTURE(name);
    CHECK_MESSAGE(entries.contains(name), "declared but missing from the op table");
    CHECK_MESSAGE(entries[name] >= overloads, "fewer table entries than declared overloads");
  }
  for (const auto& [op, count] : entries) {
    const std::string& name = op;  // CAPTURE cannot take a structured binding in Clang < 16
    CAPTURE(name);
    CHECK_MESSAGE(declared.contains(name), "in the op table but not declared");
  }
}

TEST_CASE("op table: elementwise ops") { run_family("elementwise"); }
TEST_CASE("op table: reductions") { run_family("reduce"); }
TEST_CASE("op table: linear algebra") { run_family("linalg"); }
TEST_CASE("op table: shape ops") { run_family("shape"); }
TEST_CASE("op table: indexing") { run_family("index"); }
TEST_CASE("op table: nn functional ops") { run_family("nn"); }
