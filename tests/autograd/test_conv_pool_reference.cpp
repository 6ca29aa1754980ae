// conv1d, conv2d with groups, conv_transpose1d/2d, avg_pool1d/2d and
// max_pool1d/2d (ceil_mode among them), adaptive_avg_pool1d/2d,
// adaptive_max_pool1d/2d, interpolate and the pixel shuffles: outputs (and
// max pooling's indices) and input/weight/bias gradients against PyTorch
// (tests/reference/conv_pool.json, from make_conv_pool_reference.py) to 1e-10
// in float64, and second derivatives of the transposed convolutions and the
// pools against finite differences.
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/functional.h>

#include "support/reference.h"

namespace test_conv_pool_reference {

namespace F = tg::nn::functional;
using tg::Size2;
using tg::Tensor;
using Json = nlohmann::json;

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

namespace {

const Json& cases() { return tg_test::reference_file("conv_pool.json").at("cases"); }

// An int or a pair, as PyTorch's int-or-tuple arguments.
Size2 size2(const Json& o, const char* key, std::int64_t fallback) {
  if (!o.contains(key)) return fallback;
  const Json& v = o.at(key);
  if (v.is_array()) return {v.at(0).get<std::int64_t>(), v.at(1).get<std::int64_t>()};
  return v.get<std::int64_t>();
}

std::int64_t int_of(const Json& o, const char* key, std::int64_t fallback) { return o.value(key, fallback); }

template <class T>
std::vector<T> list_of(const Json& o, const char* key) {
  if (!o.contains(key)) return {};
  const Json& v = o.at(key);
  return v.is_array() ? v.get<std::vector<T>>() : std::vector<T>{v.get<T>()};
}

std::optional<std::int64_t> optional_int(const Json& o, const char* key) {
  if (!o.contains(key)) return std::nullopt;
  return o.at(key).get<std::int64_t>();
}

// The max pools' calls that return indices (PyTorch's return_indices=True);
// fn_with_indices: whether `fn` is one of them.
bool has_indices(const std::string& fn) {
  return fn == "max_pool1d" || fn == "max_pool2d" || fn == "adaptive_max_pool1d" || fn == "adaptive_max_pool2d";
}

std::tuple<Tensor, Tensor> call_with_indices(const std::string& fn, const Json& o, const Tensor& x) {
  const bool ceil_mode = o.value("ceil_mode", false);
  if (fn == "max_pool1d")
    return F::max_pool1d_with_indices(x, o.at("kernel_size").get<std::int64_t>(), optional_int(o, "stride"),
                                      int_of(o, "padding", 0), int_of(o, "dilation", 1), ceil_mode);
  if (fn == "max_pool2d") {
    tg::OptionalSize2 stride;
    if (o.contains("stride")) stride = size2(o, "stride", 1);
    return F::max_pool2d_with_indices(x, size2(o, "kernel_size", 0), stride, size2(o, "padding", 0),
                                      size2(o, "dilation", 1), ceil_mode);
  }
  if (fn == "adaptive_max_pool1d")
    return F::adaptive_max_pool1d_with_indices(x, o.at("output_size").get<std::int64_t>());
  if (fn == "adaptive_max_pool2d") return F::adaptive_max_pool2d_with_indices(x, size2(o, "output_size", 0));
  FAIL("no tapegrad call with indices for " << fn);
  return {};
}

// The tapegrad call of a reference case.
Tensor call(const std::string& fn, const Json& o, const std::vector<Tensor>& in) {
  const Tensor bias = in.size() > 2 ? in[2] : Tensor();
  // padding="same" or "valid" as the string.
  const bool named = o.contains("padding") && o.at("padding").is_string();
  if (fn == "conv1d")
    return F::conv1d(in[0], in[1], bias, int_of(o, "stride", 1),
                     named ? tg::ConvPadding1(o.at("padding").get<std::string>()) : int_of(o, "padding", 0),
                     int_of(o, "dilation", 1), int_of(o, "groups", 1));
  if (fn == "conv2d")
    return F::conv2d(in[0], in[1], bias, size2(o, "stride", 1),
                     named ? tg::ConvPadding2(o.at("padding").get<std::string>()) : size2(o, "padding", 0),
                     size2(o, "dilation", 1), int_of(o, "groups", 1));
  if (fn == "conv_transpose1d")
    return F::conv_transpose1d(in[0], in[1], bias, int_of(o, "stride", 1), int_of(o, "padding", 0),
                               int_of(o, "output_padding", 0), int_of(o, "groups", 1), int_of(o, "dilation", 1));
  if (fn == "conv_transpose2d")
    return F::conv_transpose2d(in[0], in[1], bias, size2(o, "stride", 1), size2(o, "padding", 0),
                               size2(o, "output_padding", 0), int_of(o, "groups", 1), size2(o, "dilation", 1));
  if (fn == "avg_pool1d")
    return F::avg_pool1d(in[0], o.at("kernel_size").get<std::int64_t>(), optional_int(o, "stride"),
                         int_of(o, "padding", 0), o.value("count_include_pad", true), o.value("ceil_mode", false));
  if (fn == "avg_pool2d") {
    tg::OptionalSize2 stride;
    if (o.contains("stride")) stride = size2(o, "stride", 1);
    return F::avg_pool2d(in[0], size2(o, "kernel_size", 0), stride, size2(o, "padding", 0),
                         o.value("count_include_pad", true), o.value("ceil_mode", false));
  }
  // The max pools without indices; the indices are checked through call_with_indices.
  if (fn == "max_pool1d")
    return F::max_pool1d(in[0], o.at("kernel_size").get<std::int64_t>(), optional_int(o, "stride"),
                         int_of(o, "padding", 0), int_of(o, "dilation", 1), o.value("ceil_mode", false));
  if (fn == "max_pool2d") {
    tg::OptionalSize2 stride;
    if (o.contains("stride")) stride = size2(o, "stride", 1);
    return F::max_pool2d(in[0], size2(o, "kernel_size", 0), stride, size2(o, "padding", 0), size2(o, "dilation", 1),
                         o.value("ceil_mode", false));
  }
  if (fn == "adaptive_max_pool1d") return F::adaptive_max_pool1d(in[0], o.at("output_size").get<std::int64_t>());
  if (fn == "adaptive_max_pool2d") return F::adaptive_max_pool2d(in[0], size2(o, "output_size", 0));
  if (fn == "adaptive_avg_pool1d") return F::adaptive_avg_pool1d(in[0], o.at("output_size").get<std::int64_t>());
  if (fn == "adaptive_avg_pool2d") return F::adaptive_avg_pool2d(in[0], size2(o, "output_size", 0));
  if (fn == "interpolate") {
    tg::InterpolateOptions options{.size = list_of<std::int64_t>(o, "size"),
                                   .scale_factor = list_of<double>(o, "scale_factor"),
                                   .mode = o.at("mode").get<std::string>(),
                                   .recompute_scale_factor = o.value("recompute_scale_factor", false)};
    if (o.contains("align_corners")) options.align_corners = o.at("align_corners").get<bool>();
    return F::interpolate(in[0], options);
  }
  if (fn == "pixel_shuffle") return F::pixel_shuffle(in[0], o.at("upscale_factor").get<std::int64_t>());
  if (fn == "pixel_unshuffle") return F::pixel_unshuffle(in[0], o.at("downscale_factor").get<std::int64_t>());
  FAIL("no tapegrad call for " << fn);
  return {};
}

Tensor tensor_of(const Json& j) {
  const auto shape = j.at("shape").get<std::vector<std::int64_t>>();
  return tg::tensor(j.at("values").get<std::vector<double>>(), tg::Dims(shape), tg::kFloat64);
}

// sum(out * w), w = 1, 2, 3, ... as the reference script weights it.
Tensor weighted_sum(const Tensor& out) {
  const Tensor w =
      tg::reshape(tg::add(tg::arange(static_cast<double>(out.numel()), {.dtype = tg::kFloat64}), 1.0), out.shape());
  return tg::sum(tg::mul(out, w));
}

// Every reference case of `fn`: output shape and values, and the gradient of
// every input, equal PyTorch's; with `second_order`, gradcheck and
// gradgradcheck of the same call on the same inputs too.
void check_against_torch(const std::string& fn, bool second_order = false) {
  int seen = 0;
  // Named references, not a structured binding: Clang 14 cannot capture a
  // binding in a lambda (CAPTURE and fn_of below are lambdas).
  for (const auto& item : cases().items()) {
    const std::string& name = item.key();
    const auto& c = item.value();
    if (c.at("fn").get<std::string>() != fn) continue;
    ++seen;
    CAPTURE(name);
    std::vector<Tensor> in;
    for (const auto& j : c.at("inputs")) in.push_back(tensor_of(j).set_requires_grad(true));
    const Tensor out = call(fn, c.at("options"), in);
    CHECK(std::vector<std::int64_t>(out.sizes().begin(), out.sizes().end()) ==
          c.at("output").at("shape").get<std::vector<std::int64_t>>());
    tg_test::check_values(out, c.at("output").at("values").get<std::vector<double>>(), 1e-10);
    weighted_sum(out).backward();
    for (std::size_t i = 0; i < in.size(); ++i) {
      CAPTURE(i);
      REQUIRE(in[i].grad().defined());
      tg_test::check_values(in[i].grad(), c.at("grads").at(i).at("values").get<std::vector<double>>(), 1e-10);
    }
    if (has_indices(fn)) {
      // The values and indices of the _with_indices form, and its gradient, are the same.
      const Tensor x = in[0].detach().requires_grad_(true);
      const auto pooled = call_with_indices(fn, c.at("options"), x);
      CHECK(tg::equal(std::get<0>(pooled), out.detach()));
      if (c.contains("indices"))
        CHECK(std::get<1>(pooled).to_vector<std::int64_t>() == c.at("indices").get<std::vector<std::int64_t>>());
      weighted_sum(std::get<0>(pooled)).backward();
      tg_test::check_values(x.grad(), c.at("grads").at(0).at("values").get<std::vector<double>>(), 1e-10);
    }
    if (second_order) {
      std::vector<Tensor> fresh;
      for (const Tensor& t : in) fresh.push_back(t.detach().requires_grad_(true));
      const auto fn_of = [&](const std::vector<Tensor>& xs) { return weighted_sum(call(fn, c.at("options"), xs)); };
      CHECK(tg::gradcheck(fn_of, fresh));
      CHECK(tg::gradgradcheck(fn_of, fresh));
    }
  }
  CHECK(seen > 0);
}

}  // namespace

TEST_CASE("conv1d equals PyTorch: stride, padding (\"same\" and \"valid\" too), dilation, groups, no bias, unbatched") {
  check_against_torch("conv1d", true);
}
TEST_CASE("conv2d with groups, and padding \"same\" (odd totals) and \"valid\", equals PyTorch") {
  check_against_torch("conv2d", true);
}
TEST_CASE("conv_transpose1d equals PyTorch, and its second derivatives match finite differences") {
  check_against_torch("conv_transpose1d", true);
}
TEST_CASE("conv_transpose2d equals PyTorch, and its second derivatives match finite differences") {
  check_against_torch("conv_transpose2d", true);
}
TEST_CASE("avg_pool2d with ceil_mode equals PyTorch: the divisor of windows past the padding, both count_include_pad") {
  check_against_torch("avg_pool2d", true);
}
TEST_CASE("avg_pool1d equals PyTorch: stride, padding, count_include_pad, ceil_mode, unbatched") {
  check_against_torch("avg_pool1d", true);
}
TEST_CASE("max_pool1d equals PyTorch: ceil_mode, dilation, a kernel past the input, indices, unbatched") {
  check_against_torch("max_pool1d", true);
}
TEST_CASE("max_pool2d with ceil_mode equals PyTorch, indices included") { check_against_torch("max_pool2d", true); }
TEST_CASE("adaptive_max_pool1d equals PyTorch, shrinking and growing, indices included") {
  check_against_torch("adaptive_max_pool1d", true);
}
TEST_CASE("adaptive_max_pool2d equals PyTorch, overlapping bins and indices included") {
  check_against_torch("adaptive_max_pool2d", true);
}
TEST_CASE("adaptive_avg_pool1d equals PyTorch, shrinking and growing") { check_against_torch("adaptive_avg_pool1d"); }
TEST_CASE("adaptive_avg_pool2d equals PyTorch, overlapping bins included") {
  check_against_torch("adaptive_avg_pool2d");
}
TEST_CASE("interpolate equals PyTorch: nearest, linear, bilinear; align_corners both ways; odd scale factors") {
  check_against_torch("interpolate");
}
TEST_CASE("interpolate nearest reads PyTorch's source positions for each rank and dtype") {
  // PyTorch 1.13's 1-D kernel has no exact copy for out = in or out = 2 in
  // and computes in the input's opmath type; its 2-D and 3-D kernels copy and
  // compute in float. Interpolating arange shows the position each output reads.
  const Json& all = tg_test::reference_file("conv_pool.json").at("nearest_sources");
  REQUIRE(all.size() >= 40);
  for (const Json& c : all) {
    const std::string dtype = c.at("dtype").get<std::string>();
    const auto shape = c.at("input").get<std::vector<std::int64_t>>();
    const Json& o = c.at("options");
    CAPTURE(dtype);
    CAPTURE(o.dump());
    const tg::DType dt = dtype == "float32" ? tg::kFloat32 : tg::kFloat64;
    const Tensor x = tg::arange(static_cast<double>(shape.back()), {.dtype = dt}).reshape(tg::Dims(shape));
    const tg::InterpolateOptions options{.size = list_of<std::int64_t>(o, "size"),
                                         .scale_factor = list_of<double>(o, "scale_factor"),
                                         .mode = "nearest",
                                         .recompute_scale_factor = o.value("recompute_scale_factor", false)};
    const Tensor y = F::interpolate(x, options);
    std::vector<std::int64_t> got;
    for (double v : y.to_vector<double>()) got.push_back(static_cast<std::int64_t>(v));
    CHECK(got == c.at("sources").get<std::vector<std::int64_t>>());
  }
}
TEST_CASE("pixel_shuffle and pixel_unshuffle equal PyTorch") {
  check_against_torch("pixel_shuffle");
  check_against_torch("pixel_unshuffle");
}

TEST_CASE("conv1d is conv2d on a height of 1, and conv_transpose2d is conv2d's input gradient") {
  tg::manual_seed(3);
  const Tensor x = tg::randn({2, 4, 9}, kF64), w = tg::randn({6, 2, 3}, kF64);
  const Tensor y1 = F::conv1d(x, w, {}, 2, 1, 2, 2);
  const Tensor y2 = F::conv2d(x.unsqueeze(2), w.unsqueeze(2), {}, {1, 2}, {0, 1}, {1, 2}, 2).squeeze(2);
  tg_test::check_values(y1, y2.to_vector<double>(), 1e-15);
  // <conv(u, W), v> = <u, conv^T(v, W)>
  const Tensor u = tg::randn({2, 4, 8, 6}, kF64).set_requires_grad(true);
  const Tensor w2 = tg::randn({6, 2, 3, 2}, kF64);
  const Tensor y = F::conv2d(u, w2, {}, 2, 1, 1, 2);
  const Tensor v = tg::randn(y.shape(), kF64);
  tg::sum(tg::mul(y, v)).backward();
  // the output size of the transposed conv is ambiguous by stride - 1: output_padding picks u's.
  const Tensor t = F::conv_transpose2d(v, w2, {}, 2, 1, {1, 0}, 2);
  REQUIRE(t.shape() == u.shape());
  tg_test::check_values(t, u.grad().to_vector<double>(), 1e-12);
}

}  // namespace test_conv_pool_reference
