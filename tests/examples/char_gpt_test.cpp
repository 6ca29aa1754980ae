// examples/char_gpt run briefly as a user would: a tiny model for a few steps
// on a small generated text (so the test needs neither the fortunes package
// nor minutes), then --resume and --sample from its checkpoint.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <tapegrad/tapegrad.h>

namespace test_char_gpt_test {

namespace {

struct Run {
  int exit_code = -1;
  std::string output;
};

// stderr goes to the pipe before `arguments`, so that they may redirect stdout.
Run run_char_gpt(const std::string& arguments) {
  const std::string command = std::string("'") + TAPEGRAD_EXAMPLES_DIR + "/char_gpt' 2>&1 " + arguments;
  Run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot start " << command);
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A folder with one fortune-style file (fortunes separated by "%" lines),
// and a .dat file that must be skipped.
std::filesystem::path make_corpus() {
  const auto dir = std::filesystem::temp_directory_path() / "tapegrad_char_gpt_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "data");
  std::ofstream text(dir / "data" / "sayings");
  const char* const lines[] = {"the cat sat on the mat.", "a bird in the hand is worth two in the bush.",
                               "to be or not to be, that is the question.", "all that glitters is not gold."};
  for (int i = 0; i < 120; ++i) text << lines[i % 4] << " (" << i << ")\n%\n";
  std::ofstream(dir / "data" / "sayings.dat") << std::string(64, '\x01');
  return dir;
}

// The learning rate the optimizer of checkpoint `path` holds (the one the
// next step would use).
double saved_lr(const std::string& path) {
  const std::string groups = tg::load_file(path).metadata.at("optimizer.param_groups");
  const auto at = groups.find("\"lr\":");
  REQUIRE(at != std::string::npos);
  return std::stod(groups.substr(at + 5));
}

// Checkpoint `from` with metadata `edit` made to it, written to `to`.
template <class Edit>
void edited_checkpoint(const std::string& from, const std::string& to, Edit edit) {
  auto file = tg::load_file(from);
  edit(file.metadata);
  tg::save(to, file.tensors, file.metadata);
}

}  // namespace

TEST_CASE("examples/char_gpt: trains a few steps, resumes, and samples from its checkpoint") {
  const auto dir = make_corpus();
  const std::string common = "--data '" + (dir / "data").string() + "' --out '" + (dir / "out").string() +
                             "' --d-model 16 --layers 1 --heads 2 --block 16 --batch-size 4 --eval-batches 2 "
                             "--threads 1 --no-progress --warmup 2";
  const Run train = run_char_gpt(common + " --steps 6 --eval-interval 3");
  INFO(train.output);
  REQUIRE(train.exit_code == 0);
  CHECK(contains(train.output, "character-bigram baseline: validation loss"));
  CHECK(contains(train.output, "step     3: train loss"));
  CHECK(contains(train.output, "step     6: train loss"));
  CHECK(std::filesystem::exists(dir / "out" / "char_gpt.safetensors"));
  CHECK(std::filesystem::exists(dir / "out" / "metrics.csv"));
  CHECK(std::filesystem::exists(dir / "out" / "curves.svg"));

  const Run resumed = run_char_gpt(common + " --steps 9 --eval-interval 3 --resume '" +
                                   (dir / "out" / "char_gpt.safetensors").string() + "'");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(contains(resumed.output, "resumed from"));
  CHECK(contains(resumed.output, "step     9: train loss"));
  CHECK_FALSE(contains(resumed.output, "step     3: train loss"));
  std::ifstream csv(dir / "out" / "metrics.csv");
  std::string line;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  CHECK(rows == 4);  // the header and three intervals, the first two from before the resume

  const Run sampled = run_char_gpt("--out '" + (dir / "out").string() + "' --sample 40 --temperature 0.9 --top-k 5");
  INFO(sampled.output);
  REQUIRE(sampled.exit_code == 0);
  CHECK(sampled.output.size() >= 40);

  // A hand-edited checkpoint whose vocabulary is not hex: a message naming
  // the file (it used to be the bare "stoi" of the standard library).
  {
    std::ifstream in(dir / "out" / "char_gpt.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = bytes.find("\"user.vocab\":\"");
    REQUIRE(at != std::string::npos);
    bytes.replace(at + 14, 2, "zz");  // same length: the offsets stay right
    std::ofstream(dir / "edited.safetensors", std::ios::binary) << bytes;
  }
  // Each refused with exit code 1 and the message given.
  const auto refused = [](const std::string& arguments, const std::string& message) {
    const Run run = run_char_gpt(arguments);
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.output, message));
  };
  refused("--sample 5 --checkpoint '" + (dir / "edited.safetensors").string() + "'",
          "the vocabulary is not hexadecimal text");
  refused("--heads 3 --d-model 16", "multiple of --heads");
  // A context longer than the text (it used to read past the validation
  // text), a flag nobody knows left last, a negative sample count (it used to
  // start training), a thread count past int, a count past long.
  refused(common + " --steps 1 --block 5000", "too few for --block 5000");
  refused("--bogus", "unknown option '--bogus'");
  refused("--out '" + (dir / "out").string() + "' --sample -5", "--sample must be at least 0, got -5");
  refused("--threads 4294967297", "--threads must be at most");
  refused("--steps 99999999999999999999", "--steps is out of range");
  // Prompt characters the checkpoint has no id for (the corpus has no
  // capitals and no '~'), each named once: they used to become the
  // vocabulary's first character without a word. An empty prompt used to
  // start from that character too.
  const std::string sample_out = "--out '" + (dir / "out").string() + "' --sample 5";
  refused(sample_out + " --prompt 'the Cat~ sat Q'", "--prompt has characters outside the vocabulary of '" +
                                                         (dir / "out" / "char_gpt.safetensors").string() + "'");
  refused(sample_out + " --prompt 'the Cat~ sat Q'", "characters): 'C', 'Q', '~'");
  refused(sample_out + " --prompt 'the caT'", "--prompt has a character outside the vocabulary");
  refused(sample_out + " --prompt ''", "--prompt is empty");
  const Run known = run_char_gpt(sample_out + " --prompt 'the cat'");
  CHECK(known.exit_code == 0);

