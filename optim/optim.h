#pragma once
// Everything in tg::optim: the optimizers and the learning-rate schedulers.
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
