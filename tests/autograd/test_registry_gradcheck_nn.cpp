// The registry's gradient checks of the nn functional ops, reductions and
// shape ops (the other families: test_registry_gradcheck.cpp, which says what
// is checked). A file of its own so that ctest runs the two halves at once.
#include <doctest/doctest.h>

#include "support/registry_gradcheck.h"

namespace test_registry_gradcheck_nn {

TEST_CASE("registry gradcheck: nn functional ops") { tg_test::run_family("nn"); }
TEST_CASE("registry gradcheck: reductions") { tg_test::run_family("reduce"); }
TEST_CASE("registry gradcheck: shape ops") { tg_test::run_family("shape"); }

}  // namespace test_registry_gradcheck_nn
