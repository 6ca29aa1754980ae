#include <tapegrad/nn/upsampling.h>

#include <cmath>

#include <fmt/format.h>

namespace tg::nn {

namespace {

using detail::py_float;

// Python's repr of one value or a tuple.
template <class T, class F>
std::string py_values(const std::vector<T>& values, F format) {
  if (values.size() == 1) return format(values[0]);
  std::string s;
  for (const T& v : values) s += (s.empty() ? "" : ", ") + format(v);
  return "(" + s + ")";
}

}  // namespace

Tensor Upsample::forward(const Tensor& input) { return functional::interpolate(input, options); }

std::string Upsample::extra_repr() const {
  std::string s = options.scale_factor.empty()
                      ? "size=" + py_values(options.size, [](std::int64_t v) { return std::to_string(v); })
                      : "scale_factor=" + py_values(options.scale_factor, py_float);
  return s + fmt::format(", mode={}", options.mode);  // unquoted, as torch's repr
}

Tensor PixelShuffle::forward(const Tensor& input) { return functional::pixel_shuffle(input, upscale_factor); }

std::string PixelShuffle::extra_repr() const { return fmt::format("upscale_factor={}", upscale_factor); }

Tensor PixelUnshuffle::forward(const Tensor& input) { return functional::pixel_unshuffle(input, downscale_factor); }

std::string PixelUnshuffle::extra_repr() const { return fmt::format("downscale_factor={}", downscale_factor); }

}  // namespace tg::nn
