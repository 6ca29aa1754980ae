// Resuming a DistributedSampler: a mid-epoch position belongs to the world
// size that saved it; an epoch boundary resumes with any. In-process (no
// communication): the samplers of other world sizes are built explicitly.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/distributed/sampler.h>

namespace test_resume {

namespace dist = tg::distributed;

TEST_CASE("DistributedSampler state: a mid-epoch position resumes with the same world size only") {
  // Rank 1 of 2, three indices into epoch 4 of 23 examples.
  dist::DistributedSampler saved(23, 2, 1, {.seed = 5});
  saved.set_epoch(4);
  const auto whole = saved.indices();
  saved.set_position(3);
  CHECK(saved.indices() == std::vector<std::size_t>(whole.begin() + 3, whole.end()));
  const auto state = saved.state_dict();
  CHECK(state.at("world_size") == "2");
  CHECK(state.at("position") == "3");
  CHECK(state.at("epoch") == "4");

  dist::DistributedSampler same(23, 2, 1, {.seed = 5});
  same.load_state_dict(state);
  CHECK(same.epoch() == 4);
  CHECK(same.position() == 3);
  CHECK(same.indices() == saved.indices());
  same.set_epoch(5);  // the next epoch starts at its beginning
  CHECK(same.position() == 0);

  for (int world : {1, 3}) {
    CAPTURE(world);
    dist::DistributedSampler other(23, world, 0, {.seed = 5});
    const std::string want = fmt::format(
        "world size mismatch on resume: the state was saved in the middle of epoch 4 (3 indices per rank done) by a "
        "job of 2 ranks, but this job has {} ranks",
        world);
    CHECK_THROWS_WITH_AS(other.load_state_dict(state), doctest::Contains(want.c_str()), tg::ValueError);
    CHECK(other.epoch() == 0);  // unchanged
    CHECK(other.position() == 0);
  }
  // Mid-epoch, another dataset or seed would not continue the same permutation either.
  dist::DistributedSampler bigger(24, 2, 1, {.seed = 5});
  CHECK_THROWS_WITH_AS(bigger.load_state_dict(state),
                       doctest::Contains("over a dataset of 23 examples, but this sampler has 24"), tg::ValueError);
  dist::DistributedSampler reseeded(23, 2, 1, {.seed = 6});
  CHECK_THROWS_WITH_AS(reseeded.load_state_dict(state), doctest::Contains("with seed 5, but this sampler has seed 6"),
                       tg::ValueError);
}

TEST_CASE("DistributedSampler state: at an epoch boundary any world size resumes the same permutation") {
  dist::DistributedSampler saved(23, 2, 0, {.seed = 5});
  saved.set_epoch(7);
  const auto state = saved.state_dict();
  for (int world : {1, 2, 3}) {
    for (int r = 0; r < world; ++r) {
      dist::DistributedSampler resumed(23, world, r, {.seed = 5}), fresh(23, world, r, {.seed = 5});
      resumed.load_state_dict(state);
      fresh.set_epoch(7);
      CHECK(resumed.epoch() == 7);
      CHECK(resumed.indices() == fresh.indices());
    }
  }
}

TEST_CASE("DistributedSampler state: malformed states and positions are errors") {
  dist::DistributedSampler s(10, 2, 0);
  auto state = s.state_dict();
  state.erase("world_size");
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("the state has no 'world_size'"), tg::FormatError);
  state = s.state_dict();
  state["position"] = "-1";
  CHECK_THROWS_WITH_AS(s.load_state_dict(state), doctest::Contains("'position' must be a non-negative integer"),
                       tg::FormatError);
  state = s.state_dict();
  state["world_size"] = "0";
  CHECK_THROWS_AS(s.load_state_dict(state), tg::FormatError);
  CHECK_THROWS_AS(s.set_position(6), tg::ValueError);
  s.set_position(5);
  CHECK(s.indices().empty());
}

TEST_CASE("DistributedSampler without padding: every example exactly once, uneven shares") {
  for (int world : {1, 2, 3, 4}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{2}, std::size_t{10}, std::size_t{11}}) {
      CAPTURE(world);
      CAPTURE(n);
      std::vector<int> count(n, 0);
      std::size_t total = 0;
      for (int r = 0; r < world; ++r) {
        dist::DistributedSampler s(n, world, r, {.seed = 2, .pad = false});
        s.set_epoch(1);
        const auto mine = s.indices();
        CHECK(mine.size() == s.size());
        CHECK(mine.size() <= (n + static_cast<std::size_t>(world) - 1) / static_cast<std::size_t>(world));
        CHECK(mine.size() + 1 >= n / static_cast<std::size_t>(world) + (n % static_cast<std::size_t>(world) ? 1 : 0));
        total += mine.size();
        for (auto i : mine) ++count[i];
      }
      CHECK(total == n);
      for (int c : count) CHECK(c == 1);
    }
  }
}

}  // namespace test_resume
