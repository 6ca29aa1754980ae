// A checkpoint's integers and numbers that do not fit their type are a
// FormatError naming the file and the key, never a silently wrapped value.
#include <doctest/doctest.h>

#include <string>

#include <tapegrad/checkpoint/checkpoint.h>
#include <tapegrad/optim/optim.h>
#include "io/io_test_files.h"

namespace test_checkpoint_ints {

using tg::Tensor;

namespace {

std::string write(tg::test::TempDir& dir, const std::string& name, const tg::Metadata& extra) {
  tg::Metadata meta{{"format", "tapegrad-checkpoint"}, {"counters", "{}"}};
  for (const auto& [k, v] : extra) meta[k] = v;
  const std::string path = dir.file(name);
  tg::save(path, tg::TensorMap{}, meta);
  return path;
}

}  // namespace

TEST_CASE("checkpoint counters beyond int64 are a FormatError naming the file and the counter") {
  tg::test::TempDir dir;
  tg::Checkpoint c;
  c.counters = {{"step", 5}};
  const std::string wrapped = write(dir, "wrapped.safetensors", {{"counters", R"({"step": 18446744073709551615})"}});
  CHECK_THROWS_WITH_AS(
      tg::load_checkpoint(wrapped, c),
      doctest::Contains(
          ("checkpoint '" + wrapped + "': counter \"step\" (18446744073709551615) does not fit in int64").c_str()),
      tg::FormatError);
  CHECK_THROWS_AS(
      tg::load_checkpoint(write(dir, "big.safetensors", {{"counters", R"({"epoch": 9223372036854775808})"}}), c),
      tg::FormatError);
  CHECK_THROWS_AS(tg::load_checkpoint(write(dir, "float.safetensors", {{"counters", R"({"epoch": 1e30})"}}), c),
                  tg::FormatError);
  CHECK(c.counters.at("step") == 5);  // unchanged
  // The extremes that fit load as they are.
  tg::load_checkpoint(
      write(dir, "ok.safetensors", {{"counters", R"({"a": 9223372036854775807, "b": -9223372036854775808})"}}), c);
  CHECK(c.counters.at("a") == INT64_MAX);
  CHECK(c.counters.at("b") == INT64_MIN);
}

TEST_CASE("checkpoint: an optimizer or scheduler number that does not fit is a FormatError naming the file") {
  tg::test::TempDir dir;
  Tensor p = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  tg::optim::SGD opt({p}, {.lr = 0.1});
  tg::optim::StepLR sched(opt, {.step_size = 3});
  const std::string path = dir.file("run.safetensors");
  tg::save_checkpoint(path, {.optimizer = &opt, .scheduler = &sched});
  auto file = tg::load_file(path);

  // An option too large for a double (JSON 1e400) is not a learning rate.
  auto meta = file.metadata;
  meta["optimizer.param_groups"] =
      R"([{"options": {"lr": 1e400, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": false,
           "maximize": false}, "num_params": 1}])";
  const std::string huge = dir.file("huge.safetensors");
  tg::save(huge, file.tensors, meta);
  tg::Checkpoint in{.optimizer = &opt};
  CHECK_THROWS_WITH_AS(tg::load_checkpoint(huge, in), doctest::Contains(("checkpoint '" + huge + "'").c_str()),
                       tg::FormatError);
  CHECK(opt.lr(0) == 0.1);

  meta = file.metadata;
  meta["scheduler"] = R"({"scheduler": "StepLR", "last_epoch": 18446744073709551615, "base_lrs": [0.1],
                          "last_lr": [0.1]})";
  const std::string wrapped = dir.file("wrapped.safetensors");
  tg::save(wrapped, file.tensors, meta);
  tg::Checkpoint in2{.scheduler = &sched};
  CHECK_THROWS_WITH_AS(tg::load_checkpoint(wrapped, in2), doctest::Contains("\"last_epoch\" (18446744073709551615)"),
                       tg::FormatError);
  CHECK(sched.last_epoch() == 0);
}

// A counter named with bytes that are not UTF-8 cannot go into the JSON
// metadata: a tg::ValueError naming the file, and no file written.
TEST_CASE("checkpoint: a counter name that is not UTF-8 is a ValueError, and nothing is written") {
  tg::test::TempDir dir;
  const std::string path = dir.file("bad_counter.ckpt");
  tg::Checkpoint c{.counters = {{std::string("step\xff"), 3}}};
  CHECK_THROWS_WITH_AS(tg::save_checkpoint(path, c), doctest::Contains("a counter's name is not valid UTF-8"),
                       tg::ValueError);
  CHECK(dir.entries().empty());
}

}  // namespace test_checkpoint_ints
