#include <tapegrad/data/pixels.h>

namespace tg::data::detail {

// A plain division: IEEE division rounds correctly, so each result is
// exactly byte / 255.0f on every path, and the loop vectorises (a table
// lookup per byte did not, and waited on each byte's load in turn).
void pixels_to_unit_floats(const unsigned char* bytes, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(bytes[i]) / 255.0f;
}

}  // namespace tg::data::detail
