#pragma once
// The GEMM layer: every matrix product in tapegrad goes through gemm() below,
// which calls OpenBLAS's cblas_sgemm / cblas_dgemm, or oneDNN's dnnl_sgemm for
// float32 products of 2^20 multiply-adds or more (when built with libdnnl-dev:
// faster there, see blas.cpp). Integer dtypes get a plain
// loop that wraps as PyTorch's; float16 and bfloat16 are widened to float32.
//
// A strided 2-D view is handed to BLAS as it is whenever one of its strides is
// 1 and the other at least the row length: a transposed view becomes the
// Trans flag, never a copy. Only views BLAS cannot describe (broadcast rows
// with stride 0, every-other-column slices) are made contiguous first.
#include <atomic>
#include <cstdint>
#include <optional>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// How BLAS reads a rows x cols matrix M from memory (row-major order):
// trans == false: M(i, j) = data[i * ld + j]
// trans == true:  M(i, j) = data[j * ld + i]   (the memory holds M^T)
struct GemmLayout {
  bool trans = false;
  std::int64_t ld = 1;
};

// The layout of a rows x cols view with element strides (row_stride,
// col_stride), or nothing when BLAS cannot read it without a copy. Strides of
// size-1 dims do not matter.
std::optional<GemmLayout> gemm_layout(std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                                      std::int64_t col_stride);

// C = alpha * A @ B + beta * C, with A m x k, B k x n and C m x n row-major
// with leading dimension ldc. All pointers hold `dtype` elements (any numeric
// dtype; bool is a DTypeError). beta == 0 means C is not read (NaNs in it do not leak).
// k == 0 scales C by beta. `op` names the caller in error messages.
void gemm(DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const void* a, GemmLayout la,
          const void* b, GemmLayout lb, double beta, void* c, std::int64_t ldc, const char* op = "matmul");

// *out = sum over i < n of a[i * inc_a] * b[i * inc_b] (increments in
// elements, >= 0).
void dot(DType dtype, std::int64_t n, const void* a, std::int64_t inc_a, const void* b, std::int64_t inc_b, void* out,
         const char* op = "dot");

// t = x^T: x a rows x cols matrix of float32 or float64 (row-major, leading
// dimension ldx >= cols), t cols x rows (leading dimension ldt >= rows).
// OpenBLAS's omatcopy: about five times faster than a loop's strided stores
// (a 256 x 64 float32 matrix: 1.8 us against 8-15 us).
void transpose(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, std::int64_t ldx, void* t,
               std::int64_t ldt, const char* op);

// Counters for tests and benchmarks: how many GEMMs ran, and how many
// operands had to be copied because BLAS could not read their layout.
struct GemmStats {
  std::uint64_t calls = 0;
  std::uint64_t operand_copies = 0;
};
GemmStats gemm_stats();
void count_operand_copy();

}  // namespace tg::kernel

namespace tg::detail {
/// Which vendor's rules kernel::gemm follows between OpenBLAS and oneDNN
/// (core/kernels/blas.cpp): -1 (the default) this CPU's, 0 Intel's, 1
/// AMD's. The results are right either way; the tests run both on any CPU.
inline std::atomic<int> gemm_amd_rules{-1};
}  // namespace tg::detail
