#include <tapegrad/checkpoint/checkpoint.h>

#include <cstdint>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tapegrad/core/random.h>
#include <tapegrad/nn/module.h>
#include <tapegrad/optim/lr_scheduler.h>
#include <tapegrad/optim/optimizer.h>

namespace tg {

using nlohmann::json;

namespace {

const char* const kFormat = "tapegrad-checkpoint";
const std::string kModel = "model.";
const std::string kOptimizer = "optimizer.";
const std::string kUser = "user.";

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The part of `map` under `prefix`, without it.
template <class Map>
Map strip(const Map& map, const std::string& prefix) {
  Map out;
  for (const auto& [key, value] : map)
    if (starts_with(key, prefix)) out.emplace(key.substr(prefix.size()), value);
  return out;
}

// The file's tensors checked against the module's state_dict: names, shapes
// and dtypes, the first problem named with the file and the key.
void check_module_state(const std::string& path, const std::string& prefix, const nn::StateDict& own,
                        const TensorMap& file) {
  for (const auto& [name, t] : own) {
    auto it = file.find(name);
    if (it == file.end())
      throw FormatError(fmt::format("checkpoint '{}': no tensor \"{}{}\" for the module's {} {}", path, prefix, name,
                                    dtype_name(t.dtype()), shape_str(t.sizes())));
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
      throw FormatError(fmt::format("checkpoint '{}': \"{}{}\" is {} {}, but the module's is {} {}", path, prefix, name,
                                    dtype_name(it->second.dtype()), shape_str(it->second.sizes()),
                                    dtype_name(t.dtype()), shape_str(t.sizes())));
  }
  for (const auto& [name, t] : file)
    if (!own.contains(name))
      throw FormatError(
          fmt::format("checkpoint '{}': \"{}{}\" ({}) is not in the module", path, prefix, name, shape_str(t.sizes())));
}

std::vector<std::uint64_t> parse_rng(const std::string& path, const std::string& text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<std::uint64_t> words;
  if (doc.is_array())
    for (const auto& w : doc) {
      if (!w.is_number_unsigned()) break;
      words.push_back(w.get<std::uint64_t>());
    }
  if (words.empty() || words.size() != doc.size())
    throw FormatError(fmt::format("checkpoint '{}': \"rng\" is not a list of state words", path));
  return words;
}

std::map<std::string, std::int64_t> parse_counters(const std::string& path, const std::string& text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw FormatError(fmt::format("checkpoint '{}': \"counters\" is not a JSON object", path));
  std::map<std::string, std::int64_t> out;
  for (const auto& [key, value] : doc.items()) {
    if (!value.is_number_integer())
      throw FormatError(fmt::format("checkpoint '{}': counter \"{}\" is not an integer", path, key));
    // JSON keeps integers up to 2^64 - 1 as unsigned; get<int64_t> would wrap them negative.
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t{INT64_MAX})
      throw FormatError(fmt::format("checkpoint '{}': counter \"{}\" ({}) does not fit in int64", path, key,
                                    value.get<std::uint64_t>()));
    out[key] = value.get<std::int64_t>();
  }
  return out;
}

const std::string& required(const std::string& path, const Metadata& metadata, const std::string& key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) throw FormatError(fmt::format("checkpoint '{}': no \"{}\" in the metadata", path, key));
  return it->second;
}

