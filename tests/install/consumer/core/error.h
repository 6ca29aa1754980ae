#pragma once
// The consumer's own core/error.h (see core/tensor.h).
#define CONSUMER_OWN_CORE_ERROR_H 1

namespace consumer {
struct Error {
  const char* what;
};
}  // namespace consumer
