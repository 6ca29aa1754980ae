#include "train.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "progress.h"

namespace fashion {

namespace nn = tg::nn;

namespace {
// [N, 28, 28] -> [N, 1, 28, 28]: the channel dim the convolutions expect.
struct AddChannel : nn::Module {
  tg::Tensor forward(const tg::Tensor& x) override { return x.unsqueeze(1); }
  std::string type_name() const override { return "AddChannel"; }
};
}  // namespace

bool is_model_kind(std::string_view kind) { return kind == "mlp" || kind == "cnn"; }

std::shared_ptr<nn::Sequential> make_model(const std::string& kind) {
  if (!is_model_kind(kind)) throw tg::ValueError(fmt::format("unknown model '{}': use mlp or cnn", kind));
  if (kind == "mlp")
    return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 32), nn::ReLU(), nn::Linear(32, 64),
                                            nn::ReLU(), nn::Linear(64, 10));
  // "cnn": two conv-relu-pool blocks and a linear head: [N,1,28,28] -> [N,16,14,14]
  // -> [N,32,7,7] -> 10 logits.
  return std::make_shared<nn::Sequential>(AddChannel(), nn::Conv2d(1, 16, 3, {.padding = 1}), nn::ReLU(),
                                          nn::MaxPool2d(2), nn::Conv2d(16, 32, 3, {.padding = 1}), nn::ReLU(),
                                          nn::MaxPool2d(2), nn::Flatten(), nn::Linear(32 * 7 * 7, 10));
}

Evaluation evaluate(nn::Module& model, const tg::Tensor& images, const tg::Tensor& labels, std::size_t batch_size) {
  tg::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Evaluation result;
  result.confusion.assign(10, std::vector<long>(10, 0));
  const auto n = static_cast<std::size_t>(images.size(0));
  double loss_sum = 0;
  long correct = 0;
  for (std::size_t start = 0; start < n; start += batch_size) {
    const auto len = static_cast<std::int64_t>(std::min(batch_size, n - start));
    tg::Tensor x = images.narrow(0, static_cast<std::int64_t>(start), len);
    tg::Tensor y = labels.narrow(0, static_cast<std::int64_t>(start), len);
    tg::Tensor logits = model.forward(x);
    loss_sum += nn::functional::cross_entropy(logits, y, {.reduction = nn::Reduction::Sum}).item<double>();
    const auto predicted = logits.argmax(1).to_vector<std::int64_t>();
    const auto truth = y.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      correct += predicted[i] == truth[i];
      ++result.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(predicted[i])];
    }
  }
  result.loss_sum = loss_sum;
  result.correct = correct;
  result.count = n;
  result.loss = n ? loss_sum / static_cast<double>(n) : 0;
  result.accuracy = n ? static_cast<double>(correct) / static_cast<double>(n) : 0;
  model.train(was_training);
  return result;
}

namespace {

std::string data_dir_or_default(const std::string& dir) {
  return dir.empty() ? tg::data::default_fashion_mnist_dir() : dir;
}

// An output file of --profile or --graph, checked before any training (as
// --out is): the folder must exist and the path must not be a folder. They
// used to fail only when written, after the first steps or the whole run.
void check_output_file(const char* flag, const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error))
    throw tg::ValueError(fmt::format("{}: '{}' is a folder; give a file name", flag, path));
  const fs::path folder = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::is_directory(folder, error))
    throw tg::ValueError(fmt::format("{}: cannot write '{}': no folder '{}'", flag, path, folder.string()));
}

