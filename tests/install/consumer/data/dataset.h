#pragma once
// The consumer's own data/dataset.h (see core/tensor.h).
#define CONSUMER_OWN_DATA_DATASET_H 1

namespace consumer {
struct Dataset {
  int size = 0;
};
}  // namespace consumer
