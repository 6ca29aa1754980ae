// A checkpoint written by a job of 2 ranks, resumed by jobs of other sizes
// (ctest runs `write` under mpirun -np 2, then `read` with -np 1, 2 and 3):
//
//   mpirun -np 2 distributed_resume_world write DIR
//   mpirun -np 3 distributed_resume_world read DIR
//
// write: trains the seed model data-parallel; rank 0 saves the model, the
// optimizer and the sampler state (with the world size) at the end of epoch 0
// (DIR/epoch_end.safetensors) and 2 steps into epoch 1 (DIR/mid_epoch...).
// read: every rank loads both. Model and optimizer state load at any world
// size (the parameters are the file's, and a step runs); the sampler state at
// the epoch's end loads at any world size, the mid-epoch one only at the
// writer's: at another, load_state_dict must be a ValueError naming both
// sizes. Any other outcome ends the job non-zero with the reason.
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>

#include <tapegrad/distributed/ddp.h>
#include <tapegrad/distributed/distributed.h>
#include <tapegrad/distributed/sampler.h>
#include <tapegrad/tapegrad.h>

namespace dist = tg::distributed;
namespace nn = tg::nn;

namespace {

constexpr std::size_t kExamples = 40;
constexpr int kWriterWorld = 2;
constexpr std::int64_t kLocalBatch = 4;

std::shared_ptr<nn::Sequential> make_model() {
  tg::manual_seed(1);
  return std::make_shared<nn::Sequential>(nn::Linear(784, 32), nn::ReLU(), nn::Linear(32, 64), nn::ReLU(),
                                          nn::Linear(64, 10));
}

void save(const std::string& path, const nn::Module& model, const tg::optim::Optimizer& opt,
          const dist::DistributedSampler& sampler) {
  tg::TensorMap tensors;
  tg::Metadata metadata;
  for (const auto& [name, t] : model.state_dict()) tensors.emplace("model." + name, t);
  const auto o = opt.state_dict();
  for (const auto& [name, t] : o.tensors) tensors.emplace("optimizer." + name, t);
  for (const auto& [key, value] : o.metadata) metadata.emplace("optimizer." + key, value);
  for (const auto& [key, value] : sampler.state_dict()) metadata.emplace("sampler." + key, value);
  metadata["world_size"] = std::to_string(dist::world_size());
  tg::save(path, tensors, metadata);
}

struct Loaded {
  nn::StateDict model;
  tg::optim::OptimizerState optimizer;
  std::map<std::string, std::string> sampler;
};

Loaded split(const tg::LoadedFile& file) {
  Loaded out;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("model.", 0) == 0) out.model.emplace(name.substr(6), t);
    else if (name.rfind("optimizer.", 0) == 0) out.optimizer.tensors.emplace(name.substr(10), t);
  }
  for (const auto& [key, value] : file.metadata) {
    if (key.rfind("optimizer.", 0) == 0) out.optimizer.metadata.emplace(key.substr(10), value);
    else if (key.rfind("sampler.", 0) == 0) out.sampler.emplace(key.substr(8), value);
  }
  return out;
}

void require(bool ok, const std::string& what) {
  if (!ok) dist::abort("resume_world: " + what);
}

void train_steps(dist::DistributedDataParallel& ddp, tg::optim::Optimizer& opt, const std::vector<std::size_t>& mine,
                 std::size_t from, std::size_t steps) {
  tg::Generator gen(99);
  const tg::data::TensorDataset data(
      tg::randn({static_cast<std::int64_t>(kExamples), 784}, {}, &gen),
      tg::randint(0, 10, {static_cast<std::int64_t>(kExamples)}, {.dtype = tg::kInt64}, &gen));
  for (std::size_t s = 0; s < steps; ++s) {
    const auto batch = data.get_batch(std::span<const std::size_t>(mine.data() + from + s * kLocalBatch, kLocalBatch));
    opt.zero_grad();
    tg::cross_entropy(ddp(batch.input), batch.target).backward();
    opt.step();
  }
}

void write(const std::filesystem::path& dir) {
  require(dist::world_size() == kWriterWorld, fmt::format("write runs with {} ranks", kWriterWorld));
  auto model = make_model();
  dist::DistributedDataParallel ddp(model);
  tg::optim::Adam opt(model->parameters(), {.lr = 1e-3});
  dist::DistributedSampler sampler(kExamples, {.seed = 4});
  const std::size_t steps = sampler.size() / kLocalBatch;
  train_steps(ddp, opt, sampler.indices(), 0, steps);
  sampler.set_epoch(1);
  if (dist::rank() == 0) save((dir / "epoch_end.safetensors").string(), *model, opt, sampler);
  train_steps(ddp, opt, sampler.indices(), 0, 2);
  sampler.set_position(2 * kLocalBatch);
  if (dist::rank() == 0) save((dir / "mid_epoch.safetensors").string(), *model, opt, sampler);
  dist::barrier();
}

void read(const std::filesystem::path& dir) {
  const int world = dist::world_size();
  for (const char* name : {"epoch_end.safetensors", "mid_epoch.safetensors"}) {
    const std::string path = (dir / name).string();
    const auto file = tg::load_file(path);
    require(file.metadata.at("world_size") == std::to_string(kWriterWorld), path + ": no world_size 2");
    const auto state = split(file);
    auto model = make_model();
    tg::optim::Adam opt(model->parameters(), {.lr = 1e-3});
    // Model and optimizer state: any world size.
    model->load_state_dict(state.model);
    opt.load_state_dict(state.optimizer);
    for (const auto& [key, t] : model->state_dict())
      require(tg::equal(t, file.tensors.at("model." + key)), fmt::format("{}: {} differs after loading", path, key));
    dist::DistributedSampler sampler(kExamples, {.seed = 4});
    const bool mid_epoch = state.sampler.at("position") != "0";
    if (!mid_epoch || world == kWriterWorld) {
      sampler.load_state_dict(state.sampler);
      require(sampler.epoch() == 1, path + ": epoch not restored");
      require(sampler.position() == static_cast<std::size_t>(mid_epoch ? 2 * kLocalBatch : 0),
              path + ": position not restored");
    } else {
      try {
        sampler.load_state_dict(state.sampler);
        require(false, fmt::format("{}: a mid-epoch state of 2 ranks loaded into {} ranks", path, world));
      } catch (const tg::ValueError& e) {
        const std::string want = fmt::format("by a job of {} ranks, but this job has {} ranks", kWriterWorld, world);
        require(std::string(e.what()).find(want) != std::string::npos,
                fmt::format("{}: the error does not name both sizes: {}", path, e.what()));
        if (dist::rank() == 0) std::printf("%s with %d ranks: refused as expected: %s\n", name, world, e.what());
      }
    }
    // The loaded state trains on (the optimizer's moments fit the parameters).
    dist::DistributedDataParallel ddp(model);
    sampler.set_epoch(2);
    train_steps(ddp, opt, sampler.indices(), 0, 1);
  }
  if (dist::rank() == 0) std::printf("resume_world: read with %d ranks: ok\n", world);
  dist::barrier();
}

}  // namespace

int main(int argc, char** argv) {
  dist::init();
  tg::set_num_threads(1);
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "write" && mode != "read") dist::abort("usage: distributed_resume_world write|read DIR", 2);
  const std::filesystem::path dir = argv[2];
  if (mode == "write") {
    if (dist::rank() == 0) std::filesystem::create_directories(dir);
    write(dir);
  } else {
    read(dir);
  }
  dist::finalize();
  return 0;
}