  // Resumed at or past --steps: nothing trained, and it says so instead of
  // reporting a run and files it did not write.
  const Run nothing = run_char_gpt(common + " --steps 9 --resume '" + (dir / "out" / "char_gpt.safetensors").string() +
                                   "' --out '" + (dir / "untouched").string() + "'");
  INFO(nothing.output);
  CHECK(nothing.exit_code == 0);
  CHECK(contains(nothing.output, "nothing to train: the checkpoint is at step 9 and --steps is 9"));
  CHECK_FALSE(contains(nothing.output, "wrote"));
  CHECK_FALSE(std::filesystem::exists(dir / "untouched" / "char_gpt.safetensors"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("examples/char_gpt: resuming with a larger --steps keeps the saved warm-up and lr; large counts bounded") {
  const auto dir = make_corpus();
  const std::string checkpoint = (dir / "out" / "char_gpt.safetensors").string();
  // No --warmup: the default 100 is clamped to --steps - 1. The resumed run
  // clamped it again to its own --steps - 1, another milestone, and the saved
  // schedule was refused ("SequentialLR::load_state_dict: the state's
  // milestones differ from [7]").
  const std::string common = "--data '" + (dir / "data").string() + "' --out '" + (dir / "out").string() +
                             "' --d-model 16 --layers 1 --heads 2 --block 16 --batch-size 4 --eval-batches 2 "
                             "--threads 1 --no-progress --eval-interval 4";
  const Run first = run_char_gpt(common + " --steps 4");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.output, "schedule: linear warm-up over 3 steps, then cosine decay to lr / 10 at step 4"));
  CHECK(saved_lr(checkpoint) == doctest::Approx(0.0002).epsilon(1e-9));
  // The first run's command line again, with --resume (its --warmup 100 was
  // clamped to 3: either is accepted), into another folder.
  const std::string again = (dir / "again").string();
  const Run repeated =
      run_char_gpt(common + " --steps 8 --warmup 100 --lr 0.002 --resume '" + checkpoint + "' --out '" + again + "'");
  INFO(repeated.output);
  CHECK(repeated.exit_code == 0);
  CHECK(contains(repeated.output, "step     8: train loss"));
  // The decay had ended at step 4: steps 5-8 run at lr / 10, and it says so
  // (it claimed a decay stretched to step 8, which the lr never followed).
  const Run longer = run_char_gpt(common + " --steps 8 --resume '" + checkpoint + "'");
  INFO(longer.output);
  CHECK(longer.exit_code == 0);
  CHECK(contains(longer.output, "schedule: the saved schedule has ended: steps 5..8 run at lr / 10 (0.0002"));
  CHECK(contains(longer.output, "step     8: train loss"));
  CHECK(saved_lr(checkpoint) == doctest::Approx(0.0002).epsilon(1e-9));

  // Each refused with exit code 1 and the message given.
  const auto refused = [](const std::string& arguments, const std::string& message) {
    const Run run = run_char_gpt(arguments);
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.output, message));
  };
  // Another warm-up than the checkpoint's: said, not silently replaced.
  refused(common + " --steps 12 --warmup 5 --resume '" + checkpoint + "'",
          "--warmup 5: '" + checkpoint + "' was trained with a warm-up of 3 steps");
  // Another peak lr: the optimizer and the saved schedule kept the
  // checkpoint's 0.002 while eta_min became 0.05, so the "decay" climbed 25x.
  refused(common + " --steps 12 --lr 0.5 --resume '" + checkpoint + "'",
          "--lr 0.5: '" + checkpoint + "' was trained with a peak learning rate of 0.002");
  // This grew a vector one element at a time until std::bad_alloc; it is
  // now each distinct validation window once.
  const Run many = run_char_gpt(common + " --steps 1 --eval-batches 100000000000 --out '" + again + "'");
  INFO(many.output);
  CHECK(many.exit_code == 0);
  CHECK(contains(many.output, "each distinct window once: the text has fewer than --eval-batches 100000000000"));
  refused(common + " --steps 1 --batch-size 100000000000", "--batch-size 100000000000 is more than the");
  refused(common + " --steps 1 --eval-batches 3000000000000000000",
          "--eval-batches 3000000000000000000 times --batch-size 4 is too large a count");
  // The library's bound (tg::set_num_threads refuses more than 1024).
  refused("--threads 2000", "--threads must be at most 1024, got 2000");
  refused("--warmup -1", "--warmup must be at least 0");
  // The fortunes are installed by --text (--dataset is Fashion-MNIST).
  refused("--data '" + (dir / "nowhere").string() + "' --steps 1", "scripts/setup.sh --text");
  std::filesystem::remove_all(dir);
}

