// Crash-safe saves: a child process saves checkpoints to one path in an
// endless loop and is killed with SIGKILL at random moments. Whatever is at
// the path afterwards must be a whole checkpoint (every tensor carries the
// same counter), and the temporary files of killed saves must not pile up:
// io/atomic_file.h names them "<path>.tmp-<pid>-XXXXXX", and the next
// successful save removes those whose process is gone.
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#if defined(__linux__)

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include <tapegrad/autograd/tensor.h>
#include <tapegrad/io/safetensors.h>
#include "io/io_test_files.h"

namespace test_crash_safe_save_test {

namespace {

constexpr std::int64_t kTensorElements = std::int64_t{1} << 18;  // 1 MiB of float32 each
constexpr int kTensors = 4;
constexpr int kRounds = 20;

// A checkpoint whose every tensor encodes `counter`: float tensors hold it in
// every element (exact below 2^24), and an int64 scalar holds it too. Filled
// with plain loops, so the forked child runs no OpenMP region.
tg::TensorMap checkpoint(std::int64_t counter) {
  tg::TensorMap out;
  for (int k = 0; k < kTensors; ++k) {
    tg::Tensor t = tg::empty({kTensorElements});
    float* p = t.data_ptr<float>();
    for (std::int64_t i = 0; i < kTensorElements; ++i) p[i] = static_cast<float>(counter);
    out["weight" + std::to_string(k)] = t;
  }
  tg::Tensor c = tg::empty({}, {.dtype = tg::kInt64});
  *c.data_ptr<std::int64_t>() = counter;
  out["counter"] = c;
  return out;
}

// The counter of the checkpoint at `path`; fails the test unless every
// tensor of it carries the same one.
std::int64_t check_consistent(const std::string& path) {
  const tg::TensorMap loaded = tg::load(path);
  REQUIRE(loaded.size() == kTensors + 1);
  const std::int64_t counter = loaded.at("counter").item<std::int64_t>();
  for (int k = 0; k < kTensors; ++k) {
    const tg::Tensor& t = loaded.at("weight" + std::to_string(k));
    REQUIRE(t.numel() == kTensorElements);
    const float* p = t.data_ptr<float>();
    std::int64_t mismatched = 0;
    for (std::int64_t i = 0; i < kTensorElements; ++i) mismatched += p[i] != static_cast<float>(counter);
    CHECK_MESSAGE(mismatched == 0, "weight" << k << " has " << mismatched << " elements not equal to " << counter);
  }
  return counter;
}

[[noreturn]] void save_forever(const std::string& path, std::int64_t first) {
  try {
    for (std::int64_t counter = first;; ++counter) tg::save(path, checkpoint(counter));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash_safe_save child: %s\n", e.what());
  }
  ::_exit(3);
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0) {}
}

std::vector<std::string> temp_files(const tg::test::TempDir& dir, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& entry : dir.entries())
    if (entry.rfind(name + ".tmp-", 0) == 0) out.push_back(entry);
  return out;
}

}  // namespace

TEST_CASE("crash-safe save: SIGKILL at random moments leaves a whole checkpoint and no pile of temp files") {
  tg::test::TempDir dir;
  const std::string name = "run.safetensors";
  const std::string path = dir.file(name);
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<int> pause_ms(5, 120);

  std::int64_t last_counter = -1;
  // The killed children whose temporary file may still be there.
  std::set<pid_t> may_have_left;
  int rounds_with_file = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::fflush(nullptr);  // nothing buffered twice through the fork
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) save_forever(path, last_counter + 1);

    if (round == 0) {
      // Let the first save land, so that every later round has a file to check.
      for (int waited = 0; waited < 20000 && !std::filesystem::exists(path); waited += 5) sleep_ms(5);
    }
    sleep_ms(pause_ms(rng));
    REQUIRE(::kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("round " << round);
    CHECK_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
                  "the child ended by itself (status " << status << "): see its message above");

    // Each save commits (rename), then removes the leftovers of dead
    // writers. Two commits in this round mean the first one's clean-up ran
    // to completion after every earlier child was dead: only this child's
    // file may remain. Otherwise the kill may have cut a clean-up short.
    bool cleaned = false;
    if (std::filesystem::exists(path)) {
      ++rounds_with_file;
      const std::int64_t counter = check_consistent(path);
      // Saves only move forward: the file never goes back to an older one.
      CHECK(counter >= last_counter);
      cleaned = counter >= last_counter + 2;
      last_counter = counter;
    }
    if (cleaned) may_have_left.clear();
    may_have_left.insert(child);
    const auto leftovers = temp_files(dir, name);
    std::set<pid_t> owners;
    for (const auto& file : leftovers) {
      const pid_t owner = static_cast<pid_t>(std::atoll(file.c_str() + name.size() + 5));
      CHECK_MESSAGE(may_have_left.count(owner) == 1, file << " belongs to none of the children that may have left one");
      CHECK_MESSAGE(owners.insert(owner).second, "two temporary files of one writer: " << file);
    }
  }
  CHECK(rounds_with_file == kRounds);
  CHECK(last_counter >= 0);

  // One save by a live process clears every leftover of the dead ones.
  tg::save(path, checkpoint(last_counter + 1));
  CHECK(check_consistent(path) == last_counter + 1);
  CHECK(temp_files(dir, name).empty());
  CHECK(dir.entries() == std::vector<std::string>{name});
}

TEST_CASE("crash-safe save: temp files of live processes and foreign names are left alone") {
  tg::test::TempDir dir;
  const std::string path = dir.file("model.safetensors");
  // This process is alive; pid 1 (init) is alive; the others are not temp
  // files of this path at all.
  const std::vector<std::string> keep = {
      "model.safetensors.tmp-" + std::to_string(::getpid()) + "-abcdef",
      "model.safetensors.tmp-1-abcdef",
      "model.safetensors.tmp-abcdef",
      "other.safetensors.tmp-999999999-abcdef",
      "model.safetensors.tmp--abcdef",
  };
  for (const auto& file : keep) tg::test::write_bytes(dir.file(file), {1, 2, 3});
  // A pid that cannot be running: above the kernel's maximum (2^22).
  const std::string dead = "model.safetensors.tmp-99999999-abcdef";
  tg::test::write_bytes(dir.file(dead), {1, 2, 3});

  tg::save(path, tg::TensorMap{{"x", tg::ones({2})}});
  for (const auto& file : keep) CHECK_MESSAGE(std::filesystem::exists(dir.file(file)), file);
  CHECK_FALSE(std::filesystem::exists(dir.file(dead)));
  CHECK(tg::load(path).at("x").numel() == 2);
}

#else

TEST_CASE("crash-safe save: needs fork() and SIGKILL (Linux only)") {
  MESSAGE("skipped: the crash-safe save test runs on Linux only");
}

#endif

}  // namespace test_crash_safe_save_test
