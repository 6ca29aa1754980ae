// Matrix products: matmul, mm, addmm, linear, dot, outer. The forward and
// the shape rules are in core/kernels/linalg.cpp; backward formulas use
// matmul on transposed views, which reach BLAS as transpose flags.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/linalg.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// Product of all dims but the last.
std::int64_t leading_rows(const Tensor& t) {
  std::int64_t rows = 1;
  for (int d = 0; d + 1 < t.dim(); ++d) rows *= t.size(d);
  return rows;
}

void record_matmul(const char* name, const Tensor& a, const Tensor& b, Tensor& y) {
  const bool ga = autograd::requires_grad_of(a), gb = autograd::requires_grad_of(b);
  autograd::record(name, {&a, &b}, {&y},
                   [sa = SavedTensor::input_if(gb, a), sb = SavedTensor::input_if(ga, b), a_dim = a.dim(),
                    b_dim = b.dim()](Backward& bw) {
                     // y = a @ b with a [..., m, k] and b [..., k, n] (batch dims broadcast):
                     //   da = dy @ b^T  [..., m, k],   db = a^T @ dy  [..., k, n],
                     // summed back over broadcast batch dims by bw.add. A 1-D a is a row
                     // [1, k] and a 1-D b a column [k, 1]; dy lacks those dims, so they are
                     // put back before and taken out after. 1-D @ 1-D: y = sum a_i b_i,
                     //   da = dy * b,  db = dy * a.
                     const Tensor& dy = bw.grad();
                     if (a_dim == 1 && b_dim == 1) {
                       if (bw.needs(0)) bw.add(0, mul(dy, bw.unpack(sb)));
                       if (bw.needs(1)) bw.add(1, mul(dy, bw.unpack(sa)));
                       return;
                     }
                     Tensor g = dy;
                     if (b_dim == 1) g = unsqueeze(g, -1);
                     if (a_dim == 1) g = unsqueeze(g, -2);
                     if (bw.needs(0)) {
                       Tensor b = bw.unpack(sb);
                       if (b_dim == 1) b = unsqueeze(b, 1);
                       Tensor da = matmul(g, transpose(b, -1, -2));
                       bw.add(0, a_dim == 1 ? squeeze(da, -2) : da);
                     }
                     if (bw.needs(1)) {
                       Tensor a = bw.unpack(sa);
                       if (a_dim == 1) a = unsqueeze(a, 0);
                       Tensor db;
                       if (b_dim <= 2 && a_dim > 2) {
                         // A stack of matrices times one matrix: db sums a^T @ dy over the
                         // stack, which is one GEMM over the stack's rows flattened:
                         // [k, rows] @ [rows, n].
                         const std::int64_t rows = leading_rows(a);
                         db = matmul(transpose(reshape(a, {rows, a.size(-1)}), 0, 1), reshape(g, {rows, g.size(-1)}));
                       } else {
                         db = matmul(transpose(a, -1, -2), g);
                       }
                       bw.add(1, b_dim == 1 ? squeeze(db, -1) : db);
                     }
                   });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("matmul", a, b);
  Tensor y = kernel::matmul(a, b);
  if (autograd::needs_grad(a, b)) record_matmul("matmul", a, b, y);
  return y;
}

