#pragma once
// The index maps and the constant fill behind tg::pad and tg::repeat_interleave
// (autograd/ops/pad.cpp). Every error names the op, the shape and the pads.
#include <cstdint>
#include <string_view>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

enum class PadMode { constant, reflect, replicate, circular };

// "constant", "reflect", "replicate" or "circular" (PyTorch's names); ValueError otherwise.
PadMode pad_mode(std::string_view mode);

// Checks PyTorch's pad list (pairs, last dim first) against x and the mode.
void check_pad(const TensorBase& x, const std::vector<std::int64_t>& pad, PadMode mode);

// For one dim of size `size` padded by `before` and `after` (negative crops):
// the source index of each output position (int64, 1-D). Only for the modes
// that read x everywhere (reflect, replicate, circular).
TensorBase pad_index(std::int64_t size, std::int64_t before, std::int64_t after, PadMode mode);

// x padded with `value` (negative pads crop), in x's dtype.
TensorBase pad_constant(const TensorBase& x, const std::vector<std::int64_t>& pad, double value);

// The int64 index that repeats position i of a dim of size n repeats[i]
// times (repeats: integer, 0-d or 1-D of size 1 or n, non-negative).
TensorBase repeat_interleave_index(const TensorBase& repeats, std::int64_t n, const char* op);
// repeats.size() == 1 or n.
TensorBase repeat_interleave_index(const std::vector<std::int64_t>& repeats, std::int64_t n, const char* op);

}  // namespace tg::kernel
