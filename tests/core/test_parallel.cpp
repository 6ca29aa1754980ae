// Thread-count policy (core/parallel.h): a fixed count when the user or
// OMP_NUM_THREADS sets one, otherwise teams sized to the cores other
// processes leave free.
#include <doctest/doctest.h>

#include <omp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/linalg.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/tensor.h>

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

TEST_CASE("a BLAS call gives the caller's OpenMP team size back") {
  DefaultThreadsAfter restore;
  tg::set_num_threads(1);  // tapegrad's team: 1
  omp_set_num_threads(3);  // the user's own regions: 3
  const tg::TensorBase a = tg::kernel::ones({64, 64});
  (void)tg::kernel::matmul(a, a);
  CHECK(omp_get_max_threads() == 3);  // was left at 1
}

TEST_CASE("set_num_threads refuses more than 1024 threads (libgomp crashes near 100,000)") {
  DefaultThreadsAfter restore;
  CHECK_THROWS_AS(tg::set_num_threads(100000), tg::ValueError);
  CHECK_THROWS_AS(tg::set_num_threads(1025), tg::ValueError);
  CHECK_THROWS_AS(tg::set_num_threads(0), tg::ValueError);
  CHECK(tg::get_num_threads() >= 1);  // unchanged (1024 itself is not tried: it may start 1024 threads)
}

TEST_CASE("a child made by fork() after parallel work runs its kernels, single-threaded") {
  DefaultThreadsAfter restore;
  tg::set_num_threads(2);
  const tg::TensorBase big = tg::kernel::ones({1 << 20});
  CHECK(tg::kernel::sum(big, tg::Dims{0}, false).item<float>() == static_cast<float>(1 << 20));  // the pool exists now
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // libgomp's pool has no threads here: a team of two waited forever, in
    // tapegrad's kernels and in OpenBLAS's. Asking for two is refused (it
    // hung), and a reset keeps one thread.
    bool ok = tg::get_num_threads() == 1 &&
              tg::kernel::sum(big, tg::Dims{0}, false).item<float>() == static_cast<float>(1 << 20);
    try {
      tg::set_num_threads(2);
      ok = false;
    } catch (const tg::ValueError& e) {
      ok = ok && std::string(e.what()).find("fork()") != std::string::npos;
    }
    tg::reset_num_threads();
    ok = ok && tg::get_num_threads() == 1 && !tg::adaptive_threads();
    tg::set_num_threads(1);  // allowed
    const tg::TensorBase square = tg::kernel::ones({512, 512});
    ok = ok && tg::get_num_threads() == 1 &&
         tg::kernel::sum(big, tg::Dims{0}, false).item<float>() == static_cast<float>(1 << 20) &&
         tg::kernel::matmul(square, square).to_vector<float>()[0] == 512.0F;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  bool done = false;
  for (int i = 0; i < 600 && !done; ++i) {  // up to a minute
    done = waitpid(child, &status, WNOHANG) == child;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!done) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  CHECK(done);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

}  // namespace test_parallel
