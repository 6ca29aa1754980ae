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

namespace test_char_gpt_test {

namespace {

struct Run {
  int exit_code = -1;
  std::string output;
};

Run run_char_gpt(const std::string& arguments) {
  const std::string command = std::string("'") + TAPEGRAD_EXAMPLES_DIR + "/char_gpt' " + arguments + " 2>&1";
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

TEST_CASE("examples/char_gpt: resuming with a larger --steps keeps the saved warm-up; oversized counts are refused") {
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
  const Run longer = run_char_gpt(common + " --steps 8 --resume '" + checkpoint + "'");
  INFO(longer.output);
  CHECK(longer.exit_code == 0);
  CHECK(contains(longer.output, "schedule: linear warm-up over 3 steps, then cosine decay to lr / 10 at step 8"));
  CHECK(contains(longer.output, "step     8: train loss"));

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
  // These grew a vector one element at a time until std::bad_alloc (or
  // overflowed int64 first), a message naming nothing.
  refused(common + " --steps 1 --eval-batches 100000000000", "validation windows, more than the");
  refused(common + " --steps 1 --eval-batches 100000000000", "use fewer --eval-batches");
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

}  // namespace test_char_gpt_test
