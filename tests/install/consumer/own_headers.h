#pragma once
// The consumer's own headers, included by the names tapegrad's have below
// include/tapegrad/. Each must be the consumer's, not tapegrad's.
#include <core/error.h>
#include <core/tensor.h>
#include <data/dataset.h>
#include <nn/linear.h>
#include <nn/module.h>

static_assert(CONSUMER_OWN_CORE_TENSOR_H && CONSUMER_OWN_CORE_ERROR_H && CONSUMER_OWN_DATA_DATASET_H &&
                  CONSUMER_OWN_NN_MODULE_H && CONSUMER_OWN_NN_LINEAR_H,
              "a consumer header was shadowed by one of tapegrad's");
