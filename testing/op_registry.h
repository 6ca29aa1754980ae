#pragma once
// The op registry: one OpInfo per public op (and per distinct way of calling
// it), the single list that the gradient checks, the bad-input sweep, the
// fuzzer, the per-op benchmarks and docs/ops.md are driven from. It is a test
// tool, built as its own library (tapegrad_testing) and never linked into the
// users' tapegrad.
//
// Adding an op: its kernel, its op (forward + backward together), and one
// entry in testing/op_registry.cpp. The completeness test
// (tests/autograd/test_registry_gradcheck.cpp) fails until that entry exists:
// it lists the ops the built library defines and looks each one up here.
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tg {
class Generator;
}

namespace tg::testing {

// Where a sample input's values are drawn from: away from kinks and poles.
enum class Domain {
  Any,           // standard normal
  Positive,      // (0.5, 2): log, sqrt, pow with a real exponent
  AwayFromZero,  // +-(0.5, 1.5): abs, relu, division, prod
  Probability,   // (0.1, 0.9): binary cross-entropy
  Index,         // 0, 1 or 2, as int64: class labels
  Unit,          // (-0.9, 0.9): asin, acos, atanh, erfinv, tan
  AboveOne,      // (1.5, 3): acosh
};

// The tg::Error subclass a bad input must throw.
enum class ErrorKind { Base, Shape, DType, Index, Format, Autograd, Value, OutOfMemory };
const char* error_kind_name(ErrorKind kind);       // "tg::ShapeError"
ErrorKind error_kind_of(const std::exception& e);  // the most derived tg::Error class (Base if none)

// The non-tensor arguments of a call. Each entry asks for them with the value
// its fixed run uses (`a.dim(1)`); this base class returns exactly that. The
// fuzzer derives from it and answers from its input bytes instead, so the
// same entry runs with out-of-range dims, odd shapes and NaN scalars there.
class Args {
 public:
  virtual ~Args() = default;
  virtual std::int64_t dim(std::int64_t fixed) { return fixed; }
  virtual std::int64_t count(std::int64_t fixed) { return fixed; }  // a size, index, step or number of pieces
  virtual double scalar(double fixed) { return fixed; }
  virtual bool flag(bool fixed) { return fixed; }
  virtual Dims dims(Dims fixed) { return fixed; }       // a list of dims to reduce or permute
  virtual Dims shape(Dims fixed) { return fixed; }      // a target shape
  virtual Tensor index(Tensor fixed) { return fixed; }  // int64 indices or class targets
  virtual Tensor mask(Tensor fixed) { return fixed; }   // a bool mask or condition
};

using OpFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&, Args&)>;

// An input an op must refuse with a tg::Error of `kind` whose message
// contains `fragment` (the op's name, usually).
struct BadInput {
  std::string what;  // "shapes that do not broadcast"
  ErrorKind kind;
  std::string fragment;
  std::function<void()> run;
};

struct OpInfo {
  std::string name;           // as users call it: "add", "operator+", "Tensor::sum", "F::conv2d"
  std::string variant;        // which overload or fixed arguments ("dim 1 keepdim"); may be empty
  std::string family;         // elementwise, reduce, linalg, shape, index, nn, compare, inplace
  int arity = 1;              // tensor inputs
  std::vector<DType> dtypes;  // of the tensor inputs that the op accepts (floating ops: f32, f64)
  bool differentiable = true;
  // false: the gradient itself is not differentiable (ctc_loss, as in
  // PyTorch), so gradgradcheck is skipped and the docs say "once".
  bool twice_differentiable = true;
  // Writes into its first input (add_, operator+=, ...): a pure function of
  // its inputs only when handed a copy of that input.
  bool in_place = false;
  // Another entry does the work: a Tensor method, an operator or an
  // F:: forwarder of a tg:: op. Benchmarks skip these.
  std::string alias_of;
  // Input shapes to sample, one configuration per element ("3x4 4": a
  // broadcast pair), and the domain of each input (missing ones are Any).
  std::vector<std::vector<Dims>> samples;
  std::vector<Domain> domains;
  bool strided_ok = true;  // false: needs a contiguous input (view)
  bool expand_ok = true;   // false: repeated values tie along the reduced or sorted dim, or hit a kink
  GradcheckOptions tolerance;
  std::vector<BadInput> bad_inputs;
  OpFn fn;

  std::string label() const { return variant.empty() ? name : name + " (" + variant + ")"; }
  // The op on `inputs` with its fixed arguments.
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs) const;
  // Random inputs for sample configuration `k`, of `dtype` where the op takes
  // floating inputs, drawn from each input's domain.
  std::vector<Tensor> sample(std::size_t k, DType dtype, Generator& gen) const;
};

// Every entry, in a fixed order (by family, then as declared).
const std::vector<OpInfo>& op_registry();

// The distinct op names of the registry, in order.
std::vector<std::string> registry_op_names();

// docs/ops.md: one row per op name with its arity, dtypes and whether it is
// differentiable.
std::string ops_markdown();

// "3x4 4 | 2x3 []": configurations separated by '|', input shapes by spaces,
// dims by 'x'; [] is a 0-d tensor.
std::vector<std::vector<Dims>> parse_shapes(std::string_view spec);

namespace detail {
// The registry's known bad inputs (testing/bad_inputs.cpp), handed one at a
// time to `bad(op name, what, kind, message fragment, run)`. Plain strings and
// a function pointer: each of the 500 calls built three std::strings and a
// std::function of its own, 40 % of that file's compile time.
using BadInputSink = std::function<void(const char*, const char*, ErrorKind, const char*, void (*)())>;
void add_bad_inputs(const BadInputSink& bad);
}  // namespace detail

}  // namespace tg::testing