// Runs `load`, naming the file in any tg::Error it throws (same type).
template <class F>
void naming_file(const std::string& path, F&& load) {
  auto renamed = [&](const Error& e) { return fmt::format("checkpoint '{}': {}", path, e.what()); };
  try {
    load();
  } catch (const FormatError& e) {
    throw FormatError(renamed(e));
  } catch (const ShapeError& e) {
    throw ShapeError(renamed(e));
  } catch (const DTypeError& e) {
    throw DTypeError(renamed(e));
  } catch (const IndexError& e) {
    throw IndexError(renamed(e));
  } catch (const ValueError& e) {
    throw ValueError(renamed(e));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  detail::CurrentOpScope op("save_checkpoint");
  TensorMap tensors;
  Metadata metadata{{"format", kFormat}};
  if (c.model)
    for (const auto& [name, t] : c.model->state_dict()) tensors[kModel + name] = t;
  if (c.optimizer) {
    const auto state = c.optimizer->state_dict();
    for (const auto& [name, t] : state.tensors) tensors[kOptimizer + name] = t;
    for (const auto& [key, value] : state.metadata) metadata[kOptimizer + key] = value;
  }
  if (c.scheduler) metadata["scheduler"] = c.scheduler->state_dict();
  if (c.generator) metadata["rng"] = json(c.generator->state()).dump();
  try {
    metadata["counters"] = json(c.counters).dump();
  } catch (const json::type_error&) {  // a counter's name that is not UTF-8
    throw ValueError(fmt::format("save_checkpoint '{}': a counter's name is not valid UTF-8, which JSON requires: {}",
                                 path, json(c.counters).dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  for (const auto& [key, value] : c.metadata) metadata[kUser + key] = value;
  save(path, tensors, metadata);
}

void load_checkpoint(const std::string& path, Checkpoint& c) {
  const LoadedFile file = load_file(path);
  const Metadata& meta = file.metadata;
  auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormat)
    throw FormatError(
        fmt::format("checkpoint '{}': not a tapegrad checkpoint (no \"format\": \"{}\" metadata)", path, kFormat));
  for (const auto& [name, t] : file.tensors)
    if (!starts_with(name, kModel) && !starts_with(name, kOptimizer))
      throw FormatError(fmt::format("checkpoint '{}': unexpected tensor \"{}\"", path, name));

  // Everything that can be checked without changing anything.
  const TensorMap model_tensors = strip(file.tensors, kModel);
  if (c.model) check_module_state(path, kModel, c.model->state_dict(), model_tensors);
  optim::OptimizerState optimizer_state{strip(file.tensors, kOptimizer), strip(meta, kOptimizer)};
  if (c.optimizer && optimizer_state.metadata.empty())
    throw FormatError(fmt::format("checkpoint '{}': holds no optimizer state", path));
  const std::string scheduler_state = c.scheduler ? required(path, meta, "scheduler") : std::string();
  const std::vector<std::uint64_t> rng =
      c.generator ? parse_rng(path, required(path, meta, "rng")) : std::vector<std::uint64_t>{};
  if (c.generator) {
    Generator probe;
    // A state the generator refuses (all zero, wrong length) is a corrupt
    // file, as any other field that does not parse.
    try {
      probe.set_state(rng);
    } catch (const ValueError& e) {
      throw FormatError(fmt::format("checkpoint '{}': \"rng\" is not a generator state: {}", path, e.what()));
    }
  }
  const auto counters = parse_counters(path, required(path, meta, "counters"));
  Metadata user = strip(meta, kUser);

  // Then each part in turn; a failure puts back the parts already loaded.
  std::optional<optim::OptimizerState> old_optimizer;
  std::optional<std::string> old_scheduler;
  auto restore = [&] {
    if (old_optimizer) c.optimizer->load_state_dict(*old_optimizer);
    if (old_scheduler) c.scheduler->load_state_dict(*old_scheduler);
  };
  try {
    if (c.optimizer) {
      optim::OptimizerState previous = c.optimizer->state_dict();
      naming_file(path, [&] { c.optimizer->load_state_dict(optimizer_state); });
      old_optimizer = std::move(previous);
    }
    if (c.scheduler) {
      std::string previous = c.scheduler->state_dict();
      naming_file(path, [&] { c.scheduler->load_state_dict(scheduler_state); });
      old_scheduler = std::move(previous);
    }
    if (c.model)
      naming_file(path, [&] { c.model->load_state_dict(nn::StateDict(model_tensors.begin(), model_tensors.end())); });
  } catch (...) {
    restore();
    throw;
  }
  if (c.generator) c.generator->set_state(rng);
  c.counters = counters;
  c.metadata = std::move(user);
}

void save(const std::string& path, const nn::Module& module, const Metadata& metadata) {
  const nn::StateDict state = module.state_dict();
  save(path, TensorMap(state.begin(), state.end()), metadata);
}

nn::IncompatibleKeys load(const std::string& path, nn::Module& module, bool strict) {
  const TensorMap tensors = load(path);
  // Module::load_state_dict's rules, as safetensors.torch.load_model(model,
  // path, strict): names (if strict) and shapes, dtypes converted, an omitted
  // num_batches_tracked zeroed. A file that does not match the module is a
  // FormatError naming it.
  const auto mismatch = [&](const Error& e) { return FormatError(fmt::format("checkpoint '{}': {}", path, e.what())); };
  try {
    return module.load_state_dict(nn::StateDict(tensors.begin(), tensors.end()), strict);
  } catch (const ShapeError& e) {
    throw mismatch(e);
  } catch (const DTypeError& e) {
    throw mismatch(e);
  } catch (const ValueError& e) {
    throw mismatch(e);
  }
}

}  // namespace tg
