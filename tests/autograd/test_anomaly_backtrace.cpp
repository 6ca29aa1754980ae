// Anomaly mode's error says where the failing op was recorded as function
// names, files and lines (Boost.Stacktrace), not raw addresses.
#include <doctest/doctest.h>

#include <string>

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

}  // namespace

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
