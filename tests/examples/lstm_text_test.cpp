// examples/lstm_text, run briefly as a user would: on a small text written
// here (so the test needs no package), and on Debian's fortunes when present.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace test_lstm_text_test {

namespace {

struct Run {
  int exit_code = -1;
  std::string output;
};

// stderr goes to the pipe before `arguments`, so that they may redirect stdout.
Run run_lstm_text(const std::string& arguments) {
  const std::string command = std::string("'") + TAPEGRAD_EXAMPLES_DIR + "/lstm_text' 2>&1 " + arguments;
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

constexpr const char* kSmall =
    "--steps 4 --batch 4 --seq-len 12 --hidden 16 --eval-every 2 --val-batches 1 --sample 20";

}  // namespace

TEST_CASE("examples/lstm_text: trains a few steps on a given text and reports train and validation loss") {
  const auto path = std::filesystem::temp_directory_path() / "tapegrad_lstm_text_test.txt";
  {
    std::ofstream out(path);
    for (int i = 0; i < 40; ++i) out << "The quick brown fox jumps over the lazy dog " << i << ".\n%\n";
  }
  const Run run = run_lstm_text(std::string(kSmall) + " --text '" + path.string() + "'");
  std::filesystem::remove(path);
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output, "baselines on validation: uniform"));
  CHECK(contains(run.output, "character bigram"));
  CHECK(contains(run.output, "step     2/4  train loss"));
  CHECK(contains(run.output, "val loss"));
  CHECK(contains(run.output, "final: train loss"));
  CHECK(contains(run.output, "sample:"));
}

TEST_CASE("examples/lstm_text: the fortunes text when installed; clear errors for bad options and no text") {
  if (std::filesystem::is_directory("/usr/share/games/fortunes")) {
    const Run run = run_lstm_text("--steps 2 --batch 2 --seq-len 8 --hidden 8 --val-batches 1 --sample 0");
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.output, "final: train loss"));
  }
  const Run missing = run_lstm_text("--text /nonexistent/tapegrad/text");
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.output, "no text at '/nonexistent/tapegrad/text'"));
  const Run bad = run_lstm_text("--steps many");
  CHECK(bad.exit_code == 1);
  CHECK(contains(bad.output, "--steps expects an integer, got 'many'"));
  const Run unknown = run_lstm_text("--colour red");
  CHECK(unknown.exit_code == 1);
  CHECK(contains(unknown.output, "unknown option '--colour'"));
}

TEST_CASE(
    "examples/lstm_text: counts past the text or past 64 bits, and a non-finite --lr, are refused naming the flags") {
  const auto path = std::filesystem::temp_directory_path() / "tapegrad_lstm_text_counts_test.txt";
  {
    std::ofstream out(path);
    for (int i = 0; i < 40; ++i) out << "The quick brown fox jumps over the lazy dog " << i << ".\n%\n";
  }
  const std::string text = " --steps 1 --sample 0 --text '" + path.string() + "'";
  // Each refused with exit code 1 and the message given.
  const auto refused = [&](const std::string& arguments, const std::string& message) {
    const Run run = run_lstm_text(arguments + text);
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.output, message));
  };
  // --val-batches times --batch overflowed (undefined behaviour): the
  // validation windows' vector stayed empty and was read past its end, a crash.
  refused("--val-batches 300000000000000000", "--val-batches 300000000000000000 times --batch 32 is too large a count");
  // Both grew a vector until std::bad_alloc, a message naming nothing; a
  // large --val-batches is now each distinct validation window once.
  refused("--batch 100000000000", "--batch 100000000000 is more than the");
  const Run many = run_lstm_text("--val-batches 100000000000" + text);
  INFO(many.output);
  CHECK(many.exit_code == 0);
  CHECK(contains(many.output, "each distinct window once: the text has fewer than --val-batches 100000000000"));
  // strtod's inf and HUGE_VAL were taken as learning rates.
  refused("--lr inf", "--lr must be a finite number, got 'inf'");
  refused("--lr 1e400", "--lr must be a finite number, got '1e400'");
  refused("--lr 0", "--lr must be positive");
  refused("--seq-len 9223372036854775807", "too short for --seq-len 9223372036854775807");
  std::filesystem::remove(path);
}

TEST_CASE("examples/lstm_text: the default flags on a small text, and a sample that cannot be written") {
  const auto path = std::filesystem::temp_directory_path() / "tapegrad_lstm_text_small_test.txt";
  {
    std::ofstream out(path);
    for (int i = 0; i < 40; ++i) out << "The quick brown fox jumps over the lazy dog " << i << ".\n%\n";
  }
  // 8 batches of 32 windows of 65 characters: the 199 validation characters
  // have 135. That used to be refused ("256 validation windows, more than
  // the 135 windows").
  const Run run = run_lstm_text("--steps 1 --sample 0 --hidden 8 --text '" + path.string() + "'");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output,
                 "validation 199, 135 validation windows (each distinct window once: the text has "
                 "fewer than --val-batches 8 x --batch 32)"));
  CHECK(contains(run.output, "final: train loss"));
  // fputc's failures were ignored: the run exited 0 having written nothing.
  const Run full = run_lstm_text(std::string(kSmall) + " --sample 20000 --text '" + path.string() + "' > /dev/full");
  INFO(full.output);
  CHECK(full.exit_code == 1);
  CHECK(contains(full.output, "cannot write the sample to stdout: No space left on device"));
  std::filesystem::remove(path);
}

}  // namespace test_lstm_text_test
