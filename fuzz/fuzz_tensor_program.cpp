// libFuzzer target: the input bytes are decoded into a small tensor program
// — a dtype, one to three input tensors of random shapes (ranks 0..4, dims
// 0..4, so zero-size tensors are common), then up to 16 ops from the table
// below, each taking its operands from earlier results — which is run, and
// then differentiated with sum().backward().
//
// Invalid combinations are the point: each op either works or throws a
// tg::Error, which skips it. Any other exception escapes and aborts, which
// libFuzzer reports as a crash, as it does a sanitizer finding. After
// backward, every leaf's gradient must have the leaf's shape and dtype.
//
// Byte layout (every read past the end gives 0, so any input is a program):
//   [dtype] [n inputs] per input: [rank] [dims...] [value mode] [grad] [seed]
//   then per op: [opcode] [operand and parameter bytes, as the op reads them]
//   An opcode byte of 0xff ends the program; the last byte read picks how
//   backward runs.
// Threaded mode (bit 0x80 of the dtype byte): each op is preceded by a byte
// whose low bit runs it on a new thread (joined before the next op), and one
// more byte before backward does the same for backward. Each new thread
// numbers its nodes from 1, so the graph mixes unrelated sequence numbers:
// the engine must order it by dependencies alone.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/random.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/nn/functional.h>

