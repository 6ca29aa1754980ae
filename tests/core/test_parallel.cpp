// Thread-count policy (core/parallel.h): a fixed count when the user or
// OMP_NUM_THREADS sets one, otherwise teams sized to the cores other
// processes leave free.
#include <doctest/doctest.h>

#include <cstdlib>

#include <tapegrad/core/parallel.h>

namespace test_parallel {

namespace {

// Restores the default policy whatever a test case set.
struct DefaultThreadsAfter {
  ~DefaultThreadsAfter() { tg::reset_num_threads(); }
};

}  // namespace

TEST_CASE("team_for_load gives the cores other processes leave free, at least one, at most the cap") {
  using tg::detail::team_for_load;
  CHECK(team_for_load(2, 2, 0) == 2);    // idle machine
  CHECK(team_for_load(2, 2, 1) == 1);    // one busy process on two cores
  CHECK(team_for_load(2, 2, 7) == 1);    // a full machine: our own thread only
  CHECK(team_for_load(8, 8, 3) == 5);    // part of a larger machine
  CHECK(team_for_load(4, 64, 10) == 4);  // a big host with room: the cap
  CHECK(team_for_load(1, 2, 0) == 1);
  CHECK(team_for_load(0, 2, 0) == 1);  // never an empty team
}

TEST_CASE("set_num_threads fixes the team; reset_num_threads brings back the adaptive default") {
  DefaultThreadsAfter restore;
  tg::set_num_threads(3);
  CHECK(tg::get_num_threads() == 3);
  CHECK_FALSE(tg::adaptive_threads());
  CHECK(tg::detail::team_size() == 3);
  tg::set_num_threads(1);
  CHECK(tg::detail::team_size() == 1);
  tg::reset_num_threads();
  CHECK(tg::get_num_threads() >= 1);
  const bool env_fixed = std::getenv("OMP_NUM_THREADS") != nullptr;
  CHECK(tg::adaptive_threads() == !env_fixed);
  // Whatever the load, an adaptive team is between one thread and the cap.
  const int team = tg::detail::team_size();
  CHECK(team >= 1);
  CHECK(team <= tg::get_num_threads());
}

TEST_CASE("a region started inside a parallel region gets a team of one") {
  DefaultThreadsAfter restore;
  tg::set_num_threads(2);
  int inner = -1;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    inner = tg::detail::team_size();
  }
  CHECK(inner == 1);
}

}  // namespace test_parallel
