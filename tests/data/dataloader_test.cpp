// Datasets and the DataLoader: which rows land in which batch, in what order,
// and what the batches hold.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include <tapegrad/data/dataloader.h>
#include <tapegrad/data/dataset.h>

namespace test_dataloader_test {

using tg::data::Batch;
using tg::data::DataLoader;
using tg::data::Dataset;
using tg::data::Example;
using tg::data::TensorDataset;

namespace {

// Row i of the inputs is {i, i + 0.5, -i}; target i is 10 i.
TensorDataset rows(std::int64_t n) {
  tg::Tensor x = tg::empty({n, 3});
  tg::Tensor y = tg::empty({n}, {.dtype = tg::kInt64});
  float* px = x.data_ptr<float>();
  std::int64_t* py = y.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    px[3 * i] = static_cast<float>(i);
    px[3 * i + 1] = static_cast<float>(i) + 0.5f;
    px[3 * i + 2] = -static_cast<float>(i);
    py[i] = 10 * i;
  }
  return TensorDataset(x, y);
}

template <class T>
std::vector<T> values(const tg::Tensor& t) {
  const T* p = t.data_ptr<T>();
  return std::vector<T>(p, p + t.numel());
}

// The example ids (target / 10) of a batch of rows(), after checking that
// every input row is the row that its target says it is.
std::vector<std::int64_t> ids(const Batch& b) {
  const auto n = b.target.shape()[0];
  REQUIRE(b.input.shape().vec() == std::vector<std::int64_t>{n, 3});
  const auto x = values<float>(b.input);
  const auto y = values<std::int64_t>(b.target);
  std::vector<std::int64_t> out;
  for (std::int64_t k = 0; k < n; ++k) {
    const auto i = y[static_cast<std::size_t>(k)] / 10;
    const auto f = static_cast<float>(i);
    CHECK(x[static_cast<std::size_t>(3 * k)] == f);
    CHECK(x[static_cast<std::size_t>(3 * k + 1)] == f + 0.5f);
    CHECK(x[static_cast<std::size_t>(3 * k + 2)] == -f);
    out.push_back(i);
  }
  return out;
}

// One epoch of ids, batch by batch.
std::vector<std::vector<std::int64_t>> epoch(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (auto& batch : loader) out.push_back(ids(batch));
  return out;
}

std::vector<std::int64_t> flat(const std::vector<std::vector<std::int64_t>>& batches) {
  std::vector<std::int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_CASE("TensorDataset::get returns row i of inputs and targets") {
  const auto ds = rows(10);
  CHECK(ds.size() == 10);
  const Example e = ds.get(4);
  CHECK(e.input.shape().vec() == std::vector<std::int64_t>{3});
  CHECK(values<float>(e.input) == std::vector<float>{4.0f, 4.5f, -4.0f});
  CHECK(e.target.dim() == 0);
  CHECK(e.target.data_ptr<std::int64_t>()[0] == 40);
  CHECK_THROWS_WITH_AS(ds.get(10), doctest::Contains("index 10 is out of range for a dataset of 10"), tg::IndexError);
}

TEST_CASE("TensorDataset checks that inputs and targets agree on dim 0") {
  CHECK_THROWS_WITH_AS(TensorDataset(tg::empty({10, 3}), tg::empty({9}, {.dtype = tg::kInt64})),
                       doctest::Contains("[10, 3] and targets [9] disagree on the number of examples (10 != 9)"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(TensorDataset(tg::empty({}), tg::empty({1})), doctest::Contains("TensorDataset"),
                       tg::ShapeError);
  CHECK_THROWS_AS(TensorDataset(tg::Tensor(), tg::empty({1})), tg::ValueError);
}

TEST_CASE("DataLoader without shuffling yields rows in order, last batch short") {
  DataLoader loader(rows(10), {.batch_size = 3});
  CHECK(loader.size() == 4);
  const auto batches = epoch(loader);
  REQUIRE(batches.size() == 4);
  CHECK(batches[0] == std::vector<std::int64_t>{0, 1, 2});
  CHECK(batches[2] == std::vector<std::int64_t>{6, 7, 8});
  CHECK(batches[3] == std::vector<std::int64_t>{9});
}

TEST_CASE("DataLoader drop_last drops only a short final batch") {
  DataLoader loader(rows(10), {.batch_size = 3, .drop_last = true});
  CHECK(loader.size() == 3);
  const auto batches = epoch(loader);
  REQUIRE(batches.size() == 3);
  for (const auto& b : batches) CHECK(b.size() == 3);
  CHECK(flat(batches) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});

  DataLoader exact(rows(9), {.batch_size = 3, .drop_last = true});
  CHECK(exact.size() == 3);
  DataLoader exact_keep(rows(9), {.batch_size = 3});
  CHECK(exact_keep.size() == 3);
  DataLoader too_few(rows(2), {.batch_size = 3, .drop_last = true});
  CHECK(too_few.size() == 0);
  CHECK(epoch(too_few).empty());
  DataLoader one_short(rows(2), {.batch_size = 3});
  CHECK(one_short.size() == 1);
  CHECK(epoch(one_short) == std::vector<std::vector<std::int64_t>>{{0, 1}});
}

TEST_CASE("a shuffled DataLoader visits every example exactly once per epoch") {
  DataLoader loader(rows(50), {.batch_size = 8, .shuffle = true, .seed = 3});
  CHECK(loader.size() == 7);
  std::set<std::vector<std::int64_t>> orders;
  for (int e = 0; e < 4; ++e) {
    const auto batches = epoch(loader);
    REQUIRE(batches.size() == 7);
    CHECK(batches.back().size() == 2);
    auto order = flat(batches);
    orders.insert(order);
    CHECK(order != iota(50));
    std::sort(order.begin(), order.end());
    CHECK(order == iota(50));
  }
  CHECK(orders.size() == 4);  // each epoch a new permutation
}

TEST_CASE("DataLoader shuffles deterministically from its seed and the epoch") {
  DataLoader a(rows(40), {.batch_size = 5, .shuffle = true, .seed = 42});
  DataLoader b(rows(40), {.batch_size = 5, .shuffle = true, .seed = 42});
  DataLoader other(rows(40), {.batch_size = 5, .shuffle = true, .seed = 43});
  CHECK(a.epoch() == 0);
  const auto a0 = flat(epoch(a));
  const auto a1 = flat(epoch(a));
  CHECK(a.epoch() == 2);
  CHECK(flat(epoch(b)) == a0);
  CHECK(flat(epoch(b)) == a1);
  CHECK(flat(epoch(other)) != a0);

  // set_epoch replays an epoch, for resuming or DistributedSampler-style use.
  DataLoader c(rows(40), {.batch_size = 5, .shuffle = true, .seed = 42});
  c.set_epoch(1);
  CHECK(flat(epoch(c)) == a1);
  c.set_epoch(0);
  CHECK(flat(epoch(c)) == a0);

  // order() tells the same story without loading anything.
  std::vector<std::int64_t> order1;
  for (auto i : a.order(1)) order1.push_back(static_cast<std::int64_t>(i));
  CHECK(order1 == a1);
}

TEST_CASE("the batch size need not divide the data, shuffled or not") {
  for (bool shuffle : {false, true}) {
    for (std::size_t bs : {1u, 2u, 7u, 13u, 20u}) {
      CAPTURE(shuffle);
      CAPTURE(bs);
      DataLoader loader(rows(13), {.batch_size = bs, .shuffle = shuffle, .seed = 9});
      const auto batches = epoch(loader);
      CHECK(batches.size() == loader.size());
      CHECK(batches.size() == (13 + bs - 1) / bs);
      for (std::size_t k = 0; k + 1 < batches.size(); ++k) CHECK(batches[k].size() == bs);
      auto all = flat(batches);
      std::sort(all.begin(), all.end());
      CHECK(all == iota(13));
    }
  }
}

TEST_CASE("DataLoader rejects a batch size of zero") {
  CHECK_THROWS_WITH_AS(DataLoader(rows(3), {.batch_size = 0}), doctest::Contains("batch_size"), tg::ValueError);
}

TEST_CASE("an empty dataset gives no batches") {
  DataLoader loader(rows(0), {.batch_size = 4, .shuffle = true});
  CHECK(loader.size() == 0);
  CHECK(epoch(loader).empty());
}

TEST_CASE("TensorDataset batches keep every trailing dimension of inputs and targets") {
  // inputs [6, 2, 2] = 0..23; targets [6, 2] = (i, -i).
  tg::Tensor x = tg::empty({6, 2, 2}, {.dtype = tg::kFloat64});
  tg::Tensor y = tg::empty({6, 2}, {.dtype = tg::kInt64});
  for (std::int64_t k = 0; k < 24; ++k) x.data_ptr<double>()[k] = static_cast<double>(k);
  for (std::int64_t i = 0; i < 6; ++i) {
    y.data_ptr<std::int64_t>()[2 * i] = i;
    y.data_ptr<std::int64_t>()[2 * i + 1] = -i;
  }
  const TensorDataset ds(x, y);
  const std::vector<std::size_t> pick{5, 0, 1, 2, 5};
  const Batch b = ds.get_batch(pick);
  CHECK(b.input.shape().vec() == std::vector<std::int64_t>{5, 2, 2});
  CHECK(b.target.shape().vec() == std::vector<std::int64_t>{5, 2});
  CHECK(values<double>(b.input) ==
        std::vector<double>{20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(values<std::int64_t>(b.target) == std::vector<std::int64_t>{5, -5, 0, 0, 1, -1, 2, -2, 5, -5});
  const std::vector<std::size_t> bad{1, 6};
  CHECK_THROWS_AS(ds.get_batch(bad), tg::IndexError);
}

namespace {

// A dataset without a batch fast path: example i is input (i, i^2) in f64,
// target i as a 0-d int64, made one tensor at a time.
class Squares : public Dataset {
 public:
  explicit Squares(std::size_t n) : n_(n) {}
  std::size_t size() const override { return n_; }
  Example get(std::size_t i) const override {
    const auto v = static_cast<double>(i);
    tg::Tensor x = tg::empty({2}, {.dtype = tg::kFloat64});
    x.data_ptr<double>()[0] = v;
    x.data_ptr<double>()[1] = v * v;
    tg::Tensor y = tg::empty({}, {.dtype = tg::kInt64});
    y.data_ptr<std::int64_t>()[0] = static_cast<std::int64_t>(i);
    return {x, y};
  }

 private:
  std::size_t n_;
};

// Example 3 has a different input shape, or dtype.
class Ragged : public Squares {
 public:
  Ragged(std::size_t n, bool wrong_dtype) : Squares(n), wrong_dtype_(wrong_dtype) {}
  Example get(std::size_t i) const override {
    if (i != 3) return Squares::get(i);
    return {wrong_dtype_ ? tg::empty({2}) : tg::empty({3}, {.dtype = tg::kFloat64}), Squares::get(i).target};
  }

 private:
  bool wrong_dtype_;
};

}  // namespace

TEST_CASE("a generic Dataset is batched by stacking its examples") {
  DataLoader loader(Squares(10), {.batch_size = 4, .shuffle = true, .seed = 5});
  std::vector<std::int64_t> seen;
  for (auto& batch : loader) {
    const auto n = batch.target.shape()[0];
    CHECK(batch.input.shape().vec() == std::vector<std::int64_t>{n, 2});
    CHECK(batch.target.dtype() == tg::kInt64);
    const auto x = values<double>(batch.input);
    const auto y = values<std::int64_t>(batch.target);
    for (std::size_t k = 0; k < y.size(); ++k) {
      const auto v = static_cast<double>(y[k]);
      CHECK(x[2 * k] == v);
      CHECK(x[2 * k + 1] == v * v);
      seen.push_back(y[k]);
    }
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == iota(10));
}

TEST_CASE("stacking examples of different shapes or dtypes names the examples") {
  const std::vector<std::size_t> pick{1, 3};
  CHECK_THROWS_WITH_AS(Ragged(5, false).get_batch(pick),
                       doctest::Contains("example 3's input has shape [3] but example 1's has [2]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(Ragged(5, true).get_batch(pick),
                       doctest::Contains("example 3's input is float32 but example 1's is float64"), tg::DTypeError);
  const std::vector<std::size_t> out_of_range{0, 5};
  CHECK_THROWS_AS(Squares(5).get_batch(out_of_range), tg::IndexError);
}

TEST_CASE("TensorDataset with kToUnitFloat hands out uint8 inputs as float32 byte / 255") {
  // 40 examples of [3, 5] bytes covering 0..255; targets 0..39.
  tg::Tensor bytes = tg::empty({40, 3, 5}, {.dtype = tg::kUInt8});
  std::uint8_t* pb = bytes.data_ptr<std::uint8_t>();
  for (std::int64_t i = 0; i < bytes.numel(); ++i) pb[i] = static_cast<std::uint8_t>((i * 37) % 256);
  tg::Tensor targets = tg::arange(0, 40, 1, tg::kInt64);
  const TensorDataset data(bytes, targets, tg::data::InputTransform::kToUnitFloat);
  CHECK(data.transform() == tg::data::InputTransform::kToUnitFloat);
  CHECK(data.inputs().dtype() == tg::kUInt8);
  const auto expect_row = [&](const tg::Tensor& got, std::size_t row) {
    REQUIRE(got.dtype() == tg::kFloat32);
    REQUIRE(got.numel() == 15);
    const std::vector<float> v = got.contiguous().to_vector<float>();
    for (std::size_t k = 0; k < 15; ++k)  // exactly the floats load_mnist_images gives
      CHECK(v[k] == static_cast<float>(pb[row * 15 + k]) / 255.0f);
  };
  const Example e = data.get(7);
  CHECK(e.input.shape().vec() == std::vector<std::int64_t>{3, 5});
  expect_row(e.input, 7);
  CHECK(e.target.item<std::int64_t>() == 7);

  // Shuffled, repeated and consecutive indices, as a DataLoader asks for them.
  const std::vector<std::size_t> indices{39, 0, 1, 2, 17, 17, 5};
  const Batch b = data.get_batch(indices);
  CHECK(b.input.shape().vec() == std::vector<std::int64_t>{7, 3, 5});
  for (std::size_t i = 0; i < indices.size(); ++i) {
    CAPTURE(i);
    expect_row(b.input.select(0, static_cast<std::int64_t>(i)), indices[i]);
    CHECK(b.target.select(0, static_cast<std::int64_t>(i)).item<std::int64_t>() ==
          static_cast<std::int64_t>(indices[i]));
  }
  CHECK_THROWS_AS(data.get_batch(std::vector<std::size_t>{3, 40}), tg::IndexError);

  // narrow keeps the transform; a DataLoader batches through it.
  const TensorDataset tail = data.narrow(30, 10);
  CHECK(tail.transform() == tg::data::InputTransform::kToUnitFloat);
  expect_row(tail.get(2).input, 32);
  DataLoader loader(tail, {.batch_size = 4});
  std::size_t seen = 0;
  for (const Batch& batch : loader) {
    CHECK(batch.input.dtype() == tg::kFloat32);
    for (std::int64_t i = 0; i < batch.input.size(0); ++i) expect_row(batch.input.select(0, i), 30 + seen++);
  }
  CHECK(seen == 10);
}

TEST_CASE("TensorDataset with kToUnitFloat refuses inputs that are not uint8") {
  CHECK_THROWS_WITH_AS(TensorDataset(tg::zeros({4, 2}), tg::zeros({4}), tg::data::InputTransform::kToUnitFloat),
                       doctest::Contains("kToUnitFloat converts uint8 pixels, but the inputs [4, 2] are float32"),
                       tg::DTypeError);
}

TEST_CASE("TensorDataset::narrow, Subset and first_n select examples") {
  const auto ds = rows(10);
  SUBCASE("narrow views a range of rows") {
    const auto part = ds.narrow(2, 5);
    CHECK(part.size() == 5);
    CHECK(values<float>(part.get(0).input) == std::vector<float>{2.0f, 2.5f, -2.0f});
    DataLoader loader(part, {.batch_size = 2});
    CHECK(flat(epoch(loader)) == std::vector<std::int64_t>{2, 3, 4, 5, 6});
    CHECK(ds.narrow(10, 0).size() == 0);
    CHECK_THROWS_WITH_AS(ds.narrow(8, 3),
                         "TensorDataset::narrow: start 8 and length 3 are out of range for a dataset of 10 examples",
                         tg::IndexError);
    // start + length wraps around: the message names what was asked for.
    CHECK_THROWS_WITH_AS(ds.narrow(3, SIZE_MAX),
                         "TensorDataset::narrow: start 3 and length 18446744073709551615 are out of range for a "
                         "dataset of 10 examples",
                         tg::IndexError);
    CHECK_THROWS_WITH_AS(ds.narrow(11, 0), doctest::Contains("start 11 and length 0"), tg::IndexError);
  }
  SUBCASE("Subset keeps its indices' order and may repeat them") {
    const tg::data::Subset sub(ds, {7, 1, 1, 0});
    CHECK(sub.size() == 4);
    CHECK(values<std::int64_t>(sub.get(0).target) == std::vector<std::int64_t>{70});
    DataLoader loader(sub, {.batch_size = 3});
    CHECK(epoch(loader) == std::vector<std::vector<std::int64_t>>{{7, 1, 1}, {0}});
    CHECK_THROWS_WITH_AS(tg::data::Subset(ds, {3, 10}), doctest::Contains("index 10 is out of range"), tg::IndexError);
  }
  SUBCASE("first_n, shuffled") {
    DataLoader loader(tg::data::first_n(ds, 6), {.batch_size = 4, .shuffle = true, .seed = 1});
    auto all = flat(epoch(loader));
    std::sort(all.begin(), all.end());
    CHECK(all == iota(6));
    CHECK_THROWS_WITH_AS(tg::data::first_n(ds, 11), doctest::Contains("asked for 11 examples of a dataset of 10"),
                         tg::IndexError);
  }
}

TEST_CASE("a Fashion-MNIST-sized epoch: 1875 batches of 32 covering 60000 rows") {
  const std::int64_t n = 60000;
  tg::Tensor x = tg::zeros({n, 28, 28});
  tg::Tensor y = tg::empty({n}, {.dtype = tg::kInt64});
  std::iota(y.data_ptr<std::int64_t>(), y.data_ptr<std::int64_t>() + n, std::int64_t{0});
  DataLoader loader(TensorDataset(x, y), {.batch_size = 32, .shuffle = true, .seed = 0});
  CHECK(loader.size() == 1875);
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  std::size_t batches = 0;
  for (auto& batch : loader) {
    ++batches;
    const std::int64_t* t = batch.target.data_ptr<std::int64_t>();
    for (std::int64_t k = 0; k < batch.target.numel(); ++k) ++seen[static_cast<std::size_t>(t[k])];
  }
  CHECK(batches == 1875);
  CHECK(std::all_of(seen.begin(), seen.end(), [](char c) { return c == 1; }));
}

}  // namespace test_dataloader_test
