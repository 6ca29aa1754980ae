#include <tapegrad/core/profiler.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/core/utf8.h>

namespace tg::profiler {
namespace detail {
std::atomic<bool> g_enabled{false};
}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;

// What one thread records. Owned by the registry (not the thread), so the
// events of a thread that exits before the Profile stops are kept.
struct ThreadBuffer {
  struct Open {
    std::size_t index;          // into events
    std::int64_t child_ns = 0;  // durations of the events nested directly in it
    std::uint64_t generation;
  };
  std::mutex mutex;  // taken by the owner per event, by stop() once
  std::uint32_t thread = 0;
  std::uint64_t generation = 0;
  std::vector<Event> events;
  std::vector<Open> open;
};

struct Registry {
  std::mutex mutex;
  // Buffers of the threads that recorded and still run (stop() drops those of
  // threads that ended: a program making a thread per request kept them all).
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  std::uint32_t next_thread = 0;             // the id the next thread that records gets
  std::atomic<std::uint64_t> generation{0};  // of the current (or last) Profile
  bool active = false;
  // The current Profile's start, as Clock ticks: atomic, since a thread that
  // saw the previous generation may still be timing an event while a new
  // Profile starts; stored before the generation that publishes it.
  std::atomic<Clock::rep> start{0};
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: threads may record during exit
  return *r;
}

ThreadBuffer& thread_buffer() {
  thread_local std::shared_ptr<ThreadBuffer> buffer = [] {
    auto b = std::make_shared<ThreadBuffer>();
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    b->thread = r.next_thread++;
    r.buffers.push_back(b);
    return b;
  }();
  return *buffer;
}

std::int64_t since_start(Clock::time_point t) {
  const Clock::time_point start{Clock::duration(registry().start.load(std::memory_order_relaxed))};
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - start).count();
}

// A scope's name as one table cell: a line break or tab in it broke the
// table's rows and columns, so control bytes show as \n, \t or \xNN.
std::string table_name(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

// Everything a JSON string may not hold as is.
std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else out += c;
    }
  }
  return ::tg::detail::valid_utf8(out);
}

std::string format_ns(std::int64_t ns) {
  if (ns >= 1'000'000'000) return fmt::format("{:.3f}s", static_cast<double>(ns) / 1e9);
  if (ns >= 1'000'000) return fmt::format("{:.3f}ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.3f}us", static_cast<double>(ns) / 1e3);
}

std::string format_bytes(std::int64_t b) {
  const double a = static_cast<double>(b < 0 ? -b : b);
  if (a >= double(1 << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / double(1 << 30));
  if (a >= double(1 << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(b) / double(1 << 20));
  if (a >= double(1 << 10)) return fmt::format("{:.2f} KiB", static_cast<double>(b) / double(1 << 10));
  return fmt::format("{} B", b);
}

}  // namespace

const char* kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kForward:
      return "forward";
    case EventKind::kBackward:
      return "backward";
    case EventKind::kUser:
      return "user";
  }
  return "user";
}

namespace detail {

void append_shapes(std::string& out, const TensorBase& t) {
  if (!out.empty()) out += ", ";
  out += t.defined() ? shape_str(t.sizes()) : std::string("undefined");
}

void note_allocation(std::size_t nbytes) {
  ThreadBuffer& b = thread_buffer();
  if (b.open.empty()) return;
  std::lock_guard lock(b.mutex);
  const auto& open = b.open.back();
  if (open.generation != b.generation || open.index >= b.events.size()) return;
  b.events[open.index].self_bytes += static_cast<std::int64_t>(nbytes);
}

}  // namespace detail

void RecordScope::begin(std::string_view name, EventKind kind, std::string shapes) {
  ThreadBuffer& b = thread_buffer();
  const std::uint64_t generation = registry().generation.load(std::memory_order_acquire);
  std::lock_guard lock(b.mutex);
  if (b.generation != generation) {
    // First event of this thread in a new Profile: the last one's are gone.
    b.events.clear();
    b.open.clear();
    b.generation = generation;
  }
  Event e;
  e.name = std::string(name);
  e.kind = kind;
  e.input_shapes = std::move(shapes);
  e.thread = b.thread;
  e.depth = static_cast<std::uint32_t>(b.open.size());
  b.open.push_back({b.events.size(), 0, generation});
  b.events.push_back(std::move(e));
  active_ = true;
  // Last, so the bookkeeping above is not part of the event.
  b.events.back().start_ns = since_start(Clock::now());
}

