// A user's program against the installed tapegrad: every layer is used once
// (a tensor, a GEMM and a backward; a module and an optimizer step; a
// dataset; safetensors and module checkpoints), a tg:: error is caught by
// its own type across the library boundary, and the consumer's own headers
// named like tapegrad's (core/tensor.h, data/dataset.h, nn/module.h, ...)
// stay the consumer's. Results are checked against values worked out by hand.
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "own_headers.h"  // before tapegrad: no name of ours may hide theirs, or theirs ours

#include <tapegrad/tapegrad.h>

int linear_alone();  // linear_only.cpp: <tapegrad/nn/linear.h> without the umbrella header

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    fmt::print(stderr, "consumer: {}\n", what);
    ++failures;
  }
}

// A user's module: its vtable and typeinfo derive from tapegrad's Module,
// which the shared library must export.
struct Net : tg::nn::Module {
  tg::nn::Linear fc{2, 1};
  Net() { register_module("fc", fc); }
  tg::Tensor forward(const tg::Tensor& x) override { return fc(x); }
};

}  // namespace

int main() {
  // The consumer's own types are usable next to tapegrad's.
  consumer::Tensor own{2, 3};
  consumer::Dataset own_data{own.rows * own.cols};
  expect(own_data.size == 6 && consumer::Module{}.name != nullptr, "the consumer's own headers");

  // [[1, 2], [3, 4]] @ [[5], [6]] = [[17], [39]]
  tg::Tensor a = tg::tensor({1, 2, 3, 4}, {2, 2}, {.requires_grad = true});
  tg::Tensor b = tg::tensor({5.0, 6.0}, {2, 1});
  tg::Tensor y = tg::matmul(a, b);
  expect(y.to_vector<float>() == std::vector<float>{17, 39}, "a @ b != [17, 39]");
  // d(sum(a @ b)) / da = ones([2, 1]) @ b^T = [[5, 6], [5, 6]]
  y.sum().backward();
  expect(a.grad().to_vector<float>() == std::vector<float>{5, 6, 5, 6}, "grad of sum(a @ b) != [5, 6, 5, 6]");

  // An error thrown inside the library, caught by its own type here.
  bool caught = false;
  try {
    tg::matmul(tg::ones({2, 3}), tg::ones({2, 3}));
  } catch (const tg::ShapeError& e) {
    caught = std::string(e.what()).find("matmul") != std::string::npos;
  }
  expect(caught, "matmul of [2, 3] by [2, 3] did not throw a tg::ShapeError naming matmul");

  // One SGD step on Net: w <- w - lr * dL/dw, with L = sum(fc(x)) so that
  // dL/dw = sum of the rows of x = [4, 6] and dL/db = 2 (two rows).
  Net net;
  const tg::Tensor x = tg::tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  const std::vector<float> w0 = net.fc.weight.to_vector<float>();
  const float b0 = net.fc.bias.item<float>();
  tg::optim::SGD sgd(net.parameters(), {.lr = 0.5});
  net.zero_grad();
  net.forward(x).sum().backward();
  sgd.step();
  const std::vector<float> w1 = net.fc.weight.to_vector<float>();
  expect(w1 == std::vector<float>{w0[0] - 2.0f, w0[1] - 3.0f} && net.fc.bias.item<float>() == b0 - 1.0f,
         "one SGD step did not move the weights by -lr * grad");

  // A dataset of the two rows.
  tg::data::TensorDataset dataset(x, tg::tensor({0.0, 1.0}, {2}));
  expect(dataset.size() == 2 && dataset.get(1).input.to_vector<float>() == std::vector<float>{3, 4},
         "TensorDataset example 1 != [3, 4]");

  // safetensors (io) and a module's checkpoint, saved and loaded back.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "tapegrad_consumer";
  std::filesystem::create_directories(dir);
  const std::string tensors_file = (dir / "tensors.safetensors").string();
  tg::save(tensors_file, tg::TensorMap{{"x", x}});
  expect(tg::load(tensors_file).at("x").to_vector<float>() == std::vector<float>{1, 2, 3, 4},
         "safetensors round trip of x");
  const std::string model_file = (dir / "net.safetensors").string();
  tg::save(model_file, net);
  Net restored;
  tg::load(model_file, restored);
  expect(restored.fc.weight.to_vector<float>() == w1, "tg::load(file, module) did not restore the weights");
  std::filesystem::remove_all(dir);

  expect(linear_alone() == 0, "<tapegrad/nn/linear.h> on its own");

  if (failures) return 1;
  fmt::print("consumer: installed tapegrad works\n");
  return 0;
}
