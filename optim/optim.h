#pragma once
/// @file
/// Everything in tg::optim: the optimizers and the learning-rate schedulers.
#include <tapegrad/optim/adadelta.h>
#include <tapegrad/optim/adagrad.h>
#include <tapegrad/optim/adam.h>
#include <tapegrad/optim/adamax.h>
#include <tapegrad/optim/lbfgs.h>
#include <tapegrad/optim/lr_scheduler.h>
#include <tapegrad/optim/nadam.h>
#include <tapegrad/optim/optimizer.h>
#include <tapegrad/optim/radam.h>
#include <tapegrad/optim/rmsprop.h>
#include <tapegrad/optim/sgd.h>
