// libFuzzer target: tg::data::read_idx_bytes on arbitrary bytes, plain or
// gzip. Each input is read or refused with a tg::Error; any other exception
// escapes and aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include <tapegrad/core/error.h>
#include <tapegrad/data/idx.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tg::Tensor t = tg::data::read_idx_bytes(std::span<const std::uint8_t>(data, size), "fuzz-input");
    // A plain file holds exactly its header and data, so nothing it yields
    // can be larger than the input.
    const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gzip && t.numel() > static_cast<std::int64_t>(size)) std::abort();
  } catch (const tg::Error&) {}
  return 0;
}
