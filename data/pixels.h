#pragma once
// The one hot loop of loading a dataset: image bytes to floats in [0, 1].
// Internal to the data layer (not installed: TAPEGRAD_INTERNAL_HEADERS). Its
// own source file so that it is compiled like the kernels while the rest of
// data/ (parsing, checks, messages) is compiled as glue (CMakeLists.txt).
#include <cstddef>

namespace tg::data::detail {

// out[i] = bytes[i] / 255.0f, rounded exactly as that float division rounds.
void pixels_to_unit_floats(const unsigned char* bytes, std::size_t n, float* out);

}  // namespace tg::data::detail
