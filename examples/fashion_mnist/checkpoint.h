#pragma once
// The example's checkpoint: model and optimizer state plus the run's history
// (model kind, epochs done, per-epoch metrics) in one safetensors file.
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

#include "report.h"

namespace fashion {

struct Checkpoint {
  std::string model_kind;
  int epoch = 0;
  std::vector<EpochMetrics> metrics;
};

void save_checkpoint(const std::string& path, const tg::nn::Module& model, const tg::optim::Optimizer& optimizer,
                     const Checkpoint& info);
// Loads into `model` (and `optimizer` when given); all or nothing.
Checkpoint load_checkpoint(const std::string& path, tg::nn::Module& model, tg::optim::Optimizer* optimizer);
std::string checkpoint_model_kind(const std::string& path);

}  // namespace fashion
