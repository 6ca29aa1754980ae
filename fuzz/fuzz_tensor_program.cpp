// libFuzzer target: the input bytes are decoded into a small tensor program
// — a dtype, one to three input tensors of random shapes (ranks 0..4, dims
// 0..5, so zero-size tensors are common), then up to 16 ops of the op
// registry (testing/op_registry.h), each taking its operands from earlier
// results and its dims, sizes, scalars and flags from the bytes — which is
// run, and then differentiated with sum().backward().
//
// Invalid combinations are the point: each op either works or throws a
// tg::Error, which skips it. Any other exception escapes and aborts, which
// libFuzzer reports as a crash, as it does a sanitizer finding. After
// backward, every leaf's gradient must have the leaf's shape and dtype.
//
// Byte layout (every read past the end gives 0, so any input is a program):
//   [dtype] [n inputs] per input: [rank] [dims...] [value mode] [grad] [seed]
//   then per op: [opcode high] [opcode low] [operand and argument bytes, as
//   the op reads them]; the opcode, modulo the registry's size plus 2, is an
//   entry's index (write_ops_md --entries lists them) or one of the two
//   harness steps after them (detach; mul with grad mode off).
//   An opcode high byte of 0xff ends the program; the last byte read picks
//   how backward runs.
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
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/random.h>
#include <tapegrad/testing/op_registry.h>

namespace {

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
  static constexpr std::array<double, 16> kScalars{0.0,
                                                   1.0,
                                                   -1.0,
                                                   0.5,
                                                   2.0,
                                                   -2.5,
                                                   1e-3,
                                                   3.0,
                                                   0.25,
                                                   -0.0,
                                                   1e30,
                                                   -7.0,
                                                   10.0,
                                                   std::numeric_limits<double>::infinity(),
                                                   -std::numeric_limits<double>::infinity(),
                                                   std::numeric_limits<double>::quiet_NaN()};
  double scalar() { return kScalars[byte() % kScalars.size()]; }
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
    case 2:
      return tg::kFloat32;
    case 3:
    case 4:
    case 5:
      return tg::kFloat64;
    case 6:
      return tg::kInt64;
    default:
      return tg::kBool;
  }
}

// A value from a byte: mostly small numbers, sometimes zero, inf or NaN.
double value_from_byte(std::uint8_t b) {
  switch (b) {
    case 251:
      return 0.0;
    case 252:
      return std::numeric_limits<double>::infinity();
    case 253:
      return -std::numeric_limits<double>::infinity();
    case 254:
      return std::numeric_limits<double>::quiet_NaN();
    case 255:
      return 1e30;
    default:
      return (static_cast<double>(b) - 125.0) / 25.0;
  }
}

