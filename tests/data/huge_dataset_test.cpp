// Issue 11, class 4: a dataset reporting more examples than memory can index
// (2^61) is an OutOfMemoryError from the DataLoader and first_n, not
// std::length_error or std::bad_alloc from the index vector.
#include <cstdint>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/data/dataloader.h>
#include <tapegrad/data/dataset.h>
#include "tg_error_check.h"

namespace test_huge_dataset_test {

using namespace tg;
using tg_test::require_tg_error;

namespace {

class HugeDataset final : public data::Dataset {
 public:
  explicit HugeDataset(std::size_t n) : n_(n) {}
  std::size_t size() const override { return n_; }
  data::Example get(std::size_t index) const override {
    return {full({2}, static_cast<double>(index)), scalar_tensor(0)};
  }

 private:
  std::size_t n_;
};

}  // namespace

TEST_CASE("a DataLoader over a dataset of 2^61 examples is an OutOfMemoryError, shuffled or not") {
  for (bool shuffle : {false, true}) {
    CAPTURE(shuffle);
    data::DataLoader loader(std::make_shared<HugeDataset>(std::size_t{1} << 61), {.batch_size = 4, .shuffle = shuffle});
    CHECK(loader.size() == std::size_t{1} << 59);  // counting batches needs no memory
    const std::string msg = require_tg_error<OutOfMemoryError>([&] { loader.begin(); }, "DataLoader::begin");
    CHECK(msg.find("DataLoader") != std::string::npos);
    require_tg_error<OutOfMemoryError>([&] { loader.order(0); }, "DataLoader::order");
  }
  // A size whose index list would pass size_t's byte count.
  data::DataLoader loader(std::make_shared<HugeDataset>(~std::size_t{0}), {.batch_size = 3});
  require_tg_error<OutOfMemoryError>([&] { loader.begin(); }, "DataLoader over 2^64 - 1 examples");
}

TEST_CASE("first_n of 2^61 examples is an OutOfMemoryError") {
  require_tg_error<OutOfMemoryError>(
      [] { data::first_n(std::make_shared<HugeDataset>(std::size_t{1} << 61), std::size_t{1} << 61); }, "first_n");
}

TEST_CASE("a huge dataset still serves the batches asked for directly") {
  HugeDataset ds(std::size_t{1} << 61);
  const std::size_t last = (std::size_t{1} << 61) - 1;
  const std::size_t indices[] = {0, last};
  const data::Batch b = ds.get_batch(indices);
  CHECK(b.input.shape() == Dims{2, 2});
  CHECK(b.input.to_vector<double>()[2] == static_cast<double>(last));
}

}  // namespace test_huge_dataset_test
