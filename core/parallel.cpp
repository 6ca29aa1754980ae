#include <tapegrad/core/parallel.h>

#include <fcntl.h>
#include <omp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <tapegrad/core/error.h>
#include <tapegrad/core/float_mode.h>

extern "C" void openblas_set_num_threads(int);

namespace tg {
namespace {

// 0: adaptive (the default); otherwise the fixed team size.
std::atomic<int> g_fixed{0};

// A forked child inherits the parent's OpenMP thread pool without its
// threads: libgomp's next parallel region there waits for them forever, and
// so would OpenBLAS's (an OpenMP build, which follows omp_get_max_threads).
// As PyTorch does, the child runs single-threaded, and stays so:
// set_num_threads(n > 1) there is refused, reset_num_threads keeps one
// thread. The handler only sets OpenMP's count and two atomics: a child
// that goes on to exec should run as little library code as can be.
// Only a parent that started a team of two or more has such a pool: a
// launcher that forks before any work keeps its children's default.
std::atomic<bool> g_team_started{false};
std::atomic<bool> g_pool_lost{false};  // this process is such a child
void single_thread_after_fork() {
  if (!g_team_started.load(std::memory_order_relaxed)) return;
  g_pool_lost.store(true, std::memory_order_relaxed);
  g_fixed.store(1, std::memory_order_relaxed);
  omp_set_num_threads(1);
}
[[maybe_unused]] const int g_fork_handler = pthread_atfork(nullptr, nullptr, single_thread_after_fork);

// More threads than this is a mistake (libgomp crashes near 100,000).
constexpr int kMaxThreads = 1024;

// The cores this process may run on, as OpenMP saw them at start-up (its
// default team size honours the affinity mask and OMP_NUM_THREADS).
int default_cap() {
  static const int cap = std::max(1, omp_get_max_threads());
  return cap;
}

bool fixed_by_environment() {
  static const bool fixed = std::getenv("OMP_NUM_THREADS") != nullptr;
  return fixed;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runnable tasks on the whole machine ("R" of "0.52 0.58 0.59 R/T ..."), or
// -1 when /proc/loadavg cannot be read (then teams stay at their cap).
int runnable_tasks() {
  static const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // The fourth field: skip three numbers and their spaces.
  const char* p = buf;
  for (int field = 0; field < 3 && p; ++field) {
    p = std::strchr(p, ' ');
    if (p) ++p;
  }
  if (!p) return -1;
  return std::atoi(p);
}

constexpr std::int64_t kProbeInterval = 20'000'000;  // ns
std::atomic<std::int64_t> g_next_probe{0};
std::atomic<int> g_team{0};

int adaptive_team() {
  const int cap = default_cap();
  if (cap == 1) return 1;
  const std::int64_t now = now_ns();
  std::int64_t next = g_next_probe.load(std::memory_order_relaxed);
  int team = g_team.load(std::memory_order_relaxed);
  // One thread probes per interval; the others use the last answer.
  if (now < next || !g_next_probe.compare_exchange_strong(next, now + kProbeInterval, std::memory_order_relaxed))
    return team > 0 ? team : cap;
  const int running = runnable_tasks();
  if (running < 0) {
    team = cap;
  } else {
    // Our own runnable threads: this one, and the workers of the last team,
    // which spin for a while after each region and count as running.
    const int ours = 1 + std::max(0, (team > 0 ? team : cap) - 1);
    team = detail::team_for_load(cap, get_nprocs(), std::max(0, running - ours));
  }
  g_team.store(team, std::memory_order_relaxed);
  return team;
}

#if defined(KMP_VERSION_MAJOR)
// LLVM's libomp (the Clang of the sanitizer builds): it ignores
// GOMP_SPINCOUNT, and its idle threads sleep at once when the block time is
// 0, which OMP_WAIT_POLICY=PASSIVE or KMP_BLOCKTIME=0 sets.
bool read_passive_wait_policy() { return kmp_get_blocktime() == 0; }
#else
// A variable's value as libgomp reads it: case-insensitive, without the
// spaces around it.
std::string environment_word(const char* name) {
  const char* value = std::getenv(name);
  std::string word = value ? value : "";
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!word.empty() && space(static_cast<unsigned char>(word.back()))) word.pop_back();
  word.erase(0, std::find_if_not(word.begin(), word.end(), space) - word.begin());
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

// GOMP_SPINCOUNT as libgomp's env.c parses it: spaces, then "infinite" or
// "infinity" (never sleeps), or an unsigned count (strtoull: a sign is
// taken, "-5" wraps) with an optional k, m, g or t after spaces; anything
// else is invalid, and libgomp then takes the wait policy's count.
std::optional<std::uint64_t> spin_count_setting() {
  const char* env = std::getenv("GOMP_SPINCOUNT");
  if (!env) return std::nullopt;
  const auto skip_spaces = [](const char* p) {
    while (std::isspace(static_cast<unsigned char>(*p))) ++p;
    return p;
  };
  env = skip_spaces(env);
  if (*env == '\0') return std::nullopt;
  if (strncasecmp(env, "infinite", 8) == 0 || strncasecmp(env, "infinity", 8) == 0) {
    if (*skip_spaces(env + 8) != '\0') return std::nullopt;
    return ~std::uint64_t{0};
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(env, &end, 10);
  if (errno != 0 || end == env) return std::nullopt;
  const char* tail = skip_spaces(end);
  if (*tail != '\0') {
    // A suffix multiplies (saturating): only whether the count is 0 matters here.
    if (!std::strchr("kmgt", std::tolower(static_cast<unsigned char>(*tail)))) return std::nullopt;
    if (*skip_spaces(tail + 1) != '\0') return std::nullopt;
  }
  return value;
}

// Whether libgomp's idle threads sleep at once: its spin count is
// GOMP_SPINCOUNT when valid, else 0 under OMP_WAIT_POLICY=PASSIVE (some
// spinning under ACTIVE or no policy).
bool read_passive_wait_policy() {
  if (const auto spin = spin_count_setting()) return *spin == 0;
  return environment_word("OMP_WAIT_POLICY") == "passive";
}

#endif

const bool g_passive = read_passive_wait_policy();

}  // namespace

namespace detail {
// Constant-initialised, so a kernel run by another file's static initialiser
// before the line below sees the spinning default.
std::atomic<std::int64_t> g_parallel_threshold{kParallelThreshold};
[[maybe_unused]] const bool g_threshold_read = [] {
  if (g_passive) g_parallel_threshold.store(kPassiveParallelThreshold, std::memory_order_relaxed);
  return true;
}();
}  // namespace detail

bool passive_wait_policy() { return g_passive; }

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: need at least one thread, got " + std::to_string(n));
  if (n > kMaxThreads)
    throw ValueError("set_num_threads: at most " + std::to_string(kMaxThreads) + " threads, got " + std::to_string(n) +
                     " (this machine has " + std::to_string(get_nprocs()) + " CPUs)");
  if (n > 1 && g_pool_lost.load(std::memory_order_relaxed))
    throw ValueError(
        "set_num_threads: this process was made by fork() after tapegrad ran a team of threads, whose "
        "OpenMP threads do not exist here (a team of " +
        std::to_string(n) +
        " would wait for them forever); it runs on one thread. Start workers with "
        "posix_spawn/exec, or fork before any parallel work, for more");
  g_fixed.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
  // OpenBLAS's OpenMP build takes its team size from the same runtime, but
  // keeps its own cap too.
  openblas_set_num_threads(n);
  // A larger team brings threads that never saw set_flush_denormal.
  detail::apply_flush_denormal_to_workers();
}

void reset_num_threads() {
  if (g_pool_lost.load(std::memory_order_relaxed)) return;  // one thread, for good (single_thread_after_fork)
  g_fixed.store(0, std::memory_order_relaxed);
  g_next_probe.store(0, std::memory_order_relaxed);
  omp_set_num_threads(default_cap());
  openblas_set_num_threads(default_cap());
  detail::apply_flush_denormal_to_workers();
}

int get_num_threads() {
  const int fixed = g_fixed.load(std::memory_order_relaxed);
  return fixed > 0 ? fixed : default_cap();
}

bool adaptive_threads() { return g_fixed.load(std::memory_order_relaxed) == 0 && !fixed_by_environment(); }

bool in_parallel_region() { return omp_in_parallel() != 0; }

namespace detail {

int team_for_load(int cap, int online, int others) {
  // The cores nobody else wants; at least one (our own thread runs anyway).
  return std::clamp(online - others, 1, std::max(1, cap));
}

int team_size() {
  if (in_parallel_region()) return 1;
  const int fixed = g_fixed.load(std::memory_order_relaxed);
  const int team = fixed > 0 ? fixed : fixed_by_environment() ? default_cap() : adaptive_team();
  note_team(team);  // the kernels' and OpenBLAS's teams are all sized here
  return team;
}

void note_team(int threads) {
  if (threads > 1 && !g_team_started.load(std::memory_order_relaxed))
    g_team_started.store(true, std::memory_order_relaxed);
}

// The OpenMP team-size setting belongs to each thread.
BlasTeam::BlasTeam(double macs)
    : team_(passive_wait_policy() && macs < 16.0 * static_cast<double>(parallel_threshold()) ? 1 : team_size()),
      previous_(omp_get_max_threads()) {
  if (previous_ != team_) omp_set_num_threads(team_);
}
BlasTeam::~BlasTeam() {
  if (previous_ != team_) omp_set_num_threads(previous_);
}

}  // namespace detail
}  // namespace tg