// uint8 images as the float32 pixels in [0, 1] the model takes, converted as
// the training batches are (TensorDataset's kToUnitFloat), all at once.
tg::Tensor unit_floats(const tg::Tensor& images) {
  const tg::data::TensorDataset set(images, tg::zeros({images.size(0)}, tg::kInt64),
                                    tg::data::InputTransform::kToUnitFloat);
  std::vector<std::size_t> all(set.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  return set.get_batch(all).input;
}

// The graph of one step, with the parameters' names; rendered to SVG when
// graphviz is installed.
void write_graph(const std::string& path, const tg::Tensor& loss, const nn::Module& model) {
  std::ofstream out(path);
  out << tg::autograd::to_dot(loss, model.named_parameters(), {.collapse_repeats = true});
  if (!out.flush()) throw tg::Error(fmt::format("--graph: cannot write \"{}\"", path));
  fmt::print("wrote the graph {}\n", path);
  if (std::system("command -v dot >/dev/null 2>&1") != 0) return;
  const std::string svg = std::filesystem::path(path).replace_extension(".svg").string();
  // Each path single-quoted for the shell, its own quotes as '\'' (a path
  // with a quote in it once ended the quoting: a broken command, or another).
  const auto quoted = [](const std::string& p) {
    std::string q = "'";
    for (char ch : p) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return q + "'";
  };
  const std::string cmd = fmt::format("dot -Tsvg {} -o {}", quoted(path), quoted(svg));
  if (std::system(cmd.c_str()) == 0) fmt::print("wrote the picture {}\n", svg);
}

}  // namespace

namespace detail {

std::string idx_file(const std::string& dir, const std::string& name) {
  const std::filesystem::path plain = std::filesystem::path(dir) / name;
  std::error_code ignored;
  if (!std::filesystem::exists(plain, ignored) && std::filesystem::exists(plain.string() + ".gz", ignored))
    return plain.string() + ".gz";
  return plain.string();
}

void check_not_empty(const tg::Tensor& images, const std::string& dir, const std::string& name, const char* use) {
  if (images.size(0) == 0)
    throw tg::ValueError(fmt::format("'{}' holds no images: nothing to {}", idx_file(dir, name), use));
}

}  // namespace detail

void check_config(const Config& config) {
  if (config.epochs < 0 || config.batch_size <= 0 || config.threads <= 0)
    throw tg::ValueError(fmt::format("invalid settings: epochs {}, batch size {}, threads {}", config.epochs,
                                     config.batch_size, config.threads));
  if (config.epochs > kMaxEpochs)
    throw tg::ValueError(fmt::format("--epochs must be at most {}, got {}", kMaxEpochs, config.epochs));
  // Before the data is read (make_model would refuse it only after that).
  if (!is_model_kind(config.model))
    throw tg::ValueError(fmt::format("unknown model '{}': use --model mlp or --model cnn", config.model));
  if (config.save_every < 0)
    throw tg::ValueError(fmt::format("--save-every must be at least 1, got {}", config.save_every));
  // Only train_distributed() saves within an epoch: refused, not ignored.
  if (config.save_every > 0 && !config.distributed)
    throw tg::ValueError("--save-every works with --distributed only (a single process saves at each epoch's end)");
  // A run that trains nothing still saves (a resumed one copies its
  // checkpoint to --out); from scratch that would overwrite a trained
  // checkpoint with freshly initialised weights, and an empty metrics.csv.
  if (config.epochs == 0 && config.resume.empty())
    throw tg::ValueError(
        "--epochs 0 without --resume trains nothing (and would overwrite the checkpoint in --out with untrained "
        "weights); to evaluate a checkpoint use --evaluate FILE");
  // train_distributed() has neither: refused rather than silently ignored.
  if (config.distributed && (!config.profile.empty() || !config.graph.empty()))
    throw tg::ValueError("--profile and --graph work in a single process only, not with --distributed");
}

void resume_learning_rate(const Config& config, tg::optim::Optimizer& optimizer, int checkpoint_epoch, bool say) {
  const double saved = optimizer.lr(0);
  if (config.epochs <= checkpoint_epoch) {
    if (say && config.lr_given)
      fmt::print("--lr {} not applied: nothing to train, the checkpoint keeps its learning rate {}\n", config.lr,
                 saved);
    return;
  }
  if (!config.lr_given) {
    if (say) fmt::print("learning rate {} from the checkpoint (--lr sets another)\n", saved);
    return;
  }
  for (std::size_t group = 0; group < optimizer.num_param_groups(); ++group) optimizer.set_lr(group, config.lr);
  if (say) fmt::print("learning rate {} (--lr), replacing the checkpoint's {}\n", config.lr, saved);
}