tg::Tensor make_input(Reader& in, tg::DType program_dtype) {
  const int rank = in.byte() % 5;
  std::vector<std::int64_t> dims(static_cast<std::size_t>(rank));
  for (auto& d : dims) d = in.byte() % 6;
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
      case 0:
        values[i] = static_cast<double>(static_cast<std::int64_t>(i % 7) - 3);
        break;
      case 1:
        values[i] = 6 * u - 3;
        break;
      case 2:
        values[i] = value_from_byte(in.byte());
        break;
      default:
        values[i] = 3 * u + 1e-3;
        break;
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
    if (pool_.size() < kMaxPool) pool_.push_back(std::move(t));
    else pool_[in_.byte() % kMaxPool] = std::move(t);
  }

  // An int64 index tensor: one from the pool, or a fresh one from the bytes.
  tg::Tensor index_tensor() {
    const std::uint8_t how = in_.byte();
    if (how % 3 == 0) return operand();
    std::vector<std::int64_t> v(how % 6);
    for (auto& x : v) x = in_.small();
    return tg::tensor(v, {static_cast<std::int64_t>(v.size())});
  }

  // A registry entry on operands from the pool, its non-tensor arguments
  // from the input bytes; or one of the harness's own steps.
  void step(std::size_t opcode) {
    const auto& ops = tg::testing::op_registry();
    if (opcode >= ops.size()) return harness_step(opcode - ops.size());
    const tg::testing::OpInfo& op = ops[opcode];
    std::vector<tg::Tensor> operands;
    for (int i = 0; i < op.arity; ++i) operands.push_back(i == 0 ? operand() : operand_with(operands.back()));
    // one_hot sizes its result by the largest label when not told: keep that small.
    if (op.name == "one_hot" && operands[0].dtype() == tg::kInt64 && operands[0].numel() > 0 &&
        operands[0].max().item<std::int64_t>() > 64)
      return;
    FuzzArgs args(in_, *this, operands[0]);
    for (auto& result : op.fn(operands, args)) push(std::move(result));
  }

  // Steps that are no op of the registry: cutting the tape, and an op
  // recorded with grad mode off.
  static constexpr std::size_t kHarnessSteps = 2;
  void harness_step(std::size_t which) {
    if (which == 0) {
      push(operand().detach());
    } else {
      tg::NoGradGuard no_grad;
      push(tg::mul(operand(), in_.scalar()));
    }
  }

  // The registry's entries ask for their non-tensor arguments through Args;
  // here every one comes from the input bytes (in the order the compiler
  // evaluates an entry's call arguments, fixed for a given build).
  class FuzzArgs : public tg::testing::Args {
   public:
    FuzzArgs(Reader& in, Program& program, const tg::Tensor& first) : in_(in), program_(program), first_(first) {}
    std::int64_t dim(std::int64_t) override { return in_.dim(); }
    std::int64_t count(std::int64_t) override { return in_.small(); }
    double scalar(double) override { return in_.scalar(); }
    bool flag(bool) override { return in_.flag(); }
    tg::Dims dims(tg::Dims) override { return in_.dims_list(); }
    tg::Dims shape(tg::Dims) override { return in_.shape(); }
    tg::Tensor index(tg::Tensor) override {
      tg::Tensor index = program_.index_tensor();
      bound(first_, index);
      return index;
    }
    tg::Tensor mask(tg::Tensor) override { return program_.operand_with(first_).lt(0.0); }

   private:
    Reader& in_;
    Program& program_;
    const tg::Tensor& first_;
  };

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
    const std::size_t n_steps = tg::testing::op_registry().size() + kHarnessSteps;
    for (int i = 0; i < kMaxOps && !in_.done(); ++i) {
      const std::uint8_t high = in_.byte();
      if (high == 0xff) break;
      const std::size_t opcode = (static_cast<std::size_t>(high) << 8 | in_.byte()) % n_steps;
      on_thread(threaded && in_.flag(), [&] {
        const std::string name = opcode < n_steps - kHarnessSteps ? tg::testing::op_registry()[opcode].label()
                                                                  : "harness step " + std::to_string(opcode);
        try {
          step(opcode);
          if (trace_) std::fprintf(stderr, "%s -> pool of %zu\n", name.c_str(), pool_.size());
        } catch (const tg::Error& e) {
          if (trace_) std::fprintf(stderr, "%s threw: %s\n", name.c_str(), e.what());
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
    } catch (const tg::Error&) {}
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

// ---- the per-entry seeds ------------------------------------------------------
// TG_FUZZ_WRITE_SEEDS=<dir> makes the program write one seed per registry
// entry into <dir> (op<index>.bin, replacing the old ones) and exit: the
// entry's first sample shapes as inputs, and the bytes that make FuzzArgs
// answer the entry's own fixed arguments (as near as the bytes can say
// them). The same build reads them back, so the arguments are recorded in
// the order this compiler evaluates them.
class SeedArgs : public tg::testing::Args {
 public:
  std::vector<std::uint8_t> bytes;
  std::int64_t dim(std::int64_t fixed) override {
    put(fixed + 5, 10);
    return fixed;
  }
  std::int64_t count(std::int64_t fixed) override {
    put(fixed + 2, 9);
    return fixed;
  }
  double scalar(double fixed) override {
    std::size_t best = 0;
    for (std::size_t i = 1; i < Reader::kScalars.size(); ++i)
      if (std::abs(Reader::kScalars[i] - fixed) < std::abs(Reader::kScalars[best] - fixed)) best = i;
    bytes.push_back(static_cast<std::uint8_t>(best));
    return fixed;
  }
  bool flag(bool fixed) override {
    bytes.push_back(fixed ? 1 : 0);
    return fixed;
  }
  tg::Dims dims(tg::Dims fixed) override {
    bytes.push_back(static_cast<std::uint8_t>(fixed.size() % 4));
    for (int i = 0; i < fixed.size() % 4; ++i) put(fixed[i] + 5, 10);
    return fixed;
  }
  tg::Dims shape(tg::Dims fixed) override {
    bytes.push_back(static_cast<std::uint8_t>(fixed.size() % 5));
    for (int i = 0; i < fixed.size() % 5; ++i) put(fixed[i] + 1, 6);
    return fixed;
  }
  // A fresh 1-D index of the fixed values (at most 5; sizes 0 and 3 cannot
  // be asked for fresh, so 2 and 4 stand in).
  tg::Tensor index(tg::Tensor fixed) override {
    const auto values = fixed.to_vector<std::int64_t>();
    std::size_t n = std::min<std::size_t>(values.size(), 5);
    if (n % 3 == 0) n = n == 0 ? 1 : n + 1;
    bytes.push_back(static_cast<std::uint8_t>(n));  // how % 3 != 0: fresh, of size how % 6
    for (std::size_t i = 0; i < n; ++i) put(i < values.size() ? values[i] + 2 : 2, 9);
    return fixed;
  }
  tg::Tensor mask(tg::Tensor fixed) override {
    bytes.push_back(0);  // the operand whose negative entries are the mask: the first input
    return fixed;
  }

 private:
  void put(std::int64_t value, std::int64_t modulus) {
    bytes.push_back(static_cast<std::uint8_t>(((value % modulus) + modulus) % modulus));
  }
};

// The input byte layout of make_input for a tensor of `shape`, values by domain.
std::vector<std::uint8_t> seed_input(const tg::Dims& shape, tg::testing::Domain domain, bool grad) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(shape.size())};
  for (auto d : shape) out.push_back(static_cast<std::uint8_t>(d));
  const bool positive = domain == tg::testing::Domain::Positive || domain == tg::testing::Domain::Index;
  out.push_back(positive ? 3 : 1);  // value mode: (0, 3] or [-3, 3)
  out.push_back(grad ? 1 : 0);
  out.push_back(static_cast<std::uint8_t>(7 + out.size()));
  return out;
}

void write_seeds(const std::filesystem::path& dir) {
  for (const auto& old : std::filesystem::directory_iterator(dir))
    if (old.path().filename().string().rfind("op", 0) == 0 && old.path().extension() == ".bin")
      std::filesystem::remove(old.path());
  const auto& ops = tg::testing::op_registry();
  for (std::size_t index = 0; index < ops.size(); ++index) {
    const auto& op = ops[index];
    const auto& shapes = op.samples.front();
    const bool f32 = std::find(op.dtypes.begin(), op.dtypes.end(), tg::kFloat32) != op.dtypes.end();
    std::vector<std::uint8_t> program{static_cast<std::uint8_t>(f32 ? 0 : 6),  // float32, else int64
                                      static_cast<std::uint8_t>(shapes.size() - 1)};
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      // An in-place entry's first input must not be a leaf that requires grad (that is refused).
      const auto input = seed_input(shapes[i], i < op.domains.size() ? op.domains[i] : tg::testing::Domain::Any,
                                    !(op.in_place && i == 0));
      program.insert(program.end(), input.begin(), input.end());
    }
    program.push_back(static_cast<std::uint8_t>(index >> 8));
    program.push_back(static_cast<std::uint8_t>(index & 0xff));
    for (std::size_t i = 0; i < shapes.size(); ++i) program.push_back(static_cast<std::uint8_t>(i));
    SeedArgs args;
    tg::Generator gen(1);
    try {
      op.fn(op.sample(0, f32 ? tg::kFloat32 : op.dtypes.front(), gen), args);
    } catch (const tg::Error&) {}
    program.insert(program.end(), args.bytes.begin(), args.bytes.end());
    program.push_back(0xff);
    program.push_back(static_cast<std::uint8_t>(shapes.size()));  // backward from the op's first result
    char name[32];
    std::snprintf(name, sizeof name, "op%03zu.bin", index);
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(program.data()), static_cast<std::streamsize>(program.size()));
  }
  std::fprintf(stderr, "wrote %zu seeds into %s\n", ops.size(), dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::set_num_threads(1);
  if (const char* dir = std::getenv("TG_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tg::manual_seed(0);
  Reader in(data, size);
  Program program(in);
  program.run();
  return 0;
}
