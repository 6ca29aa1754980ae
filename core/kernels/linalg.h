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
TensorBase matmul(const TensorBase& a, const TensorBase& b);
// 2-D @ 2-D only.
TensorBase mm(const TensorBase& a, const TensorBase& b);
// beta * input + alpha * (a @ b) for 2-D a, b; input broadcasts to the result.
// beta == 0 ignores input's values (as BLAS and PyTorch do).
TensorBase addmm(const TensorBase& input, const TensorBase& a, const TensorBase& b, double beta = 1, double alpha = 1);
// x @ weight^T + bias with x [..., in], weight [out, in], bias [out] (or
// undefined): one GEMM over all leading dims of x, the bias folded in.
TensorBase linear(const TensorBase& x, const TensorBase& weight, const TensorBase& bias = {});
// Sum of a[i] * b[i] for 1-D a, b of one length (0-d result).
TensorBase dot(const TensorBase& a, const TensorBase& b);
// a[i] * b[j] for 1-D a [n], b [m]: an [n, m] result.
TensorBase outer(const TensorBase& a, const TensorBase& b);

}  // namespace tg::kernel
