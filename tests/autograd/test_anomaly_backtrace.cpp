// Anomaly mode's error says where the failing op was recorded as function
// names, files and lines (Boost.Stacktrace), not raw addresses.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/error.h>

namespace test_anomaly_backtrace {

namespace {

// noinline: the frame must exist for the trace to name it.
[[gnu::noinline]] tg::Tensor anomaly_backtrace_test_forward(const tg::Tensor& x) {
  return tg::sqrt(x);  // at 0 its backward divides by zero
}

// A backward that fails for a reason of its own (not a NaN).
struct BadBackward : tg::autograd::Function<BadBackward> {
  static tg::Tensor forward(tg::autograd::AutogradContext*, const tg::Tensor& x) { return x * 2; }
  static std::vector<tg::Tensor> backward(tg::autograd::AutogradContext*, std::vector<tg::Tensor> g) {
    return {tg::matmul(g[0], tg::ones({5, 5}))};  // [3] x [5, 5]: a ShapeError
  }
};

[[gnu::noinline]] tg::Tensor anomaly_error_test_forward(const tg::Tensor& x) { return BadBackward::apply(x); }

std::string error_of_backward(const tg::Tensor& x) {
  try {
    tg::sum(anomaly_error_test_forward(x)).backward();
  } catch (const tg::ShapeError& e) {  // the type is kept
    return e.what();
  }
  return "no ShapeError";
}

}  // namespace

// As PyTorch's anomaly mode: an error thrown inside a backward also names
// the node and where it was recorded (it named only the inner matmul).
TEST_CASE("anomaly mode: an error thrown in a backward names the node and its recording site, once") {
  tg::Tensor x = tg::ones({3}).set_requires_grad(true);
  const std::string plain = error_of_backward(x);
  CHECK(plain.find("matmul") != std::string::npos);
  CHECK(plain.find("anomaly mode") == std::string::npos);
  tg::DetectAnomalyGuard anomaly;
  const std::string detailed = error_of_backward(x);
  INFO(detailed);
  CHECK(detailed.find(plain) == 0);
  CHECK(detailed.find("(anomaly mode) thrown in the backward of ") != std::string::npos);
  CHECK(detailed.find("BadBackward") != std::string::npos);
  CHECK(detailed.find("anomaly_error_test_forward") != std::string::npos);
  CHECK(detailed.find("(anomaly mode)") == detailed.rfind("(anomaly mode)"));
}

TEST_CASE("anomaly mode: the recording site names the function and file that recorded the op") {
  tg::DetectAnomalyGuard anomaly;
  tg::Tensor x = tg::zeros({3}).set_requires_grad(true);
  tg::Tensor loss = tg::sum(anomaly_backtrace_test_forward(x));
  std::string message;
  try {
    loss.backward();
  } catch (const tg::AutogradError& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("sqrt") != std::string::npos);
  CHECK(message.find("anomaly_backtrace_test_forward") != std::string::npos);
  CHECK(message.find("test_anomaly_backtrace.cpp:") != std::string::npos);
  CHECK(message.find("+0x") == std::string::npos);
}

}  // namespace test_anomaly_backtrace
