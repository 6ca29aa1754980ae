// --distributed: the same training, data-parallel over the ranks of an MPI
// job (mpirun -np 2 build/examples/fashion_mnist --distributed). The global
// batch is --batch-size, split evenly over the ranks, so a run with p ranks
// follows the single-process run with the same batch (up to the order of the
// examples). Every rank evaluates its own share of the test set and the sums
// are all-reduced; rank 0 prints and writes every output file. The checkpoint
// holds the plain model, loadable by any number of ranks; one saved within an
// epoch (--save-every) resumes only with the same number.
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include <tapegrad/distributed/ddp.h>
#include <tapegrad/distributed/distributed.h>
#include <tapegrad/distributed/sampler.h>

#include "progress.h"
#include "train.h"

namespace fashion {

namespace dist = tg::distributed;
namespace nn = tg::nn;

namespace {

// The test set's metrics from every rank's disjoint share (no padding: each
// image counts once), summed over the ranks: the single-process numbers.
Evaluation evaluate_distributed(nn::Module& model, const tg::data::TensorDataset& test_set) {
  dist::DistributedSampler shard(test_set.size(), {.shuffle = false, .pad = false});
  const auto mine = shard.indices();
  Evaluation local;
  local.confusion.assign(10, std::vector<long>(10, 0));
  if (!mine.empty()) {
    const tg::data::Batch batch = test_set.get_batch(mine);
    local = evaluate(model, batch.input, batch.target);
  }
  std::vector<double> sums{local.loss_sum, static_cast<double>(local.correct), static_cast<double>(local.count)};
  for (const auto& row : local.confusion)
    for (long cell : row) sums.push_back(static_cast<double>(cell));
  const auto total = dist::all_reduce_values(sums);
  Evaluation out;
  out.loss_sum = total[0];
  out.correct = static_cast<long>(total[1]);
  out.count = static_cast<std::size_t>(total[2]);
  out.loss = out.count ? out.loss_sum / total[2] : 0;
  out.accuracy = out.count ? total[1] / total[2] : 0;
  out.confusion.assign(10, std::vector<long>(10, 0));
  for (std::size_t i = 0; i < 100; ++i) out.confusion[i / 10][i % 10] = static_cast<long>(total[3 + i]);
  return out;
}

}  // namespace

RunResult train_distributed(const Config& config) {
  dist::init();
  const int world = dist::world_size();
  const bool root = dist::rank() == 0;
  check_config(config);
  if (config.batch_size % world != 0)
    throw tg::ValueError(fmt::format("--batch-size {} does not split evenly over {} ranks", config.batch_size, world));
  const auto local_batch = static_cast<std::size_t>(config.batch_size / world);
  if (root) {
    std::error_code error;
    std::filesystem::create_directories(config.out_dir, error);
    if (error)
      throw tg::Error(fmt::format("cannot create the output folder '{}': {}", config.out_dir, error.message()));
  }
  tg::set_num_threads(config.threads);
  tg::manual_seed(config.seed);
  // Bytes until batched (train.cpp says why).
  constexpr auto kToUnitFloat = tg::data::InputTransform::kToUnitFloat;
  const std::string data_dir = config.data_dir.empty() ? tg::data::default_fashion_mnist_dir() : config.data_dir;
  const auto data = tg::data::load_fashion_mnist(data_dir, tg::kUInt8);
  // Every rank reads the same files, so every rank refuses alike.
  detail::check_not_empty(data.train_images, data_dir, "train-images-idx3-ubyte", "train on");
  detail::check_not_empty(data.test_images, data_dir, "t10k-images-idx3-ubyte", "evaluate on");
  tg::data::TensorDataset full_train(data.train_images, data.train_labels, kToUnitFloat);
  const std::size_t n_train = config.train_limit ? std::min(config.train_limit, full_train.size()) : full_train.size();
  const tg::data::TensorDataset train_set = full_train.narrow(0, n_train);

  auto model = make_model(config.model);
  tg::optim::Adam optimizer(model->parameters(), {.lr = config.lr});
  Checkpoint state = epoch_end(config.model, 0, {}, world);
  if (!config.resume.empty()) {
    // Every rank reads it: the optimizer's state must match everywhere.
    // The kind first: loading a cnn checkpoint into the mlp fails on its
    // parameter names, a message that hides this plainer one.
    if (const std::string kind = checkpoint_model_kind(config.resume); kind != config.model)
      throw tg::ValueError(fmt::format("checkpoint '{}' holds a {} model, not {}", config.resume, kind, config.model));
    state = load_checkpoint(config.resume, *model, &optimizer);
  }
  dist::DistributedDataParallel ddp(model);
  dist::DistributedSampler sampler(n_train, {.seed = config.seed});
  // Where the sampler stood. Mid-epoch, its position is in one rank's share
  // of a job of the writer's size: another world size is an error here, at
  // once, naming both sizes. At an epoch's end any world size goes on.
  if (!state.sampler.empty()) sampler.load_state_dict(state.sampler);
  const bool resume_mid_epoch = state.mid_epoch();
  if (root && !config.resume.empty())
    fmt::print("resumed from {} ({} ranks) after epoch {}{}\n", config.resume, state.world_size, state.epoch,
               resume_mid_epoch ? fmt::format(" and {} steps of epoch {}",
                                              state.epoch_batches / std::max(state.world_size, 1), state.epoch + 1)
                                : "");
  if (!config.resume.empty()) resume_learning_rate(config, optimizer, state.epoch, root);
  const tg::data::TensorDataset test_set(data.test_images, data.test_labels, kToUnitFloat);

  RunResult result;
  result.metrics = state.metrics;
  result.checkpoint_path = (std::filesystem::path(config.out_dir) / "checkpoint.safetensors").string();
  const std::size_t steps = (sampler.size() + local_batch - 1) / local_batch;
  // Counted by the epochs done: no bound makes the counter overflow (train.cpp).
  for (int done_epochs = state.epoch; done_epochs < config.epochs; ++done_epochs) {
    const int epoch = done_epochs + 1;
    const auto start = std::chrono::steady_clock::now();
    // Resuming mid-epoch: the restored sampler starts at its position, and
    // rank 0 carries the steps already done (summed over all ranks).
    const bool continued = resume_mid_epoch && epoch == state.epoch + 1;
    if (!continued) sampler.set_epoch(static_cast<std::uint64_t>(epoch - 1));
    const auto mine = sampler.indices();
    std::size_t done = sampler.position();
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, config.epochs), steps,
                    root && config.progress && stdout_is_terminal());
    ddp.train();
    double loss_sum = continued && root ? state.epoch_loss_sum : 0;
    std::size_t batches = continued && root ? static_cast<std::size_t>(state.epoch_batches) : 0, samples = 0;
    for (std::size_t s = 0; s < mine.size(); s += local_batch) {
      const std::size_t len = std::min(local_batch, mine.size() - s);
      tg::data::Batch batch = train_set.get_batch(std::span<const std::size_t>(mine.data() + s, len));
      tg::Tensor loss = nn::functional::cross_entropy(ddp(batch.input), batch.target);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
      samples += len;
      done += len;
      if (root && config.progress)
        bar.update(batches, samples * static_cast<std::size_t>(world), loss_sum / static_cast<double>(batches));
      // Every rank decides alike (the same position): the running loss is a collective.
      if (config.save_every > 0 && (done / local_batch) % static_cast<std::size_t>(config.save_every) == 0 &&
          done < sampler.size()) {
        sampler.set_position(done);
        const auto so_far = dist::all_reduce_values({loss_sum, static_cast<double>(batches)});
        if (root) {
          Checkpoint mid = epoch_end(config.model, epoch - 1, result.metrics, world);
          mid.sampler = sampler.state_dict();
          mid.epoch_loss_sum = so_far[0];
          mid.epoch_batches = static_cast<long>(so_far[1]);
          save_checkpoint(result.checkpoint_path, *model, optimizer, mid);
        }
      }
    }
    if (root && config.progress) bar.finish();
    // The mean training loss over every rank's batches.
    tg::Tensor totals = tg::tensor({loss_sum, static_cast<double>(batches)}, {}, {.dtype = tg::kFloat64});
    dist::all_reduce(totals);
    const auto t = totals.to_vector<double>();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Evaluation test = evaluate_distributed(*model, test_set);
    if (!root) continue;
    EpochMetrics m{epoch, t[1] > 0 ? t[0] / t[1] : 0, test.loss, test.accuracy, seconds};
    result.metrics.push_back(m);
    fmt::print(
        "epoch {:>2}: train loss {:.4f}  test loss {:.4f}  test accuracy {:.2f}%  ({:.1f}s, {:.0f} samples/s, {} "
        "ranks)\n",
        epoch, m.train_loss, m.test_loss, 100 * m.test_accuracy, seconds,
        seconds > 0 ? static_cast<double>(samples * static_cast<std::size_t>(world)) / seconds : 0, world);
    std::fflush(stdout);
    // The sampler at the start of the next epoch: any world size resumes there.
    sampler.set_epoch(static_cast<std::uint64_t>(epoch));
    Checkpoint done_epoch = epoch_end(config.model, epoch, result.metrics, world);
    done_epoch.sampler = sampler.state_dict();
    save_checkpoint(result.checkpoint_path, *model, optimizer, done_epoch);
  }
  if (root) {
    if (config.epochs <= state.epoch) save_checkpoint(result.checkpoint_path, *model, optimizer, state);
    const auto out = std::filesystem::path(config.out_dir);
    write_metrics_csv((out / "metrics.csv").string(), result.metrics);
    write_curves_svg((out / "curves.svg").string(), result.metrics);
  }
  // No rank leaves while rank 0 still writes (it might yet fail).
  dist::barrier();
  return result;
}

}  // namespace fashion
