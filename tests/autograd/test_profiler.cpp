// tg::profiler: events of forward and backward ops with shapes, nesting (self
// time), threads and bytes; key_averages and its table; the Chrome trace.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/profiler.h>

namespace test_profiler {

using tg::Tensor;
namespace prof = tg::profiler;

namespace {

const prof::Event* find(const std::vector<prof::Event>& events, const std::string& name) {
  auto it = std::find_if(events.begin(), events.end(), [&](const prof::Event& e) { return e.name == name; });
  return it == events.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("profiler: records forward ops (recorded or not) and backward nodes, with shapes") {
  Tensor a = tg::ones({2, 3}).set_requires_grad(true);
  Tensor b = tg::ones({3});
  prof::Profile p;
  Tensor y = tg::mul(a, b);
  Tensor s = tg::sum(y);
  s.backward();
  Tensor c;
  {
    tg::NoGradGuard no_grad;
    c = tg::exp(b);  // not recorded on the tape, still profiled
  }
  const auto& events = p.events();
  const prof::Event* mul = find(events, "mul");
  REQUIRE(mul != nullptr);
  CHECK(mul->kind == prof::EventKind::kForward);
  CHECK(mul->input_shapes == "[2, 3], [3]");
  CHECK(mul->self_bytes == 2 * 3 * 4);
  REQUIRE(find(events, "exp") != nullptr);
  CHECK(find(events, "exp")->input_shapes == "[3]");
  const prof::Event* mul_bw = find(events, "mul_backward");
  REQUIRE(mul_bw != nullptr);
  CHECK(mul_bw->kind == prof::EventKind::kBackward);
  CHECK(mul_bw->input_shapes == "[2, 3]");
  CHECK(find(events, "sum_backward") != nullptr);
  CHECK(find(events, "AccumulateGrad") != nullptr);
}

TEST_CASE("profiler: nested events: total includes children, self excludes them, bytes add up") {
  Tensor x = tg::ones({4, 4});
  prof::Profile p;
  {
    prof::RecordScope outer("step");
    Tensor y = tg::add(x, x);
    Tensor z = tg::mul(y, y);
  }
  const auto& events = p.events();
  const prof::Event* step = find(events, "step");
  const prof::Event* add = find(events, "add");
  const prof::Event* mul = find(events, "mul");
  REQUIRE(step != nullptr);
  REQUIRE(add != nullptr);
  REQUIRE(mul != nullptr);
  CHECK(step->depth == 0);
  CHECK(add->depth == 1);
  CHECK(step->self_ns == step->duration_ns - add->duration_ns - mul->duration_ns);
  CHECK(add->start_ns >= step->start_ns);
  CHECK(mul->start_ns + mul->duration_ns <= step->start_ns + step->duration_ns);
  CHECK(step->self_bytes == 0);
  CHECK(step->bytes == 2 * 16 * 4);
  CHECK(add->bytes == 16 * 4);
}

TEST_CASE("profiler: events of another thread carry its thread id; nothing is recorded once stopped") {
  Tensor x = tg::ones({3});
  prof::Profile p;
  Tensor here = tg::neg(x);
  std::thread([&] { Tensor there = tg::sqrt(x); }).join();
  p.stop();
  Tensor after = tg::sin(x);
  const auto& events = p.events();
  REQUIRE(find(events, "neg") != nullptr);
  REQUIRE(find(events, "sqrt") != nullptr);
  CHECK(find(events, "neg")->thread != find(events, "sqrt")->thread);
  CHECK(find(events, "sin") == nullptr);
  CHECK_FALSE(prof::enabled());
}

TEST_CASE("profiler: one Profile at a time") {
  prof::Profile p;
  CHECK_THROWS_AS(prof::Profile(), tg::ValueError);
  p.stop();
  prof::Profile q;  // fine once the first has stopped
  CHECK(prof::enabled());
}

TEST_CASE("profiler: key_averages groups by name, sorted by self time; the table lists them") {
  Tensor x = tg::ones({64, 64});
  prof::Profile p;
  for (int i = 0; i < 3; ++i) Tensor y = tg::matmul(x, x);
  Tensor z = tg::neg(x);
  const auto rows = p.key_averages();
  REQUIRE(rows.size() >= 2);
  for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i - 1].self_ns >= rows[i].self_ns);
  auto mm = std::find_if(rows.begin(), rows.end(), [](const prof::EventAverage& r) { return r.name == "matmul"; });
  REQUIRE(mm != rows.end());
  CHECK(mm->count == 3);
  CHECK(mm->bytes == 3 * 64 * 64 * 4);
  const std::string table = p.table();
  CHECK(table.find("Self total") != std::string::npos);
  CHECK(table.find("matmul") != std::string::npos);
  CHECK(table.find("neg") != std::string::npos);
  CHECK(table.find("Self time total") != std::string::npos);
}

// A line break in a scope's name started a new row in the middle of a cell.
TEST_CASE("profiler: the table keeps one row per scope whatever the scope names") {
  prof::Profile p;
  { prof::RecordScope scope(std::string("two\nlines")); }
  { prof::RecordScope scope(std::string("tab\there")); }
  { prof::RecordScope scope(std::string("nul\0bell\a", 10)); }
  const std::string table = p.table();
  CHECK(table.find("two\\nlines") != std::string::npos);
  CHECK(table.find("tab\\there") != std::string::npos);
  CHECK(table.find("nul\\x00bell\\x07") != std::string::npos);
  // A header, its rule, three rows and the total: every line equally wide
  // up to the total.
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = table.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(table.substr(start, end - start));
  REQUIRE(lines.size() == 6);
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) CHECK(lines[i].size() == lines[0].size());
  // The trace keeps the names as they are.
  const auto json = nlohmann::json::parse(p.chrome_trace_json());
  bool saw = false;
  for (const auto& e : json["traceEvents"]) saw |= e["name"] == "two\nlines";
  CHECK(saw);
}

