#pragma once
// The whole public API of tapegrad.
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/dims.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/print.h"
#include "core/random.h"
#include "core/tensor.h"
