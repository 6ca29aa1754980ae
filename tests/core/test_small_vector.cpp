// tg::SmallVector: inline up to N elements, then the heap, with std::vector's meaning.
#include <doctest/doctest.h>
#include <tapegrad/core/small_vector.h>

#include <memory>
#include <string>
#include <utility>

namespace test_small_vector {

namespace {

// Counts live objects, so a test sees every element destroyed exactly once.
struct Counted {
  static inline int live = 0;
  std::string value;
  Counted() : value("-") { ++live; }
  explicit Counted(std::string v) : value(std::move(v)) { ++live; }
  Counted(const Counted& o) : value(o.value) { ++live; }
  Counted(Counted&& o) noexcept : value(std::move(o.value)) { ++live; }
  ~Counted() { --live; }
};

}  // namespace

TEST_CASE("SmallVector's resize and size constructor make and destroy elements as std::vector's") {
  {
    tg::SmallVector<Counted, 2> v(2);  // inline
    CHECK(v.capacity() == 2);
    CHECK(Counted::live == 2);
    v[0].value = "a";
    v.resize(5);  // past the inline room: the first keeps its value
    REQUIRE(v.size() == 5);
    CHECK(v.capacity() >= 5);
    CHECK(Counted::live == 5);
    CHECK(v[0].value == "a");
    CHECK(v[4].value == "-");
    v.resize(1);
    CHECK(v.size() == 1);
    CHECK(Counted::live == 1);
    tg::SmallVector<Counted, 2> w(std::move(v));
    CHECK(v.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty and usable
    v.resize(3);
    CHECK(Counted::live == 4);
    tg::SmallVector<Counted, 2> none(0);
    CHECK(none.empty());
  }
  CHECK(Counted::live == 0);
}

TEST_CASE("SmallVector holds N elements inline and grows onto the heap past them") {
  {
    tg::SmallVector<Counted, 2> v;
    CHECK(v.empty());
    CHECK(v.capacity() == 2);
    v.emplace_back("a");
    v.push_back(Counted("b"));
    CHECK(v.capacity() == 2);
    const Counted* inline_data = v.data();
    v.emplace_back("c");  // spills
    CHECK(v.capacity() >= 3);
    CHECK(v.data() != inline_data);
    REQUIRE(v.size() == 3);
    CHECK(v[0].value == "a");
    CHECK(v[1].value == "b");
    CHECK(v.back().value == "c");
    CHECK(Counted::live == 3);
    v.pop_back();
    CHECK(Counted::live == 2);
    std::string joined;
    for (const auto& x : v) joined += x.value;
    CHECK(joined == "ab");
  }
  CHECK(Counted::live == 0);
}

TEST_CASE("SmallVector copies and moves, inline and on the heap") {
  for (int n : {1, 2, 5}) {
    CAPTURE(n);
    {
      tg::SmallVector<Counted, 2> v;
      v.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) v.emplace_back(std::to_string(i));
      tg::SmallVector<Counted, 2> copy(v);
      REQUIRE(copy.size() == v.size());
      for (std::size_t i = 0; i < v.size(); ++i) CHECK(copy[i].value == v[i].value);
      tg::SmallVector<Counted, 2> moved(std::move(copy));
      CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty, as documented
      REQUIRE(moved.size() == v.size());
      CHECK(moved.back().value == std::to_string(n - 1));
      tg::SmallVector<Counted, 2> assigned;
      assigned.emplace_back("x");
      assigned = moved;
      CHECK(assigned.size() == v.size());
      assigned = std::move(moved);
      CHECK(assigned.size() == v.size());
      CHECK(assigned[0].value == "0");
      v.clear();
      CHECK(v.empty());
      CHECK(Counted::live == n);
    }
    CHECK(Counted::live == 0);
  }
}

}  // namespace test_small_vector
