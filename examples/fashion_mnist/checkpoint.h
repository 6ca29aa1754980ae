#pragma once
// The example's checkpoint: model and optimizer state plus the run's history
// (model kind, epochs done, per-epoch metrics) in one safetensors file, and
// the number of ranks that wrote it. A --distributed run can also save in the
// middle of an epoch (--save-every): then the checkpoint holds the sampler's
// position, which only a job of the same world size can resume.
#include <map>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

#include "report.h"

namespace fashion {

// The most epochs a run trains, and so the largest epoch a checkpoint may
// record: no run gets near it (a million passes over the data), and epoch + 1
// stays far from int's limit (a checkpoint claiming epoch 2147483647 made the
// epoch loop overflow and run forever).
constexpr int kMaxEpochs = 1000000;

struct Checkpoint {
  std::string model_kind;
  int epoch = 0;
  std::vector<EpochMetrics> metrics;
  int world_size = 1;  // the job that wrote it (1: single process)
  // Mid-epoch only: the DistributedSampler's state_dict() and the running
  // training loss of the unfinished epoch, summed over its steps on all ranks.
  std::map<std::string, std::string> sampler{};
  double epoch_loss_sum = 0;
  long epoch_batches = 0;
  bool mid_epoch() const;
};

// What a checkpoint at the end of `epoch` holds, for a job of `world_size` ranks.
Checkpoint epoch_end(const std::string& model_kind, int epoch, const std::vector<EpochMetrics>& metrics,
                     int world_size = 1);

void save_checkpoint(const std::string& path, const tg::nn::Module& model, const tg::optim::Optimizer& optimizer,
                     const Checkpoint& info);
// Loads into `model` (and `optimizer` when given) and sets the default
// generator's state; all or nothing. A tg::FormatError naming `path` for a
// file this example did not write, or metadata it cannot use (an epoch past
// kMaxEpochs, a generator state that is not a list of numbers).
Checkpoint load_checkpoint(const std::string& path, tg::nn::Module& model, tg::optim::Optimizer* optimizer);
std::string checkpoint_model_kind(const std::string& path);

}  // namespace fashion