Tensor mm(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("mm", a, b);
  Tensor y = kernel::mm(a, b);
  if (autograd::needs_grad(a, b)) record_matmul("mm", a, b, y);
  return y;
}

Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha) {
  TG_PROFILE_OP("addmm", input, a, b);
  Tensor y = kernel::addmm(input, a, b, beta, alpha);
  if (autograd::needs_grad(input, a, b)) {
    const bool ga = autograd::requires_grad_of(a), gb = autograd::requires_grad_of(b);
    autograd::record("addmm", {&input, &a, &b}, {&y},
                     [sa = SavedTensor::input_if(gb, a), sb = SavedTensor::input_if(ga, b), beta, alpha](Backward& bw) {
                       // y = beta * input + alpha * (a @ b), a [m, k], b [k, n], y [m, n]:
                       //   dinput = beta * dy (summed to input's shape by bw.add),
                       //   da = alpha * dy @ b^T [m, k],   db = alpha * a^T @ dy [k, n].
                       const Tensor& dy = bw.grad();
                       if (bw.needs(0)) bw.add(0, beta == 1 ? dy : mul(dy, beta));
                       if (bw.needs(1)) {
                         Tensor da = matmul(dy, transpose(bw.unpack(sb), 0, 1));
                         bw.add(1, alpha == 1 ? da : mul(da, alpha));
                       }
                       if (bw.needs(2)) {
                         Tensor db = matmul(transpose(bw.unpack(sa), 0, 1), dy);
                         bw.add(2, alpha == 1 ? db : mul(db, alpha));
                       }
                     });
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  TG_PROFILE_OP("linear", x, weight, bias);
  Tensor y = kernel::linear(x, weight, bias);
  if (autograd::needs_grad(x, weight, bias)) {
    const bool gx = autograd::requires_grad_of(x), gw = autograd::requires_grad_of(weight);
    autograd::record("linear", {&x, &weight, &bias}, {&y},
                     [sx = SavedTensor::input_if(gw, x), sw = SavedTensor::input_if(gx, weight)](Backward& bw) {
                       // y = x @ W^T + b with x [..., in], W [out, in], b [out], y [..., out].
                       // With the leading dims flattened, x2 [N, in] and dy2 [N, out]:
                       //   dx = dy @ W [..., in],   dW = dy2^T @ x2 [out, in],
                       //   db = dy2 summed over N [out].
                       const Tensor& dy = bw.grad();
                       if (bw.needs(0)) bw.add(0, matmul(dy, bw.unpack(sw)));
                       if (!bw.needs(1) && !bw.needs(2)) return;
                       const Tensor dy2 = reshape(dy, {leading_rows(dy), dy.size(-1)});
                       if (bw.needs(1)) {
                         const Tensor x = bw.unpack(sx);
                         bw.add(1, matmul(transpose(dy2, 0, 1), reshape(x, {leading_rows(x), x.size(-1)})));
                       }
                       if (bw.needs(2)) bw.add(2, sum(dy2, {0}));
                     });
  }
  return y;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("dot", a, b);
  Tensor y = kernel::dot(a, b);
  if (autograd::needs_grad(a, b)) {
    const bool ga = autograd::requires_grad_of(a), gb = autograd::requires_grad_of(b);
    autograd::record("dot", {&a, &b}, {&y},
                     [sa = SavedTensor::input_if(gb, a), sb = SavedTensor::input_if(ga, b)](Backward& bw) {
                       // y = sum_i a_i b_i (0-d):  da = dy * b,  db = dy * a.
                       if (bw.needs(0)) bw.add(0, mul(bw.grad(), bw.unpack(sb)));
                       if (bw.needs(1)) bw.add(1, mul(bw.grad(), bw.unpack(sa)));
                     });
  }
  return y;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("outer", a, b);
  Tensor y = kernel::outer(a, b);
  if (autograd::needs_grad(a, b)) {
    const bool ga = autograd::requires_grad_of(a), gb = autograd::requires_grad_of(b);
    autograd::record("outer", {&a, &b}, {&y},
                     [sa = SavedTensor::input_if(gb, a), sb = SavedTensor::input_if(ga, b)](Backward& bw) {
                       // y_ij = a_i b_j, a [n], b [m], y [n, m]:  da = dy @ b [n],  db = dy^T @ a [m].
                       // Mixed dtypes promote in the forward; matmul takes one dtype, dy's.
                       const DType dt = bw.grad().dtype();
                       if (bw.needs(0)) bw.add(0, matmul(bw.grad(), to_dtype(bw.unpack(sb), dt)));
                       if (bw.needs(1)) bw.add(1, matmul(transpose(bw.grad(), 0, 1), to_dtype(bw.unpack(sa), dt)));
                     });
  }
  return y;
}

}  // namespace tg
