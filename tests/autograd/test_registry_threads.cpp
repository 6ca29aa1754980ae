// The same bits on any thread count, for every op of the registry
// (testing/op_registry.h), so that a kernel that breaks the promise of
// docs/performance.md ("Reproducible results") is caught by construction.
//
// The promise: tapegrad's own kernels give the same bits whatever the team
// (reductions cut their work into blocks that the shape fixes, conv2d's weight
// gradient sums its images in at most 8 fixed blocks, the vectorised exp,
// tanh and erf give an element the same result wherever it sits); only the
// products that OpenBLAS or oneDNN compute may round differently on different
// thread counts. For every entry that is not an alias, in float32 and float64
// where it takes them:
//   - inputs past parallel_threshold() elements: the entry's first sample
//     that takes them, with dim 0 of its inputs multiplied (every input, else
//     the largest ones, else the first, else those of 3 or more dims) until
//     one of them has more elements than the threshold, as the second test case of
//     test_registry_subnormal.cpp does; entries whose result grows faster
//     than their inputs, or whose number of results grows, are skipped, and
//     so are those that refuse every scaling (their shapes fixed inside);
//   - forward, and backward with a fixed grad_output for the differentiable
//     entries, on 1, 2 and 3 threads (set_num_threads), the default generator
//     reseeded alike before each run (a random op must draw the same values
//     whatever the team, as PyTorch's CPU generator does);
//   - every result bitwise the same on each thread count (any NaN equals any
//     NaN). The entries of kThreadDependent, whose BLAS or LAPACK calls round
//     by their thread count (measured: they differ here), are not run;
//     tg::linalg's entries scale their batches, never one matrix's rows
//     (the batched LAPACK entries run on tapegrad's team); every other product
//     (matmul, linear, conv, bmm, attention...) gave the same bits at these
//     sizes and is held to them. One entry per op name (float32; float64 for
//     the reductions too) keeps the test near 18 s in a Debug build.
#include <doctest/doctest.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>
#include <tapegrad/testing/op_registry.h>

#include "support/registry_runs.h"
#include "support/thread_count.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test_registry_threads {

using tg::DType;
using tg::Tensor;
using tg::testing::OpInfo;
using namespace tg_test::registry_runs;

