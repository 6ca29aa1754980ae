// How tapegrad reads OpenMP's wait policy (core/parallel.h): a program of its
// own, run by ctest once per setting of OMP_WAIT_POLICY and GOMP_SPINCOUNT,
// since both are read once, when the library loads. Each run says in
// TAPEGRAD_EXPECT_PASSIVE (1 or 0) whether libgomp's idle threads sleep at
// once under that setting (libgomp's env.c: GOMP_SPINCOUNT, when it is a
// count, is the spin count whatever the policy; else PASSIVE means 0).
#include <doctest/doctest.h>

#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <tapegrad/core/parallel.h>

namespace {

bool expect_passive() {
  const char* expected = std::getenv("TAPEGRAD_EXPECT_PASSIVE");
  REQUIRE_MESSAGE(expected != nullptr, "run by ctest, which sets TAPEGRAD_EXPECT_PASSIVE");
  return std::string(expected) == "1";
}

TEST_CASE("the wait policy sets the parallel threshold") {
  const bool passive = expect_passive();
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  CAPTURE(std::string(policy ? policy : "(unset)"));
  CAPTURE(std::string(spin ? spin : "(unset)"));
  CHECK(tg::passive_wait_policy() == passive);
  CHECK(tg::parallel_threshold() == (passive ? tg::kPassiveParallelThreshold : tg::kParallelThreshold));
}

// libgomp's own spin count, as omp_display_env prints it to stderr
// ("  GOMP_SPINCOUNT = '300000'"), if it printed one.
std::optional<unsigned long long> libgomp_spin_count() {
  std::fflush(stderr);
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture != nullptr);
  const int saved = dup(2);
  REQUIRE(saved >= 0);
  REQUIRE(dup2(fileno(capture), 2) >= 0);
  omp_display_env(1);
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::rewind(capture);
  std::string text;
  for (int c; (c = std::fgetc(capture)) != EOF;) text += static_cast<char>(c);
  std::fclose(capture);
  const std::string key = "GOMP_SPINCOUNT = '";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(text.substr(at + key.size()));
}

TEST_CASE("the wait policy tapegrad reads is libgomp's own") {
  const std::optional<unsigned long long> spin = libgomp_spin_count();
  REQUIRE(spin.has_value());
  CAPTURE(*spin);
  CHECK(tg::passive_wait_policy() == (*spin == 0));
}

TEST_CASE("under a passive policy, products too small to repay waking a thread run on one") {
  const bool passive = expect_passive();
  tg::set_num_threads(2);
  const double line = 16.0 * static_cast<double>(tg::parallel_threshold());
  {
    const tg::detail::BlasTeam small(line - 1);
    CHECK(small.size() == (passive ? 1 : 2));
  }
  {
    const tg::detail::BlasTeam large(line);
    CHECK(large.size() == 2);
  }
  tg::reset_num_threads();
}

}  // namespace
