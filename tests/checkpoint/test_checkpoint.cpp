// Checkpoints: exact resume (bitwise equal to an uninterrupted run),
// all-or-nothing loading, and the errors that name the file and the key.
#include <filesystem>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/checkpoint/checkpoint.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/nn.h>
#include <tapegrad/optim/optim.h>
#include "io/io_test_files.h"

namespace test_checkpoint {

using tg::Tensor;
namespace nn = tg::nn;
namespace optim = tg::optim;

namespace {

// Dropout draws from the default generator, so the RNG state matters.
std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(nn::Linear(4, 16), nn::ReLU(), nn::Dropout(0.25), nn::Linear(16, 3));
}

// The batch of step `step` depends on the step only.
void train(nn::Module& model, optim::Optimizer& opt, optim::LRScheduler& sched, int from, int to) {
  model.train();
  for (int step = from; step < to; ++step) {
    tg::Generator data(1000 + static_cast<std::uint64_t>(step));
    Tensor x = tg::randn({8, 4}, {}, &data);
    Tensor y = tg::randint(0, 3, {8}, {.dtype = tg::kInt64}, &data);
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model.forward(x), y, {.label_smoothing = 0.05});
    loss.backward();
    opt.step();
    sched.step();
  }
}

bool same_parameters(const nn::Module& a, const nn::Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (const auto& [name, t] : sa)
    if (!sb.contains(name) || !tg::equal(t, sb.at(name))) return false;
  return true;
}

struct Training {
  std::shared_ptr<nn::Sequential> model = make_model();
  optim::Adam opt{model->parameters(), {.lr = 0.02, .weight_decay = 1e-3}};
  optim::CosineAnnealingLR sched{opt, {.T_max = 12, .eta_min = 1e-3}};
  tg::Checkpoint parts() {
    return {.model = model.get(), .optimizer = &opt, .scheduler = &sched, .generator = &tg::default_generator()};
  }
};

}  // namespace

TEST_CASE("checkpoint: train N steps, save, load into fresh objects, continue M: bitwise equal to N + M") {
  constexpr int N = 6, M = 5;
  tg::test::TempDir dir;
  const std::string path = dir.file("run.safetensors");

  tg::manual_seed(42);
  Training straight;
  train(*straight.model, straight.opt, straight.sched, 0, N + M);
  const auto rng_after_straight = tg::default_generator().state();

  tg::manual_seed(42);
  {
    Training first;
    train(*first.model, first.opt, first.sched, 0, N);
    tg::Checkpoint out = first.parts();
    out.counters = {{"step", N}, {"epoch", 1}};
    out.metadata = {{"note", "halfway"}};
    tg::save_checkpoint(path, out);
  }

  // Everything fresh, and the global generator moved elsewhere.
  tg::manual_seed(7);
  tg::randn({100});
  Training resumed;
  CHECK_FALSE(same_parameters(*resumed.model, *straight.model));
  tg::Checkpoint in = resumed.parts();
  tg::load_checkpoint(path, in);
  CHECK(in.counters.at("step") == N);
  CHECK(in.counters.at("epoch") == 1);
  CHECK(in.metadata.at("note") == "halfway");
  CHECK(resumed.sched.last_epoch() == N);
  train(*resumed.model, resumed.opt, resumed.sched, N, N + M);

  CHECK(same_parameters(*resumed.model, *straight.model));
  CHECK(resumed.opt.lr(0) == straight.opt.lr(0));
  CHECK(resumed.opt.state(0, 0).step == N + M);
  CHECK(tg::equal(resumed.opt.state(0, 0).exp_avg_sq, straight.opt.state(0, 0).exp_avg_sq));
  CHECK(tg::default_generator().state() == rng_after_straight);  // the same dropout draws since the save
}

