#pragma once
// Everything in tg::nn: the Module base, the modules, tg::nn::functional
// (with the losses), tg::nn::init and tg::nn::utils.
#include "nn/activation.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/pooling.h"
#if __has_include("nn/loss.h")
#include "nn/loss.h"
#endif
#if __has_include("nn/utils.h")
#include "nn/utils.h"
#endif