void RecordScope::end() noexcept {
  const auto now = Clock::now();
  ThreadBuffer& b = thread_buffer();
  std::lock_guard lock(b.mutex);
  if (b.open.empty()) return;  // the Profile stopped and a new one cleared the stack
  const ThreadBuffer::Open open = b.open.back();
  b.open.pop_back();
  if (open.generation != b.generation || open.index >= b.events.size()) return;
  Event& e = b.events[open.index];
  e.duration_ns = std::max<std::int64_t>(0, since_start(now) - e.start_ns);
  e.self_ns = std::max<std::int64_t>(0, e.duration_ns - open.child_ns);
  e.bytes += e.self_bytes;
  if (!b.open.empty() && b.open.back().generation == open.generation) {
    auto& parent = b.open.back();
    parent.child_ns += e.duration_ns;
    if (parent.index < b.events.size()) b.events[parent.index].bytes += e.bytes;
  }
}

Profile::Profile() {
#ifdef TAPEGRAD_PROFILER_OFF
  throw Error(
      "profiler::Profile: this tapegrad was built with -DTAPEGRAD_PROFILER=OFF, so ops record no events; "
      "rebuild with the default -DTAPEGRAD_PROFILER=ON to profile");
#endif
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.active) throw ValueError("profiler::Profile: another Profile is already recording; stop it first");
  r.active = true;
  r.start.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  generation_ = r.generation.fetch_add(1, std::memory_order_release) + 1;
  detail::g_enabled.store(true, std::memory_order_release);
}

Profile::~Profile() { stop(); }

void Profile::stop() {
  if (!running_) return;
  running_ = false;
  Registry& r = registry();
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  {
    std::lock_guard lock(r.mutex);
    detail::g_enabled.store(false, std::memory_order_release);
    r.active = false;
    buffers = r.buffers;
  }
  for (auto& b : buffers) {
    std::lock_guard lock(b->mutex);
    if (b->generation != generation_) continue;
    // Events still open (the Profile stopped inside them) end now, innermost
    // first, each passing its time and bytes to the one around it as
    // RecordScope::end does (else the outer one's self time counted the
    // inner one's again, and an inner one's bytes were missing).
    const std::int64_t now = since_start(Clock::now());
    std::vector<ThreadBuffer::Open> open = b->open;
    for (std::size_t k = open.size(); k-- > 0;) {
      if (open[k].generation != generation_ || open[k].index >= b->events.size()) continue;
      Event& e = b->events[open[k].index];
      if (e.duration_ns != 0) continue;
      e.duration_ns = std::max<std::int64_t>(0, now - e.start_ns);
      e.self_ns = std::max<std::int64_t>(0, e.duration_ns - open[k].child_ns);
      e.bytes += e.self_bytes;
      if (k > 0 && open[k - 1].generation == open[k].generation && open[k - 1].index < b->events.size()) {
        open[k - 1].child_ns += e.duration_ns;
        b->events[open[k - 1].index].bytes += e.bytes;
      }
    }
    events_.insert(events_.end(), std::make_move_iterator(b->events.begin()), std::make_move_iterator(b->events.end()));
    std::vector<Event>().swap(b->events);  // its memory too, not only its events
  }
  buffers.clear();
  {
    // A buffer only the registry holds belongs to a thread that has ended;
    // dropped unless it recorded into a Profile started since this one
    // stopped (whose stop() must still collect its events).
    std::lock_guard lock(r.mutex);
    std::erase_if(r.buffers, [&](const std::shared_ptr<ThreadBuffer>& b) {
      if (b.use_count() != 1) return false;
      std::lock_guard buffer_lock(b->mutex);
      return b->generation <= generation_ && b->events.empty();
    });
  }
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return a.thread != b.thread ? a.thread < b.thread : a.start_ns < b.start_ns;
  });
}

const std::vector<Event>& Profile::events() {
  stop();
  return events_;
}