TEST_CASE("checkpoint: the file is plain safetensors with prefixed names") {
  tg::test::TempDir dir;
  const std::string path = dir.file("ck.safetensors");
  tg::manual_seed(1);
  Training t;
  train(*t.model, t.opt, t.sched, 0, 2);
  tg::save_checkpoint(path, t.parts());
  const auto file = tg::load_file(path);
  CHECK(file.tensors.contains("model.0.weight"));
  CHECK(file.tensors.contains("model.3.bias"));
  CHECK(file.tensors.contains("optimizer.state.0.exp_avg"));
  CHECK(file.tensors.at("optimizer.state.0.step").item<std::int64_t>() == 2);
  CHECK(file.metadata.at("format") == "tapegrad-checkpoint");
  CHECK(file.metadata.at("optimizer.optimizer") == "Adam");
  CHECK(file.metadata.contains("optimizer.param_groups"));
  CHECK(file.metadata.contains("scheduler"));
  CHECK(file.metadata.contains("rng"));
  CHECK(tg::equal(file.tensors.at("model.0.weight"), t.model->state_dict().at("0.weight")));
}

TEST_CASE("checkpoint: loading is all or nothing") {
  tg::test::TempDir dir;
  const std::string path = dir.file("ck.safetensors");
  tg::manual_seed(3);
  Training saved;
  train(*saved.model, saved.opt, saved.sched, 0, 3);
  tg::save_checkpoint(path, saved.parts());

  SUBCASE("a model of another shape: FormatError naming the file and the key; nothing changes") {
    auto other = std::make_shared<nn::Sequential>(nn::Linear(4, 16), nn::ReLU(), nn::Dropout(0.25), nn::Linear(16, 5));
    optim::Adam opt(other->parameters(), {.lr = 0.5});
    const auto before = other->state_dict();
    std::map<std::string, Tensor> copies;
    for (const auto& [k, v] : before) copies[k] = v.clone();
    const auto rng = tg::default_generator().state();
    tg::Checkpoint in{.model = other.get(), .optimizer = &opt, .generator = &tg::default_generator()};
    const std::string expected =
        "checkpoint '" + path + "': \"model.3.bias\" is float32 [3], but the module's is float32 [5]";
    CHECK_THROWS_WITH_AS(tg::load_checkpoint(path, in), expected.c_str(), tg::FormatError);
    for (const auto& [k, v] : other->state_dict()) CHECK(tg::equal(v, copies.at(k)));
    CHECK(opt.lr(0) == 0.5);
    CHECK(tg::default_generator().state() == rng);
  }

  SUBCASE("another optimizer: the optimizer's own error, with the file's name") {
    Training fresh;
    optim::SGD sgd(fresh.model->parameters(), {.lr = 0.3});
    const auto before = fresh.model->state_dict().at("0.weight").clone();
    tg::Checkpoint in{.model = fresh.model.get(), .optimizer = &sgd};
    const std::string expected = "checkpoint '" + path + "': SGD::load_state_dict: the state is for Adam";
    CHECK_THROWS_WITH_AS(tg::load_checkpoint(path, in), expected.c_str(), tg::ValueError);
    CHECK(tg::equal(fresh.model->state_dict().at("0.weight"), before));
  }

  SUBCASE("a scheduler that refuses its state puts the loaded optimizer back") {
    Training fresh;
    optim::StepLR step(fresh.opt, {.step_size = 2});
    tg::Checkpoint in{.model = fresh.model.get(), .optimizer = &fresh.opt, .scheduler = &step};
    CHECK_THROWS_WITH_AS(tg::load_checkpoint(path, in),
                         doctest::Contains("StepLR::load_state_dict: the state is for CosineAnnealingLR"),
                         tg::ValueError);
    CHECK(fresh.opt.state(0, 0).step == 0);  // the optimizer's state was restored
    CHECK_FALSE(fresh.opt.state(0, 0).exp_avg.defined());
  }

  SUBCASE("parts the file lacks, files that are not checkpoints, damaged files") {
    const std::string model_only = dir.file("model_only.safetensors");
    tg::save_checkpoint(model_only, {.model = saved.model.get()});
    Training fresh;
    tg::Checkpoint in = fresh.parts();
    CHECK_THROWS_WITH_AS(tg::load_checkpoint(model_only, in), doctest::Contains("holds no optimizer state"),
                         tg::FormatError);

    const std::string plain = dir.file("plain.safetensors");
    tg::save(plain, tg::TensorMap{{"w", tg::zeros({2})}});
    CHECK_THROWS_WITH_AS(tg::load_checkpoint(plain, in), doctest::Contains("not a tapegrad checkpoint"),
                         tg::FormatError);

    auto bytes = tg::test::read_bytes(path);
    bytes.resize(bytes.size() - 10);
    const std::string cut = dir.file("cut.safetensors");
    tg::test::write_bytes(cut, bytes);
    CHECK_THROWS_WITH_AS(tg::load_checkpoint(cut, in), doctest::Contains("cut.safetensors"), tg::FormatError);
    CHECK(fresh.opt.state(0, 0).step == 0);
  }
}

