// How tapegrad reads OpenMP's wait policy (core/parallel.h): a program of its
// own, run by ctest once per setting of OMP_WAIT_POLICY and GOMP_SPINCOUNT,
// since both are read once, when the library loads. Each run says in
// TAPEGRAD_EXPECT_PASSIVE (1 or 0) whether libgomp's idle threads sleep at
// once under that setting (libgomp's env.c: GOMP_SPINCOUNT, when it is a
// count, is the spin count whatever the policy; else PASSIVE means 0).
#include <doctest/doctest.h>

#include <cstdlib>
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
