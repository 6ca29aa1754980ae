#include "checkpoint.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

namespace fashion {

namespace {

constexpr std::string_view kModelPrefix = "model.";
constexpr std::string_view kOptimizerPrefix = "optimizer.";
constexpr std::string_view kSamplerPrefix = "sampler.";

std::string encode_metrics(const std::vector<EpochMetrics>& metrics) {
  std::string s;
  for (const auto& m : metrics)
    s += fmt::format("{} {:.17g} {:.17g} {:.17g} {:.17g};", m.epoch, m.train_loss, m.test_loss, m.test_accuracy,
                     m.seconds);
  return s;
}

std::vector<EpochMetrics> decode_metrics(const std::string& path, const std::string& text) {
  std::vector<EpochMetrics> out;
  std::istringstream rows(text);
  std::string row;
  while (std::getline(rows, row, ';')) {
    if (row.empty()) continue;
    std::istringstream fields(row);
    EpochMetrics m;
    if (!(fields >> m.epoch >> m.train_loss >> m.test_loss >> m.test_accuracy >> m.seconds))
      throw tg::FormatError(fmt::format("'{}': malformed metrics entry '{}'", path, row));
    out.push_back(m);
  }
  return out;
}

const std::string& required(const std::string& path, const tg::Metadata& metadata, const std::string& key) {
  auto it = metadata.find(key);
  if (it == metadata.end())
    throw tg::FormatError(fmt::format("'{}': not a fashion_mnist checkpoint (no '{}')", path, key));
  return it->second;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

int parse_count(const std::string& path, const std::string& key, const std::string& text) {
  int value = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc() || value < 0)
    throw tg::FormatError(fmt::format("'{}': bad {} '{}'", path, key, text));
  return value;
}

}  // namespace

bool Checkpoint::mid_epoch() const {
  auto it = sampler.find("position");
  return it != sampler.end() && it->second != "0";
}

Checkpoint epoch_end(const std::string& model_kind, int epoch, const std::vector<EpochMetrics>& metrics,
                     int world_size) {
  Checkpoint info;
  info.model_kind = model_kind;
  info.epoch = epoch;
  info.metrics = metrics;
  info.world_size = world_size;
  return info;
}

void save_checkpoint(const std::string& path, const tg::nn::Module& model, const tg::optim::Optimizer& optimizer,
                     const Checkpoint& info) {
  tg::TensorMap tensors;
  tg::Metadata metadata;
  for (const auto& [name, t] : model.state_dict()) tensors.emplace(std::string(kModelPrefix) + name, t);
  const auto opt = optimizer.state_dict();
  for (const auto& [name, t] : opt.tensors) tensors.emplace(std::string(kOptimizerPrefix) + name, t);
  for (const auto& [key, value] : opt.metadata) metadata.emplace(std::string(kOptimizerPrefix) + key, value);
  metadata["model_kind"] = info.model_kind;
  metadata["epoch"] = std::to_string(info.epoch);
  metadata["metrics"] = encode_metrics(info.metrics);
  metadata["rng"] = fmt::format("{}", fmt::join(tg::default_generator().state(), " "));
  metadata["world_size"] = std::to_string(info.world_size);
  for (const auto& [key, value] : info.sampler) metadata.emplace(std::string(kSamplerPrefix) + key, value);
  if (info.mid_epoch()) {
    metadata["epoch_loss_sum"] = fmt::format("{:.17g}", info.epoch_loss_sum);
    metadata["epoch_batches"] = std::to_string(info.epoch_batches);
  }
  tg::save(path, tensors, metadata);
}

std::string checkpoint_model_kind(const std::string& path) {
  return required(path, tg::load_file(path).metadata, "model_kind");
}

Checkpoint load_checkpoint(const std::string& path, tg::nn::Module& model, tg::optim::Optimizer* optimizer) {
  const auto file = tg::load_file(path);
  Checkpoint info;
  info.model_kind = required(path, file.metadata, "model_kind");
  const std::string& epoch = required(path, file.metadata, "epoch");
  if (std::from_chars(epoch.data(), epoch.data() + epoch.size(), info.epoch).ec != std::errc() || info.epoch < 0)
    throw tg::FormatError(fmt::format("'{}': bad epoch '{}'", path, epoch));
  if (info.epoch > kMaxEpochs)
    throw tg::FormatError(
        fmt::format("'{}': epoch {} is past the {} epochs any run trains: not a checkpoint of this example", path,
                    info.epoch, kMaxEpochs));
  info.metrics = decode_metrics(path, required(path, file.metadata, "metrics"));
  // Checkpoints from before the world size was recorded are single-process ones.
  if (auto it = file.metadata.find("world_size"); it != file.metadata.end())
    info.world_size = parse_count(path, "world_size", it->second);
  for (const auto& [key, value] : file.metadata)
    if (starts_with(key, kSamplerPrefix)) info.sampler.emplace(key.substr(kSamplerPrefix.size()), value);
  if (info.mid_epoch()) {
    info.epoch_loss_sum = std::strtod(required(path, file.metadata, "epoch_loss_sum").c_str(), nullptr);
    info.epoch_batches = parse_count(path, "epoch_batches", required(path, file.metadata, "epoch_batches"));
  }
  // Every word a number, and at least one: a state that stopped parsing at
  // its first bad word ("abc") used to be skipped without a word, the run
  // going on with another random stream than the one saved.
  std::vector<std::uint64_t> rng;
  {
    const std::string& text = required(path, file.metadata, "rng");
    std::istringstream words(text);
    std::uint64_t w;
    while (words >> w) rng.push_back(w);
    if (rng.empty() || !words.eof())
      throw tg::FormatError(fmt::format("'{}': bad rng state '{}' (expected the generator's numbers)", path, text));
    // Tried on a generator of its own first: refused (the wrong number of
    // words, all zero) before the model or the optimizer has changed.
    try {
      tg::Generator(0).set_state(rng);
    } catch (const tg::Error& e) {
      throw tg::FormatError(fmt::format("'{}': bad rng state: {}", path, e.what()));
    }
  }

  tg::nn::StateDict model_state;
  tg::optim::OptimizerState optimizer_state;
  for (const auto& [name, t] : file.tensors) {
    if (starts_with(name, kModelPrefix)) model_state.emplace(name.substr(kModelPrefix.size()), t);
    else if (starts_with(name, kOptimizerPrefix))
      optimizer_state.tensors.emplace(name.substr(kOptimizerPrefix.size()), t);
    else throw tg::FormatError(fmt::format("'{}': unexpected tensor '{}'", path, name));
  }
  for (const auto& [key, value] : file.metadata)
    if (starts_with(key, kOptimizerPrefix))
      optimizer_state.metadata.emplace(key.substr(kOptimizerPrefix.size()), value);

  // All or nothing: keep the model's current values to put back if the
  // optimizer part turns out not to fit.
  tg::nn::StateDict before;
  for (const auto& [name, t] : model.state_dict()) before.emplace(name, t.clone());
  try {
    model.load_state_dict(model_state);
    if (optimizer) optimizer->load_state_dict(optimizer_state);
    tg::default_generator().set_state(rng);
  } catch (const tg::Error& e) {
    model.load_state_dict(before);
    throw tg::FormatError(fmt::format("'{}': {}", path, e.what()));
  }
  return info;
}

}  // namespace fashion
