// The MPI tests' main: every rank runs the same test cases in the same
// order (their collectives must match), between init() and finalize().
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <tapegrad/distributed/distributed.h>

int main(int argc, char** argv) {
  tg::distributed::init();
  doctest::Context context(argc, argv);
  // Only rank 0 reports passes; a failure is reported by the rank it happens on.
  if (tg::distributed::rank() != 0) context.setOption("minimal", true);
  const int status = context.run();
  // A failing rank must not leave the others blocked in the next collective.
  if (status != 0) tg::distributed::abort("test cases failed on this rank", status);
  tg::distributed::finalize();
  return status;
}
