// Fashion-MNIST: trains the seed model (or a small CNN) and writes a
// checkpoint, a metrics CSV and the training curves; --evaluate reports a
// checkpoint's test accuracy and confusion matrix.
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "cli.h"
#include "train.h"

#ifdef TAPEGRAD_EXAMPLE_MPI
#include <tapegrad/distributed/distributed.h>
#endif

namespace {

constexpr const char* kUsage = R"(usage: fashion_mnist [options]
  --epochs N        train up to epoch N (10; at most 1000000); with --resume the checkpoint's epochs
                    count, and one already at N or past it is saved to --out unchanged; 0 needs
                    --resume (from scratch it would only overwrite --out's checkpoint with untrained
                    weights)
  --batch-size N    batch size (32)
  --lr X            Adam learning rate (0.001); with --resume the checkpoint's learning rate is kept
                    unless --lr is given, which then replaces it (as setting the param_groups' lr
                    after load_state_dict in PyTorch)
  --model mlp|cnn   784-32-64-10 MLP (default) or two conv blocks + linear head
  --threads N       threads for kernels and BLAS (1)
  --seed N          seed for initialisation, shuffling and dropout (0)
  --out DIR         where the checkpoint, metrics.csv and curves.svg go (runs/fashion_mnist)
  --resume FILE     continue training from a checkpoint
  --data DIR        folder with the IDX files (Debian's dataset-fashion-mnist by default)
  --limit N         train on the first N training images only
  --no-progress     no progress bar, only the per-epoch lines
  --evaluate FILE   evaluate a checkpoint on the test set and print the confusion matrix
  --distributed     data-parallel over the ranks of an MPI job: mpirun -np 2 fashion_mnist --distributed
                    (--batch-size is the global batch, split over the ranks; rank 0 writes the outputs)
  --save-every N    with --distributed only: also write the checkpoint every N steps within an epoch
                    (resumable mid-epoch only with the same number of ranks)
  --profile FILE    profile the first 20 training steps (all of the first epoch's when it has fewer;
                    never the evaluation): print the op table, write a Chrome trace (open it in
                    https://ui.perfetto.dev); its folder must exist; not with --distributed
  --graph FILE.dot  write the first step's autograd graph as Graphviz DOT (and FILE.svg when
                    graphviz's dot is installed); its folder must exist; not with --distributed
)";

using examples::parse_double;
using examples::parse_int;
constexpr long kIntMax = std::numeric_limits<int>::max();

}  // namespace

int main(int argc, char** argv) {
  fashion::Config config;
  std::string evaluate;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        fmt::print("{}", kUsage);
        return 0;
      }
      if (flag == "--no-progress") {
        config.progress = false;
        continue;
      }
      if (flag == "--distributed") {
#ifdef TAPEGRAD_EXAMPLE_MPI
        config.distributed = true;
        tg::distributed::init();
        continue;
#else
        throw tg::ValueError("--distributed: this build has no MPI (configure with -DTAPEGRAD_WITH_MPI=ON)");
#endif
      }
      if (i + 1 >= argc) throw examples::missing_value(flag, kUsage);
      const std::string value = argv[++i];
      if (flag == "--epochs") config.epochs = static_cast<int>(parse_int(flag, value, 0, fashion::kMaxEpochs));
      else if (flag == "--batch-size") config.batch_size = static_cast<int>(parse_int(flag, value, 1, kIntMax));
      else if (flag == "--lr") {
        config.lr = parse_double(flag, value);
        config.lr_given = true;
      } else if (flag == "--model") config.model = value;
      else if (flag == "--threads") config.threads = examples::parse_threads(flag, value);
      else if (flag == "--seed") config.seed = static_cast<std::uint64_t>(parse_int(flag, value));
      else if (flag == "--out") config.out_dir = value;
      else if (flag == "--resume") config.resume = value;
      else if (flag == "--data") config.data_dir = value;
      else if (flag == "--limit") config.train_limit = static_cast<std::size_t>(parse_int(flag, value, 1));
      else if (flag == "--evaluate") evaluate = value;
      else if (flag == "--profile") config.profile = value;
      else if (flag == "--graph") config.graph = value;
      else if (flag == "--save-every") config.save_every = static_cast<int>(parse_int(flag, value, 1, kIntMax));
      else throw tg::ValueError(fmt::format("unknown option '{}'\n{}", flag, kUsage));
    }
    if (!evaluate.empty()) {
      const auto result = fashion::evaluate_checkpoint(evaluate, config.data_dir);
      fmt::print("{}: test loss {:.4f}, test accuracy {:.2f}%\n\n{}", evaluate, result.loss, 100 * result.accuracy,
                 fashion::format_confusion_matrix(result.confusion));
      return 0;
    }
    // A resumed run's learning rate is the checkpoint's unless --lr is given
    // (training says which once it has read the checkpoint).
    const std::string lr =
        !config.resume.empty() && !config.lr_given ? "from the checkpoint" : fmt::format("{}", config.lr);
#ifdef TAPEGRAD_EXAMPLE_MPI
    if (config.distributed) {
      if (tg::distributed::rank() == 0)
        fmt::print(
            "Fashion-MNIST, {} model, {} epochs, global batch {} over {} ranks, Adam lr {}, {} thread(s) each, "
            "seed {}\n",
            config.model, config.epochs, config.batch_size, tg::distributed::world_size(), lr, config.threads,
            config.seed);
      const auto run = fashion::train_distributed(config);
      if (tg::distributed::rank() == 0)
        fmt::print("wrote {}, {}/metrics.csv and {}/curves.svg\n", run.checkpoint_path, config.out_dir, config.out_dir);
      return 0;
    }
#endif
    fmt::print("Fashion-MNIST, {} model, {} epochs, batch {}, Adam lr {}, {} thread(s), seed {}\n", config.model,
               config.epochs, config.batch_size, lr, config.threads, config.seed);
    const auto run = fashion::train(config);
    fmt::print("wrote {}, {}/metrics.csv and {}/curves.svg\n", run.checkpoint_path, config.out_dir, config.out_dir);
  } catch (const std::exception& e) {  // tg::Error, and whatever the standard library throws
#ifdef TAPEGRAD_EXAMPLE_MPI
    // Returning on one rank would leave the others blocked in a collective.
    if (config.distributed) tg::distributed::abort(fmt::format("fashion_mnist: {}", e.what()));
#endif
    fmt::print(stderr, "fashion_mnist: {}\n", e.what());
    return 1;
  }
  return 0;
}
