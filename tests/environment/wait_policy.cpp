// How tapegrad reads OpenMP's wait policy (core/parallel.h): a program of its
// own, run by ctest once per setting of OMP_WAIT_POLICY and GOMP_SPINCOUNT,
// since both are read once, when the library loads. Each run is checked
// against the OpenMP runtime's own reading of the setting, and with GCC's
// libgomp also against TAPEGRAD_EXPECT_PASSIVE (1 or 0), the answer libgomp's
// env.c gives (GOMP_SPINCOUNT, when it is a count, is the spin count whatever
// the policy; else PASSIVE means 0). LLVM's libomp (the sanitizer builds')
// ignores GOMP_SPINCOUNT.
#include <doctest/doctest.h>

#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <tapegrad/core/parallel.h>

namespace {

#if !defined(KMP_VERSION_MAJOR)
bool expect_passive() {
  const char* expected = std::getenv("TAPEGRAD_EXPECT_PASSIVE");
  REQUIRE_MESSAGE(expected != nullptr, "run by ctest, which sets TAPEGRAD_EXPECT_PASSIVE");
  return std::string(expected) == "1";
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
#endif

TEST_CASE("tapegrad reads the wait policy as the OpenMP runtime does") {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin_setting = std::getenv("GOMP_SPINCOUNT");
  CAPTURE(std::string(policy ? policy : "(unset)"));
  CAPTURE(std::string(spin_setting ? spin_setting : "(unset)"));
#if defined(KMP_VERSION_MAJOR)
  CHECK(tg::passive_wait_policy() == (kmp_get_blocktime() == 0));
#else
  const std::optional<unsigned long long> spin = libgomp_spin_count();
  REQUIRE(spin.has_value());
  CAPTURE(*spin);
  CHECK(tg::passive_wait_policy() == (*spin == 0));
  CHECK(tg::passive_wait_policy() == expect_passive());
#endif
}

TEST_CASE("the wait policy sets the parallel threshold") {
  CHECK(tg::parallel_threshold() ==
        (tg::passive_wait_policy() ? tg::kPassiveParallelThreshold : tg::kParallelThreshold));
}

TEST_CASE("under a passive policy, products too small to repay waking a thread run on one") {
  const bool passive = tg::passive_wait_policy();
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