namespace {

namespace F = tg::nn::functional;

constexpr std::int64_t kMaxElements = 4096;  // results larger than this are dropped
// Ops on two operands (broadcasting, matmul, outer, index lookups) run only
// when the product of their sizes is at most this, which bounds both the
// result and the work: every input stays far below 10 ms.
constexpr std::int64_t kMaxWork = 1 << 16;
constexpr std::size_t kMaxPool = 24;
constexpr int kMaxOps = 16;

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool done() const { return pos_ >= size_; }
  // A dim argument: -5..4, so negative dims and out-of-range ones both occur.
  std::int64_t dim() { return static_cast<std::int64_t>(byte() % 10) - 5; }
  // A small count or index: -2..6.
  std::int64_t small() { return static_cast<std::int64_t>(byte() % 9) - 2; }
  bool flag() { return byte() & 1; }
  double scalar() {
    static constexpr std::array<double, 16> kValues{
        0.0, 1.0, -1.0, 0.5, 2.0, -2.5, 1e-3, 3.0, 0.25, -0.0, 1e30, -7.0, 10.0,
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()};
    return kValues[byte() % kValues.size()];
  }
  // A shape of 0..4 dims, each -1..4 (at most one -1 is meaningful, for reshape).
  tg::Dims shape() {
    std::vector<std::int64_t> dims(byte() % 5);
    for (auto& d : dims) d = static_cast<std::int64_t>(byte() % 6) - 1;
    return tg::Dims(dims);
  }
  tg::Dims dims_list() {
    std::vector<std::int64_t> dims(byte() % 4);
    for (auto& d : dims) d = dim();
    return tg::Dims(dims);
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

tg::DType pick_dtype(std::uint8_t b) {
  switch (b % 8) {
    case 0:
    case 1:
    case 2: return tg::kFloat32;
    case 3:
    case 4:
    case 5: return tg::kFloat64;
    case 6: return tg::kInt64;
    default: return tg::kBool;
  }
}

// A value from a byte: mostly small numbers, sometimes zero, inf or NaN.
double value_from_byte(std::uint8_t b) {
  switch (b) {
    case 251: return 0.0;
    case 252: return std::numeric_limits<double>::infinity();
    case 253: return -std::numeric_limits<double>::infinity();
    case 254: return std::numeric_limits<double>::quiet_NaN();
    case 255: return 1e30;
    default: return (static_cast<double>(b) - 125.0) / 25.0;
  }
}

tg::Tensor make_input(Reader& in, tg::DType program_dtype) {
  const int rank = in.byte() % 5;
  std::vector<std::int64_t> dims(static_cast<std::size_t>(rank));
  for (auto& d : dims) d = in.byte() % 5;
  const std::uint8_t mode = in.byte();
  // Mostly the program's dtype; sometimes int64 (indices, targets) or another.
  const tg::DType dtype = (mode & 0x30) == 0x30 ? pick_dtype(mode >> 6 | 6) : program_dtype;
  const bool grad = (in.byte() & 3) != 0;  // three times in four
  std::uint32_t state = in.byte() * 2654435761u + 12345u;
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<double> values(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < values.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    const double u = static_cast<double>(state >> 8) / static_cast<double>(1u << 24);  // [0, 1)
    switch (mode % 4) {
      case 0: values[i] = static_cast<double>(static_cast<std::int64_t>(i % 7) - 3); break;
      case 1: values[i] = 6 * u - 3; break;
      case 2: values[i] = value_from_byte(in.byte()); break;
      default: values[i] = 3 * u + 1e-3; break;
    }
    if (dtype == tg::kInt64) values[i] = std::isfinite(values[i]) ? std::trunc(std::fmod(values[i], 8.0)) : 0.0;
  }
  tg::Tensor t = tg::tensor(values, tg::Dims(dims), dtype);
  if (grad && tg::is_floating(dtype)) t.set_requires_grad(true);
  return t;
}

class Program {
 public:
  explicit Program(Reader& in) : in_(in) {}

  tg::Tensor& operand() { return pool_[in_.byte() % pool_.size()]; }

  // Thrown (and skipped like any invalid op) when operands are too large together.
  static void bound(const tg::Tensor& a, const tg::Tensor& b) {
    const auto n = std::max<std::int64_t>(a.defined() ? a.numel() : 0, 1);
    const auto m = std::max<std::int64_t>(b.defined() ? b.numel() : 0, 1);
    if (n * m > kMaxWork) throw tg::ValueError("fuzz: operands too large together");
  }
  tg::Tensor& operand_with(const tg::Tensor& other) {
    tg::Tensor& t = operand();
    bound(t, other);
    return t;
  }

  void push(tg::Tensor t) {
    if (!t.defined() || t.numel() > kMaxElements) return;
    if (pool_.size() < kMaxPool)
      pool_.push_back(std::move(t));
    else
      pool_[in_.byte() % kMaxPool] = std::move(t);
  }

  // An int64 index tensor: one from the pool, or a fresh one from the bytes.
  tg::Tensor index_tensor() {
    const std::uint8_t how = in_.byte();
    if (how % 3 == 0) return operand();
    std::vector<std::int64_t> v(how % 6);
    for (auto& x : v) x = in_.small();
    return tg::tensor(v, {static_cast<std::int64_t>(v.size())});
  }

  void step(std::uint8_t op) {
    switch (op % 72) {
      case 0: {
        auto& a = operand();
        push(tg::add(a, operand_with(a), in_.scalar()));
        break;
      }
      case 1: {
        auto& a = operand();
        push(tg::sub(a, operand_with(a)));
        break;
      }
      case 2: {
        auto& a = operand();
        push(tg::mul(a, operand_with(a)));
        break;
      }
      case 3: {
        auto& a = operand();
        push(tg::div(a, operand_with(a)));
        break;
      }
      case 4: {
        auto& a = operand();
        push(tg::matmul(a, operand_with(a)));
        break;
      }
      case 5: push(tg::sum(operand())); break;
      case 6: {
        auto& x = operand();
        push(tg::sum(x, in_.dims_list(), in_.flag()));
        break;
      }
      case 7: push(tg::mean(operand())); break;
      case 8: {
        auto& x = operand();
        push(tg::mean(x, in_.dims_list(), in_.flag()));
        break;
      }
      case 9: {
        auto& x = operand();
        auto [values, indices] = tg::max(x, in_.dim(), in_.flag());
        push(values);
        push(indices);
        break;
      }
      case 10: push(tg::relu(operand())); break;
      case 11: push(tg::exp(operand())); break;
      case 12: push(tg::log(operand())); break;
      case 13: push(tg::tanh(operand())); break;
      case 14: push(tg::sigmoid(operand())); break;
      case 15: {
        auto& x = operand();
        push(tg::reshape(x, in_.shape()));
        break;
      }
      case 16: {
        auto& x = operand();
        push(tg::view(x, in_.shape()));
        break;
      }
      case 17: {
        auto& x = operand();
        const auto d0 = in_.dim();
        push(tg::transpose(x, d0, in_.dim()));
        break;
      }
      case 18: {
        auto& x = operand();
        push(tg::permute(x, in_.dims_list()));
        break;
      }
      case 19: {
        auto& x = operand();
        const auto d = in_.dim();
        const auto start = in_.small();
        push(tg::narrow(x, d, start, in_.small()));
        break;
      }
      case 20: {
        auto& x = operand();
        const auto d = in_.dim();
        push(tg::select(x, d, in_.small()));
        break;
      }
      case 21: {
        auto& x = operand();
        push(tg::expand(x, in_.shape()));
        break;
      }
      case 22: {
        auto& x = operand();
        push(tg::unsqueeze(x, in_.dim()));
        break;
      }
      case 23: {
        auto& x = operand();
        push(in_.flag() ? tg::squeeze(x) : tg::squeeze(x, in_.dim()));
        break;
      }
      case 24: {
        std::vector<tg::Tensor> parts(in_.byte() % 4);
        for (auto& p : parts) p = operand();
        push(tg::cat(parts, in_.dim()));
        break;
      }
      case 25: {
        auto& x = operand();
        const auto d = in_.dim();
        tg::Tensor index = index_tensor();
        bound(x, index);
        push(tg::index_select(x, d, index));
        break;
      }
      case 26: {
        auto& x = operand();
        push(tg::softmax(x, in_.dim()));
        break;
      }
      case 27: {
        auto& x = operand();
        push(tg::log_softmax(x, in_.dim()));
        break;
      }
      case 28: {
        auto& x = operand();
        tg::Tensor target = in_.flag() ? operand() : index_tensor();
        tg::nn::CrossEntropyLossOptions options;
        options.label_smoothing = (in_.byte() % 5) * 0.25;
        options.reduction = static_cast<tg::nn::Reduction>(in_.byte() % 3);
        if (in_.flag()) options.ignore_index = in_.small();
        push(F::cross_entropy(x, target, options));
        break;
      }
      case 29: push(tg::sqrt(operand())); break;
      case 30: {
        auto& x = operand();
        push(tg::pow(x, in_.scalar()));
        break;
      }
      case 31: push(tg::abs(operand())); break;
      case 32: push(tg::gelu(operand())); break;
      case 33: {
        auto& x = operand();
        std::optional<double> lo, hi;
        if (in_.flag()) lo = in_.scalar();
        if (in_.flag()) hi = in_.scalar();
        push(tg::clamp(x, lo, hi));
        break;
      }
      case 34: {
        auto& a = operand();
        push(tg::maximum(a, operand_with(a)));
        break;
      }
      case 35: {
        auto& c = operand();
        auto& a = operand_with(c);
        auto& b = operand_with(a);
        bound(c, b);
        push(tg::where(c.gt(0.0 * in_.scalar()), a, b));
        break;
      }
      case 36: {
        auto& x = operand();
        const auto dims = in_.dims_list();
        push(tg::var(x, dims, in_.byte() % 3, in_.flag()));
        break;
      }
      case 37: {
        auto& x = operand();
        const auto dims = in_.dims_list();
        push(tg::std(x, dims, in_.byte() % 3, in_.flag()));
        break;
      }
      case 38: {
        auto& x = operand();
        push(tg::logsumexp(x, in_.dims_list(), in_.flag()));
        break;
      }
      case 39: {
        auto& x = operand();
        if (in_.flag())
          push(tg::prod(x));
        else
          push(tg::prod(x, in_.dim(), in_.flag()));
        break;
      }
      case 40: {
        auto& x = operand();
        const double p = in_.scalar();
        if (in_.flag())
          push(tg::norm(x, p));
        else
          push(tg::norm(x, p, in_.dims_list(), in_.flag()));
        break;
      }
      case 41: {
        auto& x = operand();
        push(in_.flag() ? tg::amax(x, in_.dims_list()) : tg::amin(x, in_.dims_list()));
        break;
      }
      case 42: {
        auto& x = operand();
        std::optional<std::int64_t> d;
        if (in_.flag()) d = in_.dim();
        push(in_.flag() ? tg::argmax(x, d, in_.flag()) : tg::argmin(x, d, in_.flag()));
        break;
      }
      case 43: {
        auto& x = operand();
        auto [values, indices] = tg::min(x, in_.dim(), in_.flag());
        push(values);
        push(indices);
        break;
      }
      case 44: {
        auto& x = operand();
        const auto d = in_.dim();
        push(tg::gather(x, d, operand_with(x)));
        break;
      }
      case 45: {
        auto& x = operand();
        const auto d = in_.dim();
        auto& index = operand_with(x);
        push(tg::scatter_add(x, d, index, operand_with(index)));
        break;
      }
      case 46: {
        auto& x = operand();
        auto& m = operand_with(x);
        push(tg::masked_fill(x, m.lt(0.0), in_.scalar()));
        break;
      }
      case 47: {
        std::vector<tg::Tensor> parts(in_.byte() % 4);
        for (auto& p : parts) p = operand();
        push(tg::stack(parts, in_.dim()));
        break;
      }
      case 48: {
        auto& x = operand();
        const auto size = in_.small();
        auto pieces = in_.flag() ? tg::split(x, size, in_.dim()) : tg::chunk(x, size, in_.dim());
        if (!pieces.empty()) push(pieces[in_.byte() % pieces.size()]);
        break;
      }
      case 49: {
        auto& x = operand();
        const auto start = in_.dim();
        push(tg::flatten(x, start, in_.dim()));
        break;
      }
      case 50: {
        auto& x = operand();
        const auto d = in_.dim();
        const auto start = in_.small();
        const auto end = in_.small();
        push(tg::slice(x, d, start, end, in_.small()));
        break;
      }
      case 51: {
        auto& x = operand();
        push(tg::to_dtype(x, pick_dtype(in_.byte())));
        break;
      }
      case 52: push(in_.flag() ? tg::contiguous(operand()) : tg::clone(operand())); break;
      case 53: {
        auto& x = operand();
        auto& y = operand_with(x);
        const auto reduction = static_cast<tg::nn::Reduction>(in_.byte() % 3);
        switch (in_.byte() % 3) {
          case 0: push(F::mse_loss(x, y, {.reduction = reduction})); break;
          case 1: push(F::l1_loss(x, y, {.reduction = reduction})); break;
          default: push(F::huber_loss(x, y, {.reduction = reduction, .delta = in_.scalar()})); break;
        }
        break;
      }
      case 54: {
        auto& x = operand();
        tg::nn::NLLLossOptions options;
        options.reduction = static_cast<tg::nn::Reduction>(in_.byte() % 3);
        push(F::nll_loss(x, index_tensor(), options));
        break;
      }
      case 55: {
        auto& x = operand();
        auto& y = operand_with(x);
        push(F::binary_cross_entropy_with_logits(x, y));
        break;
      }
      case 56: {
        auto& x = operand();
        auto& w = operand_with(x);
        push(in_.flag() ? tg::linear(x, w, operand_with(x)) : tg::linear(x, w));
        break;
      }
      case 57: {
        auto& a = operand();
        push(tg::dot(a, operand_with(a)));
        break;
      }
      case 58: {
        auto& a = operand();
        push(tg::outer(a, operand_with(a)));
        break;
      }
      // In place: on leaves that require grad, on views and on tensors
      // that backward needs, these must throw or be caught at backward.
      case 59: {
        auto& x = operand();
        x.add_(operand_with(x), in_.scalar());
        break;
      }
      case 60: operand().mul_(in_.scalar()); break;
      case 61: operand().relu_(); break;
      case 62: push(operand().detach()); break;
      case 63: {
        auto& labels = operand();
        // The class count may come from the largest label: keep it small.
        if (labels.dtype() == tg::kInt64 && labels.numel() > 0 && labels.max().item<std::int64_t>() > 64) break;
        push(tg::one_hot(labels, in_.small()));
        break;
      }
      case 64: {
        auto& a = operand();
        auto& b = operand_with(a);
        push(in_.flag() ? tg::eq(a, b) : tg::lt(a, b));
        break;
      }
      case 65: {
        auto& x = operand();
        push(tg::leaky_relu(x, in_.scalar()));
        break;
      }
      case 66: {
        auto& x = operand();
        tg::Dims normalized = in_.shape();
        if (in_.flag()) {
          auto& w = operand();
          push(F::layer_norm(x, normalized, w, operand()));
        } else {
          push(F::layer_norm(x, normalized));
        }
        break;
      }
      case 67: {
        auto& weight = operand();
        std::optional<std::int64_t> padding;
        if (in_.flag()) padding = in_.small();
        tg::Tensor index = index_tensor();
        bound(weight, index);
        push(F::embedding(index, weight, padding));
        break;
      }
      case 68: {
        auto& input = operand();
        auto& a = operand_with(input);
        push(tg::addmm(input, a, operand_with(a), in_.scalar(), in_.scalar()));
        break;
      }
      case 69: {
        auto& x = operand();
        auto& w = operand_with(x);
        const auto stride = in_.small();
        const auto padding = in_.small();
        push(F::conv2d(x, w, in_.flag() ? operand() : tg::Tensor{}, stride, padding, in_.small()));
        break;
      }
      case 70: {
        auto& x = operand();
        const auto kernel = in_.small();
        std::optional<tg::nn::Size2> stride;
        if (in_.flag()) stride = in_.small();
        const auto padding = in_.small();
        push(in_.flag() ? F::max_pool2d(x, kernel, stride, padding) : F::avg_pool2d(x, kernel, stride, padding));
        break;
      }
      default: {
        tg::NoGradGuard no_grad;
        push(tg::mul(operand(), in_.scalar()));
        break;
      }
    }
  }

  void run() {
    const std::uint8_t dtype_byte = in_.byte();
    const tg::DType dtype = pick_dtype(dtype_byte);
    const bool threaded = dtype_byte & 0x80;
    const int n_inputs = 1 + in_.byte() % 3;
    for (int i = 0; i < n_inputs; ++i) {
      tg::Tensor t = make_input(in_, dtype);
      leaves_.push_back(t);
      pool_.push_back(t);
    }
    for (int i = 0; i < kMaxOps && !in_.done(); ++i) {
      const std::uint8_t op = in_.byte();
      if (op == 0xff) break;
      on_thread(threaded && in_.flag(), [&] {
        try {
          step(op);
          if (trace_) std::fprintf(stderr, "op %d -> pool of %zu\n", op % 72, pool_.size());
        } catch (const tg::Error& e) {
          if (trace_) std::fprintf(stderr, "op %d threw: %s\n", op % 72, e.what());
        }
      });
    }
    on_thread(threaded && in_.flag(), [&] { differentiate(); });
  }

  // Runs `f` here or on a new thread. An exception other than tg::Error
  // escaping `f` on the other thread terminates the process, which libFuzzer
  // reports as a crash, as it would here.
  template <class F>
  void on_thread(bool elsewhere, F&& f) {
    if (!elsewhere) return f();
    if (trace_) std::fprintf(stderr, "(on a new thread)\n");
    std::thread(std::forward<F>(f)).join();
  }

  void differentiate() {
    const std::uint8_t how = in_.byte();
    const tg::Tensor& out = pool_[how % pool_.size()];
    const bool retain = how & 0x40;
    try {
      // Inside the try: asking a view for its history may refuse it with a
      // tg::Error (a split piece whose memory was modified in place, as in
      // PyTorch).
      if (!out.is_floating_point() || !out.requires_grad()) return;
      tg::sum(out).backward({}, retain);
      if (how & 0x80) tg::sum(out).backward({}, retain);  // without retain, the graph is gone: must throw
    } catch (const tg::Error&) {
    }
    for (const auto& leaf : leaves_) {
      if (!leaf.requires_grad() || !leaf.grad().defined()) continue;
      const tg::Tensor& g = leaf.grad();
      if (g.shape() != leaf.shape() || g.dtype() != leaf.dtype()) std::abort();
    }
  }

 private:
  Reader& in_;
  // TG_FUZZ_TRACE=1 prints each op as it runs, to read a reproducer.
  const bool trace_ = std::getenv("TG_FUZZ_TRACE") != nullptr;
  std::vector<tg::Tensor> pool_;
  std::vector<tg::Tensor> leaves_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::manual_seed(0);
  Reader in(data, size);
  Program program(in);
  program.run();
  return 0;
}
