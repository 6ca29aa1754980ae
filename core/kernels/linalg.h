#pragma once
// Matrix products without autograd: the shape and dtype rules of matmul, mm,
// addmm, linear, dot and outer, and their forward computation through the
// GEMM layer (core/kernels/blas.h). Operands must share one dtype (float32,
// float64 or int64); a mix is a DTypeError naming both.
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// torch.matmul: 1-D @ 1-D is a dot product (0-d result); 2-D @ 2-D a matrix
// product; a 1-D left operand is a row vector and a 1-D right operand a
// column vector, the added dim removed from the result; N-D operands are
// stacks of matrices whose batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
// 2-D @ 2-D only.
Tensor mm(const Tensor& a, const Tensor& b);
// beta * input + alpha * (a @ b) for 2-D a, b; input broadcasts to the result.
// beta == 0 ignores input's values (as BLAS and PyTorch do).
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta = 1, double alpha = 1);
// x @ weight^T + bias with x [..., in], weight [out, in], bias [out] (or
// undefined): one GEMM over all leading dims of x, the bias folded in.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// Sum of a[i] * b[i] for 1-D a, b of one length (0-d result).
Tensor dot(const Tensor& a, const Tensor& b);
// a[i] * b[j] for 1-D a [n], b [m]: an [n, m] result.
Tensor outer(const Tensor& a, const Tensor& b);

}  // namespace tg::kernel
