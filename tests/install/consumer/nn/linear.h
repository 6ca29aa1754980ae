#pragma once
// The consumer's own nn/linear.h (see core/tensor.h).
#define CONSUMER_OWN_NN_LINEAR_H 1

namespace consumer {
struct Linear {
  int in = 0, out = 0;
};
}  // namespace consumer
