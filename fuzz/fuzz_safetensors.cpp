// libFuzzer target: tg::load_from_bytes on arbitrary bytes. A file is either
// loaded or refused with a tg::Error; any other exception escapes and aborts,
// which libFuzzer reports as a crash, as it does a sanitizer finding.
//
// A loaded file is also saved again and reloaded, which must give the same
// names, dtypes, shapes and bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include <tapegrad/core/error.h>
#include <tapegrad/io/safetensors.h>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::LoadedFile loaded;
  try {
    loaded = tg::load_from_bytes(std::span<const std::uint8_t>(data, size), "fuzz-input");
  } catch (const tg::Error&) {
    return 0;
  }
  // What loaded must round-trip through save_to_bytes.
  const auto bytes = tg::save_to_bytes(loaded.tensors, loaded.metadata);
  const tg::LoadedFile again = tg::load_from_bytes(bytes, "fuzz-roundtrip");
  check(again.tensors.size() == loaded.tensors.size());
  check(again.metadata == loaded.metadata);
  for (const auto& [name, t] : loaded.tensors) {
    const auto it = again.tensors.find(name);
    check(it != again.tensors.end());
    const tg::Tensor& u = it->second;
    check(u.dtype() == t.dtype() && u.shape() == t.shape());
    const tg::Tensor a = t.contiguous();
    const tg::Tensor b = u.contiguous();
    const auto n = static_cast<std::size_t>(a.numel()) * a.element_size();
    check(n == 0 || std::memcmp(a.raw_data(), b.raw_data(), n) == 0);
  }
  return 0;
}
