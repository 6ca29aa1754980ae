#pragma once
/// @file
/// Training checkpoints: a model's state_dict, an optimizer's state, a
/// scheduler's state, a random generator's state and counters, in ONE
/// safetensors file written atomically (io/safetensors.h), so a run can stop
/// and resume exactly. io/ knows tensors only; this layer, above nn/ and
/// optim/, turns their state into tensor maps and metadata:
///
/// @code
/// tg::Checkpoint out{.model = &model, .optimizer = &opt, .scheduler = &sched,
///                    .generator = &tg::default_generator(), .counters = {{"step", step}}};
/// tg::save_checkpoint("run.safetensors", out);
/// ...
/// tg::Checkpoint in{.model = &model, .optimizer = &opt, .scheduler = &sched,
///                   .generator = &tg::default_generator()};
/// tg::load_checkpoint("run.safetensors", in);
/// step = in.counters.at("step");
/// @endcode
///
/// Layout: tensors "model.<name>" (the state_dict) and "optimizer.<name>";
/// metadata "optimizer.<key>", "scheduler" (JSON), "rng" (JSON list of the
/// generator's state words), "counters" (JSON object of integers),
/// "user.<key>" (Checkpoint::metadata) and "format" = "tapegrad-checkpoint".
/// Files load in Python's safetensors like any other.
#include <cstdint>
#include <map>
#include <string>

#include <tapegrad/io/safetensors.h>
#include <tapegrad/nn/module.h>  // tg::load returns nn::IncompatibleKeys

namespace tg {

class Generator;
namespace optim {
class Optimizer;
class Scheduler;
}  // namespace optim

/// The parts of a training run to save or restore; null parts are skipped.
struct Checkpoint {
  nn::Module* model = nullptr;                     ///< its state_dict(): parameters and buffers
  optim::Optimizer* optimizer = nullptr;           ///< its state_dict(): options and per-parameter state
  optim::Scheduler* scheduler = nullptr;           ///< its state (epoch, learning rates)
  Generator* generator = nullptr;                  ///< e.g. &tg::default_generator()
  std::map<std::string, std::int64_t> counters{};  ///< epoch, step, ...: saved, and replaced on load
  Metadata metadata{};                             ///< free text: saved, and replaced on load
};

/// Saves every non-null part of `checkpoint` and its counters and metadata,
/// atomically (a crash leaves the old file or the new one).
/// @throws tg::Error naming the path on an I/O failure.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

/// Loads a file written by save_checkpoint into the non-null parts of
/// `checkpoint` (every one of them must be in the file) and replaces its
/// counters and metadata with the file's. All or nothing: the whole file is
/// checked against the model (names, shapes), the optimizer, the scheduler and
/// the generator before anything changes, and a failure part-way restores what
/// was already loaded. Errors are tg::FormatError naming the file and the key
/// (a file that is not a checkpoint, a missing or unexpected tensor, a shape
/// that does not match the model) or the error of the part that refused its
/// state, prefixed with the file's name.
/// @throws tg::FormatError, or the error of the part that refused its state, as above.
void load_checkpoint(const std::string& path, Checkpoint& checkpoint);

/// A module's state_dict alone, under its plain names (no prefix), as
/// PyTorch's save_file(model.state_dict()) writes it.
void save(const std::string& path, const nn::Module& module, const Metadata& metadata = {});
/// Loads such a file into `module` with Module::load_state_dict's rules, as
/// safetensors.torch.load_model(model, path, strict) does: every shape must
/// match, and with `strict` every name (dtypes are converted, as PyTorch's; an
/// omitted BatchNorm num_batches_tracked is zeroed); all or nothing.
/// @returns the module's keys the file lacks and the file's keys the module
///   lacks (both empty when `strict`, which refuses either).
/// @throws tg::FormatError naming the file: unreadable, or not matching the module.
nn::IncompatibleKeys load(const std::string& path, nn::Module& module, bool strict = true);

}  // namespace tg