namespace {

// ---- the entries whose bits follow the thread count ----------------------------

// Entries whose results differ between 1, 2 and 3 threads because a BLAS or
// oneDNN product rounds by its thread count (docs/performance.md,
// "Reproducible results"), each measured to differ on these inputs (1 thread
// against 2 and 3), and not run. A product that does not differ at these
// sizes is not listed: it is held to the same bits as every other kernel.
struct ThreadDependent {
  const char* label;  // OpInfo::label()
  const char* reason;
};
constexpr ThreadDependent kThreadDependent[] = {
    // cblas_ddot: OpenBLAS splits a long dot product over its threads (the
    // float32 sdot of the same length gave the same bits here).
    {"dot", "cblas_ddot splits its sum over OpenBLAS's threads"},
    {"vdot", "cblas_ddot splits its sum over OpenBLAS's threads"},
    // LAPACK on matrices larger than 64 rows or columns (dims 2 and 0 are
    // the matrix's: scaling dim 0 makes three 4 x 10924 matrices), one after
    // another, its BLAS calls inside on OpenBLAS's team. Kept from the
    // measurement on one tall matrix; the "fro" entry takes matrix_norm's
    // name first. (eigh, pinv and lstsq differed too while they were scaled
    // to one tall matrix; on batches of small matrices, each factored on one
    // thread, they give the same bits.)
    {"linalg::matrix_norm (nuc dims 2 0 keepdim)", "LAPACK's SVD follows OpenBLAS's thread count"},
};

// The batched LAPACK entries (svd, inv, slogdet, det, cholesky) took 2 to
// 215 s here once: OpenBLAS 0.3.21 ran each 2x2 getrs on its whole team,
// one OpenMP region per matrix (core/kernels/lapack.cpp now gives small
// matrices a LAPACK team of one and splits the batch over tapegrad's team),
// and svd (full_matrices) was scaled from its 4x2 sample to one 32772 x 2
// matrix, whose U is 32772 x 32772 (batches_only() below).

const ThreadDependent* thread_dependent(const std::string& label) {
  for (const auto& t : kThreadDependent)
    if (label == t.label) return &t;
  return nullptr;
}

// ---- results as bits ----------------------------------------------------------

bool is_nan(std::uint64_t b, DType d) {
  if (d == tg::kFloat32) return (b & 0x7FFFFFFFull) > 0x7F800000ull;
  if (d == tg::kFloat64) return (b & 0x7FFFFFFFFFFFFFFFull) > 0x7FF0000000000000ull;
  return false;
}

bool same(std::uint64_t a, std::uint64_t b, DType d) { return a == b || (is_nan(a, d) && is_nan(b, d)); }

std::string show(std::uint64_t b, DType d) {
  char s[64];
  if (d == tg::kFloat32) {
    float f;
    const auto u = static_cast<std::uint32_t>(b);
    std::memcpy(&f, &u, sizeof f);
    std::snprintf(s, sizeof s, "%.9g (0x%08x)", static_cast<double>(f), static_cast<unsigned>(u));
  } else if (d == tg::kFloat64) {
    double x;
    std::memcpy(&x, &b, sizeof x);
    std::snprintf(s, sizeof s, "%.17g (0x%016llx)", x, static_cast<unsigned long long>(b));
  } else {
    std::snprintf(s, sizeof s, "bits 0x%llx", static_cast<unsigned long long>(b));
  }
  return s;
}

std::string shapes_str(const std::vector<tg::Dims>& shapes) {
  std::string s;
  for (const auto& d : shapes) s += (s.empty() ? "" : " ") + tg::shape_str(d);
  return s;
}

// ---- the inputs past the threshold -----------------------------------------

// Sample `k`'s shapes with dim 0 of the inputs `which` picks multiplied by
// `times`; empty where an input to multiply has no dim 0. Batches picks the
// inputs of 3 or more dims (addbmm's two stacks, not its 2-D input).
enum class Scale { Every, Largest, First, Batches };

// tg::linalg's entries scale batches of matrices only: dim 0 of a 2-D input
// is a matrix's, and one larger matrix costs more than its elements (a full
// SVD of an m x 2 matrix makes an m x m U).
bool batches_only(const OpInfo& op) { return op.name.starts_with("linalg::"); }

bool picks(const std::vector<tg::Dims>& shapes, Scale which, std::size_t i) {
  std::int64_t most = 0;
  for (const auto& d : shapes) most = std::max(most, d.product());
  return which == Scale::Every || (which == Scale::First && i == 0) ||
         (which == Scale::Largest && shapes[i].product() == most) || (which == Scale::Batches && shapes[i].size() >= 3);
}

std::vector<tg::Dims> scaled(const std::vector<tg::Dims>& shapes, Scale which, std::int64_t times,
                             bool batch_dims_only = false) {
  std::vector<tg::Dims> out = shapes;
  bool any = false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!picks(shapes, which, i)) continue;
    any = true;
    if (out[i].empty() || out[i][0] <= 0 || (batch_dims_only && out[i].size() < 3)) return {};
    out[i][0] *= times;
  }
  return any ? out : std::vector<tg::Dims>{};
}

// Forward on `shapes` (small ones: a probe), the number of result elements
// and of results; -1 elements where the entry refuses them.
std::pair<std::int64_t, std::size_t> result_size(const OpInfo& op, const std::vector<tg::Dims>& shapes, DType dtype) {
  OpInfo probe = op;
  probe.samples = {shapes};
  tg::Generator gen(1);
  std::vector<Tensor> sample;
  try {
    sample = probe.sample(0, dtype, gen);
  } catch (const std::exception&) {
    return {-1, 0};
  }
  const Result r = forward(probe, sample);
  std::int64_t n = 0;
  for (const auto& v : r.outs) n += static_cast<std::int64_t>(v.bits.size());
  return {r.threw ? std::int64_t{-1} : n, r.outs.size()};
}

// The entry's first sample and scaling whose inputs past the threshold it
// takes, without its result growing faster than its inputs. False if none.
bool big_shapes(const OpInfo& op, DType dtype, std::vector<tg::Dims>& out) {
  const std::int64_t threshold = tg::parallel_threshold();
  for (const auto& shapes : op.samples) {
    for (Scale which : {Scale::Every, Scale::Largest, Scale::First, Scale::Batches}) {
      // Grown until the largest input it scales passes the threshold (the
      // others may be larger: conv_transpose2d's weight beside its input).
      std::int64_t most = 0;
      for (std::size_t i = 0; i < shapes.size(); ++i)
        if (picks(shapes, which, i)) most = std::max(most, shapes[i].product());
      if (most == 0) continue;
      // At 4 and 16 times (not 1: a one-element vector's diag grows from 1
      // to 16 elements, within any slack for a constant part).
      const bool batches = batches_only(op);
      const std::vector<tg::Dims> once = scaled(shapes, which, 4, batches), more = scaled(shapes, which, 16, batches);
      if (once.empty()) continue;
      const auto a = result_size(op, once, dtype), b = result_size(op, more, dtype);
      if (a.first < 0 || b.first < 0 || b.first > 4 * a.first + 16 || b.second != a.second) continue;
      const std::int64_t times = threshold / most + 1;
      const std::vector<tg::Dims> big = scaled(shapes, which, times, batches);
      // The scaled inputs must pass the threshold themselves, and the result
      // stay within reach (linear from the probe at 16 times).
      std::int64_t largest = 0;
      for (std::size_t i = 0; i < big.size(); ++i)
        if (picks(shapes, which, i)) largest = std::max(largest, big[i].product());
      if (largest <= threshold || (b.first / 16 + 1) * times > 64 * threshold) continue;
      out = big;
      return true;
    }
  }
  return false;
}

