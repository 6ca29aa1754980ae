// Method forms a PyTorch user types from habit (x.add(y), x.softmax(1),
// x.half()): each is the free function of the same name.
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

namespace tg {

Tensor Tensor::half() const { return to(kFloat16); }
Tensor Tensor::bfloat16() const { return to(kBFloat16); }
Tensor Tensor::byte() const { return to(kUInt8); }

Tensor Tensor::add(const Tensor& other, double alpha) const { return tg::add(*this, other, alpha); }
Tensor Tensor::add(double other) const { return tg::add(*this, other); }
Tensor Tensor::sub(const Tensor& other, double alpha) const { return tg::sub(*this, other, alpha); }
Tensor Tensor::sub(double other) const { return tg::sub(*this, other); }
Tensor Tensor::mul(const Tensor& other) const { return tg::mul(*this, other); }
Tensor Tensor::mul(double other) const { return tg::mul(*this, other); }
Tensor Tensor::div(const Tensor& other) const { return tg::div(*this, other); }
Tensor Tensor::div(double other) const { return tg::div(*this, other); }
Tensor Tensor::softmax(std::int64_t dim) const { return tg::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return tg::log_softmax(*this, dim); }

}  // namespace tg
