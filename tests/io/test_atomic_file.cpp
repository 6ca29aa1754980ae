// AtomicFileWriter's temporary file: born with no more permission bits than
// the file it replaces (another user must never get a descriptor to a private
// checkpoint's bytes), and named within the folder's name limit, cut between
// UTF-8 characters. Its destination: the file a symlink names, dangling or
// not, and never a file its user may not write.
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/checkpoint/checkpoint.h>
#include <tapegrad/io/atomic_file.h>
#include <tapegrad/io/atomic_file_internal.h>
#include <tapegrad/io/safetensors.h>
#include "io/io_test_files.h"

namespace test_atomic_file {

using tg::test::Bytes;
using tg::test::read_bytes;
using tg::test::TempDir;

namespace {

// The permission bits of each temporary file the moment open() made it.
std::vector<mode_t> born_modes;
void record_birth_mode(int fd, const std::string&) {
  struct stat st {};
  born_modes.push_back(::fstat(fd, &st) == 0 ? (st.st_mode & 07777) : 07777);
}

// Sets the temporary-file hook for one scope.
struct BirthModes {
  BirthModes() {
    born_modes.clear();
    tg::detail::set_temp_file_created_hook(&record_birth_mode);
  }
  ~BirthModes() { tg::detail::set_temp_file_created_hook(nullptr); }
  BirthModes(const BirthModes&) = delete;
  BirthModes& operator=(const BirthModes&) = delete;
};

// Sets the process's umask for one scope, and restores it.
struct Umask {
  explicit Umask(mode_t mask) : saved(::umask(mask)) {}
  ~Umask() { ::umask(saved); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;
  mode_t saved;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Whether `s` is well-formed UTF-8 (no cut or overlong sequence, no surrogate).
bool valid_utf8(const std::string& s) {
  std::size_t k = 0;
  while (k < s.size()) {
    const auto b = static_cast<unsigned char>(s[k]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) len = 1, cp = b;
    else if ((b & 0xE0) == 0xC0) len = 2, cp = b & 0x1Fu;
    else if ((b & 0xF0) == 0xE0) len = 3, cp = b & 0x0Fu;
    else if ((b & 0xF8) == 0xF0) len = 4, cp = b & 0x07u;
    else return false;
    if (k + len > s.size()) return false;
    for (std::size_t j = 1; j < len; ++j) {
      const auto c = static_cast<unsigned char>(s[k + j]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    k += len;
  }
  return true;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("atomic_file: the temporary file is never more open than the file it replaces") {
  TempDir dir;
  for (const mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    for (const mode_t target : {mode_t{0600}, mode_t{0640}, mode_t{0755}, mode_t{0444}}) {
      // Only root may replace a file without write permission: see the
      // write-protected test below.
      if ((target & S_IWUSR) == 0 && ::geteuid() != 0) continue;
      CAPTURE(mask);
      CAPTURE(target);
      const std::string path = dir.file("ckpt.safetensors");
      std::filesystem::remove(path);
      tg::save(path, {{"x", tg::ones({1})}});
      REQUIRE(::chmod(path.c_str(), target) == 0);
      {
        const Umask umask(mask);
        const BirthModes hook;
        tg::save(path, {{"x", tg::zeros({2})}});
        REQUIRE(born_modes.size() == 1);
        // No bit the target lacks, from open() on (under umask 0 the old
        // code made it 0666 here and narrowed it only afterwards).
        CHECK((born_modes[0] & ~target) == 0);
      }
      // The bits the umask took at creation are given back: the target's exactly.
      CHECK(mode_of(path) == target);
      CHECK(tg::load(path).at("x").numel() == 2);
    }
  }
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("atomic_file: a new file gets 0666 less the umask") {
  TempDir dir;
  for (const mode_t mask : {mode_t{022}, mode_t{077}, mode_t{027}}) {
    CAPTURE(mask);
    const std::string path = dir.file("new.safetensors");
    std::filesystem::remove(path);
    {
      const Umask umask(mask);
      const BirthModes hook;
      tg::save(path, {{"x", tg::ones({1})}});
      REQUIRE(born_modes.size() == 1);
      CHECK(born_modes[0] == (0666 & ~mask));
    }
    CHECK(mode_of(path) == (0666 & ~mask));
  }
}

TEST_CASE("atomic_file: saving through a symlink keeps the linked file's bits from the start") {
  TempDir dir;
  const std::string real = dir.file("real.safetensors");
  const std::string link = dir.file("link.safetensors");
  tg::save(real, {{"x", tg::ones({1})}});
  REQUIRE(::chmod(real.c_str(), 0600) == 0);
  std::filesystem::create_symlink(real, link);
  {
    const Umask umask(0);
    const BirthModes hook;
    tg::save(link, {{"x", tg::zeros({3})}});
    REQUIRE(born_modes.size() == 1);
    CHECK((born_modes[0] & ~mode_t{0600}) == 0);
  }
  CHECK(std::filesystem::is_symlink(link));
  CHECK(mode_of(real) == 0600);
  CHECK(tg::load(link).at("x").numel() == 3);
}

// A dangling link replaced by a regular file broke the usual "latest ->
// run/ckpt_N" link made before the checkpoint is written.
TEST_CASE("atomic_file: saving through a dangling symlink creates the file it names and keeps the link") {
  namespace fs = std::filesystem;
  TempDir dir;
  fs::create_directory(dir.path() / "run");
  const std::string latest = dir.file("latest");
  fs::create_symlink("run/ckpt_100.safetensors", latest);  // relative to the link's folder
  tg::save(latest, {{"w", tg::ones({2})}});
  CHECK(fs::is_symlink(latest));
  CHECK(tg::load(dir.file("run/ckpt_100.safetensors")).at("w").numel() == 2);

  // A chain of links, the last one absolute, through save_checkpoint.
  const std::string chain = dir.file("chain");
  fs::create_symlink(dir.file("run/ckpt_200.safetensors"), dir.file("absolute"));
  fs::create_symlink("absolute", chain);
  tg::save_checkpoint(chain, {.counters = {{"step", 200}}});
  CHECK(fs::is_symlink(chain));
  CHECK(fs::is_symlink(dir.file("absolute")));
  tg::Checkpoint loaded;
  tg::load_checkpoint(dir.file("run/ckpt_200.safetensors"), loaded);
  CHECK(loaded.counters.at("step") == 200);

  // A loop is refused as open() refuses it, and nothing is written.
  fs::create_symlink("loop_b", dir.file("loop_a"));
  fs::create_symlink("loop_a", dir.file("loop_b"));
  CHECK_THROWS_WITH_AS(tg::save(dir.file("loop_a"), {{"w", tg::ones({2})}}),
                       doctest::Contains("Too many levels of symbolic links"), tg::Error);
  CHECK(fs::is_symlink(dir.file("loop_a")));
  std::vector<std::string> entries = dir.entries();
  std::sort(entries.begin(), entries.end());
  CHECK(entries == std::vector<std::string>{"absolute", "chain", "latest", "loop_a", "loop_b", "run"});
}

namespace {

// What a save over a file its user may not write did.
enum class ProtectedSave { kRefused, kReplaced, kOtherError, kUntestable };

// Saves `t` over `path` as a user without write permission on it. Root may
// write any file, so as root (as in CI) the save runs in a child process that
// drops to the unprivileged uid and gid 65534 first; the folder must be
// writable by that user, so that only the file's own bits can stop the save.
ProtectedSave save_without_write_permission(const std::string& path, const tg::Tensor& t) {
  auto attempt = [&] {
    try {
      tg::save(path, {{"x", t}});
      return ProtectedSave::kReplaced;
    } catch (const tg::Error& e) {
      const std::string message = e.what();
      const bool named = message.find(path) != std::string::npos;
      return named && message.find("Permission denied") != std::string::npos ? ProtectedSave::kRefused
                                                                             : ProtectedSave::kOtherError;
    }
  };
  if (::geteuid() != 0) return attempt();
  const std::string folder = std::filesystem::path(path).parent_path().string();
  std::fflush(nullptr);  // nothing buffered twice through the fork
  const pid_t child = ::fork();
  if (child < 0) return ProtectedSave::kUntestable;
  if (child == 0) {
    const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0 && ::geteuid() != 0;
    if (!dropped || ::access(folder.c_str(), W_OK | X_OK) != 0) ::_exit(static_cast<int>(ProtectedSave::kUntestable));
    ::_exit(static_cast<int>(attempt()));
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return ProtectedSave::kOtherError;
  return static_cast<ProtectedSave>(WEXITSTATUS(status));
}

}  // namespace

// The rename needs write permission on the folder only: a checkpoint made
// read-only (chmod a-w) to keep it was silently replaced, where open() for
// writing, torch.save and the reference writer fail with EACCES.
TEST_CASE("atomic_file: a file its user may not write is not replaced") {
  TempDir dir;
  REQUIRE(::chmod(dir.path().c_str(), 0777) == 0);  // for the unprivileged child, see above
  const std::string path = dir.file("best.safetensors");
  tg::save(path, {{"x", tg::ones({2})}});
  REQUIRE(::chmod(path.c_str(), 0444) == 0);
  const Bytes before = read_bytes(path);
  const tg::Tensor replacement = tg::zeros({5});  // made here: the child runs no OpenMP region
  const ProtectedSave outcome = save_without_write_permission(path, replacement);
  if (outcome == ProtectedSave::kUntestable) {
    MESSAGE("skipped: running as root, and a child process could not drop to uid 65534 to test as another user");
    return;
  }
  CHECK(outcome == ProtectedSave::kRefused);
  CHECK(read_bytes(path) == before);
  CHECK(mode_of(path) == 0444);
  CHECK(dir.entries() == std::vector<std::string>{"best.safetensors"});
  // Root writes it, as open() would let it.
  if (::geteuid() == 0) {
    tg::save(path, {{"x", replacement}});
    CHECK(tg::load(path).at("x").numel() == 5);
  }
}

TEST_CASE("atomic_file: a long name of multi-byte characters saves; its temporary name stays UTF-8") {
  TempDir dir;
  // 80 x U+3042 (3 bytes each) + ".safetensors": 252 bytes, a valid name.
  // Cutting the temporary name's prefix at byte 236 split the 79th character.
  const std::string name = repeat("\xe3\x81\x82", 80) + ".safetensors";
  REQUIRE(name.size() == 252);
  const std::string path = dir.file(name);
  const std::size_t limit = tg::detail::folder_name_max(dir.path().string());
  {
    tg::AtomicFileWriter writer(path);
    const std::string temp_name = std::filesystem::path(writer.temp_path()).filename().string();
    CHECK(valid_utf8(temp_name));
    CHECK(temp_name.size() <= limit);
  }
  tg::save(path, {{"x", tg::ones({4})}});
  CHECK(tg::load(path).at("x").numel() == 4);
  tg::save(path, {{"x", tg::ones({5})}});  // again, so the previous file's orphans are looked for
  CHECK(tg::load(path).at("x").numel() == 5);
  CHECK(dir.entries() == std::vector<std::string>{name});
}

TEST_CASE("atomic_file: the temporary name's prefix fits the folder's limit, cut between characters") {
  // ".tmp-" and "<pid>-XXXXXX": 19 bytes after the prefix of the name.
  constexpr std::size_t kSuffix = 19;
  CHECK(tg::detail::temp_name_prefix("ckpt.safetensors", 255) == "ckpt.safetensors.tmp-");
  const std::vector<std::string> names = {
      repeat("\xe3\x81\x82", 80),      // 3-byte characters
      repeat("\xf0\x9f\x98\x80", 60),  // 4-byte characters (an emoji)
      "a" + repeat("\xc3\xa9", 120),   // 2-byte characters after one ASCII byte
      repeat("x", 250),                // ASCII
  };
  for (const std::size_t limit : {std::size_t{255}, std::size_t{143}, std::size_t{100}}) {
    for (const auto& name : names) {
      CAPTURE(limit);
      CAPTURE(name.size());
      const std::string prefix = tg::detail::temp_name_prefix(name, limit);
      CHECK(valid_utf8(prefix));
      CHECK(prefix.size() + 14 <= limit);  // with "<pid>-XXXXXX"
      // No more cut than the character in the way: at most 3 bytes short.
      const std::size_t kept = prefix.size() - 5;
      CHECK(kept + kSuffix <= limit);
      CHECK(kept + kSuffix + 3 >= limit);
      CHECK(name.compare(0, kept, prefix, 0, kept) == 0);
    }
  }
  // Bytes that are not UTF-8 (any byte but '/' and NUL is a valid Linux
  // name) are cut where they come, never emptied.
  const std::string raw(250, '\x80');
  CHECK(tg::detail::temp_name_prefix(raw, 255).size() == 255 - kSuffix + 5);
  // A limit with no room for the name keeps none of it.
  CHECK(tg::detail::temp_name_prefix("name", 10) == ".tmp-");
  // The limit of a real folder: 255 on the filesystems tests run on, never more.
  TempDir dir;
  CHECK(tg::detail::folder_name_max(dir.path().string()) <= 255);
  CHECK(tg::detail::folder_name_max(dir.path().string()) >= 14);
}

}  // namespace test_atomic_file
