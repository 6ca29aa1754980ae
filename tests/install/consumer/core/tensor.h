#pragma once
// The consumer's OWN core/tensor.h, named like tapegrad's on purpose: a user's
// project may well have a core/ folder. If tapegrad's headers were found
// through this name (or this one through tapegrad's), the build breaks:
// main.cpp checks the marker below, and tapegrad finds no tg::Tensor here.
#define CONSUMER_OWN_CORE_TENSOR_H 1

namespace consumer {
struct Tensor {
  int rows = 0;
  int cols = 0;
};
}  // namespace consumer