// ---- checking -----------------------------------------------------------------

constexpr std::array<int, 3> kThreads = {1, 2, 3};

struct Tally {
  std::int64_t entries = 0, runs = 0, forward_checks = 0, backward_checks = 0;
  std::int64_t violations = 0, excused = 0;
  std::vector<std::string> skipped;
  std::vector<std::string> messages;
  std::vector<std::string> notes;  // thread-dependent entries: what differed
};

// The results on each thread count, against the first; a message for the
// first difference (or "" where they agree).
std::string differences(const std::array<Result, kThreads.size()>& rs, const char* direction, bool& only_values) {
  only_values = false;
  const Result& one = rs[0];
  // Every count threw (the others agree, or the loop below says): a run that
  // checks nothing is a fault of the test or of the entry.
  bool all_threw = true;
  for (const Result& r : rs) all_threw = all_threw && r.threw;
  if (all_threw) return std::string(direction) + " throws on every thread count: " + one.error;
  for (std::size_t t = 1; t < rs.size(); ++t) {
    const Result& r = rs[t];
    const std::string at = std::to_string(kThreads[t]) + " threads";
    if (r.threw != one.threw)
      return std::string(direction) + " throws on " + (one.threw ? "1 thread" : at) +
             " only: " + (one.threw ? one.error : r.error);
    if (r.outs.size() != one.outs.size())
      return std::string(direction) + ": " + std::to_string(one.outs.size()) + " results on 1 thread, " +
             std::to_string(r.outs.size()) + " on " + at;
  }
  const std::string which = std::string_view(direction) == "forward" ? "output " : "gradient of input ";
  for (std::size_t o = 0; o < one.outs.size(); ++o) {
    const Values& a = one.outs[o];
    for (std::size_t t = 1; t < rs.size(); ++t) {
      const Values& b = rs[t].outs[o];
      if (a.defined != b.defined || a.dtype != b.dtype || a.shape != b.shape)
        return std::string(direction) + ": " + which + std::to_string(o) + " is " +
               (a.defined ? tg::shape_str(a.shape) + " " + std::string(tg::dtype_name(a.dtype)) : "undefined") +
               " on 1 thread, " +
               (b.defined ? tg::shape_str(b.shape) + " " + std::string(tg::dtype_name(b.dtype)) : "undefined") +
               " on " + std::to_string(kThreads[t]) + " threads";
    }
    if (!a.defined) continue;
    for (std::size_t i = 0; i < a.bits.size(); ++i) {
      bool differ = false;
      for (std::size_t t = 1; t < rs.size(); ++t) differ = differ || !same(a.bits[i], rs[t].outs[o].bits[i], a.dtype);
      if (!differ) continue;
      std::size_t count = 0;
      for (std::size_t j = i; j < a.bits.size(); ++j)
        for (std::size_t t = 1; t < rs.size(); ++t)
          if (!same(a.bits[j], rs[t].outs[o].bits[j], a.dtype)) {
            ++count;
            break;
          }
      std::string m = std::string(direction) + ": " + which + std::to_string(o) + " (" + tg::shape_str(a.shape) +
                      ") differs at " + std::to_string(count) + " of " + std::to_string(a.bits.size()) +
                      " elements, first at " + index_str(i, a.shape) + ":";
      for (std::size_t t = 0; t < rs.size(); ++t)
        m += " " + std::to_string(kThreads[t]) + " thread(s) " + show(rs[t].outs[o].bits[i], a.dtype) +
             (t + 1 < rs.size() ? "," : "");
      only_values = true;
      return m;
    }
  }
  return "";
}

void record(const OpInfo& op, DType dtype, const std::vector<tg::Dims>& shapes, const std::string& what,
            bool only_values, Tally& tally) {
  if (what.empty()) return;
  const std::string m =
      op.label() + ", " + std::string(tg::dtype_name(dtype)) + " (" + shapes_str(shapes) + "), " + what;
  const ThreadDependent* dependent = thread_dependent(op.label());
  if (dependent && only_values) {
    ++tally.excused;
    tally.notes.push_back(m + " [" + dependent->reason + "]");
    return;
  }
  ++tally.violations;
  tally.messages.push_back(m);
}

