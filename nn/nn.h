#pragma once
/// @file
/// Everything in tg::nn: the Module base, the modules, tg::nn::functional
/// (with the losses), tg::nn::init and tg::nn::utils.
#include <tapegrad/nn/activation.h>
#include <tapegrad/nn/container.h>
#include <tapegrad/nn/conv.h>
#include <tapegrad/nn/distance.h>
#include <tapegrad/nn/dropout.h>
#include <tapegrad/nn/embedding.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/grad_checkpoint.h>
#include <tapegrad/nn/init.h>
#include <tapegrad/nn/linear.h>
#include <tapegrad/nn/loss.h>
#include <tapegrad/nn/module.h>
#include <tapegrad/nn/normalization.h>
#include <tapegrad/nn/pooling.h>
#include <tapegrad/nn/rnn.h>
#include <tapegrad/nn/transformer.h>
#include <tapegrad/nn/upsampling.h>
#include <tapegrad/nn/utils.h>