RunResult train(const Config& config) {
  check_config(config);
  // Before the data, so a bad --out fails at once, as a tg::Error.
  std::error_code error;
  std::filesystem::create_directories(config.out_dir, error);
  if (error) throw tg::Error(fmt::format("cannot create the output folder '{}': {}", config.out_dir, error.message()));
  check_output_file("--profile", config.profile);
  check_output_file("--graph", config.graph);
  tg::set_num_threads(config.threads);
  tg::manual_seed(config.seed);
  // The pixels stay bytes (47 MB instead of 188 MB as floats) and become
  // floats in [0, 1] as each batch is gathered; the same floats either way.
  const std::string data_dir = data_dir_or_default(config.data_dir);
  const auto data = tg::data::load_fashion_mnist(data_dir, tg::kUInt8);
  detail::check_not_empty(data.train_images, data_dir, "train-images-idx3-ubyte", "train on");
  detail::check_not_empty(data.test_images, data_dir, "t10k-images-idx3-ubyte", "evaluate on");
  tg::data::TensorDataset full_train(data.train_images, data.train_labels, tg::data::InputTransform::kToUnitFloat);
  const tg::Tensor test_images = unit_floats(data.test_images);
  const std::size_t n_train = config.train_limit ? std::min(config.train_limit, full_train.size()) : full_train.size();
  tg::data::DataLoader loader(
      full_train.narrow(0, n_train),
      {.batch_size = static_cast<std::size_t>(config.batch_size), .shuffle = true, .seed = config.seed});

  auto model = make_model(config.model);
  tg::optim::Adam optimizer(model->parameters(), {.lr = config.lr});
  Checkpoint state;
  state.model_kind = config.model;
  if (!config.resume.empty()) {
    // The kind first: loading a cnn checkpoint into the mlp fails on its
    // parameter names, a message that hides this plainer one.
    if (const std::string kind = checkpoint_model_kind(config.resume); kind != config.model)
      throw tg::ValueError(fmt::format("checkpoint '{}' holds a {} model, not {}", config.resume, kind, config.model));
    state = load_checkpoint(config.resume, *model, &optimizer);
    // A mid-epoch position is a position in one rank's share of a job of
    // world_size ranks; this run's single order would skip or repeat examples.
    if (state.mid_epoch())
      throw tg::ValueError(fmt::format(
          "world size mismatch on resume: checkpoint '{}' was saved in the middle of epoch {} by a job of {} ranks, "
          "but this run is a single process (1 rank); resume it with mpirun -np {} --distributed, or use a checkpoint "
          "saved at the end of an epoch",
          config.resume, state.epoch + 1, state.world_size, state.world_size));
    fmt::print("resumed from {} after epoch {}\n", config.resume, state.epoch);
    resume_learning_rate(config, optimizer, state.epoch);
    if (config.epochs <= state.epoch)
      fmt::print("nothing to train: --epochs {} and the checkpoint is at epoch {}; it is saved to {} unchanged\n",
                 config.epochs, state.epoch, config.out_dir);
  }
  loader.set_epoch(static_cast<std::uint64_t>(state.epoch));

  RunResult result;
  result.metrics = state.metrics;
  result.checkpoint_path = (std::filesystem::path(config.out_dir) / "checkpoint.safetensors").string();
  const bool interactive = config.progress && stdout_is_terminal();
  // --profile: the first steps are enough to see where a step's time goes.
  // The window is training steps only: it ends after kProfiledSteps steps or
  // with the first epoch's last step, whichever comes first, so the test-set
  // evaluation and the checkpoint writing after an epoch are never in it.
  constexpr std::size_t kProfiledSteps = 20;
  std::optional<tg::profiler::Profile> profile;
  std::size_t steps = 0;
  if (!config.profile.empty()) {
    if (state.epoch < config.epochs) profile.emplace();
    else fmt::print("--profile: no training step to profile, no trace written\n");
  }
  if (!config.graph.empty() && state.epoch >= config.epochs)
    fmt::print("--graph: no training step to draw, no graph written\n");
  auto finish_profile = [&] {
    if (!profile) return;
    profile->stop();
    if (steps == kProfiledSteps) fmt::print("profile of the first {} training steps:\n", steps);
    else fmt::print("profile of the first epoch's {} training steps (it has fewer than {}):\n", steps, kProfiledSteps);
    fmt::print("{}", profile->table(15));
    profile->export_chrome_trace(config.profile);
    fmt::print("wrote the Chrome trace {}\n", config.profile);
    profile.reset();
  };
  // Counted by the epochs done, so that no value of either bound makes the
  // counter overflow (epoch <= epochs with ++epoch never ends at int's limit).
  for (int done = state.epoch; done < config.epochs; ++done) {
    const int epoch = done + 1;
    const auto start = std::chrono::steady_clock::now();
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, config.epochs), loader.size(), interactive);
    model->train();
    double loss_sum = 0;
    std::size_t batches = 0, samples = 0;
    for (auto& batch : loader) {
      tg::Tensor logits = model->forward(batch.input);
      tg::Tensor loss = nn::functional::cross_entropy(logits, batch.target);
      if (steps == 0 && !config.graph.empty()) write_graph(config.graph, loss, *model);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
      samples += static_cast<std::size_t>(batch.input.size(0));
      if (config.progress) bar.update(batches, samples, loss_sum / static_cast<double>(batches));
      if (++steps == kProfiledSteps) finish_profile();
    }
    if (config.progress) bar.finish();
    finish_profile();  // a first epoch shorter than kProfiledSteps: before its evaluation
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Evaluation test = evaluate(*model, test_images, data.test_labels);
    EpochMetrics m{epoch, batches ? loss_sum / static_cast<double>(batches) : 0, test.loss, test.accuracy, seconds};
    result.metrics.push_back(m);
    fmt::print("epoch {:>2}: train loss {:.4f}  test loss {:.4f}  test accuracy {:.2f}%  ({:.1f}s, {:.0f} samples/s)\n",
               epoch, m.train_loss, m.test_loss, 100 * m.test_accuracy, seconds,
               seconds > 0 ? static_cast<double>(samples) / seconds : 0);
    std::fflush(stdout);
    save_checkpoint(result.checkpoint_path, *model, optimizer, epoch_end(config.model, epoch, result.metrics));
  }
  if (config.epochs <= state.epoch)
    save_checkpoint(result.checkpoint_path, *model, optimizer, epoch_end(config.model, state.epoch, result.metrics));
  const auto out = std::filesystem::path(config.out_dir);
  write_metrics_csv((out / "metrics.csv").string(), result.metrics);
  write_curves_svg((out / "curves.svg").string(), result.metrics);
  return result;
}

Evaluation evaluate_checkpoint(const std::string& checkpoint, const std::string& data_dir) {
  const std::string kind = checkpoint_model_kind(checkpoint);
  // make_model's own message names neither the file nor where the kind came from.
  if (!is_model_kind(kind))
    throw tg::FormatError(
        fmt::format("'{}': unknown model kind '{}' (this example makes mlp or cnn)", checkpoint, kind));
  auto model = make_model(kind);
  load_checkpoint(checkpoint, *model, nullptr);
  const std::string dir = data_dir_or_default(data_dir);
  const auto data = tg::data::load_fashion_mnist(dir, tg::kUInt8);
  detail::check_not_empty(data.test_images, dir, "t10k-images-idx3-ubyte", "evaluate on");
  return evaluate(*model, unit_floats(data.test_images), data.test_labels);
}

}  // namespace fashion
