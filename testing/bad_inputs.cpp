// The known bad inputs of the registry's ops: each must throw its tg::Error
// subclass with a message naming the op. The bad-input sweep
// (tests/reliability/bad_input_sweep_test.cpp) runs every one of them; the
// registry attaches each to the first entry of its op, and refuses a bad
// input whose op has no entry.
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/utils.h>
#include <tapegrad/testing/op_registry.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace tg::testing::detail {

namespace {

namespace F = tg::nn::functional;
using K = ErrorKind;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Operands whose values do not matter, only their shapes and dtypes.
Tensor f32(Dims shape) { return tg::ones(shape); }
Tensor f64(Dims shape) { return tg::ones(shape, {.dtype = kFloat64}); }
Tensor i64(Dims shape) { return tg::zeros(shape, {.dtype = kInt64}); }
Tensor b8(Dims shape) { return tg::ones(shape, {.dtype = kBool}); }
Tensor leaf(Dims shape) { return tg::ones(shape, {.requires_grad = true}); }
Tensor ints(std::vector<std::int64_t> v) { return tg::tensor(v); }

}  // namespace

void add_bad_inputs(const BadInputSink& bad) {
  // ---- elementwise (from the bad-input sweep) ----
  bad("add", "shapes that do not broadcast", K::Shape, "add", [] { tg::add(f32({2, 3}), f32({4})); });
  bad("sub", "shapes that do not broadcast", K::Shape, "sub", [] { tg::sub(f32({2, 3}), f32({3, 2})); });
  bad("mul", "shapes that do not broadcast", K::Shape, "mul", [] { tg::mul(f32({2}), f32({3})); });
  bad("div", "shapes that do not broadcast", K::Shape, "div", [] { tg::div(f32({5}), f32({2, 3})); });
  bad("operator+", "shapes that do not broadcast", K::Shape, "add", [] { f32({4, 1, 3}) + f32({2, 2}); });
  bad("maximum", "shapes that do not broadcast", K::Shape, "maximum", [] { tg::maximum(f32({3}), f32({4})); });
  bad("minimum", "shapes that do not broadcast", K::Shape, "minimum", [] { tg::minimum(f32({3}), f32({2, 4})); });
  bad("pow", "exponent shape that does not broadcast", K::Shape, "pow", [] { tg::pow(f32({3}), f32({2})); });
  bad("sub", "two bool tensors", K::DType, "sub", [] { tg::sub(b8({2}), b8({2})); });
  bad("neg", "a bool tensor", K::DType, "neg", [] { tg::neg(b8({2})); });
  bad("pow", "int64 to a negative integer power", K::Value, "pow", [] { tg::pow(i64({2}), -1.0); });
  bad("clamp", "neither min nor max", K::Value, "clamp", [] { tg::clamp(f32({2}), {}, {}); });
  bad("where", "a float condition", K::DType, "where", [] { tg::where(f32({2}), f32({2}), f32({2})); });
  bad("where", "shapes that do not broadcast", K::Shape, "where", [] { tg::where(b8({2}), f32({3}), f32({2})); });
  bad("eq", "shapes that do not broadcast", K::Shape, "eq", [] { tg::eq(f32({2}), f32({3})); });
  bad("lt", "shapes that do not broadcast", K::Shape, "lt", [] { tg::lt(f32({2, 2}), f32({3})); });
  bad("logical_and", "shapes that do not broadcast", K::Shape, "logical_and",
      [] { tg::logical_and(b8({2}), b8({3})); });
  bad("Tensor::add_", "result shape differs from self", K::Shape, "add_", [] {
    Tensor a = f32({3});
    a.add_(f32({2, 3}));
  });
  bad("Tensor::mul_", "float result into an int64 tensor", K::DType, "mul_", [] {
    Tensor a = i64({3});
    a.mul_(0.5);
  });
  bad("Tensor::add_", "float tensor into an int64 tensor", K::DType, "add_", [] {
    Tensor a = i64({3});
    a.add_(f32({3}));
  });
  bad("Tensor::copy_", "source that does not broadcast", K::Shape, "copy_", [] {
    Tensor a = f32({3});
    a.copy_(f32({4}));
  });
  bad("masked_fill", "a float mask", K::DType, "masked_fill", [] { tg::masked_fill(f32({2}), f32({2}), 0); });
  bad("Tensor::masked_fill_", "a mask that does not broadcast", K::Shape, "masked_fill", [] {
    Tensor a = f32({2, 3});
    a.masked_fill_(b8({4}), 0);
  });
  bad("Tensor::add_", "in place on a leaf that requires grad", K::Autograd, "leaf", [] {
    Tensor w = leaf({2});
    w.add_(1.0);
  });
  bad("add", "an undefined tensor", K::Base, "undefined", [] { tg::add(Tensor(), f32({2})); });
  // ---- matmul and friends (from the bad-input sweep) ----
  bad("matmul", "inner sizes differ", K::Shape, "matmul", [] { tg::matmul(f32({2, 3}), f32({4, 5})); });
  bad("matmul", "a 0-d operand", K::Shape, "matmul", [] { tg::matmul(tg::scalar_tensor(1), f32({2})); });
  bad("matmul", "float32 @ float64", K::DType, "matmul", [] { tg::matmul(f32({2, 2}), f64({2, 2})); });
  bad("matmul", "bool operands", K::DType, "matmul", [] { tg::matmul(b8({2, 2}), b8({2, 2})); });
  bad("matmul", "batch dims that do not broadcast", K::Shape, "matmul", [] {
    tg::matmul(f32({2, 2, 3}), f32({3, 3, 4}));
  });
  bad("matmul", "1-D vectors of different lengths", K::Shape, "matmul", [] { tg::matmul(f32({3}), f32({4})); });
  bad("mm", "a 3-D operand", K::Shape, "mm", [] { tg::mm(f32({2, 2, 2}), f32({2, 2})); });
  bad("mm", "inner sizes differ", K::Shape, "mm", [] { tg::mm(f32({2, 3}), f32({2, 3})); });
  bad("dot", "2-D operands", K::Shape, "dot", [] { tg::dot(f32({2, 2}), f32({2, 2})); });
  bad("dot", "lengths differ", K::Shape, "dot", [] { tg::dot(f32({3}), f32({4})); });
  bad("outer", "a 2-D operand", K::Shape, "outer", [] { tg::outer(f32({2, 2}), f32({2})); });
  bad("addmm", "input that does not broadcast", K::Shape, "addmm", [] {
    tg::addmm(f32({3, 3}), f32({2, 4}), f32({4, 5}));
  });
  bad("addmm", "input dtype differs", K::DType, "addmm", [] { tg::addmm(f64({2, 2}), f32({2, 2}), f32({2, 2})); });
  bad("linear", "a 1-D weight", K::Shape, "linear", [] { tg::linear(f32({2, 3}), f32({3})); });
  bad("linear", "feature count differs", K::Shape, "linear", [] { tg::linear(f32({2, 3}), f32({4, 5})); });
  bad("linear", "bias of the wrong shape", K::Shape, "linear", [] { tg::linear(f32({2, 3}), f32({4, 3}), f32({3})); });
  bad("linear", "float64 input, float32 weight", K::DType, "linear", [] { tg::linear(f64({2, 3}), f32({4, 3})); });
  bad("linear", "a 0-d input", K::Shape, "linear", [] { tg::linear(tg::scalar_tensor(1), f32({4, 3})); });
  // ---- reductions (from the bad-input sweep) ----
  bad("sum", "dim out of range", K::Index, "sum", [] { tg::sum(f32({2, 3}), {2}); });
  bad("sum", "negative dim out of range", K::Index, "sum", [] { tg::sum(f32({2, 3}), {-3}); });
  bad("sum", "a dim named twice", K::Value, "sum", [] { tg::sum(f32({2, 3}), {1, -1}); });
  bad("mean", "dim out of range", K::Index, "mean", [] { tg::mean(f32({2}), {1}); });
  bad("mean", "an int64 tensor", K::DType, "mean", [] { tg::mean(i64({2})); });
  bad("var", "dim out of range", K::Index, "var", [] { tg::var(f32({2}), {5}); });
  bad("std", "an int64 tensor", K::DType, "std", [] { tg::std(i64({2}), {0}); });
  bad("max", "all of an empty tensor", K::Index, "max", [] { tg::max(f32({0})); });
  bad("min", "all of an empty tensor", K::Index, "min", [] { tg::min(f32({0, 2})); });
  bad("max", "over a zero-size dim", K::Index, "max", [] { tg::max(f32({2, 0}), 1); });
  bad("max", "dim out of range", K::Index, "max", [] { tg::max(f32({2, 3}), 2); });
  bad("argmax", "an empty tensor", K::Index, "argmax", [] { tg::argmax(f32({0})); });
  bad("argmin", "dim out of range", K::Index, "argmin", [] { tg::argmin(f32({2}), 1); });
  bad("amax", "over a zero-size dim", K::Index, "amax", [] { tg::amax(f32({0, 3}), {0}); });
  bad("logsumexp", "dim out of range", K::Index, "logsumexp", [] { tg::logsumexp(f32({2}), {3}); });
  bad("prod", "dim out of range", K::Index, "prod", [] { tg::prod(f32({2}), 1); });
  bad("norm", "dim out of range", K::Index, "norm", [] { tg::norm(f32({2}), 2, {4}); });
  bad("norm", "the inf norm of an empty tensor", K::Index, "norm", [] { tg::norm(f32({0}), kInf); });
  bad("softmax", "dim out of range", K::Index, "softmax", [] { tg::softmax(f32({2, 3}), 2); });
  bad("log_softmax", "dim out of range", K::Index, "log_softmax", [] { tg::log_softmax(f32({2, 3}), -3); });
  bad("std", "a dim named twice", K::Value, "std", [] { tg::std(f32({2, 3}), {0, -2}); });
  bad("Tensor::std", "dim out of range", K::Index, "std", [] { f32({2, 3}).std({2}); });
  bad("Tensor::var", "an integer is a dim, out of range", K::Index, "var", [] { f32({2, 3}).var(2); });
  bad("Tensor::norm", "a braced list is dims, out of range", K::Index, "norm", [] { f32({2, 3}).norm({3}); });
  // ---- views (from the bad-input sweep) ----
  bad("view", "element count differs", K::Shape, "view", [] { tg::view(f32({2, 3}), {4}); });
  bad("Tensor::view", "incompatible with the strides", K::Shape, "view", [] { f32({2, 3}).t().view({6}); });
  bad("reshape", "two -1", K::Shape, "reshape", [] { tg::reshape(f32({2, 3}), {-1, -1}); });
  bad("reshape", "a negative size", K::Shape, "reshape", [] { tg::reshape(f32({2, 3}), {-2, -3}); });
  bad("reshape", "-1 among zero elements", K::Shape, "reshape", [] { tg::reshape(f32({0, 3}), {0, -1}); });
  bad("reshape", "element count differs", K::Shape, "reshape", [] { tg::reshape(f32({2, 3}), {7}); });
  bad("transpose", "dim out of range", K::Index, "transpose", [] { tg::transpose(f32({2, 3}), 0, 2); });
  bad("permute", "too few dims", K::Shape, "permute", [] { tg::permute(f32({2, 3, 4}), {0, 1}); });
  bad("permute", "a dim repeated", K::Shape, "permute", [] { tg::permute(f32({2, 3}), {0, 0}); });
  bad("permute", "dim out of range", K::Index, "permute", [] { tg::permute(f32({2, 3}), {0, 5}); });
  bad("narrow", "start out of range", K::Index, "narrow", [] { tg::narrow(f32({3}), 0, 5, 1); });
  bad("narrow", "start + length past the end", K::Index, "narrow", [] { tg::narrow(f32({3}), 0, 2, 2); });
  bad("narrow", "a negative length", K::Value, "narrow", [] { tg::narrow(f32({3}), 0, 0, -1); });
  bad("narrow", "dim out of range", K::Index, "narrow", [] { tg::narrow(f32({3}), 1, 0, 1); });
  bad("slice", "step 0", K::Value, "slice", [] { tg::slice(f32({3}), 0, 0, 3, 0); });
  bad("slice", "a negative step", K::Value, "slice", [] { tg::slice(f32({3}), 0, 0, 3, -1); });
  bad("slice", "a 0-d tensor", K::Shape, "slice", [] { tg::slice(tg::scalar_tensor(1), 0, 0, 1); });
  bad("select", "index out of range", K::Index, "select", [] { tg::select(f32({2, 3}), 1, 3); });
  bad("select", "negative index out of range", K::Index, "select", [] { tg::select(f32({2, 3}), 0, -3); });
  bad("Tensor::operator[]", "a 0-d tensor", K::Index, "select", [] { tg::scalar_tensor(1)[0]; });
  bad("expand", "fewer dims than the tensor", K::Shape, "expand", [] { tg::expand(f32({2, 3}), {3}); });
  bad("expand", "a non-singleton dim", K::Shape, "expand", [] { tg::expand(f32({2, 3}), {4, 3}); });
  bad("expand", "-1 for a new leading dim", K::Shape, "expand", [] { tg::expand(f32({3}), {-1, 3}); });
  bad("expand", "a negative size", K::Shape, "expand", [] { tg::expand(f32({1}), {-5}); });
  bad("squeeze", "dim out of range", K::Index, "squeeze", [] { tg::squeeze(f32({2, 1}), 2); });
  bad("unsqueeze", "dim out of range", K::Index, "unsqueeze", [] { tg::unsqueeze(f32({2, 3}), 4); });
  bad("unsqueeze", "past the 8-dim limit", K::Shape, "at most 8", [] {
    tg::unsqueeze(f32({1, 1, 1, 1, 1, 1, 1, 1}), 0);
  });
  bad("flatten", "start after end", K::Shape, "flatten", [] { tg::flatten(f32({2, 3, 4}), 2, 1); });
  bad("flatten", "dim out of range", K::Index, "flatten", [] { tg::flatten(f32({2, 3}), 0, 5); });
  bad("Tensor::t", "a 3-D tensor", K::Shape, "t:", [] { f32({2, 2, 2}).t(); });
  bad("split", "a negative split size", K::Value, "split", [] { tg::split(f32({4}), -1); });
  bad("split", "size 0 on a non-empty dim", K::Value, "split", [] { tg::split(f32({4}), 0); });
  bad("split", "a 0-d tensor", K::Shape, "split", [] { tg::split(tg::scalar_tensor(1), 1); });
  bad("chunk", "zero chunks", K::Value, "chunk", [] { tg::chunk(f32({4}), 0); });
  // ---- indexing (from the bad-input sweep) ----
  bad("index_select", "index out of range", K::Index, "index_select", [] {
    tg::index_select(f32({3, 2}), 0, ints({0, 3}));
  });
  bad("index_select", "a very negative index", K::Index, "index_select", [] {
    tg::index_select(f32({3, 2}), 0, ints({-100}));
  });
  bad("index_select", "a float index", K::DType, "index_select", [] { tg::index_select(f32({3, 2}), 0, f32({1})); });
  bad("index_select", "a 2-D index", K::Shape, "index_select", [] { tg::index_select(f32({3, 2}), 0, i64({1, 1})); });
  bad("index_select", "dim out of range", K::Index, "index_select", [] {
    tg::index_select(f32({3, 2}), 2, ints({0}));
  });
  bad("gather", "index out of range", K::Index, "gather", [] {
    tg::gather(f32({2, 3}), 1, tg::tensor(std::vector<std::int64_t>{0, 3}, {2, 1}));
  });
  bad("gather", "ranks differ", K::Shape, "gather", [] { tg::gather(f32({2, 3}), 1, i64({2})); });
  bad("gather", "index larger than the input", K::Shape, "gather", [] { tg::gather(f32({2, 3}), 1, i64({3, 1})); });
  bad("gather", "a float index", K::DType, "gather", [] { tg::gather(f32({2, 3}), 1, f32({2, 1})); });
  bad("scatter_add", "src dtype differs", K::DType, "scatter_add",
      [] { tg::scatter_add(f32({3}), 0, i64({2}), f64({2})); });
  bad("scatter_add", "index out of range", K::Index, "scatter_add", [] {
    tg::scatter_add(f32({3}), 0, ints({0, 7}), f32({2}));
  });
  bad("scatter_add", "ranks differ", K::Shape, "scatter_add", [] {
    tg::scatter_add(f32({3, 2}), 0, i64({2}), f32({2}));
  });
  bad("one_hot", "a label past num_classes", K::Index, "one_hot", [] { tg::one_hot(ints({0, 3}), 3); });
  bad("one_hot", "a negative label", K::Index, "one_hot", [] { tg::one_hot(ints({-1}), 3); });
  bad("one_hot", "float labels", K::DType, "one_hot", [] { tg::one_hot(f32({2}), 3); });
  bad("one_hot", "num_classes below -1", K::Value, "one_hot", [] { tg::one_hot(ints({0}), -5); });
  bad("one_hot", "inferring from no labels", K::Value, "one_hot", [] { tg::one_hot(i64({0})); });
  bad("one_hot", "an absurd num_classes", K::Shape, "too many elements", [] { tg::one_hot(ints({0}), 1LL << 62); });
  // ---- cat, stack (from the bad-input sweep) ----
  bad("cat", "no tensors", K::Value, "cat", [] { tg::cat({}); });
  bad("cat", "sizes differ off the cat dim", K::Shape, "cat", [] { tg::cat({f32({2, 3}), f32({2, 4})}, 0); });
  bad("cat", "ranks differ", K::Shape, "cat", [] { tg::cat({f32({2, 3}), f32({3})}, 0); });
  bad("cat", "0-d tensors", K::Shape, "cat", [] { tg::cat({tg::scalar_tensor(1), tg::scalar_tensor(2)}); });
  bad("cat", "dim out of range", K::Index, "cat", [] { tg::cat({f32({2}), f32({2})}, 1); });
  bad("cat", "an undefined tensor", K::Value, "cat", [] { tg::cat({f32({2}), Tensor()}); });
  bad("stack", "no tensors", K::Value, "stack", [] { tg::stack({}); });
  bad("stack", "shapes differ", K::Shape, "stack", [] { tg::stack({f32({2}), f32({3})}); });
  bad("stack", "dim out of range", K::Index, "stack", [] { tg::stack({f32({2}), f32({2})}, 3); });
  // ---- creation and absurd sizes (from the bad-input sweep) ----
  bad("contiguous", "an expanded view of 2^52 bytes", K::OutOfMemory, "out of memory",
      [] { tg::expand(f32({1}), {1LL << 50}).contiguous(); });
  bad("add", "a broadcast result of 2^63 bytes", K::Shape, "too many elements", [] {
    Tensor column = tg::expand(f32({1}), {1LL << 31}).unsqueeze(1);
    Tensor row = tg::expand(f32({1}), {1LL << 31});
    tg::add(column, row);
  });
  bad("add", "a broadcast result of 2^61 bytes", K::OutOfMemory, "out of memory", [] {
    Tensor column = tg::expand(f32({1}), {1LL << 29}).unsqueeze(1);
    Tensor row = tg::expand(f32({1}), {1LL << 30});
    tg::add(column, row);
  });
  bad("reshape", "[max, max] of one element", K::Shape, "reshape", [] {
    tg::reshape(f32({1}), {INT64_MAX, INT64_MAX});
  });
  bad("Tensor::view", "[2^32, 2^32] of one element", K::Shape, "view", [] { f32({1}).view({1LL << 32, 1LL << 32}); });
  bad("expand", "[2^32, 2^32]", K::Shape, "expand", [] { tg::expand(f32({1, 1}), {1LL << 32, 1LL << 32}).sum(); });
  bad("Tensor::flatten", "[0, 2^32, 2^32] from dim 1", K::Shape, "flatten", [] {
    tg::expand(f32({0, 1, 1}), {0, 1LL << 32, 1LL << 32}).flatten(1);
  });
  bad("split", "2^40 pieces", K::OutOfMemory, "split", [] { tg::split(tg::expand(f32({1}), {1LL << 40}), 1); });
  bad("chunk", "an empty tensor into 2^40 chunks", K::OutOfMemory, "chunk", [] { tg::chunk(f32({0}), 1LL << 40); });
  bad("F::conv2d", "padding 2^62", K::Shape, "conv2d", [] {
    tg::nn::functional::conv2d(f32({1, 1, 4, 4}), f32({1, 1, 2, 2}), {}, 1, 1LL << 62);
  });
  bad("F::max_pool2d", "kernel and dilation of INT64_MAX", K::Shape, "max_pool2d", [] {
    tg::nn::functional::max_pool2d(f32({1, 1, 4, 4}), INT64_MAX, 1, 0, INT64_MAX);
  });
  // ---- modules (from the bad-input sweep) ----
  bad("F::conv2d", "negative padding", K::Value, "conv2d", [] {
    F::conv2d(f32({1, 1, 5, 5}), f32({2, 1, 3, 3}), {}, 1, -1);
  });
  bad("F::conv2d", "float64 input, float32 weight", K::DType, "conv2d", [] {
    F::conv2d(f64({1, 1, 5, 5}), f32({2, 1, 3, 3}));
  });
  bad("F::conv2d", "a 3-D weight", K::Shape, "conv2d", [] { F::conv2d(f32({1, 1, 5, 5}), f32({2, 3, 3})); });
  bad("F::conv2d", "bias of the wrong size", K::Shape, "conv2d", [] {
    F::conv2d(f32({1, 1, 5, 5}), f32({2, 1, 3, 3}), f32({3}));
  });
  // ---- conv1d, groups, transposed convolutions ----
  bad("F::conv2d", "groups that do not match the input's channels", K::Shape, "conv2d", [] {
    F::conv2d(f32({1, 3, 5, 5}), f32({4, 2, 3, 3}), {}, 1, 0, 1, 2);
  });
  bad("F::conv1d", "a 4-D input", K::Shape, "conv1d", [] { F::conv1d(f32({1, 1, 1, 5}), f32({2, 1, 3})); });
  bad("F::conv1d", "a 2-D weight", K::Shape, "conv1d", [] { F::conv1d(f32({1, 1, 5}), f32({2, 3})); });
  bad("F::conv1d", "3 input channels for a weight of 2", K::Shape, "conv1d", [] {
    F::conv1d(f32({1, 3, 5}), f32({2, 2, 3}));
  });
  bad("F::conv1d", "groups 2 for 3 output channels", K::Value, "conv1d", [] {
    F::conv1d(f32({1, 4, 5}), f32({3, 2, 3}), {}, 1, 0, 1, 2);
  });
  bad("F::conv1d", "groups 0", K::Value, "conv1d", [] { F::conv1d(f32({1, 2, 5}), f32({2, 2, 3}), {}, 1, 0, 1, 0); });
  bad("F::conv1d", "stride 0", K::Value, "conv1d", [] { F::conv1d(f32({1, 1, 5}), f32({2, 1, 3}), {}, 0); });
  bad("F::conv1d", "an input shorter than the dilated kernel", K::Shape, "conv1d", [] {
    F::conv1d(f32({1, 1, 3}), f32({1, 1, 2}), {}, 1, 0, 3);
  });
  bad("F::conv1d", "int64 input and weight", K::DType, "conv1d", [] { F::conv1d(i64({1, 1, 5}), i64({1, 1, 3})); });
  bad("F::conv_transpose1d", "a 4-D input", K::Shape, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 2, 1, 5}), f32({2, 1, 3}));
  });
  bad("F::conv_transpose1d", "3 input channels for a weight of 2", K::Shape, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 3, 5}), f32({2, 2, 3}));
  });
  bad("F::conv_transpose1d", "groups 2 for 3 input channels", K::Value, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 3, 5}), f32({3, 2, 3}), {}, 1, 0, 0, 2);
  });
  bad("F::conv_transpose1d", "output_padding 2 with stride 2", K::Value, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 1, 5}), f32({1, 1, 3}), {}, 2, 0, 2);
  });
  bad("F::conv_transpose1d", "negative padding", K::Value, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 1, 5}), f32({1, 1, 3}), {}, 1, -1);
  });
  bad("F::conv_transpose1d", "an output of size -1", K::Shape, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 1, 1}), f32({1, 1, 1}), {}, 1, 1);
  });
  bad("F::conv_transpose1d", "an input of length 0", K::Shape, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 2, 0}), f32({2, 3, 3}));
  });
  bad("F::conv_transpose1d", "float32 input, float64 weight", K::DType, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 1, 5}), f64({1, 1, 3}));
  });
  bad("F::conv_transpose1d", "bias of the wrong size", K::Shape, "conv_transpose1d", [] {
    F::conv_transpose1d(f32({1, 2, 5}), f32({2, 3, 3}), f32({2}));
  });
  bad("F::conv_transpose2d", "a 2-D input", K::Shape, "conv_transpose2d", [] {
    F::conv_transpose2d(f32({4, 4}), f32({1, 1, 3, 3}));
  });
  bad("F::conv_transpose2d", "a 3-D weight", K::Shape, "conv_transpose2d", [] {
    F::conv_transpose2d(f32({1, 1, 4, 4}), f32({1, 3, 3}));
  });
  bad("F::conv_transpose2d", "stride 0", K::Value, "conv_transpose2d", [] {
    F::conv_transpose2d(f32({1, 1, 4, 4}), f32({1, 1, 3, 3}), {}, 0);
  });
  bad("F::conv_transpose2d", "a stride of 2^62 with padding 2^62", K::Shape, "conv_transpose2d", [] {
    F::conv_transpose2d(f32({1, 1, 4, 4}), f32({1, 1, 3, 3}), {}, 1LL << 62, 1LL << 62);
  });
  bad("F::conv_transpose2d", "int64 input and weight", K::DType, "conv_transpose2d", [] {
    F::conv_transpose2d(i64({1, 1, 4, 4}), i64({1, 1, 3, 3}));
  });
  // ---- 1-D and adaptive pooling ----
  bad("F::avg_pool1d", "a 4-D input", K::Shape, "avg_pool1d", [] { F::avg_pool1d(f32({1, 1, 4, 4}), 2); });
  bad("F::avg_pool1d", "kernel 0", K::Value, "avg_pool1d", [] { F::avg_pool1d(f32({1, 1, 4}), 0); });
  bad("F::avg_pool1d", "padding past half the kernel", K::Value, "avg_pool1d", [] {
    F::avg_pool1d(f32({1, 1, 4}), 2, 1, 2);
  });
  bad("F::avg_pool1d", "an input shorter than the kernel", K::Shape, "avg_pool1d", [] {
    F::avg_pool1d(f32({1, 1, 2}), 3);
  });
  bad("F::avg_pool1d", "an int64 input", K::DType, "avg_pool1d", [] { F::avg_pool1d(i64({1, 1, 4}), 2); });
  bad("F::adaptive_avg_pool1d", "a 4-D input", K::Shape, "adaptive_avg_pool1d", [] {
    F::adaptive_avg_pool1d(f32({1, 1, 4, 4}), 2);
  });
  bad("F::adaptive_avg_pool1d", "output size -1", K::Value, "adaptive_avg_pool1d", [] {
    F::adaptive_avg_pool1d(f32({1, 1, 4}), -1);
  });
  bad("F::adaptive_avg_pool1d", "an empty length", K::Shape, "adaptive_avg_pool1d", [] {
    F::adaptive_avg_pool1d(f32({1, 1, 0}), 2);
  });
  bad("F::adaptive_avg_pool1d", "an int64 input", K::DType, "adaptive_avg_pool1d", [] {
    F::adaptive_avg_pool1d(i64({1, 1, 4}), 2);
  });
  bad("F::adaptive_avg_pool2d", "a 2-D input", K::Shape, "adaptive_avg_pool2d", [] {
    F::adaptive_avg_pool2d(f32({4, 4}), 2);
  });
  bad("F::adaptive_avg_pool2d", "output size (2, -3)", K::Value, "adaptive_avg_pool2d", [] {
    F::adaptive_avg_pool2d(f32({1, 1, 4, 4}), {2, -3});
  });
  bad("F::adaptive_avg_pool2d", "a zero-width input", K::Shape, "adaptive_avg_pool2d", [] {
    F::adaptive_avg_pool2d(f32({1, 1, 4, 0}), 2);
  });
  bad("F::adaptive_avg_pool2d", "output size 2^62", K::Shape, "adaptive_avg_pool2d", [] {
    F::adaptive_avg_pool2d(f32({1, 1, 4, 4}), 1LL << 62);
  });
  bad("F::adaptive_avg_pool2d", "an int64 input", K::DType, "adaptive_avg_pool2d", [] {
    F::adaptive_avg_pool2d(i64({1, 1, 4, 4}), 2);
  });
  // ---- ceil_mode, max_pool1d, adaptive max pooling, padding names ----
  bad("F::max_pool2d", "ceil_mode with a kernel past the input and no window inside", K::Shape, "max_pool2d", [] {
    F::max_pool2d(f32({1, 1, 1, 1}), 4, 1, 0, 1, true);
  });
  bad("F::max_pool1d", "a 4-D input", K::Shape, "max_pool1d", [] { F::max_pool1d(f32({1, 1, 4, 4}), 2); });
  bad("F::max_pool1d", "padding past half the kernel", K::Value, "max_pool1d", [] {
    F::max_pool1d(f32({1, 1, 4}), 2, 1, 2);
  });
  bad("F::max_pool1d", "an input shorter than the kernel", K::Shape, "max_pool1d", [] {
    F::max_pool1d(f32({1, 1, 2}), 3);
  });
  bad("F::max_pool1d", "dilation 0", K::Value, "max_pool1d", [] { F::max_pool1d(f32({1, 1, 4}), 2, 1, 0, 0); });
  bad("F::max_pool1d", "an int64 input", K::DType, "max_pool1d", [] { F::max_pool1d(i64({1, 1, 4}), 2); });
  bad("F::max_pool1d_with_indices", "stride 0", K::Value, "max_pool1d", [] {
    F::max_pool1d_with_indices(f32({1, 1, 4}), 2, 0);
  });
  bad("F::avg_pool1d", "ceil_mode with a kernel past the input and no window inside", K::Shape, "avg_pool1d", [] {
    F::avg_pool1d(f32({1, 1, 1}), 3, 1, 0, true, true);
  });
  bad("F::adaptive_max_pool1d", "a 4-D input", K::Shape, "adaptive_max_pool1d", [] {
    F::adaptive_max_pool1d(f32({1, 1, 4, 4}), 2);
  });
  bad("F::adaptive_max_pool1d", "output size -1", K::Value, "adaptive_max_pool1d", [] {
    F::adaptive_max_pool1d(f32({1, 1, 4}), -1);
  });
  bad("F::adaptive_max_pool1d", "an empty length", K::Shape, "adaptive_max_pool1d", [] {
    F::adaptive_max_pool1d(f32({1, 1, 0}), 2);
  });
  bad("F::adaptive_max_pool1d_with_indices", "an int64 input", K::DType, "adaptive_max_pool1d", [] {
    F::adaptive_max_pool1d_with_indices(i64({1, 1, 4}), 2);
  });
  bad("F::adaptive_max_pool2d", "a 2-D input", K::Shape, "adaptive_max_pool2d", [] {
    F::adaptive_max_pool2d(f32({4, 4}), 2);
  });
  bad("F::adaptive_max_pool2d", "output size (2, -3)", K::Value, "adaptive_max_pool2d", [] {
    F::adaptive_max_pool2d(f32({1, 1, 4, 4}), {2, -3});
  });
  bad("F::adaptive_max_pool2d", "output size 2^62", K::Shape, "adaptive_max_pool2d", [] {
    F::adaptive_max_pool2d(f32({1, 1, 4, 4}), 1LL << 62);
  });
  bad("F::adaptive_max_pool2d_with_indices", "a zero-width input", K::Shape, "adaptive_max_pool2d", [] {
    F::adaptive_max_pool2d_with_indices(f32({1, 1, 4, 0}), 2);
  });
  bad("F::conv2d", "padding \"same\" with stride 2", K::Value, "conv2d", [] {
    F::conv2d(f32({1, 1, 5, 5}), f32({1, 1, 3, 3}), {}, 2, "same");
  });
  bad("F::conv2d", "padding \"full\"", K::Value, "conv2d", [] {
    F::conv2d(f32({1, 1, 5, 5}), f32({1, 1, 3, 3}), {}, 1, "full");
  });
  bad("F::conv1d", "padding \"same\" with stride 2", K::Value, "conv1d", [] {
    F::conv1d(f32({1, 1, 5}), f32({1, 1, 3}), {}, 2, "same");
  });
  bad("F::conv1d", "padding \"same\" with dilation 2^62 and kernel 3", K::Shape, "conv1d", [] {
    F::conv1d(f32({1, 1, 5}), f32({1, 1, 3}), {}, 1, "same", 1LL << 62);
  });
  // ---- interpolate and the pixel shuffles ----
  bad("F::interpolate", "both size and scale_factor", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.size = {8}, .scale_factor = {2}});
  });
  bad("F::interpolate", "neither size nor scale_factor", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {});
  });
  bad("F::interpolate", "mode 'cubic'", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.size = {8}, .mode = "cubic"});
  });
  bad("F::interpolate", "bilinear on a 3-D input", K::Shape, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.size = {8}, .mode = "bilinear"});
  });
  bad("F::interpolate", "linear on a 4-D input", K::Shape, "interpolate", [] {
    F::interpolate(f32({1, 1, 4, 4}), {.size = {8}, .mode = "linear"});
  });
  bad("F::interpolate", "a 2-D input", K::Shape, "interpolate", [] { F::interpolate(f32({4, 4}), {.size = {8}}); });
  bad("F::interpolate", "align_corners with nearest", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.size = {8}, .align_corners = true});
  });
  bad("F::interpolate", "size 0", K::Shape, "interpolate", [] { F::interpolate(f32({1, 1, 4}), {.size = {0}}); });
  bad("F::interpolate", "a scale factor that leaves no element", K::Shape, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.scale_factor = {0.2}});
  });
  bad("F::interpolate", "scale factor -2", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.scale_factor = {-2}});
  });
  bad("F::interpolate", "scale factor NaN", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4}), {.scale_factor = {kNaN}, .mode = "linear"});
  });
  bad("F::interpolate", "an input of length 0", K::Shape, "interpolate", [] {
    F::interpolate(f32({1, 1, 0}), {.size = {4}});
  });
  bad("F::interpolate", "three sizes for two spatial dims", K::Value, "interpolate", [] {
    F::interpolate(f32({1, 1, 4, 4}), {.size = {2, 3, 4}});
  });
  bad("F::interpolate", "an int64 input", K::DType, "interpolate", [] {
    F::interpolate(i64({1, 1, 4}), {.size = {8}});
  });
  bad("F::interpolate", "size 2^62 along two dims", K::Shape, "interpolate", [] {
    F::interpolate(f32({1, 1, 4, 4}), {.size = {1LL << 62}});
  });
  bad("F::pixel_shuffle", "a 2-D input", K::Shape, "pixel_shuffle", [] { F::pixel_shuffle(f32({4, 4}), 2); });
  bad("F::pixel_shuffle", "6 channels for factor 2", K::Shape, "pixel_shuffle", [] {
    F::pixel_shuffle(f32({1, 6, 2, 2}), 2);
  });
  bad("F::pixel_shuffle", "factor 0", K::Value, "pixel_shuffle", [] { F::pixel_shuffle(f32({1, 4, 2, 2}), 0); });
  bad("F::pixel_unshuffle", "a 2-D input", K::Shape, "pixel_unshuffle", [] { F::pixel_unshuffle(f32({4, 4}), 2); });
  bad("F::pixel_unshuffle", "a width of 5 for factor 2", K::Shape, "pixel_unshuffle", [] {
    F::pixel_unshuffle(f32({1, 1, 4, 5}), 2);
  });
  bad("F::pixel_unshuffle", "factor -1", K::Value, "pixel_unshuffle", [] {
    F::pixel_unshuffle(f32({1, 1, 4, 4}), -1);
  });
  bad("F::batch_norm", "running_mean without running_var", K::Value, "batch_norm", [] {
    F::batch_norm(f32({4, 3}), f32({3}), Tensor(), {}, {}, true);
  });
  bad("F::batch_norm", "an int64 input", K::DType, "batch_norm", [] {
    F::batch_norm(i64({4, 3}), {}, {}, {}, {}, true);
  });
  bad("F::layer_norm", "an int64 input", K::DType, "layer_norm", [] { F::layer_norm(i64({2, 3}), {3}); });
  bad("F::layer_norm", "weight of the wrong shape", K::Shape, "layer_norm", [] {
    F::layer_norm(f32({2, 3}), {3}, f32({4}));
  });
  bad("F::rms_norm", "an input not ending with normalized_shape", K::Shape, "rms_norm", [] {
    F::rms_norm(f32({2, 3}), {4});
  });
  bad("F::rms_norm", "weight of the wrong shape", K::Shape, "rms_norm", [] {
    F::rms_norm(f32({2, 3}), {3}, f32({4}));
  });
  bad("F::rms_norm", "an int64 input", K::DType, "rms_norm", [] { F::rms_norm(i64({2, 3}), {3}); });
  bad("F::group_norm", "channels not divisible by num_groups", K::Shape, "group_norm", [] {
    F::group_norm(f32({2, 6, 3}), 4);
  });
  bad("F::group_norm", "a 1-D input", K::Shape, "group_norm", [] { F::group_norm(f32({6}), 2); });
  bad("F::group_norm", "weight of the wrong shape", K::Shape, "group_norm", [] {
    F::group_norm(f32({2, 6, 3}), 2, f32({3}));
  });
  bad("F::group_norm", "zero groups", K::Value, "group_norm", [] { F::group_norm(f32({2, 6}), 0); });
  bad("F::group_norm", "an int64 input", K::DType, "group_norm", [] { F::group_norm(i64({2, 6}), 2); });
  bad("F::ctc_loss", "2-D log_probs", K::Shape, "ctc_loss", [] {
    F::ctc_loss(f32({5, 4}), ints({1, 2}), ints({5}), ints({2}));
  });
  bad("F::ctc_loss", "input_lengths of the wrong size", K::Shape, "ctc_loss", [] {
    F::ctc_loss(f32({5, 2, 4}), ints({1, 2, 1, 2}), ints({5}), ints({2, 2}));
  });
  bad("F::ctc_loss", "an input length above T", K::Value, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), ints({1, 2}), ints({6}), ints({2}));
  });
  bad("F::ctc_loss", "a target length above the padded length", K::Value, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), tg::tensor(std::vector<std::int64_t>{1, 2}, {1, 2}), ints({5}), ints({3}));
  });
  bad("F::ctc_loss", "concatenated targets shorter than target_lengths", K::Shape, "ctc_loss", [] {
    F::ctc_loss(f32({5, 2, 4}), ints({1, 2, 3}), ints({5, 5}), ints({2, 2}));
  });
  bad("F::ctc_loss", "a label out of range", K::Index, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), ints({1, 4}), ints({5}), ints({2}));
  });
  bad("F::ctc_loss", "a blank out of range", K::Value, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), ints({1, 2}), ints({5}), ints({2}), {.blank = 4});
  });
  bad("F::ctc_loss", "float input_lengths", K::DType, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), ints({1, 2}), f32({1}), ints({2}));
  });
  bad("F::ctc_loss", "a negative input length", K::Value, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), ints({1, 2}), ints({-1}), ints({2}));
  });
  bad("F::ctc_loss", "float targets", K::DType, "ctc_loss", [] {
    F::ctc_loss(f32({5, 1, 4}), f32({2}), ints({5}), ints({2}));
  });
  bad("F::embedding", "a 1-D weight", K::Shape, "embedding", [] { F::embedding(ints({0}), f32({5})); });
  bad("F::dropout", "a negative p", K::Value, "dropout", [] { F::dropout(f32({2}), -0.1); });
  bad("F::dropout", "an int64 input", K::DType, "dropout", [] { F::dropout(i64({2}), 0.5); });
  // ---- losses (from the bad-input sweep) ----
  bad("F::cross_entropy", "target batch differs", K::Shape, "cross_entropy", [] {
    F::cross_entropy(f32({4, 3}), i64({5}));
  });
  bad("F::cross_entropy", "a class index past C", K::Index, "cross_entropy", [] {
    F::cross_entropy(f32({2, 3}), ints({0, 3}));
  });
  bad("F::cross_entropy", "a negative class index", K::Index, "cross_entropy", [] {
    F::cross_entropy(f32({2, 3}), ints({0, -1}));
  });
  bad("F::cross_entropy", "probabilities of the wrong shape", K::Shape, "cross_entropy", [] {
    F::cross_entropy(f32({2, 3}), f32({2, 4}));
  });
  bad("F::cross_entropy", "a 0-d input", K::Shape, "cross_entropy",
      [] { F::cross_entropy(tg::scalar_tensor(1), i64({})); });
  bad("F::cross_entropy", "an int64 input", K::DType, "cross_entropy", [] { F::cross_entropy(i64({2, 3}), i64({2})); });
  bad("F::cross_entropy", "label_smoothing 2", K::Value, "cross_entropy", [] {
    F::cross_entropy(f32({2, 3}), i64({2}), {.label_smoothing = 2});
  });
  bad("F::cross_entropy", "weight of the wrong size", K::Shape, "cross_entropy", [] {
    F::cross_entropy(f32({2, 3}), i64({2}), {.weight = f32({4})});
  });
  bad("F::nll_loss", "a class index past C", K::Index, "nll_loss", [] { F::nll_loss(f32({2, 3}), ints({1, 9})); });
  bad("F::nll_loss", "float targets", K::DType, "nll_loss", [] { F::nll_loss(f32({2, 3}), f32({2})); });
  bad("F::mse_loss", "shapes differ", K::Shape, "mse_loss", [] { F::mse_loss(f32({2, 3}), f32({3})); });
  bad("F::mse_loss", "an int64 input", K::DType, "mse_loss", [] { F::mse_loss(i64({2}), f32({2})); });
  bad("F::l1_loss", "shapes differ", K::Shape, "l1_loss", [] { F::l1_loss(f32({2}), f32({2, 1})); });
  bad("F::huber_loss", "delta 0", K::Value, "huber_loss", [] { F::huber_loss(f32({2}), f32({2}), {.delta = 0}); });
  bad("F::binary_cross_entropy", "an input above 1", K::Value, "binary_cross_entropy", [] {
    F::binary_cross_entropy(tg::tensor({0.5, 1.5}), tg::tensor({0.0, 1.0}));
  });
  bad("F::binary_cross_entropy", "a NaN input", K::Value, "binary_cross_entropy",
      [] { F::binary_cross_entropy(tg::tensor({kNaN}), tg::tensor({1.0})); });
  bad("F::binary_cross_entropy", "shapes differ", K::Shape, "binary_cross_entropy",
      [] { F::binary_cross_entropy(tg::full({2}, 0.5), tg::full({3}, 0.5)); });
  bad("F::binary_cross_entropy_with_logits", "a weight that does not broadcast", K::Shape,
      "binary_cross_entropy_with_logits", [] {
        F::binary_cross_entropy_with_logits(f32({2, 3}), f32({2, 3}), {.weight = f32({2})});
      });
  bad("F::binary_cross_entropy_with_logits", "an int64 input", K::DType, "binary_cross_entropy_with_logits",
      [] { F::binary_cross_entropy_with_logits(i64({2}), f32({2})); });
  // ---- issue 14: shape ops, scans and order statistics (autograd/ops/order.cpp) ----
  bad("tril", "a 1-D tensor", K::Shape, "tril", [] { tg::tril(f32({3})); });
  bad("triu", "a 0-d tensor", K::Shape, "triu", [] { tg::triu(f32({})); });
  bad("diagonal", "dim1 == dim2", K::Value, "diagonal", [] { tg::diagonal(f32({3, 3}), 0, 1, -1); });
  bad("diagonal", "a dim out of range", K::Index, "diagonal", [] { tg::diagonal(f32({3, 3}), 0, 0, 2); });
  bad("diagonal", "a 1-D tensor", K::Shape, "diagonal", [] { tg::diagonal(f32({3})); });
  bad("diag", "a 3-D tensor", K::Shape, "diag", [] { tg::diag(f32({2, 2, 2})); });
  bad("diag", "the lowest int64 diagonal of a vector", K::Shape, "too large",
      [] { tg::diag(f32({3}), std::numeric_limits<std::int64_t>::min()); });
  bad("trace", "a 1-D tensor", K::Shape, "trace", [] { tg::trace(f32({3})); });
  bad("repeat", "fewer repeats than dims", K::Shape, "repeat", [] { tg::repeat(f32({2, 3}), {2}); });
  bad("repeat", "a negative repeat", K::Value, "repeat", [] { tg::repeat(f32({2}), {-1}); });
  bad("flip", "a dim twice", K::Value, "flip", [] { tg::flip(f32({2, 3}), {0, -2}); });
  bad("flip", "a dim out of range", K::Index, "flip", [] { tg::flip(f32({2, 3}), {2}); });
  bad("roll", "shifts and dims of different lengths", K::Shape, "roll", [] { tg::roll(f32({2, 3}), {1, 2}, {0}); });
  bad("roll", "a dim out of range", K::Index, "roll", [] { tg::roll(f32({2, 3}), {1}, {3}); });
  bad("split", "sizes that do not sum to the dim", K::Shape, "split", [] {
    tg::split(f32({5, 3}), std::vector<std::int64_t>{2, 2}, 0);
  });
  bad("split", "a negative size", K::Value, "split", [] { tg::split(f32({5}), std::vector<std::int64_t>{6, -1}); });
  bad("unbind", "a 0-d tensor", K::Shape, "unbind", [] { tg::unbind(f32({})); });
  bad("unbind", "a dim out of range", K::Index, "unbind", [] { tg::unbind(f32({2, 3}), -3); });
  bad("movedim", "a repeated source dim", K::Value, "movedim", [] { tg::movedim(f32({2, 3, 4}), {0, 0}, {1, 2}); });
  bad("movedim", "source and destination of different lengths", K::Shape, "movedim", [] {
    tg::movedim(f32({2, 3}), {0, 1}, {1});
  });
  bad("unflatten", "sizes that do not hold the dim", K::Shape, "unflatten", [] {
    tg::unflatten(f32({6, 2}), 0, {4, 2});
  });
  bad("meshgrid", "a 2-D tensor", K::Shape, "meshgrid", [] { tg::meshgrid({f32({2}), f32({2, 2})}); });
  bad("meshgrid", "indexing \"xz\"", K::Value, "meshgrid", [] { tg::meshgrid({f32({2}), f32({3})}, "xz"); });
  bad("meshgrid", "mixed dtypes", K::DType, "meshgrid", [] { tg::meshgrid({f32({2}), f64({3})}); });
  bad("cumsum", "a dim out of range", K::Index, "cumsum", [] { tg::cumsum(f32({2, 3}), 2); });
  bad("cumprod", "a dim out of range on a 0-d tensor", K::Index, "cumprod", [] { tg::cumprod(f32({}), 1); });
  bad("logcumsumexp", "an int64 tensor", K::DType, "logcumsumexp", [] { tg::logcumsumexp(i64({3}), 0); });
  bad("cummax", "a dim out of range", K::Index, "cummax", [] { tg::cummax(f32({2, 3}), -3); });
  bad("cummin", "a dim out of range", K::Index, "cummin", [] { tg::cummin(f32({3}), 1); });
  bad("sort", "a dim out of range", K::Index, "sort", [] { tg::sort(f32({2, 3}), 2); });
  bad("argsort", "a dim out of range", K::Index, "argsort", [] { tg::argsort(f32({2, 3}), -3); });
  bad("topk", "k larger than the dim", K::Index, "topk", [] { tg::topk(f32({2, 3}), 4); });
  bad("topk", "a negative k", K::Index, "topk", [] { tg::topk(f32({3}), -1); });
  bad("topk", "a bool tensor", K::DType, "topk", [] { tg::topk(b8({3}), 1); });
  bad("kthvalue", "k = 0", K::Index, "kthvalue", [] { tg::kthvalue(f32({3}), 0); });
  bad("kthvalue", "k larger than the dim", K::Index, "kthvalue", [] { tg::kthvalue(f32({2, 3}), 3, 0); });
  bad("median", "an empty dim", K::Index, "median", [] { tg::median(f32({2, 0}), 1); });
  bad("median", "a dim out of range", K::Index, "median", [] { tg::median(f32({2, 3}), 2); });
  bad("median", "a bool tensor", K::DType, "median", [] { tg::median(b8({3})); });

  // ---- math functions and activations (autograd/ops/math_functions.cpp, activation_functions.cpp) ----
  bad("floor", "a bool tensor", K::DType, "floor", [] { tg::floor(b8({2})); });
  bad("ceil", "a bool tensor", K::DType, "ceil", [] { tg::ceil(b8({2})); });
  bad("round", "a bool tensor", K::DType, "round", [] { tg::round(b8({2})); });
  bad("round", "decimals on an int64 tensor", K::DType, "round", [] { tg::round(i64({2}), 1); });
  bad("trunc", "a bool tensor", K::DType, "trunc", [] { tg::trunc(b8({2})); });
  bad("frac", "an int64 tensor", K::DType, "frac", [] { tg::frac(i64({2})); });
  bad("atan2", "shapes that do not broadcast", K::Shape, "atan2", [] { tg::atan2(f32({2, 3}), f32({2})); });
  bad("hypot", "an int64 tensor", K::DType, "hypot", [] { tg::hypot(i64({2}), i64({2})); });
  bad("hypot", "shapes that do not broadcast", K::Shape, "hypot", [] { tg::hypot(f32({3}), f32({2})); });
  bad("fmod", "bool tensors", K::DType, "fmod", [] { tg::fmod(b8({2}), b8({2})); });
  bad("fmod", "an integer divisor holding 0", K::Value, "fmod", [] { tg::fmod(ints({5, 6}), ints({2, 0})); });
  bad("fmod", "an integer tensor by the scalar 0", K::Value, "fmod", [] { tg::fmod(ints({5, 6}), 0); });
  bad("fmod", "shapes that do not broadcast", K::Shape, "fmod", [] { tg::fmod(f32({2, 3}), f32({4})); });
  bad("remainder", "bool tensors", K::DType, "remainder", [] { tg::remainder(b8({2}), b8({2})); });
  bad("remainder", "an integer divisor holding 0", K::Value, "remainder", [] {
    tg::remainder(ints({5, 6}), ints({0, 1}));
  });
  bad("remainder", "an integer tensor by the scalar 0", K::Value, "remainder", [] { tg::remainder(b8({2}), 0); });
  bad("lerp", "shapes that do not broadcast", K::Shape, "lerp", [] { tg::lerp(f32({2, 3}), f32({2}), 0.5); });
  bad("lerp", "a weight that does not broadcast", K::Shape, "lerp", [] { tg::lerp(f32({2, 3}), f32({3}), f32({4})); });
  bad("lerp", "end of another dtype", K::DType, "lerp", [] { tg::lerp(f32({2}), f64({2}), 0.5); });
  bad("lerp", "a weight of another dtype", K::DType, "lerp", [] { tg::lerp(f64({2}), f64({2}), f32({2})); });
  bad("lerp", "int64 tensors", K::DType, "lerp", [] { tg::lerp(i64({2}), i64({2}), 0.5); });
  bad("addcmul", "shapes that do not broadcast", K::Shape, "addcmul", [] {
    tg::addcmul(f32({2, 3}), f32({2}), f32({3}));
  });
  bad("addcmul", "a fractional value for integer tensors", K::DType, "addcmul",
      [] { tg::addcmul(i64({2}), i64({2}), i64({2}), 0.5); });
  bad("addcmul", "bool tensors", K::DType, "addcmul", [] { tg::addcmul(b8({2}), b8({2}), b8({2})); });
  bad("addcdiv", "shapes that do not broadcast", K::Shape, "addcdiv", [] {
    tg::addcdiv(f32({2, 3}), f32({3}), f32({4}));
  });
  bad("addcdiv", "integer tensor1 and tensor2", K::DType, "addcdiv", [] { tg::addcdiv(f32({2}), i64({2}), i64({2})); });
  bad("Tensor::addcmul", "shapes that do not broadcast", K::Shape, "addcmul", [] {
    f32({2, 3}).addcmul(f32({4}), f32({3}));
  });
  bad("Tensor::addcdiv", "integer tensor1 and tensor2", K::DType, "addcdiv",
      [] { f32({2}).addcdiv(i64({2}), i64({2})); });
  // The in-place math (autograd/ops/inplace_math.cpp).
  bad("Tensor::exp_", "an int64 tensor (a float result)", K::DType, "exp_", [] { i64({3}).exp_(); });
  bad("Tensor::exp_", "an expanded tensor", K::Value, "exp_", [] { f32({1, 3}).expand({2, 3}).exp_(); });
  bad("Tensor::exp_", "a leaf that requires grad", K::Autograd, "exp_", [] { leaf({2}).exp_(); });
  bad("Tensor::log_", "an int64 tensor", K::DType, "log_", [] { i64({3}).log_(); });
  bad("Tensor::sqrt_", "an int64 tensor", K::DType, "sqrt_", [] { i64({3}).sqrt_(); });
  bad("Tensor::rsqrt_", "an int64 tensor", K::DType, "rsqrt_", [] { i64({3}).rsqrt_(); });
  bad("Tensor::sigmoid_", "an int64 tensor", K::DType, "sigmoid_", [] { i64({3}).sigmoid_(); });
  bad("Tensor::tanh_", "an int64 tensor", K::DType, "tanh_", [] { i64({3}).tanh_(); });
  bad("Tensor::sin_", "a bool tensor", K::DType, "sin_", [] { b8({3}).sin_(); });
  bad("Tensor::cos_", "an int64 tensor", K::DType, "cos_", [] { i64({3}).cos_(); });
  bad("Tensor::reciprocal_", "an int64 tensor", K::DType, "reciprocal_", [] { i64({3}).reciprocal_(); });
  bad("Tensor::neg_", "a bool tensor", K::DType, "neg_", [] { b8({3}).neg_(); });
  bad("Tensor::abs_", "a bool tensor", K::DType, "abs_", [] { b8({3}).abs_(); });
  bad("Tensor::floor_", "a bool tensor", K::DType, "floor_", [] { b8({3}).floor_(); });
  bad("Tensor::ceil_", "a bool tensor", K::DType, "ceil_", [] { b8({3}).ceil_(); });
  bad("Tensor::round_", "a bool tensor", K::DType, "round_", [] { b8({3}).round_(); });
  bad("Tensor::trunc_", "a bool tensor", K::DType, "trunc_", [] { b8({3}).trunc_(); });
  bad("Tensor::sign_", "a leaf that requires grad", K::Autograd, "sign_", [] { leaf({2}).sign_(); });
  bad("Tensor::square_", "a bool tensor", K::DType, "square_", [] { b8({3}).square_(); });
  bad("Tensor::pow_", "an exponent of a bigger shape", K::Shape, "pow_", [] { f32({2}).pow_(f32({2, 2})); });
  bad("Tensor::pow_", "an integer to a negative power", K::Value, "pow_", [] { i64({2}).pow_(-1); });
  bad("Tensor::pow_", "a fractional power of an int64 tensor", K::DType, "pow_", [] { i64({2}).pow_(0.5); });
  bad("Tensor::clamp_min_", "a fractional bound on an int64 tensor", K::DType, "clamp_min_",
      [] { i64({2}).clamp_min_(0.5); });
  bad("Tensor::clamp_max_", "a fractional bound on an int64 tensor", K::DType, "clamp_max_",
      [] { i64({2}).clamp_max_(0.5); });
  bad("Tensor::addcmul_", "operands of a bigger shape", K::Shape, "addcmul_", [] {
    f32({2}).addcmul_(f32({2, 2}), f32({2}));
  });
  bad("Tensor::addcmul_", "a fractional value on int64", K::DType, "addcmul_",
      [] { i64({2}).addcmul_(i64({2}), i64({2}), 0.5); });
  bad("Tensor::addcdiv_", "integer tensor1 and tensor2", K::DType, "addcdiv_",
      [] { f32({2}).addcdiv_(i64({2}), i64({2})); });
  bad("Tensor::lerp_", "an end of a bigger shape", K::Shape, "lerp_", [] { f32({2}).lerp_(f32({3, 2}), 0.5); });
  bad("Tensor::lerp_", "an end of another dtype", K::DType, "lerp_", [] { f32({2}).lerp_(f64({2}), 0.5); });
  bad("Tensor::lerp_", "a weight that does not broadcast", K::Shape, "lerp_",
      [] { f32({2}).lerp_(f32({2}), f32({3})); });
  bad("clamp", "a tensor bound that does not broadcast", K::Shape, "clamp", [] {
    tg::clamp(f32({2, 3}), f32({2}), Tensor());
  });
  bad("clamp", "two undefined tensor bounds", K::Value, "clamp", [] { tg::clamp(f32({2}), Tensor(), Tensor()); });
  bad("nan_to_num", "posinf beyond float32", K::Value, "nan_to_num",
      [] { tg::nan_to_num(tg::tensor({kInf}), 0, 1e300); });
  bad("isclose", "inputs of different dtypes", K::DType, "isclose", [] { tg::isclose(f32({2}), f64({2})); });
  bad("isclose", "a negative rtol", K::Value, "isclose", [] { tg::isclose(f32({2}), f32({2}), -1e-5); });
  bad("isclose", "a NaN atol", K::Value, "isclose", [] { tg::isclose(f32({2}), f32({2}), 1e-5, kNaN); });
  bad("isclose", "shapes that do not broadcast", K::Shape, "isclose", [] { tg::isclose(f32({2}), f32({3})); });
  bad("softplus", "an int64 tensor", K::DType, "softplus", [] { tg::softplus(i64({2})); });
  bad("silu", "an int64 tensor", K::DType, "silu", [] { tg::silu(i64({2})); });
  bad("elu", "a bool tensor", K::DType, "elu", [] { tg::elu(b8({2})); });
  bad("selu", "an int64 tensor", K::DType, "selu", [] { tg::selu(i64({2})); });
  bad("celu", "an int64 tensor", K::DType, "celu", [] { tg::celu(i64({2})); });
  bad("celu", "alpha 0", K::Value, "celu", [] { tg::celu(f32({2}), 0); });
  bad("mish", "an int64 tensor", K::DType, "mish", [] { tg::mish(i64({2})); });
  bad("hardtanh", "a bool tensor", K::DType, "hardtanh", [] { tg::hardtanh(b8({2})); });
  bad("hardswish", "an int64 tensor", K::DType, "hardswish", [] { tg::hardswish(i64({2})); });
  bad("hardsigmoid", "an int64 tensor", K::DType, "hardsigmoid", [] { tg::hardsigmoid(i64({2})); });
  bad("logsigmoid", "an int64 tensor", K::DType, "logsigmoid", [] { tg::logsigmoid(i64({2})); });
  bad("softsign", "a bool tensor", K::DType, "softsign", [] { tg::softsign(b8({2})); });
  bad("glu", "an odd halving dimension", K::Shape, "glu", [] { tg::glu(f32({2, 3})); });
  bad("glu", "a dim out of range", K::Index, "glu", [] { tg::glu(f32({2, 4}), 2); });
  bad("glu", "a 0-d tensor", K::Shape, "glu", [] { tg::glu(f32({})); });
  bad("glu", "an int64 tensor", K::DType, "glu", [] { tg::glu(i64({2, 4})); });
  bad("pad", "an odd pad list", K::Shape, "pad", [] { tg::pad(f32({2, 3}), {1, 1, 1}); });
  bad("pad", "more pairs than dims", K::Shape, "pad", [] { tg::pad(f32({3}), {1, 1, 1, 1}); });
  bad("pad", "an unknown mode", K::Value, "pad", [] { tg::pad(f32({2, 3}), {1, 1}, "zeros"); });
  bad("pad", "reflect padding as large as the dim", K::Shape, "pad", [] { tg::pad(f32({2, 3}), {3, 0}, "reflect"); });
  bad("pad", "circular padding that wraps twice", K::Shape, "pad", [] { tg::pad(f32({2, 3}), {0, 4}, "circular"); });
  bad("pad", "circular padding that crops every element", K::Shape, "crops all", [] {
    tg::pad(f32({2, 3}), {-3, 1}, "circular");
  });
  bad("pad", "replicate padding of an empty dim", K::Shape, "pad", [] { tg::pad(f32({2, 0}), {1, 1}, "replicate"); });
  bad("pad", "cropping below size 0", K::Shape, "pad", [] { tg::pad(f32({2, 3}), {-2, -2}); });
  bad("repeat_interleave", "negative repeats", K::Value, "repeat_interleave", [] {
    tg::repeat_interleave(f32({2, 3}), -1, 0);
  });
  bad("repeat_interleave", "float repeats", K::DType, "repeat_interleave", [] {
    tg::repeat_interleave(f32({2, 3}), f32({2}), 0);
  });
  bad("repeat_interleave", "repeats of the wrong length", K::Shape, "repeat_interleave", [] {
    tg::repeat_interleave(f32({2, 3}), i64({2}), 1);
  });
  bad("repeat_interleave", "2-D repeats", K::Shape, "repeat_interleave", [] {
    tg::repeat_interleave(f32({2, 3}), i64({2, 1}), 0);
  });
  bad("repeat_interleave", "a dim out of range", K::Index, "repeat_interleave", [] {
    tg::repeat_interleave(f32({2, 3}), 2, 2);
  });
  bad("mode", "an empty dim", K::Index, "mode", [] { tg::mode(f32({2, 0})); });
  bad("mode", "a dim out of range", K::Index, "mode", [] { tg::mode(f32({2, 3}), 2); });
  // ---- products, einsum and random sampling (issue 14) ----
  bad("bmm", "batch sizes that differ", K::Shape, "bmm", [] { tg::bmm(f32({2, 3, 4}), f32({3, 4, 5})); });
  bad("bmm", "inner sizes that differ", K::Shape, "bmm", [] { tg::bmm(f32({2, 3, 4}), f32({2, 3, 5})); });
  bad("bmm", "2-D operands", K::Shape, "bmm", [] { tg::bmm(f32({3, 4}), f32({4, 5})); });
  bad("bmm", "mixed dtypes", K::DType, "bmm", [] { tg::bmm(f32({2, 3, 4}), f64({2, 4, 5})); });
  bad("baddbmm", "an input that does not broadcast", K::Shape, "baddbmm", [] {
    tg::baddbmm(f32({3, 3}), f32({2, 3, 4}), f32({2, 4, 5}));
  });
  bad("baddbmm", "a fractional beta for int64", K::Value, "baddbmm", [] {
    tg::baddbmm(i64({2, 3, 5}), i64({2, 3, 4}), i64({2, 4, 5}), 0.5);
  });
  bad("addbmm", "batch counts that differ", K::Shape, "addbmm", [] {
    tg::addbmm(f32({3, 5}), f32({2, 3, 4}), f32({3, 4, 5}));
  });
  bad("mv", "sizes that differ", K::Shape, "mv", [] { tg::mv(f32({2, 3}), f32({4})); });
  bad("addmv", "an input that does not broadcast", K::Shape, "addmv", [] {
    tg::addmv(f32({3}), f32({2, 3}), f32({3}));
  });
  bad("vdot", "lengths that differ", K::Shape, "vdot", [] { tg::vdot(f32({2}), f32({3})); });
  bad("kron", "operands beyond half the rank limit", K::Shape, "kron", [] {
    tg::kron(f32({1, 1, 1, 1, 1}), f32({2}));
  });
  bad("tensordot", "contracted sizes that differ", K::Shape, "tensordot", [] {
    tg::tensordot(f32({2, 3, 4}), f32({4, 3}), 2);
  });
  bad("tensordot", "a dim out of range", K::Index, "tensordot", [] {
    tg::tensordot(f32({2, 3}), f32({3, 2}), {2}, {0});
  });
  bad("tensordot", "dim lists of different lengths", K::Value, "tensordot", [] {
    tg::tensordot(f32({2, 3}), f32({3, 2}), {1}, {0, 1});
  });
  bad("einsum", "fewer operands than the equation has", K::Value, "einsum(\"ij,jk->ik\")", [] {
    tg::einsum("ij,jk->ik", {f32({2, 3})});
  });
  bad("einsum", "a subscript that is not a letter", K::Value, "einsum(\"i1\")", [] {
    tg::einsum("i1", {f32({2, 3})});
  });
  bad("einsum", "an output label from no operand", K::Value, "einsum", [] { tg::einsum("ij->k", {f32({2, 3})}); });
  bad("einsum", "sizes of one label that differ", K::Shape, "einsum(\"ij,ij->i\")", [] {
    tg::einsum("ij,ij->i", {f32({2, 3}), f32({2, 4})});
  });
  bad("einsum", "more subscripts than dims", K::Shape, "einsum", [] { tg::einsum("ijk", {f32({2, 3})}); });
  bad("einsum", "bool operands", K::DType, "einsum", [] { tg::einsum("ij->", {b8({2, 3})}); });
  bad("multinomial", "a negative probability", K::Value, "multinomial", [] {
    tg::multinomial(tg::tensor({0.5, -0.5}), 1);
  });
  bad("multinomial", "a NaN probability", K::Value, "multinomial", [] { tg::multinomial(tg::tensor({0.5, kNaN}), 1); });
  bad("multinomial", "all-zero probabilities", K::Value, "multinomial",
      [] { tg::multinomial(tg::zeros({3}), 1, true); });
  bad("multinomial", "more samples than categories without replacement", K::Value, "multinomial",
      [] { tg::multinomial(f32({3}), 4); });
  bad("multinomial", "3-D probabilities", K::Shape, "multinomial", [] { tg::multinomial(f32({2, 2, 2}), 1); });
  bad("multinomial", "int64 probabilities", K::DType, "multinomial", [] { tg::multinomial(i64({3}), 1); });
  bad("normal", "a negative std", K::Value, "normal", [] { tg::normal(f32({3}), -1.0); });
  bad("normal", "a NaN std", K::Value, "normal", [] { tg::normal(f32({3}), kNaN); });
  bad("normal", "shapes that do not broadcast", K::Shape, "normal", [] { tg::normal(f32({3}), f32({2})); });
  bad("normal", "an int64 mean", K::DType, "normal", [] { tg::normal(i64({3}), 1.0); });
  bad("rand_like", "an int64 tensor", K::DType, "rand_like", [] { tg::rand_like(i64({3})); });
  bad("randn_like", "a bool dtype", K::DType, "randn_like", [] { tg::randn_like(f32({3}), kBool); });
  bad("randint_like", "an empty range", K::Value, "randint_like", [] { tg::randint_like(f32({3}), 2, 2); });
  bad("randint_like", "a bool tensor", K::DType, "randint_like", [] { tg::randint_like(b8({3}), 2); });
  bad("Tensor::uniform_", "from > to", K::Value, "uniform_", [] { f32({3}).uniform_(2, 1); });
  bad("Tensor::uniform_", "an int64 tensor", K::DType, "uniform_", [] { i64({3}).uniform_(); });
  bad("Tensor::uniform_", "a leaf that requires grad", K::Autograd, "uniform_", [] { leaf({3}).uniform_(); });
  bad("Tensor::normal_", "a negative std", K::Value, "normal_", [] { f32({3}).normal_(0, -1); });
  bad("Tensor::bernoulli_", "p outside [0, 1]", K::Value, "bernoulli_", [] { f32({3}).bernoulli_(1.5); });
  bad("Tensor::bernoulli_", "a tensor p that does not broadcast", K::Shape, "bernoulli_",
      [] { f32({3}).bernoulli_(f32({2})); });
  bad("Tensor::exponential_", "a negative rate", K::Value, "exponential_", [] { f32({3}).exponential_(-1); });
  bad("Tensor::random_", "an empty range", K::Value, "random_", [] { i64({3}).random_(4, 4); });
  bad("Tensor::random_", "to beyond uint8", K::Value, "uint8", [] { tg::zeros({3}, tg::kUInt8).random_(0, 300); });
  bad("Tensor::random_", "from below int8", K::Value, "int8", [] { tg::zeros({3}, tg::kInt8).random_(-200, 0); });
  bad("Tensor::random_", "to beyond 2^24 in float32", K::Value, "float32",
      [] { f32({3}).random_(0, (std::int64_t{1} << 24) + 2); });
  bad("Tensor::random_", "a leaf that requires grad", K::Autograd, "random_", [] { leaf({3}).random_(); });
  // ---- tg::linalg (issue 14) ----
  namespace L = tg::linalg;
  bad("linalg::solve", "a non-square A", K::Shape, "linalg::solve", [] { L::solve(f64({2, 3}), f64({2, 1})); });
  bad("linalg::solve", "a 1-D A", K::Shape, "linalg::solve", [] { L::solve(f64({3}), f64({3})); });
  bad("linalg::solve", "B with the wrong number of rows", K::Shape, "linalg::solve", [] {
    L::solve(f64({3, 3}), f64({2, 2}));
  });
  bad("linalg::solve", "batch dims that do not broadcast", K::Shape, "linalg::solve", [] {
    L::solve(f64({2, 3, 3}), f64({4, 3, 1}));
  });
  bad("linalg::solve", "int64 matrices", K::DType, "linalg::solve", [] { L::solve(i64({2, 2}), i64({2, 1})); });
  bad("linalg::solve", "float32 A and float64 B", K::DType, "linalg::solve", [] {
    L::solve(f32({2, 2}), f64({2, 1}));
  });
  bad("linalg::solve", "a singular A", K::Value, "singular", [] { L::solve(f64({2, 2}), f64({2, 1})); });
  bad("linalg::inv", "a non-square matrix", K::Shape, "linalg::inv", [] { L::inv(f64({2, 3})); });
  bad("linalg::inv", "a 0-d tensor", K::Shape, "linalg::inv", [] { L::inv(f64({})); });
  bad("linalg::inv", "an int64 matrix", K::DType, "linalg::inv", [] { L::inv(i64({2, 2})); });
  bad("linalg::inv", "a singular matrix", K::Value, "linalg::inv", [] { L::inv(f32({3, 3})); });
  bad("linalg::det", "a non-square matrix", K::Shape, "linalg::det", [] { L::det(f64({3, 2})); });
  bad("linalg::det", "a bool matrix", K::DType, "linalg::det", [] { L::det(b8({2, 2})); });
  bad("linalg::slogdet", "a 1-D tensor", K::Shape, "linalg::slogdet", [] { L::slogdet(f64({4})); });
  bad("linalg::slogdet", "an int64 matrix", K::DType, "linalg::slogdet", [] { L::slogdet(i64({2, 2})); });
  bad("linalg::cholesky", "a non-square matrix", K::Shape, "linalg::cholesky", [] { L::cholesky(f64({2, 3})); });
  bad("linalg::cholesky", "a matrix that is not positive-definite", K::Value, "positive-definite", [] {
    L::cholesky(f64({2, 2}));
  });
  bad("linalg::cholesky", "an int64 matrix", K::DType, "linalg::cholesky", [] { L::cholesky(i64({2, 2})); });
  bad("linalg::cholesky_solve", "B with the wrong number of rows", K::Shape, "linalg::cholesky_solve", [] {
    L::cholesky_solve(f64({2, 1}), f64({3, 3}));
  });
  bad("linalg::cholesky_solve", "a non-square factor", K::Shape, "linalg::cholesky_solve", [] {
    L::cholesky_solve(f64({3, 1}), f64({3, 2}));
  });
  bad("linalg::cholesky_solve", "float32 B and float64 L", K::DType, "linalg::cholesky_solve", [] {
    L::cholesky_solve(f32({2, 1}), f64({2, 2}));
  });
  bad("linalg::qr", "an unknown mode", K::Value, "linalg::qr", [] { L::qr(f64({3, 2}), "full"); });
  bad("linalg::qr", "a 1-D tensor", K::Shape, "linalg::qr", [] { L::qr(f64({3})); });
  bad("linalg::qr", "an int64 matrix", K::DType, "linalg::qr", [] { L::qr(i64({3, 2})); });
  bad("linalg::eigh", "a non-square matrix", K::Shape, "linalg::eigh", [] { L::eigh(f64({2, 3})); });
  bad("linalg::eigh", "an Inf matrix", K::Value, "NaN or Inf", [] { L::eigh(tg::full({2, 2}, kInf)); });
  bad("linalg::eigh", "UPLO other than L or U", K::Value, "linalg::eigh", [] { L::eigh(f64({2, 2}), "X"); });
  bad("linalg::svd", "a 1-D tensor", K::Shape, "linalg::svd", [] { L::svd(f64({3})); });
  bad("linalg::svd", "an int64 matrix", K::DType, "linalg::svd", [] { L::svd(i64({2, 3})); });
  bad("linalg::svd", "a NaN matrix", K::Value, "linalg::svd", [] { L::svd(tg::full({3, 3}, kNaN)); });
  bad("linalg::svdvals", "a bool matrix", K::DType, "linalg::svdvals", [] { L::svdvals(b8({2, 2})); });
  bad("linalg::pinv", "a 1-D tensor", K::Shape, "linalg::pinv", [] { L::pinv(f64({3})); });
  bad("linalg::lstsq", "B with the wrong number of rows", K::Shape, "linalg::lstsq", [] {
    L::lstsq(f64({4, 3}), f64({3, 1}));
  });
  bad("linalg::lstsq", "int64 matrices", K::DType, "linalg::lstsq", [] { L::lstsq(i64({4, 3}), i64({4, 1})); });
  bad("linalg::vector_norm", "an int64 tensor", K::DType, "linalg::vector_norm", [] { L::vector_norm(i64({3})); });
  bad("linalg::vector_norm", "a dim out of range", K::Index, "norm", [] { L::vector_norm(f64({3}), 2, 1); });
  bad("linalg::matrix_norm", "an unknown ord", K::Value, "linalg::matrix_norm", [] {
    L::matrix_norm(f64({2, 2}), "spectral");
  });
  bad("linalg::matrix_norm", "ord 3", K::Value, "linalg::matrix_norm", [] { L::matrix_norm(f64({2, 2}), 3); });
  bad("linalg::matrix_norm", "a 1-D tensor", K::Shape, "linalg::matrix_norm", [] { L::matrix_norm(f64({4})); });
  bad("linalg::matrix_norm", "three dims", K::Shape, "linalg::matrix_norm", [] {
    L::matrix_norm(f64({2, 2, 2}), "fro", {0, 1, 2});
  });
  bad("linalg::matrix_norm", "a dim out of range", K::Index, "linalg::matrix_norm", [] {
    L::matrix_norm(f64({2, 2}), "fro", {0, 2});
  });
  bad("linalg::matrix_norm", "an int64 matrix", K::DType, "linalg::matrix_norm", [] { L::matrix_norm(i64({2, 2})); });
  // ---- advanced indexing and the scatter family (issue 14) ----
  bad("index", "too many indices", K::Index, "too many indices", [] { tg::index(f32({2, 3}), {0, 0, 0}); });
  bad("index", "an integer out of range", K::Index, "index", [] { tg::index(f32({2, 3}), {0, 3}); });
  bad("index", "an index tensor value out of range", K::Index, "index", [] { tg::index(f32({2, 3}), {ints({0, 2})}); });
  bad("index", "a very negative index tensor value", K::Index, "index", [] { tg::index(f32({2, 3}), {ints({-3})}); });
  bad("index", "a float index tensor", K::DType, "index", [] { tg::index(f32({2, 3}), {f32({1})}); });
  bad("index", "a mask of the wrong shape", K::Index, "mask", [] { tg::index(f32({2, 3}), {b8({3})}); });
  bad("index", "a mask with more dims than the tensor", K::Index, "too many indices", [] {
    tg::index(f32({2, 3}), {b8({2, 3, 1})});
  });
  bad("index", "index tensors that do not broadcast", K::Index, "broadcast", [] {
    tg::index(f32({2, 3}), {ints({0, 1}), ints({0, 1, 2})});
  });
  bad("index", "two ellipses", K::Index, "ellipsis", [] {
    tg::index(f32({2, 3}), {tg::indexing::Ellipsis, tg::indexing::Ellipsis});
  });
  bad("index", "a zero slice step", K::Value, "step", [] { tg::index(f32({2, 3}), {tg::indexing::Slice(0, 2, 0)}); });
  bad("index", "an undefined index tensor", K::Value, "index", [] { tg::index(f32({2, 3}), {Tensor()}); });
  bad("index_put_", "values that do not broadcast", K::Shape, "index_put_", [] {
    Tensor a = f32({2, 3});
    tg::index_put_(a, {ints({0, 1})}, f32({3, 3}));
  });
  bad("index_put_", "values of another dtype", K::DType, "index_put_", [] {
    Tensor a = f32({2, 3});
    tg::index_put_(a, {ints({0})}, f64({3}));
  });
  bad("index_put_", "an index out of range", K::Index, "index_put_", [] {
    Tensor a = f32({2, 3});
    tg::index_put_(a, {ints({2})}, 1.0);
  });
  bad("index_put_", "a leaf that requires grad", K::Autograd, "index_put_", [] {
    Tensor a = leaf({2, 3});
    tg::index_put_(a, {ints({0})}, 1.0);
  });
  bad("index_put", "basic-indexed values that do not broadcast", K::Shape, "index_put_", [] {
    tg::index_put(f32({2, 3}), {0}, f32({2}));
  });
  bad("scatter", "an index out of range", K::Index, "scatter", [] {
    tg::scatter(f32({2, 3}), 1, tg::tensor(std::vector<std::int64_t>{0, 3}, {1, 2}), 1.0);
  });
  bad("scatter", "a negative index", K::Index, "scatter", [] {
    tg::scatter(f32({2, 3}), 1, tg::tensor(std::vector<std::int64_t>{-1}, {1, 1}), f32({1, 1}));
  });
  bad("scatter", "ranks differ", K::Shape, "scatter", [] { tg::scatter(f32({2, 3}), 1, i64({2}), f32({2})); });
  bad("scatter", "index larger than src", K::Shape, "scatter", [] {
    tg::scatter(f32({2, 3}), 1, i64({2, 2}), f32({2, 1}));
  });
  bad("scatter", "a float index", K::DType, "scatter", [] { tg::scatter(f32({2, 3}), 1, f32({1, 1}), f32({1, 1})); });
  bad("scatter", "src of another dtype", K::DType, "scatter", [] {
    tg::scatter(f32({2, 3}), 1, i64({1, 1}), f64({1, 1}));
  });
  bad("scatter", "an unknown reduce", K::Value, "scatter", [] {
    tg::scatter(f32({2, 3}), 1, i64({1, 1}), 1.0, "sum");
  });
  bad("scatter_reduce", "an unknown reduce", K::Value, "scatter_reduce", [] {
    tg::scatter_reduce(f32({2, 3}), 1, i64({1, 1}), f32({1, 1}), "max");
  });
  bad("scatter_reduce", "mean of bool tensors", K::DType, "scatter_reduce", [] {
    tg::scatter_reduce(b8({2, 3}), 1, i64({1, 1}), b8({1, 1}), "mean");
  });
  bad("scatter_reduce", "an index out of range", K::Index, "scatter_reduce", [] {
    tg::scatter_reduce(f32({2, 3}), 0, tg::tensor(std::vector<std::int64_t>{2}, {1, 1}), f32({1, 1}), "amax");
  });
  bad("scatter_reduce", "a dim out of range", K::Index, "scatter_reduce", [] {
    tg::scatter_reduce(f32({2, 3}), 2, i64({1, 1}), f32({1, 1}), "sum");
  });
  bad("index_add", "an index out of range", K::Index, "index_add", [] {
    tg::index_add(f32({2, 3}), 0, ints({2}), f32({1, 3}));
  });
  bad("index_add", "a negative index", K::Index, "index_add", [] {
    tg::index_add(f32({2, 3}), 0, ints({-1}), f32({1, 3}));
  });
  bad("index_add", "source of the wrong shape", K::Shape, "index_add", [] {
    tg::index_add(f32({2, 3}), 0, ints({0}), f32({1, 2}));
  });
  bad("index_add", "a 2-D index", K::Shape, "index_add", [] {
    tg::index_add(f32({2, 3}), 0, i64({1, 1}), f32({1, 3}));
  });
  bad("index_add", "source of another dtype", K::DType, "index_add", [] {
    tg::index_add(f32({2, 3}), 0, ints({0}), f64({1, 3}));
  });
  bad("index_copy", "an index out of range", K::Index, "index_copy", [] {
    tg::index_copy(f32({2, 3}), 1, ints({3}), f32({2, 1}));
  });
  bad("index_copy", "source of the wrong shape", K::Shape, "index_copy", [] {
    tg::index_copy(f32({2, 3}), 1, ints({0}), f32({2, 2}));
  });
  bad("index_copy", "a float index", K::DType, "index_copy", [] {
    tg::index_copy(f32({2, 3}), 1, f32({1}), f32({2, 1}));
  });
  bad("index_fill", "an index out of range", K::Index, "index_fill", [] {
    tg::index_fill(f32({2, 3}), 1, ints({-4}), 0);
  });
  bad("index_fill", "a dim out of range", K::Index, "index_fill", [] { tg::index_fill(f32({2, 3}), 2, ints({0}), 0); });
  bad("index_fill", "a value an int64 tensor cannot hold", K::Value, "index_fill", [] {
    tg::index_fill(i64({2, 3}), 1, ints({0}), 1e300);
  });
  bad("masked_select", "a float mask", K::DType, "masked_select", [] { tg::masked_select(f32({2, 3}), f32({2, 3})); });
  bad("masked_select", "a mask that does not broadcast", K::Shape, "masked_select", [] {
    tg::masked_select(f32({2, 3}), b8({2}));
  });
  bad("any", "a dim out of range", K::Index, "any", [] { tg::any(f32({2, 3}), 2); });
  bad("all", "a dim out of range", K::Index, "all", [] { tg::all(f32({2, 3}), -3); });
  // Issue 15: attention.
  bad("scaled_dot_product_attention", "key and query of different E", K::Shape, "scaled_dot_product_attention", [] {
    tg::scaled_dot_product_attention(f32({2, 3, 4}), f32({2, 5, 3}), f32({2, 5, 6}));
  });
  bad("scaled_dot_product_attention", "key and value of different S", K::Shape, "sequence length", [] {
    tg::scaled_dot_product_attention(f32({2, 3, 4}), f32({2, 5, 4}), f32({2, 4, 6}));
  });
  bad("scaled_dot_product_attention", "batch dims that do not broadcast", K::Shape, "scaled_dot_product_attention", [] {
    tg::scaled_dot_product_attention(f32({2, 3, 4}), f32({3, 5, 4}), f32({3, 5, 6}));
  });
  bad("scaled_dot_product_attention", "a 1-D query", K::Shape, "at least 2 dims", [] {
    tg::scaled_dot_product_attention(f32({4}), f32({5, 4}), f32({5, 6}));
  });
  bad("scaled_dot_product_attention", "mixed dtypes", K::DType, "scaled_dot_product_attention", [] {
    tg::scaled_dot_product_attention(f32({3, 4}), f64({5, 4}), f32({5, 6}));
  });
  bad("scaled_dot_product_attention", "int64 tensors", K::DType, "scaled_dot_product_attention", [] {
    tg::scaled_dot_product_attention(i64({3, 4}), i64({5, 4}), i64({5, 6}));
  });
  bad("scaled_dot_product_attention", "a mask that does not broadcast to [L, S]", K::Shape, "attn_mask", [] {
    tg::scaled_dot_product_attention(f32({3, 4}), f32({5, 4}), f32({5, 6}), b8({3, 4}));
  });
  bad("scaled_dot_product_attention", "an int64 mask", K::DType, "attn_mask", [] {
    tg::scaled_dot_product_attention(f32({3, 4}), f32({5, 4}), f32({5, 6}), i64({3, 5}));
  });
  bad("scaled_dot_product_attention", "a mask and is_causal", K::Value, "is_causal", [] {
    tg::scaled_dot_product_attention(f32({3, 4}), f32({5, 4}), f32({5, 6}), b8({3, 5}), 0.0, true);
  });
  bad("scaled_dot_product_attention", "dropout_p above 1", K::Value, "dropout_p", [] {
    tg::scaled_dot_product_attention(f32({3, 4}), f32({5, 4}), f32({5, 6}), {}, 1.5);
  });
  bad("scaled_dot_product_attention", "a NaN scale", K::Value, "scale", [] {
    tg::scaled_dot_product_attention(f32({3, 4}), f32({5, 4}), f32({5, 6}), {}, 0.0, false, kNaN);
  });
  // Issue 15, losses.
  bad("F::kl_div", "shapes differ", K::Shape, "kl_div", [] { F::kl_div(f32({2, 3}), f32({3})); });
  bad("F::kl_div", "an int64 input", K::DType, "kl_div", [] { F::kl_div(i64({2}), f32({2})); });
  bad("F::smooth_l1_loss", "a negative beta", K::Value, "smooth_l1_loss",
      [] { F::smooth_l1_loss(f32({2}), f32({2}), {.beta = -1}); });
  bad("F::smooth_l1_loss", "a NaN beta", K::Value, "smooth_l1_loss",
      [] { F::smooth_l1_loss(f32({2}), f32({2}), {.beta = kNaN}); });
  bad("F::smooth_l1_loss", "shapes differ", K::Shape, "smooth_l1_loss", [] {
    F::smooth_l1_loss(f32({2, 3}), f32({2, 1}));
  });
  bad("F::cosine_embedding_loss", "inputs of different shapes", K::Shape, "cosine_embedding_loss", [] {
    F::cosine_embedding_loss(f32({2, 3}), f32({2, 4}), f32({2}));
  });
  bad("F::cosine_embedding_loss", "a target of the wrong size", K::Shape, "cosine_embedding_loss", [] {
    F::cosine_embedding_loss(f32({2, 3}), f32({2, 3}), f32({3}));
  });
  bad("F::cosine_embedding_loss", "3-D inputs", K::Shape, "cosine_embedding_loss", [] {
    F::cosine_embedding_loss(f32({1, 2, 3}), f32({1, 2, 3}), f32({1, 2}));
  });
  bad("F::cosine_embedding_loss", "int64 inputs", K::DType, "cosine_embedding_loss", [] {
    F::cosine_embedding_loss(i64({2, 3}), i64({2, 3}), f32({2}));
  });
  bad("F::margin_ranking_loss", "a target of another shape", K::Shape, "margin_ranking_loss",
      [] { F::margin_ranking_loss(f32({3}), f32({3}), f32({2})); });
  bad("F::margin_ranking_loss", "inputs of different shapes", K::Shape, "margin_ranking_loss", [] {
    F::margin_ranking_loss(f32({3}), f32({3, 1}), f32({3}));
  });
  bad("F::triplet_margin_loss", "inputs of different dims", K::Shape, "triplet_margin_loss", [] {
    F::triplet_margin_loss(f32({2, 3}), f32({3}), f32({2, 3}));
  });
  bad("F::triplet_margin_loss", "0-d inputs", K::Shape, "triplet_margin_loss",
      [] { F::triplet_margin_loss(f32({}), f32({}), f32({})); });
  bad("F::triplet_margin_loss", "p 0", K::Value, "triplet_margin_loss", [] {
    F::triplet_margin_loss(f32({2, 3}), f32({2, 3}), f32({2, 3}), {.p = 0});
  });
  bad("F::poisson_nll_loss", "shapes differ", K::Shape, "poisson_nll_loss", [] {
    F::poisson_nll_loss(f32({2, 3}), f32({3, 2}));
  });
  bad("F::gaussian_nll_loss", "a var that fits no rule", K::Shape, "gaussian_nll_loss", [] {
    F::gaussian_nll_loss(f32({2, 3}), f32({2, 3}), f32({3}));
  });
  bad("F::gaussian_nll_loss", "a negative var", K::Value, "gaussian_nll_loss", [] {
    F::gaussian_nll_loss(f32({2}), f32({2}), tg::tensor({1.0f, -0.5f}));
  });
  bad("F::gaussian_nll_loss", "an int64 var", K::DType, "gaussian_nll_loss",
      [] { F::gaussian_nll_loss(f32({2}), f32({2}), i64({2})); });
  bad("F::multilabel_soft_margin_loss", "shapes differ", K::Shape, "multilabel_soft_margin_loss", [] {
    F::multilabel_soft_margin_loss(f32({2, 3}), f32({2, 4}));
  });
  bad("F::multilabel_soft_margin_loss", "a weight that does not broadcast", K::Shape, "multilabel_soft_margin_loss",
      [] {
        F::multilabel_soft_margin_loss(f32({2, 3}), f32({2, 3}), {.weight = f32({2})});
      });
  bad("F::multilabel_soft_margin_loss", "a 0-d input", K::Shape, "multilabel_soft_margin_loss",
      [] { F::multilabel_soft_margin_loss(f32({}), f32({})); });
  // ---- the nn-breadth round: relu6, prelu, gelu's approximate, distances, instance_norm ----
  bad("relu6", "a bool tensor", K::DType, "relu6", [] { tg::relu6(b8({2})); });
  bad("prelu", "an int64 tensor", K::DType, "prelu", [] { tg::prelu(i64({2, 3}), i64({3})); });
  bad("prelu", "a 2-D weight", K::Shape, "prelu", [] { tg::prelu(f32({2, 3}), f32({3, 1})); });
  bad("prelu", "a weight neither 1 nor C long", K::Shape, "prelu", [] { tg::prelu(f32({2, 3}), f32({2})); });
  bad("prelu", "a weight of another dtype", K::DType, "prelu", [] { tg::prelu(f32({2, 3}), f64({3})); });
  bad("prelu", "an undefined weight", K::Value, "prelu", [] { tg::prelu(f32({2, 3}), Tensor()); });
  bad("gelu", "an unknown approximate", K::Value, "gelu", [] { tg::gelu(f32({2}), "fast"); });
  bad("gelu", "an int64 tensor, tanh form", K::DType, "gelu", [] { tg::gelu(i64({2}), "tanh"); });
  bad("F::normalize", "an int64 tensor", K::DType, "normalize", [] { F::normalize(i64({2, 3})); });
  bad("F::normalize", "a dim out of range", K::Index, "normalize", [] { F::normalize(f32({3})); });
  bad("F::cosine_similarity", "shapes that do not broadcast", K::Shape, "cosine_similarity", [] {
    F::cosine_similarity(f32({2, 3}), f32({4}));
  });
  bad("F::cosine_similarity", "int64 tensors", K::DType, "cosine_similarity", [] {
    F::cosine_similarity(i64({2, 3}), i64({2, 3}));
  });
  bad("F::cosine_similarity", "a dim out of range", K::Index, "cosine_similarity",
      [] { F::cosine_similarity(f32({3}), f32({3})); });
  bad("F::pairwise_distance", "shapes that do not broadcast", K::Shape, "pairwise_distance", [] {
    F::pairwise_distance(f32({2, 3}), f32({4}));
  });
  bad("F::instance_norm", "a 1-D input", K::Shape, "instance_norm", [] { F::instance_norm(f32({3})); });
  bad("F::instance_norm", "one position per instance", K::Value, "instance_norm", [] {
    F::instance_norm(f32({2, 3, 1}));
  });
  bad("F::instance_norm", "a weight that is not [C]", K::Shape, "instance_norm", [] {
    F::instance_norm(f32({2, 3, 4}), {}, {}, f32({4}));
  });
  bad("F::instance_norm", "no running statistics without use_input_stats", K::Value, "instance_norm", [] {
    F::instance_norm(f32({2, 3, 4}), {}, {}, {}, {}, false);
  });
  bad("F::instance_norm", "an int64 input", K::DType, "instance_norm", [] { F::instance_norm(i64({2, 3, 4})); });
  bad("nn::utils::parameters_to_vector", "no parameters", K::Value, "parameters_to_vector",
      [] { tg::nn::utils::parameters_to_vector({}); });
}

}  // namespace tg::testing::detail
