// Adam's and AdamW's updates of large parameters run on a team of threads,
// each taking one contiguous range of the elements
// (optim::detail::for_each_range). The update is elementwise, so the result
// must be the same bits as one thread's. The other optimizers update serially
// (their loops in parallel copies cost the shared library 30 KB it does not
// have); they are held to the same rule, so that splitting them later cannot
// change their results unnoticed. Sizes that do not divide evenly.
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/optim/optim.h>

#include "support/thread_count.h"

namespace test_optimizer_threads {

using tg::Tensor;

namespace {

using Make = std::function<std::unique_ptr<tg::optim::Optimizer>(const Tensor&)>;

template <class Opt, class Options>
Make maker(Options options) {
  return [options](const Tensor& p) { return std::make_unique<Opt>(std::vector<Tensor>{p}, options); };
}

std::vector<std::pair<const char*, Make>> optimizers() {
  namespace o = tg::optim;
  return {
      {"SGD nesterov, weight decay",
       maker<o::SGD>(o::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true})},
      {"Adam", maker<o::Adam>(o::AdamOptions{.lr = 1e-2})},
      {"Adam L2, amsgrad", maker<o::Adam>(o::AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true})},
      {"AdamW", maker<o::AdamW>(o::AdamWOptions{.lr = 1e-2})},
      {"RMSprop centered, momentum",
       maker<o::RMSprop>(o::RMSpropOptions{.lr = 1e-2, .momentum = 0.5, .centered = true})},
      {"Adagrad", maker<o::Adagrad>(o::AdagradOptions{.lr = 1e-2, .weight_decay = 0.1})},
      {"Adadelta", maker<o::Adadelta>(o::AdadeltaOptions{.weight_decay = 0.1})},
      {"NAdam", maker<o::NAdam>(o::NAdamOptions{.weight_decay = 0.1})},
      {"RAdam", maker<o::RAdam>(o::RAdamOptions{.lr = 1e-2})},
      {"Adamax", maker<o::Adamax>(o::AdamaxOptions{.weight_decay = 0.1})},
  };
}

// The parameter's starting values: normal draws scaled by 1/64 (exact in
// every dtype), so that a step of Adadelta's or Adam's size (1e-3 to 1e-2)
// exceeds half the spacing of a 16-bit float there (bfloat16's 8 bits near
// 1/64: 6e-5) and moves the element; near 1 (spacing 8e-3) most stayed put,
// and a test of the threads' split would see nothing to compare.
Tensor start_values(std::int64_t n, tg::DType dtype) {
  tg::manual_seed(11);
  return tg::randn({n}, {.dtype = dtype}) * (1.0 / 64);
}

// Seven steps (RAdam's rectified branch starts at step 6) of `make` on a
// parameter of n elements of `dtype`, with a fixed team of `threads`.
Tensor run(const Make& make, std::int64_t n, tg::DType dtype, int threads) {
  tg::set_num_threads(threads);
  Tensor p = start_values(n, dtype).set_requires_grad();
  auto opt = make(p);
  for (int step = 0; step < 7; ++step) {
    p.set_grad(tg::randn({n}, {.dtype = dtype}));
    opt->step();
  }
  return p.detach().clone();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), static_cast<std::size_t>(a.numel()) * tg::itemsize(a.dtype())) == 0;
}

}  // namespace

TEST_CASE("optimizers: a large parameter's update on 2 or 3 threads gives one thread's bits") {
  const tg_test::ThreadCountRestore restore;
  // Past the threshold and not a multiple of the per-thread part or of 16.
  const std::int64_t n = tg::parallel_threshold() + 37;
  for (const auto& entry : optimizers()) {
    const std::string name = entry.first;
    const Make& make = entry.second;
    CAPTURE(name);
    for (tg::DType dtype : {tg::kFloat32, tg::kFloat64, tg::kBFloat16, tg::kFloat16}) {
      CAPTURE(tg::dtype_name(dtype));
      const Tensor one = run(make, n, dtype, 1);
      // The steps moved nearly every element, in every dtype (rounding may
      // leave the odd one where it was), so the comparisons below compare
      // updates, not untouched starting values.
      const Tensor start = start_values(n, dtype);
      const std::int64_t unmoved = tg::eq(one, start).sum().item<std::int64_t>();
      CHECK(unmoved < n / 100);
      CHECK(same_bits(run(make, n, dtype, 2), one));
      CHECK(same_bits(run(make, n, dtype, 3), one));
    }
  }
}

}  // namespace test_optimizer_threads
