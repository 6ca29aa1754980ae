#pragma once
// Runs a callable that must fail with a tg::Error subclass: a crash, a
// std::bad_alloc or std::length_error, or no exception at all fails the test.
#include <exception>
#include <string>
#include <type_traits>
#include <typeinfo>

#include <doctest/doctest.h>

#include "core/error.h"

namespace tg_test {

// E is the subclass expected (tg::Error accepts any). Returns the message,
// so a caller can check what it names.
template <class E = tg::Error, class F>
std::string require_tg_error(F&& f, const char* what) {
  try {
    f();
  } catch (const tg::Error& e) {
    if constexpr (!std::is_same_v<E, tg::Error>)
      if (!dynamic_cast<const E*>(&e))
        FAIL_CHECK(what << ": threw a tg::Error of the wrong subclass (" << typeid(e).name() << "): " << e.what());
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK(what << ": threw " << typeid(e).name() << " instead of a tg::Error: " << e.what());
    return {};
  } catch (...) {
    FAIL_CHECK(what << ": threw something that is not a std::exception");
    return {};
  }
  FAIL_CHECK(what << ": did not throw");
  return {};
}

}  // namespace tg_test
