// The small examples, run as a user would run them: each must exit 0 and
// print the result it promises.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include <tapegrad/data/fashion_mnist.h>

namespace test_run_examples_test {

namespace {

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs build/examples/<program> with `arguments` and collects what it prints.
Run run_example(const std::string& program, const std::string& arguments = "") {
  const std::string command = std::string("'") + TAPEGRAD_EXAMPLES_DIR + "/" + program + "' " + arguments + " 2>&1";
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

}  // namespace

TEST_CASE("examples/xor: a tiny MLP gets all four XOR cases right") {
  const Run run = run_example("xor");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output, "XOR learned"));
  // Each of the four cases is printed with its verdict.
  for (const char* line : {"0 xor 0 = 0", "0 xor 1 = 1", "1 xor 0 = 1", "1 xor 1 = 0"})
    CHECK(contains(run.output, line));
  CHECK_FALSE(contains(run.output, "WRONG"));
}

TEST_CASE("examples/regression: SGD with momentum recovers the cubic's coefficients") {
  const Run run = run_example("regression");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output, "all coefficients within 0.1 of the truth"));
  // The true coefficients are printed beside the learned ones.
  for (const char* row : {"x^0    0.5000", "x^1   -1.2000", "x^2    0.8000", "x^3    2.0000"})
    CHECK(contains(run.output, row));
}

TEST_CASE("examples/custom_op: a user-defined Function passes gradcheck and fits a robust line") {
  const Run run = run_example("custom_op");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output, "gradcheck:     passed"));
  CHECK(contains(run.output, "gradgradcheck: passed"));
  CHECK(contains(run.output, "robust fit found the line"));
}

TEST_CASE("examples/fashion_mnist: --help, and a clear error for a bad option") {
  const Run help = run_example("fashion_mnist", "--help");
  CHECK(help.exit_code == 0);
  CHECK(contains(help.output, "--resume FILE"));

  // Each refused with exit code 1 and the message given.
  const auto refused = [](const std::string& arguments, const std::string& message) {
    const Run run = run_example("fashion_mnist", arguments);
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.output, message));
  };
  refused("--epochs many", "--epochs expects an integer, got 'many'");
  refused("--colour red", "unknown option '--colour'");
  refused("--batch-size 0 --no-progress", "--batch-size must be at least 1, got 0");
  // A flag nobody knows, left last: unknown, not "needs a value"; numbers
  // past int are refused, not wrapped.
  refused("--colour", "unknown option '--colour'");
  refused("--threads 4294967297", "--threads must be at most");
  // The parser's bound is the library's (tg::set_num_threads refuses more
  // than 1024). A folder with no data after each: a program that took the
  // option anyway fails at once instead of training.
  const std::string no_data = " --no-progress --data '/nonexistent/tapegrad/fashion'";
  refused("--threads 2000" + no_data, "--threads must be at most 1024, got 2000");
  // A million epochs bounds the epoch counter far from int's limit.
  refused("--epochs 2000000" + no_data, "--epochs must be at most 1000000, got 2000000");
  // Only a --distributed run saves within an epoch: it used to be ignored.
  const auto out = std::filesystem::temp_directory_path() / fmt::format("tapegrad_fashion_save_every_{}", ::getpid());
  refused("--save-every 5 --out '" + out.string() + "'" + no_data, "--save-every works with --distributed only");
  CHECK_FALSE(std::filesystem::exists(out));  // refused before --out is made
  std::filesystem::remove_all(out);
  // --help says what --lr does on a resume.
  CHECK(contains(help.output, "with --resume the checkpoint's learning rate is kept"));
}

TEST_CASE("examples/fashion_mnist: --epochs 0 without --resume is refused and leaves the checkpoint alone") {
  // It used to save freshly initialised weights over the trained checkpoint
  // in --out (and an empty metrics.csv), and exit 0.
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("tapegrad_fashion_epochs0_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto checkpoint = dir / "checkpoint.safetensors";
  std::ofstream(checkpoint) << "trained weights";
  const Run run = run_example("fashion_mnist", "--epochs 0 --no-progress --out '" + dir.string() + "'");
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(contains(run.output, "--epochs 0 without --resume trains nothing"));
  std::ifstream in(checkpoint);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "trained weights");
  CHECK_FALSE(std::filesystem::exists(dir / "metrics.csv"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("examples/fashion_mnist: --profile of a first epoch under 20 steps says so and leaves out the evaluation") {
  const std::filesystem::path data = tg::data::default_fashion_mnist_dir();
  if (!std::filesystem::exists(data / "t10k-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(data / "t10k-images-idx3-ubyte")) {
    MESSAGE("skipped: Fashion-MNIST is not in " << data.string());
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("tapegrad_fashion_profile_{}", ::getpid());
  const auto trace = dir / "trace.json";
  // 64 images in batches of 32: two steps, then the test-set evaluation.
  const Run run = run_example("fashion_mnist", "--epochs 2 --limit 64 --batch-size 32 --no-progress --out '" +
                                                   dir.string() + "' --profile '" + trace.string() + "'");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  // It used to say "the first 20 steps" over a window that ran on through
  // both epochs' evaluations and checkpoint writes.
  CHECK(contains(run.output, "profile of the first epoch's 2 training steps (it has fewer than 20):"));
  CHECK_FALSE(contains(run.output, "first 20"));
  // The profile is printed before the first epoch's line, that is before its evaluation.
  CHECK(run.output.find("profile of the") < run.output.find("epoch  1:"));
  std::ifstream in(trace);
  const std::string json(std::istreambuf_iterator<char>(in), {});
  CHECK(contains(json, "cross_entropy"));
  // argmax runs only in the evaluation (the predicted classes).
  CHECK_FALSE(contains(json, "argmax"));
  std::filesystem::remove_all(dir);
}

}  // namespace test_run_examples_test
