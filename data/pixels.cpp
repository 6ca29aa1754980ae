#include <tapegrad/data/pixels.h>

#include <array>

namespace tg::data::detail {
namespace {

// A table keeps each result exactly byte / 255.0f at the cost of a lookup.
constexpr std::array<float, 256> kUnitScale = [] {
  std::array<float, 256> table{};
  for (int v = 0; v < 256; ++v) table[static_cast<std::size_t>(v)] = static_cast<float>(v) / 255.0f;
  return table;
}();

}  // namespace

void pixels_to_unit_floats(const unsigned char* bytes, std::size_t n, float* out) {
  const float* table = kUnitScale.data();
  for (std::size_t i = 0; i < n; ++i) out[i] = table[bytes[i]];
}

}  // namespace tg::data::detail
