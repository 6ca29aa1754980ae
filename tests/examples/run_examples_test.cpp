// The small examples, run as a user would run them: each must exit 0 and
// print the result it promises.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <string>

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
}

}  // namespace test_run_examples_test
