#pragma once
// The consumer's own nn/module.h (see core/tensor.h).
#define CONSUMER_OWN_NN_MODULE_H 1

namespace consumer {
struct Module {
  const char* name = "consumer module";
};
}  // namespace consumer
