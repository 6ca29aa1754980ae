#pragma once
/// @file
/// The profiler (like torch.profiler): while a tg::profiler::Profile is alive,
/// every op's forward and backward becomes an event with its input shapes,
/// start, duration, self time (its duration minus the events nested in it),
/// the thread, and the bytes of tensor storage allocated inside it.
///
/// @code
/// tg::profiler::Profile prof;
/// train_step();
/// prof.stop();
/// fmt::print("{}", prof.table());        // key_averages(), by self time
/// prof.export_chrome_trace("trace.json");  // opens in Perfetto / chrome://tracing
/// @endcode
///
/// Where events come from: every public op (autograd/ops/*.cpp) opens a
/// RecordScope on entry (TG_PROFILE_OP), recorded or not; the engine opens one
/// around each node's backward. The op list is checked by
/// scripts/profile_ops.py --check (a test), so a new op cannot be missed.
///
/// Cost when no Profile is alive: one relaxed atomic load and a branch on entry
/// to an op, and a branch on a local flag on exit; with the allocator's check
/// of the same flag, 15 instructions per op by callgrind's count (a 1-element
/// add: 866 against 851 with the hooks compiled out; docs/performance.md). The
/// CMake option TAPEGRAD_PROFILER=OFF compiles the ops', the engine's and the
/// allocator's hooks out of the library; a Profile then throws tg::Error.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg::profiler {

/// What an event times: an op's forward, its backward, or a RecordScope of the user's.
enum class EventKind : std::uint8_t { kForward, kBackward, kUser };
/// "forward", "backward" or "user", as the table shows it.
const char* kind_name(EventKind kind);

/// One timed region, as Profile::events() gives them.
struct Event {
  std::string name;                      ///< the op's name ("matmul") or the RecordScope's
  EventKind kind = EventKind::kForward;  ///< forward, backward or user
  std::string input_shapes;              ///< "[2, 3], [3]": the tensor arguments' shapes
  std::int64_t start_ns = 0;             ///< since the Profile started
  std::int64_t duration_ns = 0;          ///< total: includes nested events
  std::int64_t self_ns = 0;              ///< minus the events nested directly in it
  std::int64_t self_bytes = 0;           ///< tensor storage allocated directly in it
  std::int64_t bytes = 0;                ///< ... including nested events
  std::uint32_t thread = 0;              ///< 0 for the first thread that recorded, then 1, 2, ...
  std::uint32_t depth = 0;               ///< nesting depth on its thread
};

/// One row of key_averages(): every event of one name and kind.
struct EventAverage {
  std::string name;                      ///< as Event::name
  EventKind kind = EventKind::kForward;  ///< as Event::kind
  std::int64_t count = 0;                ///< events summed in this row
  std::int64_t self_ns = 0;              ///< the sum of their Event::self_ns
  std::int64_t total_ns = 0;             ///< the sum of their Event::duration_ns
  std::int64_t self_bytes = 0;           ///< the sum of their Event::self_bytes
  std::int64_t bytes = 0;                ///< the sum of their Event::bytes
};

namespace detail {
extern std::atomic<bool> g_enabled;
/// How many threads' event buffers the profiler keeps (tests: those of
/// ended threads go when a Profile stops).
std::size_t recording_threads();
/// One "[a, b]" per tensor argument, joined by ", ": built only when enabled.
void append_shapes(std::string& out, const TensorBase& t);
template <class T>
void append_shapes(std::string& out, const std::vector<T>& ts) {
  for (const auto& t : ts) append_shapes(out, t);
}
template <class T>
void append_shapes(std::string& out, std::span<T> ts) {
  for (const auto& t : ts) append_shapes(out, t);
}
void note_allocation(std::size_t nbytes);
}  // namespace detail

/// Whether a Profile is recording: the one branch an op pays when none is.
inline bool enabled() noexcept { return detail::g_enabled.load(std::memory_order_relaxed); }

/// An event for as long as it is alive (when a Profile is). Also the user's
/// way to mark a region, like torch.profiler.record_function:
/// @code
/// { tg::profiler::RecordScope scope("data loading"); ... }
/// @endcode
class RecordScope {
 public:
  /// Opens an event named `name` (when a Profile is recording).
  explicit RecordScope(std::string_view name, EventKind kind = EventKind::kUser) {
    if (enabled()) [[unlikely]]
      begin(name, kind, {});
  }
  /// The same, recording the shapes of `inputs` (tensors, vectors or spans of them).
  template <class... Inputs>
  RecordScope(std::string_view name, EventKind kind, const Inputs&... inputs) {
    if (enabled()) [[unlikely]] {
      std::string shapes;
      (detail::append_shapes(shapes, inputs), ...);
      begin(name, kind, std::move(shapes));
    }
  }
  ~RecordScope() {
    if (active_) [[unlikely]]
      end();
  }
  RecordScope(const RecordScope&) = delete;
  RecordScope& operator=(const RecordScope&) = delete;

 private:
  void begin(std::string_view name, EventKind kind, std::string shapes);
  void end() noexcept;
  bool active_ = false;
};

/// Records while alive (or until stop()). One at a time in a process: a
/// second one while another records throws ValueError.
class Profile {
 public:
  /// Starts recording.
  /// @throws tg::ValueError if another Profile is recording; tg::Error if the
  ///         library was built with -DTAPEGRAD_PROFILER=OFF.
  Profile();
  ~Profile();
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  /// Stops recording; the accessors below call it first.
  void stop();
  /// Every event, ordered by thread and then start time.
  const std::vector<Event>& events();
  /// One row per (name, kind), sorted by self time, largest first.
  std::vector<EventAverage> key_averages();
  /// key_averages() as a text table (at most row_limit rows; 0: all).
  std::string table(std::size_t row_limit = 0);
  /// Chrome trace event format: {"traceEvents": [{"ph": "X", "ts", "dur" in
  /// microseconds, "tid", ...}]}, for Perfetto or chrome://tracing.
  /// @throws tg::Error if the file cannot be written.
  void export_chrome_trace(const std::string& path);
  /// The text export_chrome_trace() writes.
  std::string chrome_trace_json();

 private:
  bool running_ = true;
  std::uint64_t generation_ = 0;
  std::vector<Event> events_;
};

}  // namespace tg::profiler

#ifdef TAPEGRAD_PROFILER_OFF
// The library built with -DTAPEGRAD_PROFILER=OFF (the macro is defined only
// while the library itself compiles): ops open no event, not even the branch;
// they still name themselves for errors raised below them.
#define TG_PROFILE_OP(name, ...) const ::tg::detail::CurrentOpScope tg_op_scope_(name)
#else
/// Names the op `name` (a string literal) for errors raised below it
/// (tg::detail::CurrentOpScope) and opens its profiler event for the rest of
/// the enclosing scope; the remaining arguments are its tensor inputs
/// (tensors or vectors/spans of them), whose shapes the event records.
#define TG_PROFILE_OP(name, ...)                         \
  const ::tg::detail::CurrentOpScope tg_op_scope_(name); \
  ::tg::profiler::RecordScope tg_profile_scope_(name, ::tg::profiler::EventKind::kForward __VA_OPT__(, ) __VA_ARGS__)
#endif
