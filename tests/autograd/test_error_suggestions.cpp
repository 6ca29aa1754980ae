// Errors that suggest another function suggest one that exists: each name in
// the advice of these messages is an op of the registry or a Tensor method.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <regex>
#include <set>
#include <string>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/error.h>
#include <tapegrad/testing/op_registry.h>

namespace test_error_suggestions {

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tg::Error& e) {
    return e.what();
  }
  return {};
}

// Names after "use"/"call"/"with"/"or" in the advice, and every "name()".
std::set<std::string> suggested_names(const std::string& message) {
  std::set<std::string> out;
  const std::regex advice("(?:use|call|with|or) ([a-z_][a-z0-9_]*)(?:\\(\\))?(?= |,|$)");
  const std::regex call("([a-z_][a-z0-9_]*)\\(\\)");
  for (std::sregex_iterator it(message.begin(), message.end(), advice), end; it != end; ++it)
    if ((*it)[1].str().find('_') != std::string::npos || it->str().find("()") != std::string::npos)
      out.insert((*it)[1]);
  for (std::sregex_iterator it(message.begin(), message.end(), call), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

}  // namespace

TEST_CASE("error messages suggest only functions that exist") {
  auto names = tg::testing::registry_op_names();
  std::set<std::string> known(names.begin(), names.end());
  // Tensor methods the messages may name (tensor.h).
  for (const char* m : {"to", "clone", "contiguous", "detach"}) known.insert(m);

  const tg::Tensor flags = tg::ones({3}).to(tg::kBool);
  const tg::Tensor ones = tg::ones({3});
  const std::string messages[] = {
      message_of([&] { tg::sub(flags, flags); }),
      message_of([&] { tg::sub(ones, flags); }),
      message_of([&] { tg::neg(flags); }),
      message_of([&] {
        tg::Tensor f = flags.clone();
        f.sub_(flags);
      }),
      message_of([&] {
        tg::Tensor f = flags.clone();
        f.add_(1.0);
      }),
      message_of([&] {
        tg::Tensor e = tg::expand(tg::ones({1}), {3});
        e.add_(ones);
      }),
  };
  for (const auto& message : messages) {
    CAPTURE(message);
    REQUIRE_FALSE(message.empty());
    const auto suggested = suggested_names(message);
    for (const auto& name : suggested) {
      CAPTURE(name);
      CHECK(known.count(name) == 1);
    }
  }
  // The bool subtraction advice names a real exclusive or.
  CHECK(messages[0].find("logical_xor") == std::string::npos);
  CHECK(messages[0].find("ne for an exclusive or") != std::string::npos);
}

}  // namespace test_error_suggestions