std::vector<EventAverage> Profile::key_averages() {
  stop();
  std::map<std::pair<std::string, EventKind>, EventAverage> rows;
  for (const auto& e : events_) {
    auto& row = rows[{e.name, e.kind}];
    row.name = e.name;
    row.kind = e.kind;
    ++row.count;
    row.self_ns += e.self_ns;
    row.total_ns += e.duration_ns;
    row.self_bytes += e.self_bytes;
    row.bytes += e.bytes;
  }
  std::vector<EventAverage> out;
  for (auto& [key, row] : rows) out.push_back(std::move(row));
  std::stable_sort(out.begin(), out.end(),
                   [](const EventAverage& a, const EventAverage& b) { return a.self_ns > b.self_ns; });
  return out;
}

std::string Profile::table(std::size_t row_limit) {
  const auto rows = key_averages();
  std::int64_t self_total = 0;
  for (const auto& r : rows) self_total += r.self_ns;
  std::vector<std::string> names;
  names.reserve(rows.size());
  for (const auto& r : rows) names.push_back(table_name(r.name));
  std::size_t width = 4;
  for (const auto& name : names) width = std::max(width, name.size());
  std::string out = fmt::format("{:<{}}  {:>8}  {:>7}  {:>12}  {:>12}  {:>12}  {:>6}  {:>11}  {:>11}\n", "Name", width,
                                "Kind", "Self %", "Self total", "Total", "Avg total", "Calls", "Self alloc", "Alloc");
  out += std::string(out.size() - 1, '-') + "\n";
  std::size_t shown = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (row_limit && shown++ == row_limit) break;
    const double pct = self_total ? 100.0 * static_cast<double>(r.self_ns) / static_cast<double>(self_total) : 0.0;
    out += fmt::format("{:<{}}  {:>8}  {:>6.2f}%  {:>12}  {:>12}  {:>12}  {:>6}  {:>11}  {:>11}\n", names[i], width,
                       kind_name(r.kind), pct, format_ns(r.self_ns), format_ns(r.total_ns),
                       format_ns(r.count ? r.total_ns / r.count : 0), r.count, format_bytes(r.self_bytes),
                       format_bytes(r.bytes));
  }
  out += fmt::format("Self time total: {}\n", format_ns(self_total));
  return out;
}

std::string Profile::chrome_trace_json() {
  stop();
  std::string out = "{\"traceEvents\": [\n";
  std::vector<std::uint32_t> threads;
  for (const auto& e : events_)
    if (std::find(threads.begin(), threads.end(), e.thread) == threads.end()) threads.push_back(e.thread);
  bool first = true;
  for (auto t : threads) {
    out += fmt::format(
        "{}{{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": {}, "
        "\"args\": {{\"name\": \"tapegrad thread {}\"}}}}",
        first ? "" : ",\n", t, t);
    first = false;
  }
  for (const auto& e : events_) {
    out += fmt::format(
        "{}{{\"name\": \"{}\", \"cat\": \"{}\", \"ph\": \"X\", \"ts\": {:.3f}, \"dur\": {:.3f}, \"pid\": 1, "
        "\"tid\": {}, \"args\": {{\"input_shapes\": \"{}\", \"self_us\": {:.3f}, \"bytes\": {}, \"self_bytes\": {}}}}}",
        first ? "" : ",\n", json_escape(e.name), kind_name(e.kind), static_cast<double>(e.start_ns) / 1e3,
        static_cast<double>(e.duration_ns) / 1e3, e.thread, json_escape(e.input_shapes),
        static_cast<double>(e.self_ns) / 1e3, e.bytes, e.self_bytes);
    first = false;
  }
  out += "\n], \"displayTimeUnit\": \"ms\"}\n";
  return out;
}

void Profile::export_chrome_trace(const std::string& path) {
  const std::string json = chrome_trace_json();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!f) throw Error(fmt::format("profiler::export_chrome_trace: cannot open \"{}\" for writing", path));
  if (std::fwrite(json.data(), 1, json.size(), f.get()) != json.size() || std::fflush(f.get()) != 0)
    throw Error(fmt::format("profiler::export_chrome_trace: cannot write \"{}\"", path));
}

std::size_t detail::recording_threads() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.buffers.size();
}

}  // namespace tg::profiler
