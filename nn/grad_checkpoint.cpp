#include <tapegrad/nn/grad_checkpoint.h>

#include <memory>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/error.h>

namespace tg::nn {

Tensor checkpoint_sequential(Sequential& seq, std::int64_t segments, const Tensor& input, CheckpointOptions options) {
  const auto n = static_cast<std::int64_t>(seq.size());
  if (n == 0) throw ValueError("checkpoint_sequential: the Sequential has no modules");
  if (segments < 1 || segments > n)
    throw ValueError(fmt::format(
        "checkpoint_sequential: segments must be between 1 and the number of modules ({}), got {}", n, segments));
  if (!input.defined()) throw ValueError("checkpoint_sequential: the input is undefined");
  const std::int64_t size = n / segments;
  Tensor x = input;
  std::int64_t start = 0;
  for (std::int64_t s = 0; s + 1 < segments; ++s, start += size) {
    std::vector<std::shared_ptr<Module>> run;
    std::vector<Tensor> params;
    for (std::int64_t i = start; i < start + size; ++i) {
      run.push_back(seq.ptr(static_cast<std::size_t>(i)));
      for (const Tensor& p : run.back()->parameters())
        if (p.requires_grad()) params.push_back(p);
    }
    // The modules are shared with the lambda: backward may outlive `seq`'s
    // scope in the caller's code (the graph holds the function).
    x = tg::checkpoint(
        [run](const std::vector<Tensor>& in) {
          Tensor y = in[0];
          for (const auto& m : run) y = m->forward(y);
          return y;
        },
        {x}, params, options);
  }
  for (std::int64_t i = start; i < n; ++i) x = seq.ptr(static_cast<std::size_t>(i))->forward(x);
  return x;
}

}  // namespace tg::nn