TEST_CASE("examples/char_gpt: the default evaluation flags on a small text use each validation window once") {
  // 16 batches of 32 windows of 65 characters: the 541 validation characters
  // of this corpus have 477. That used to be refused ("512 validation
  // windows, more than the 477 windows"), while the folder holds more than
  // the text read_corpus asks for.
  const auto dir = make_corpus();
  const Run run = run_char_gpt("--data '" + (dir / "data").string() + "' --out '" + (dir / "out").string() +
                               "' --d-model 16 --layers 1 --heads 2 --threads 1 --no-progress --steps 1");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output,
                 "541 validation characters, vocabulary 35, 477 validation windows (each distinct window "
                 "once: the text has fewer than --eval-batches 16 x --batch-size 32)"));
  CHECK(contains(run.output, "step     1: train loss"));

  // A sample that cannot be written is an error: fputc's failures were
  // ignored and the run exited 0 having written nothing.
  const Run full = run_char_gpt("--out '" + (dir / "out").string() + "' --sample 20000 > /dev/full");
  INFO(full.output);
  CHECK(full.exit_code == 1);
  CHECK(contains(full.output, "cannot write the sample to stdout: No space left on device"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("examples/char_gpt: a checkpoint without the saved schedule settings resumes from its scheduler state") {
  const auto dir = make_corpus();
  const std::string common = "--data '" + (dir / "data").string() + "' --out '" + (dir / "out").string() +
                             "' --d-model 16 --layers 1 --heads 2 --block 16 --batch-size 4 --eval-batches 2 "
                             "--threads 1 --no-progress --eval-interval 4";
  const Run first = run_char_gpt(common + " --steps 4 --lr 0.003");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const std::string checkpoint = (dir / "out" / "char_gpt.safetensors").string();
  // As written before the warm-up and the lr were saved: the SequentialLR's
  // milestone is the warm-up, its base lr the peak.
  const std::string old = (dir / "old.safetensors").string();
  edited_checkpoint(checkpoint, old, [](tg::Metadata& m) {
    REQUIRE(m.erase("user.warmup") == 1);
    REQUIRE(m.erase("user.warmup_requested") == 1);
    REQUIRE(m.erase("user.lr") == 1);
  });
  // A warm-up still running at the checkpoint's step 4 (50 steps, as a run
  // with --steps 100 stopped early would save it).
  const std::string long_warmup = (dir / "long_warmup.safetensors").string();
  edited_checkpoint(checkpoint, long_warmup, [](tg::Metadata& m) {
    m["user.warmup"] = "50";
    m["user.warmup_requested"] = "50";
    std::string& scheduler = m.at("scheduler");
    const auto at = scheduler.find("\"milestones\":[3]");
    REQUIRE(at != std::string::npos);
    scheduler.replace(at, 16, "\"milestones\":[50]");
  });
  const Run resumed = run_char_gpt(common + " --steps 8 --resume '" + old + "'");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(contains(resumed.output, "steps 5..8 run at lr / 10 (0.0003; peak lr 0.003, the checkpoint's)"));
  const auto refused = [](const std::string& arguments, const std::string& message) {
    const Run run = run_char_gpt(arguments);
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.output, message));
  };
  refused(common + " --steps 8 --warmup 5 --resume '" + old + "'", "was trained with a warm-up of 3 steps");
  refused(common + " --steps 8 --lr 0.002 --resume '" + old + "'", "was trained with a peak learning rate of 0.003");

  // Resumed inside that warm-up, a --steps within it made T_max 1, a decay
  // that ended mid-warm-up while the schedule line claimed one to --steps.
  // Refused, naming --steps.
  refused(common + " --steps 6 --resume '" + long_warmup + "'",
          "--steps 6: '" + long_warmup + "' was trained with a warm-up of 50 steps");
  const Run past = run_char_gpt(common + " --steps 60 --resume '" + long_warmup + "' --eval-interval 100");
  INFO(past.output);
  CHECK(past.exit_code == 0);
  CHECK(contains(past.output, "schedule: linear warm-up over 50 steps, then cosine decay to lr / 10 at step 60"));
  std::filesystem::remove_all(dir);
}

}  // namespace test_char_gpt_test