// Stopped inside two scopes: the inner one's time and bytes must reach the
// outer one as when scopes end normally (the outer's self time counted the
// inner's again, and the inner's total bytes were below its own).
TEST_CASE("profiler: scopes still open when the Profile stops add up as closed ones do") {
  Tensor x = tg::ones({4, 4});
  prof::Profile p;
  std::optional<prof::RecordScope> outer(std::in_place, "outer");
  std::optional<prof::RecordScope> inner(std::in_place, "inner");
  Tensor y = tg::add(x, x);
  const auto& events = p.events();  // stops
  const prof::Event* o = find(events, "outer");
  const prof::Event* i = find(events, "inner");
  REQUIRE(o != nullptr);
  REQUIRE(i != nullptr);
  CHECK(o->self_ns == o->duration_ns - i->duration_ns);
  CHECK(i->bytes >= i->self_bytes);
  CHECK(i->bytes == 16 * 4);
  CHECK(o->bytes == 16 * 4);
  inner.reset();
  outer.reset();
}

// A scope named with bytes that are not UTF-8: the trace stays valid JSON
// (each such byte becomes U+FFFD); valid UTF-8 passes unchanged.
TEST_CASE("profiler: the Chrome trace is valid UTF-8 whatever the scope names") {
  prof::Profile p;
  { prof::RecordScope scope(std::string("bad\xff\xfe")); }
  { prof::RecordScope scope(std::string("caf\xc3\xa9 \xe2\x82\xac")); }
  const auto json = nlohmann::json::parse(p.chrome_trace_json());
  bool saw_bad = false, saw_good = false;
  for (const auto& e : json["traceEvents"]) {
    saw_bad |= e["name"] == "bad\xEF\xBF\xBD\xEF\xBF\xBD";
    saw_good |= e["name"] == "caf\xc3\xa9 \xe2\x82\xac";
  }
  CHECK(saw_bad);
  CHECK(saw_good);
}

TEST_CASE("profiler: the Chrome trace is valid JSON with complete events in microseconds") {
  Tensor a = tg::ones({2, 2}).set_requires_grad(true);
  prof::Profile p;
  { prof::RecordScope scope("a \"quoted\" region"); }
  tg::sum(tg::mul(a, a)).backward();
  const auto path = std::filesystem::temp_directory_path() / "tapegrad_profiler_trace_test.json";
  p.export_chrome_trace(path.string());
  std::ifstream in(path);
  const auto json = nlohmann::json::parse(in);
  std::filesystem::remove(path);
  REQUIRE(json.contains("traceEvents"));
  std::size_t complete = 0;
  bool saw_quoted = false, saw_backward = false;
  for (const auto& e : json["traceEvents"]) {
    if (e["ph"] != "X") continue;
    ++complete;
    CHECK(e["ts"].is_number());
    CHECK(e["dur"].is_number());
    CHECK(e["tid"].is_number_integer());
    saw_quoted |= e["name"] == "a \"quoted\" region";
    saw_backward |= e["cat"] == "backward";
  }
  CHECK(complete == p.events().size());
  CHECK(saw_quoted);
  CHECK(saw_backward);
  CHECK_THROWS_AS(p.export_chrome_trace("/nonexistent-dir/trace.json"), tg::Error);
}

namespace {

struct ProfiledSquare : tg::autograd::Function<ProfiledSquare> {
  static Tensor forward(tg::autograd::AutogradContext* ctx, const Tensor& x) {
    ctx->save_for_backward({x});
    return tg::mul(x, x);
  }
  static std::vector<Tensor> backward(tg::autograd::AutogradContext* ctx, std::vector<Tensor> grads) {
    return {tg::mul(tg::mul(grads[0], ctx->get_saved_variables()[0]), 2.0)};
  }
};

}  // namespace

TEST_CASE("profiler: a custom Function's forward is an event, with the ops it calls nested in it") {
  Tensor x = tg::ones({2}).set_requires_grad(true);
  prof::Profile p;
  Tensor y = ProfiledSquare::apply(x);
  const auto& events = p.events();
  auto custom = std::find_if(events.begin(), events.end(),
                             [](const prof::Event& e) { return e.name.find("ProfiledSquare") != std::string::npos; });
  REQUIRE(custom != events.end());
  CHECK(custom->input_shapes == "[2]");
  REQUIRE(find(events, "mul") != nullptr);
  CHECK(find(events, "mul")->depth == custom->depth + 1);
}

TEST_CASE("profiler: the buffers of threads that ended go when a Profile stops") {
  const tg::Tensor x = tg::ones({4});
  const auto record_on_threads = [&](int n) {
    for (int i = 0; i < n; ++i) std::thread([&] { (void)(x * 2.0); }).join();
  };
  {
    tg::profiler::Profile p;
    record_on_threads(40);
  }
  const std::size_t after_one = tg::profiler::detail::recording_threads();
  {
    tg::profiler::Profile p;
    record_on_threads(40);
    CHECK(p.events().size() >= 40);  // their events were kept
  }
  // Before: 40 more buffers per Profile, for threads long gone.
  CHECK(tg::profiler::detail::recording_threads() <= after_one);
}

}  // namespace test_profiler
