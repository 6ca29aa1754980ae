#pragma once
// The flagship run: the seed model (784 -> 32 ReLU -> 64 ReLU -> 10) or a
// small CNN, softmax cross-entropy, Adam, on Fashion-MNIST.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/tapegrad.h>

#include "checkpoint.h"
#include "report.h"

namespace fashion {

struct Config {
  int epochs = 10;
  int batch_size = 32;
  double lr = 1e-3;
  std::string model{"mlp"};  // "mlp" or "cnn"
  int threads = 1;
  std::uint64_t seed = 0;
  std::string out_dir{"runs/fashion_mnist"};
  std::string resume{};         // checkpoint to continue from
  std::string data_dir{};       // empty: Debian's dataset-fashion-mnist location
  std::size_t train_limit = 0;  // 0: all 60,000 training images
  bool progress = true;
  bool distributed = false;  // data-parallel under mpirun (train_distributed)
  int save_every = 0;        // --distributed: also checkpoint every N steps within an epoch
  std::string profile{};     // Chrome trace of the first training steps goes here
  std::string graph{};       // Graphviz DOT of the first step's graph goes here
  // lr was given (--lr): with resume, it replaces the checkpoint's learning
  // rate; otherwise a resumed run keeps the checkpoint's, as PyTorch's
  // optimizer.load_state_dict does.
  bool lr_given = false;
};

// "mlp" or "cnn": the kinds make_model makes.
bool is_model_kind(std::string_view kind);
// Both models take images [N, 28, 28] scaled to [0, 1] and give logits [N, 10].
std::shared_ptr<tg::nn::Sequential> make_model(const std::string& kind);

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  // The sums behind loss and accuracy (a distributed evaluation adds them up over the ranks).
  double loss_sum = 0;
  long correct = 0;
  std::size_t count = 0;
  std::vector<std::vector<long>> confusion;  // [true][predicted]
};
Evaluation evaluate(tg::nn::Module& model, const tg::Tensor& images, const tg::Tensor& labels,
                    std::size_t batch_size = 1000);

struct RunResult {
  std::vector<EpochMetrics> metrics;
  std::string checkpoint_path;
};
// Throws tg::ValueError for settings no run can use: an epoch count below 0
// or past kMaxEpochs, a batch size or thread count below 1, a model other
// than mlp or cnn, --epochs 0 without --resume (nothing to train, and saving
// would replace the checkpoint in out_dir with untrained weights), --profile
// or --graph with --distributed, and --save-every without it (either would
// be ignored). train() and train_distributed() call it first.
void check_config(const Config& config);
// After a resume from a checkpoint at `checkpoint_epoch`: the learning rate
// the run goes on with, said on stdout when `say`. With config.lr_given,
// config.lr replaces the checkpoint's in every parameter group (PyTorch:
// setting param_groups' lr after load_state_dict); otherwise the checkpoint's
// stays. A run with nothing to train (config.epochs <= checkpoint_epoch)
// saves the checkpoint unchanged: its lr stays, and a given --lr is said to
// be unused.
void resume_learning_rate(const Config& config, tg::optim::Optimizer& optimizer, int checkpoint_epoch, bool say = true);
// Trains, printing progress and a line per epoch; writes the checkpoint, the
// metrics CSV and the curves SVG into config.out_dir.
RunResult train(const Config& config);
#ifdef TAPEGRAD_EXAMPLE_MPI
// The same, data-parallel over an MPI job's ranks (train_distributed.cpp).
RunResult train_distributed(const Config& config);
#endif

// Loads a checkpoint written by train() and evaluates it on the test set.
Evaluation evaluate_checkpoint(const std::string& checkpoint, const std::string& data_dir);

namespace detail {
// The IDX file `name` of `dir` as the loader found it, plain or gzipped.
std::string idx_file(const std::string& dir, const std::string& name);
// A tg::ValueError naming the IDX file `name` of `dir` when `images` is empty:
// there is nothing to `use` (an empty set trained nothing, or measured 0% on
// nothing, and the run exited 0 as if it had worked).
void check_not_empty(const tg::Tensor& images, const std::string& dir, const std::string& name, const char* use);
}  // namespace detail

}  // namespace fashion