bool takes(const OpInfo& op, DType dtype) {
  return std::find(op.dtypes.begin(), op.dtypes.end(), dtype) != op.dtypes.end();
}

// False where the entry takes no inputs past the threshold.
bool run_entry(const OpInfo& op, DType dtype, std::uint64_t seed, Tally& tally) {
  std::vector<tg::Dims> shapes;
  if (!big_shapes(op, dtype, shapes)) {
    tally.skipped.push_back(op.label() + " " + std::string(tg::dtype_name(dtype)));
    return false;
  }
  OpInfo big = op;
  big.samples = {shapes};
  tg::Generator gen(seed);
  const std::vector<Tensor> inputs = big.sample(0, dtype, gen);
  ++tally.entries;
  ++tally.runs;
  std::array<Result, kThreads.size()> fw;
  for (std::size_t t = 0; t < kThreads.size(); ++t) {
    tg::set_num_threads(kThreads[t]);
    fw[t] = forward(big, inputs);
  }
  bool only_values = false;
  record(op, dtype, shapes, differences(fw, "forward", only_values), only_values, tally);
  ++tally.forward_checks;
  if (!op.differentiable || fw[0].threw) return true;
  const std::vector<Tensor> gos = normal_grad_outputs(fw[0].outs, seed ^ 0x9e3779b97f4a7c15ull);
  std::array<Result, kThreads.size()> bw;
  for (std::size_t t = 0; t < kThreads.size(); ++t) {
    tg::set_num_threads(kThreads[t]);
    bw[t] = backward(big, inputs, gos);
  }
  record(op, dtype, shapes, differences(bw, "backward", only_values), only_values, tally);
  ++tally.backward_checks;
  return true;
}

}  // namespace

TEST_CASE("registry: the same bits on 1, 2 and 3 threads, past the parallel threshold") {
  tg_test::ThreadCountRestore restore;
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  // One entry per op name and dtype (the first that takes the larger
  // inputs), float32, and float64 for the reductions (their blocks hold
  // elements, not bytes); the entries whose products follow the thread count,
  // measured once, are not run.
  std::set<std::pair<std::string, int>> done, candidates;
  std::map<std::pair<std::string, int>, std::vector<std::string>> skipped;  // the entries tried for each
  std::uint64_t seed = 70000;
  for (const auto& op : tg::testing::op_registry()) {
    seed += 100;
    if (!op.alias_of.empty() || op.samples.empty() || thread_dependent(op.label())) continue;
    for (DType dtype : {tg::kFloat32, tg::kFloat64}) {
      if (!takes(op, dtype) || (dtype == tg::kFloat64 && op.family != "reduce")) continue;
      const auto key = std::make_pair(op.name, static_cast<int>(dtype));
      candidates.insert(key);
      if (done.contains(key)) continue;
      if (run_entry(op, dtype, seed + (dtype == tg::kFloat64 ? 50 : 0), tally)) done.insert(key);
      else skipped[key].push_back(tally.skipped.back());
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char time[32];
  std::snprintf(time, sizeof time, "%.2f s", seconds);
  const std::string summary =
      "thread sweep, inputs past " + std::to_string(tg::parallel_threshold()) +
      " elements: " + std::to_string(tally.entries) + " runs, " + std::to_string(tally.forward_checks) +
      " forward and " + std::to_string(tally.backward_checks) + " backward comparisons; " +
      std::to_string(tally.violations) + " violation(s), " + std::to_string(std::size(kThreadDependent)) +
      " thread-dependent entries not run; " + std::to_string(tally.skipped.size()) + " skipped; " + time;
  MESSAGE(summary);
  for (const auto& n : tally.notes) MESSAGE(n);
  if (!tally.skipped.empty()) {
    std::string skipped = "skipped (no scaling of dim 0 taken):";
    for (const auto& s : tally.skipped) skipped += "\n    " + s;
    MESSAGE(skipped);
  }
  for (const auto& m : tally.messages) FAIL_CHECK(m);
  CHECK(tally.violations == 0);
  // Every op name and dtype the sweep is for ran (an entry that newly
  // refuses larger inputs fails here).
  std::vector<std::string> not_run;
  for (const auto& key : candidates)
    if (!done.contains(key))
      for (const auto& s : skipped[key]) not_run.push_back(s);
  CHECK(static_cast<std::int64_t>(done.size()) == tally.entries);
  // Every op name and dtype runs: conv_transpose2d grows its batch alone
  // (First, grown until the input passes the threshold, though its weight
  // stays larger), addbmm its two stacks (Batches), and nll_loss's targets
  // and expand's target shape follow their input's dim 0.
  for (const auto& n : not_run) FAIL_CHECK("no scaling of dim 0 taken by any entry of " << n);
  CHECK(not_run.empty());
}

}  // namespace test_registry_threads
