// conv2d by im2col + GEMM and its two gradients (declared in conv.h), and
// the shape rules of the convolutions and transposed convolutions.
#include <tapegrad/core/kernels/conv.h>

#include <algorithm>
#include <limits>

#include <string>

#include <fmt/format.h>

#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

namespace {

constexpr const char* kConv = "conv2d";

// The output positions [lo, hi) along one axis whose input position
// out * stride + offset falls inside [0, size).
std::pair<std::int64_t, std::int64_t> valid_range(std::int64_t offset, std::int64_t stride, std::int64_t size,
                                                  std::int64_t out_size) {
  const std::int64_t lo = offset >= 0 ? 0 : std::min(out_size, (-offset + stride - 1) / stride);
  const std::int64_t last = size - 1 - offset;
  const std::int64_t hi = last < 0 ? 0 : std::min(out_size, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

// col [C*kh*kw, Ho*Wo]: row (c, i, j) holds the input pixels that kernel tap
// (i, j) of channel c meets at each output position, zero where it meets padding.
template <class T>
void im2col(const T* x, const Conv2dGeometry& g, T* col) {
  const std::int64_t cols = g.col_cols();
  for (std::int64_t c = 0; c < g.c; ++c) {
    const T* plane = x + c * g.h * g.w;
    for (std::int64_t i = 0; i < g.kh; ++i) {
      for (std::int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * cols;
        const std::int64_t off_h = i * g.dh - g.ph, off_w = j * g.dw - g.pw;
        const auto [lo, hi] = valid_range(off_w, g.sw, g.w, g.wo);
        for (std::int64_t oh = 0; oh < g.ho; ++oh) {
          T* out = row + oh * g.wo;
          const std::int64_t ih = oh * g.sh + off_h;
          if (ih < 0 || ih >= g.h) {
            std::fill(out, out + g.wo, T(0));
            continue;
          }
          const T* in = plane + ih * g.w;
          std::fill(out, out + lo, T(0));
          if (g.sw == 1)
            for (std::int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow + off_w];
          else
            for (std::int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.sw + off_w];
          std::fill(out + hi, out + g.wo, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: adds each column entry back onto the pixel it came
// from (x must hold zeros, or what should be added to).
template <class T>
void col2im(const T* col, const Conv2dGeometry& g, T* x) {
  const std::int64_t cols = g.col_cols();
  for (std::int64_t c = 0; c < g.c; ++c) {
    T* plane = x + c * g.h * g.w;
    for (std::int64_t i = 0; i < g.kh; ++i) {
      for (std::int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * cols;
        const std::int64_t off_h = i * g.dh - g.ph, off_w = j * g.dw - g.pw;
        const auto [lo, hi] = valid_range(off_w, g.sw, g.w, g.wo);
        for (std::int64_t oh = 0; oh < g.ho; ++oh) {
          const std::int64_t ih = oh * g.sh + off_h;
          if (ih < 0 || ih >= g.h) continue;
          const T* in = row + oh * g.wo;
          T* out = plane + ih * g.w;
          if (g.sw == 1)
            for (std::int64_t ow = lo; ow < hi; ++ow) out[ow + off_w] += in[ow];
          else
            for (std::int64_t ow = lo; ow < hi; ++ow) out[ow * g.sw + off_w] += in[ow];
        }
      }
    }
  }
}

GemmLayout rows(std::int64_t ld) { return {false, ld}; }
GemmLayout transposed(std::int64_t ld) { return {true, ld}; }

// Images go to threads whole, each with its own column buffer, and each
// GEMM then runs single-threaded (OpenBLAS's OpenMP build does inside a
// parallel region): per-image GEMMs are too small to split well, while whole
// images split evenly. A single image or little work stays on one thread and
// leaves the threading to BLAS.
int image_threads(const Conv2dGeometry& g) {
  std::int64_t macs = 0;
  if (mul_overflows(g.n * g.o, g.col_rows() * g.col_cols(), &macs)) macs = std::numeric_limits<std::int64_t>::max();
  if (g.n < 2 || macs < parallel_threshold() * 16 || in_parallel_region()) return 1;
  return static_cast<int>(std::min<std::int64_t>(detail::team_size(), g.n));
}

// The weight gradient's partial sums: this many blocks of images at most,
// on any thread count (see conv2d_weight_grad).
constexpr std::int64_t kWeightGradBlocks = 8;
// ... and at most about this many bytes of them.
constexpr std::int64_t kPartialBytes = std::int64_t{32} << 20;

void check_same_floating(const char* op, const TensorBase& a, const char* a_name, const TensorBase& b,
                         const char* b_name) {
  if (!a.is_floating_point() || a.dtype() != b.dtype())
    throw DTypeError(fmt::format("{}: {} and {} must share one floating dtype, got {} and {}", op, a_name, b_name,
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
}

// (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1,
// or -1 past int64.
std::int64_t transposed_size(std::int64_t size, std::int64_t stride, std::int64_t padding, std::int64_t dilation,
                             std::int64_t kernel, std::int64_t output_padding) {
  std::int64_t a = 0, b = 0, p2 = 0;
  if (mul_overflows(size - 1, stride, &a) || mul_overflows(dilation, kernel - 1, &b) || add_overflows(a, b, &a) ||
      add_overflows(a, output_padding + 1, &a) || mul_overflows(padding, 2, &p2))
    return -1;
  return a - p2;
}

// The 1-D ops run as 2-D ones on a height of 1; their errors show what the
// caller passed: single numbers, and tensors without that height.
std::string sizes(Size2 s, bool one_d) { return one_d ? fmt::format("{}", s.w) : fmt::format("({}, {})", s.h, s.w); }

std::string shape_of(const TensorBase& t, bool one_d) {
  if (!one_d || t.dim() != 4) return shape_str(t.sizes());
  return shape_str(Dims{t.size(0), t.size(1), t.size(3)});
}

// A kernel needs at least one tap in each dim: an empty one gave an output
// larger than the input, of zeros (or the bias alone).
void check_kernel_size(const char* op, const TensorBase& weight, bool one_d) {
  if (weight.size(2) < 1 || weight.size(3) < 1)
    throw ShapeError(fmt::format("{}: the kernel size must be positive, got weight {}", op, shape_of(weight, one_d)));
}

}  // namespace

Conv2dGeometry conv2d_geometry(const TensorBase& x, const TensorBase& weight, const TensorBase& bias, Size2 stride,
                               Size2 padding, Size2 dilation, std::int64_t groups, const char* op, bool one_d,
                               Size2 extra_after) {
  if (weight.dim() != 4)
    throw ShapeError(fmt::format("{}: weight must be 4-D [out_channels, in_channels / groups, kh, kw], got {}", op,
                                 shape_str(weight.sizes())));
  check_kernel_size(op, weight, one_d);
  if (x.dim() != 4)
    throw ShapeError(
        fmt::format("{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {}", op, shape_str(x.sizes())));
  if (groups < 1 || weight.size(0) % groups != 0)
    throw ValueError(
        fmt::format("{}: groups ({}) must be positive and divide out_channels ({})", op, groups, weight.size(0)));
  std::int64_t in_channels = 0;
  if (mul_overflows(weight.size(1), groups, &in_channels) || x.size(1) != in_channels)
    throw ShapeError(fmt::format(
        "{}: input has {} channels but the weight expects {} ({} per group, {} groups; input {}, weight {})", op,
        x.size(1), in_channels, weight.size(1), groups, shape_of(x, one_d), shape_of(weight, one_d)));
  check_same_floating(op, x, "input", weight, "weight");
  if (bias.defined()) {
    if (bias.dim() != 1 || bias.size(0) != weight.size(0))
      throw ShapeError(fmt::format("{}: bias must be [{}] (one per output channel), got {}", op, weight.size(0),
                                   shape_str(bias.sizes())));
    check_same_floating(op, weight, "weight", bias, "bias");
  }
  if (stride.h < 1 || stride.w < 1 || dilation.h < 1 || dilation.w < 1 || padding.h < 0 || padding.w < 0)
    throw ValueError(fmt::format("{}: stride {} and dilation {} must be positive and padding {} non-negative", op,
                                 sizes(stride, one_d), sizes(dilation, one_d), sizes(padding, one_d)));
  Conv2dGeometry g{x.size(0),      x.size(1), x.size(2), x.size(3), weight.size(0), weight.size(2),
                   weight.size(3), stride.h,  stride.w,  padding.h, padding.w,      dilation.h,
                   dilation.w,     0,         0,         groups};
  std::int64_t span_h = 0, span_w = 0, padded_h = 0, padded_w = 0;
  if (mul_overflows(g.dh, g.kh - 1, &span_h) || add_overflows(span_h, 1, &span_h) ||
      mul_overflows(g.dw, g.kw - 1, &span_w) || add_overflows(span_w, 1, &span_w) ||
      mul_overflows(g.ph, 2, &padded_h) || add_overflows(padded_h, g.h, &padded_h) ||
      add_overflows(padded_h, extra_after.h, &padded_h) || mul_overflows(g.pw, 2, &padded_w) ||
      add_overflows(padded_w, g.w, &padded_w) || add_overflows(padded_w, extra_after.w, &padded_w))
    throw ShapeError(fmt::format("{}: input {}, weight {}, padding {} and dilation {} give sizes past int64", op,
                                 shape_of(x, one_d), shape_of(weight, one_d), sizes(padding, one_d),
                                 sizes(dilation, one_d)));
  if (padded_h < span_h || padded_w < span_w)
    throw ShapeError(fmt::format("{}: input {} padded by {} is smaller than the dilated kernel {}", op,
                                 shape_of(x, one_d), sizes(padding, one_d), sizes({span_h, span_w}, one_d)));
  g.ho = (padded_h - span_h) / g.sh + 1;
  g.wo = (padded_w - span_w) / g.sw + 1;
  // The output and the column buffer are counted with these; the work
  // estimate (n * o * col_rows * col_cols) saturates instead.
  check_output_size(op, one_d ? Dims{g.n, g.o, g.wo} : Dims{g.n, g.o, g.ho, g.wo});
  checked_numel(Dims{g.c, g.kh, g.kw, g.ho, g.wo}, op);
  return g;
}

Conv2dGeometry conv_transpose2d_geometry(const TensorBase& x, const TensorBase& weight, const TensorBase& bias,
                                         Size2 stride, Size2 padding, Size2 output_padding, Size2 dilation,
                                         std::int64_t groups, const char* op, bool one_d) {
  if (weight.dim() != 4)
    throw ShapeError(fmt::format("{}: weight must be 4-D [in_channels, out_channels / groups, kh, kw], got {}", op,
                                 shape_str(weight.sizes())));
  check_kernel_size(op, weight, one_d);
  if (x.dim() != 4)
    throw ShapeError(
        fmt::format("{}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {}", op, shape_str(x.sizes())));
  if (groups < 1 || weight.size(0) % groups != 0)
    throw ValueError(
        fmt::format("{}: groups ({}) must be positive and divide in_channels ({})", op, groups, weight.size(0)));
  if (x.size(1) != weight.size(0))
    throw ShapeError(fmt::format("{}: input has {} channels but the weight expects {} (input {}, weight {})", op,
                                 x.size(1), weight.size(0), shape_of(x, one_d), shape_of(weight, one_d)));
  check_same_floating(op, x, "input", weight, "weight");
  std::int64_t out_channels = 0;
  if (mul_overflows(weight.size(1), groups, &out_channels))
    throw ShapeError(fmt::format("{}: weight {} with {} groups gives more channels than int64 holds", op,
                                 shape_of(weight, one_d), groups));
  if (bias.defined()) {
    if (bias.dim() != 1 || bias.size(0) != out_channels)
      throw ShapeError(fmt::format("{}: bias must be [{}] (one per output channel), got {}", op, out_channels,
                                   shape_str(bias.sizes())));
    check_same_floating(op, weight, "weight", bias, "bias");
  }
  if (stride.h < 1 || stride.w < 1 || dilation.h < 1 || dilation.w < 1 || padding.h < 0 || padding.w < 0 ||
      output_padding.h < 0 || output_padding.w < 0)
    throw ValueError(
        fmt::format("{}: stride {} and dilation {} must be positive, padding {} and output_padding {} non-negative", op,
                    sizes(stride, one_d), sizes(dilation, one_d), sizes(padding, one_d), sizes(output_padding, one_d)));
  if ((output_padding.h >= stride.h && output_padding.h >= dilation.h) ||
      (output_padding.w >= stride.w && output_padding.w >= dilation.w))
    throw ValueError(fmt::format("{}: output_padding {} must be smaller than either the stride {} or the dilation {}",
                                 op, sizes(output_padding, one_d), sizes(stride, one_d), sizes(dilation, one_d)));
  // As PyTorch: an empty image has no transposed convolution (the formula
  // would give an output of bias alone), unless there is no image at all.
  if (x.size(0) != 0 && x.size(1) != 0 && (x.size(2) == 0 || x.size(3) == 0))
    throw ShapeError(
        fmt::format("{}: input {} has an empty spatial dim; only an empty batch or no channels are allowed", op,
                    shape_of(x, one_d)));
  const std::int64_t h_out =
      transposed_size(x.size(2), stride.h, padding.h, dilation.h, weight.size(2), output_padding.h);
  const std::int64_t w_out =
      transposed_size(x.size(3), stride.w, padding.w, dilation.w, weight.size(3), output_padding.w);
  if (h_out < 1 || w_out < 1)
    throw ShapeError(
        fmt::format("{}: input {}, weight {}, stride {}, padding {}, output_padding {} and dilation {} give an output "
                    "of {}: it must be positive (and fit int64)",
                    op, shape_of(x, one_d), shape_of(weight, one_d), sizes(stride, one_d), sizes(padding, one_d),
                    sizes(output_padding, one_d), sizes(dilation, one_d),
                    one_d ? fmt::format("{}", w_out) : fmt::format("{} x {}", h_out, w_out)));
  // The convolution whose input gradient this is: input [N, Cout, h_out,
  // w_out], output x. Its output size is set to x's, not derived: with
  // output_padding >= stride (allowed below the dilation) the formula would
  // give one more row, which x does not have.
  Conv2dGeometry g{x.size(0), out_channels, h_out,     w_out,      x.size(1),  weight.size(2), weight.size(3), stride.h,
                   stride.w,  padding.h,    padding.w, dilation.h, dilation.w, x.size(2),      x.size(3),      groups};
  check_output_size(op, one_d ? Dims{g.n, g.c, g.w} : Dims{g.n, g.c, g.h, g.w});
  checked_numel(Dims{g.c, g.kh, g.kw, g.ho, g.wo}, op);
  return g;
}

// y[n] = W [O, CKK] @ col(x[n]) [CKK, HoWo] (+ b), one GEMM per image and
// group (group g: W's rows of that group times col's rows of that group).
TensorBase conv2d(const TensorBase& x_in, const TensorBase& w_in, const TensorBase& b_in, const Conv2dGeometry& g) {
  const TensorBase x = contiguous(x_in), w = contiguous(w_in);
  const TensorBase b = b_in.defined() ? contiguous(b_in) : b_in;
  TensorBase y = make_tensor({g.n, g.o, g.ho, g.wo}, x.dtype());
  const std::int64_t k = g.col_rows(), m = g.col_cols(), kg = g.group_rows(), og = g.group_out();
  const int threads = image_threads(g);
  dispatch_floating(x.dtype(), kConv, [&]<class T>() {
    TensorBase cols = g.is_pointwise() ? TensorBase() : make_tensor({threads, k, m}, x.dtype());
    const T* wp = w.data_ptr<T>();
    parallel_for(g.n, threads, [&](std::int64_t n, int t) {
      const T* xn = x.data_ptr<T>() + n * g.c * g.h * g.w;
      T* yn = y.data_ptr<T>() + n * g.o * m;
      const T* cp = xn;
      if (cols.defined()) {
        T* col = cols.data_ptr<T>() + t * k * m;
        im2col(xn, g, col);
        cp = col;
      }
      if (b.defined()) {
        const T* bp = b.data_ptr<T>();
        for (std::int64_t o = 0; o < g.o; ++o) std::fill(yn + o * m, yn + (o + 1) * m, bp[o]);
      }
      for (std::int64_t gi = 0; gi < g.groups; ++gi)
        gemm(x.dtype(), og, m, kg, 1.0, wp + gi * og * kg, rows(kg), cp + gi * kg * m, rows(m), b.defined() ? 1.0 : 0.0,
             yn + gi * og * m, m, kConv);
    });
  });
  return y;
}

// dx[n] = col2im(W^T [CKK, O] @ dy[n] [O, HoWo]), per group.
TensorBase conv2d_input_grad(const TensorBase& dy_in, const TensorBase& w_in, const Conv2dGeometry& g) {
  const TensorBase dy = contiguous(dy_in), w = contiguous(w_in);
  TensorBase dx = make_tensor({g.n, g.c, g.h, g.w}, dy.dtype());
  const std::int64_t k = g.col_rows(), m = g.col_cols(), kg = g.group_rows(), og = g.group_out();
  const int threads = image_threads(g);
  dispatch_floating(dy.dtype(), kConv, [&]<class T>() {
    const bool direct = g.is_pointwise();
    TensorBase cols = direct ? TensorBase() : make_tensor({threads, k, m}, dy.dtype());
    parallel_for(g.n, threads, [&](std::int64_t n, int t) {
      T* dxn = dx.data_ptr<T>() + n * g.c * g.h * g.w;
      const T* dyn = dy.data_ptr<T>() + n * g.o * m;
      T* target = direct ? dxn : cols.data_ptr<T>() + t * k * m;
      for (std::int64_t gi = 0; gi < g.groups; ++gi)
        gemm(dy.dtype(), kg, m, og, 1.0, w.data_ptr<T>() + gi * og * kg, transposed(kg), dyn + gi * og * m, rows(m),
             0.0, target + gi * kg * m, m, kConv);
      if (!direct) {
        std::fill(dxn, dxn + g.c * g.h * g.w, T(0));
        col2im(target, g, dxn);
      }
    });
  });
  return dx;
}

// dW [O, CKK/G] = sum_n dy[n] [O, HoWo] @ col(x[n])^T [HoWo, CKK], group by
// group (the blocks off the diagonal are not weights). The images are cut
// into a fixed number of consecutive blocks, whatever the thread count; each
// block sums its images in order into its own slice, and the slices are
// added in block order. So the rounding, and the result, is the same on one
// thread or many (as reduce's fixed blocks); threads take whole blocks.
TensorBase conv2d_weight_grad(const TensorBase& x_in, const TensorBase& dy_in, const Conv2dGeometry& g) {
  const TensorBase x = contiguous(x_in), dy = contiguous(dy_in);
  TensorBase dw = make_tensor({g.o, g.c / g.groups, g.kh, g.kw}, x.dtype());
  const std::int64_t k = g.col_rows(), m = g.col_cols(), kg = g.group_rows(), og = g.group_out(), size = g.o * kg;
  // Fewer blocks for large weights, whose partial slices would take much
  // memory (their GEMMs are large enough for BLAS to thread inside instead).
  const std::int64_t block_bytes = std::max<std::int64_t>(size * static_cast<std::int64_t>(itemsize(x.dtype())), 1);
  const std::int64_t blocks =
      std::min({kWeightGradBlocks, g.n, std::max<std::int64_t>(kPartialBytes / block_bytes, 1)});
  const std::int64_t per_block = blocks > 0 ? (g.n + blocks - 1) / blocks : 0;
  const int threads = static_cast<int>(std::min<std::int64_t>(image_threads(g), std::max<std::int64_t>(blocks, 1)));
  dispatch_floating(x.dtype(), kConv, [&]<class T>() {
    TensorBase cols = g.is_pointwise() ? TensorBase() : make_tensor({threads, k, m}, x.dtype());
    TensorBase partial = blocks > 1 ? make_tensor({blocks, g.o, kg}, x.dtype()) : dw;
    T* pp = partial.data_ptr<T>();
    std::fill(pp, pp + partial.numel(), T(0));
    parallel_for(blocks, threads, [&](std::int64_t b, int t) {
      for (std::int64_t n = b * per_block; n < std::min(g.n, (b + 1) * per_block); ++n) {
        const T* xn = x.data_ptr<T>() + n * g.c * g.h * g.w;
        const T* cp = xn;
        if (cols.defined()) {
          T* col = cols.data_ptr<T>() + t * k * m;
          im2col(xn, g, col);
          cp = col;
        }
        for (std::int64_t gi = 0; gi < g.groups; ++gi)
          gemm(x.dtype(), og, kg, m, 1.0, dy.data_ptr<T>() + (n * g.o + gi * og) * m, rows(m), cp + gi * kg * m,
               transposed(m), 1.0, pp + b * size + gi * og * kg, kg, kConv);
      }
    });
    if (blocks > 1) {
      T* out = dw.data_ptr<T>();
      std::copy(pp, pp + size, out);
      for (std::int64_t b = 1; b < blocks; ++b)
        for (std::int64_t i = 0; i < size; ++i) out[i] += pp[b * size + i];
    }
  });
  return dw;
}

}  // namespace tg::kernel
