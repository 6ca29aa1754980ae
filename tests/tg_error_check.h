#pragma once
// Runs a callable that must fail with a tg::Error subclass: a crash, a
// std::bad_alloc or std::length_error, or no exception at all fails the test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <string>
#include <type_traits>
#include <typeinfo>

#include <doctest/doctest.h>

#include <tapegrad/core/error.h>

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

// Runs `f` on another thread and waits at most `seconds`; its exception, if
// any, is rethrown here. What hangs cannot be cancelled, so a regression ends
// the whole process with a message rather than blocking ctest forever.
inline void within_seconds(int seconds, const std::string& what, const std::function<void()>& f) {
  auto done = std::async(std::launch::async, f);
  if (done.wait_for(std::chrono::seconds(seconds)) == std::future_status::timeout) {
    std::fprintf(stderr, "FATAL: %s is still running after %d s\n", what.c_str(), seconds);
    std::fflush(stderr);
    std::_Exit(1);
  }
  done.get();
}

}  // namespace tg_test