TEST_CASE("checkpoint: a module alone, under its plain state_dict names") {
  tg::test::TempDir dir;
  const std::string path = dir.file("model.safetensors");
  tg::manual_seed(5);
  auto a = make_model();
  tg::save(path, *a, {{"arch", "mlp"}});
  CHECK(tg::load_file(path).metadata.at("arch") == "mlp");
  CHECK(tg::load(path).contains("0.weight"));
  auto b = make_model();
  CHECK_FALSE(same_parameters(*a, *b));
  tg::load(path, *b);
  CHECK(same_parameters(*a, *b));

  nn::Linear wrong(4, 2);
  const std::string named = "checkpoint '" + path + "'";
  CHECK_THROWS_WITH_AS(tg::load(path, wrong), doctest::Contains(named.c_str()), tg::FormatError);
}

TEST_CASE("checkpoint: a module file from PyTorch loads as load_state_dict(load_file(path)) would") {
  tg::test::TempDir dir;
  const std::string path = dir.file("bn.safetensors");
  // Older PyTorch checkpoints have no num_batches_tracked, and files may hold
  // another floating dtype than the model: PyTorch zeroes the one and converts the other.
  nn::BatchNorm1d source(2);
  source.running_mean.fill_(0.5);
  auto file = source.state_dict();
  file.erase("num_batches_tracked");
  tg::TensorMap as_float64;
  for (const auto& [name, t] : file) as_float64.emplace(name, t.to(tg::kFloat64));
  tg::save(path, as_float64);
  nn::BatchNorm1d target(2);
  target.num_batches_tracked.fill_(7);
  tg::load(path, target);
  CHECK(target.num_batches_tracked.item<std::int64_t>() == 0);
  CHECK(target.running_mean.dtype() == tg::kFloat32);
  CHECK(tg::equal(target.running_mean, tg::full({2}, 0.5)));
  // Only that buffer may be omitted.
  tg::TensorMap partial = as_float64;
  partial.erase("running_var");
  tg::save(path, partial);
  CHECK_THROWS_WITH_AS(tg::load(path, target), doctest::Contains("missing keys: running_var"), tg::FormatError);
}

TEST_CASE("checkpoint: tg::load(path, module, false) returns what did not match, as safetensors' load_model") {
  tg::test::TempDir dir;
  const std::string path = dir.file("partial.safetensors");
  tg::manual_seed(3);
  auto source = make_model();
  auto file = source->state_dict();
  file.erase("3.bias");
  file.emplace("4.weight", tg::zeros({2}));
  tg::save(path, tg::TensorMap(file.begin(), file.end()));
  auto target = make_model();
  const Tensor bias_before = target->at<nn::Linear>(3).bias.clone();
  CHECK_THROWS_WITH_AS(tg::load(path, *target), doctest::Contains("unexpected keys: 4.weight"), tg::FormatError);
  const nn::IncompatibleKeys result = tg::load(path, *target, /*strict=*/false);
  CHECK(result.missing_keys == std::vector<std::string>{"3.bias"});
  CHECK(result.unexpected_keys == std::vector<std::string>{"4.weight"});
  CHECK(tg::equal(target->at<nn::Linear>(0).weight, source->at<nn::Linear>(0).weight));
  CHECK(tg::equal(target->at<nn::Linear>(3).bias, bias_before));
  CHECK(tg::load(path, *source, false) == result);
  // A strict load that succeeds has nothing to report.
  tg::save(path, *source);
  CHECK(tg::load(path, *target).empty());
  // Shapes must match in either mode (FormatError naming the file, as strict's).
  nn::Sequential wrong(nn::Linear(4, 2));
  CHECK_THROWS_WITH_AS(tg::load(path, wrong, false), doctest::Contains("0.weight: expected shape [2, 4], got [16, 4]"),
                       tg::FormatError);
}

}  // namespace test_checkpoint
