// AtomicFileWriter's temporary file: born with no more permission bits than
// the file it replaces (another user must never get a descriptor to a private
// checkpoint's bytes), and named within the folder's name limit, cut between
// UTF-8 characters.
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/io/atomic_file.h>
#include <tapegrad/io/atomic_file_internal.h>
#include <tapegrad/io/safetensors.h>
#include "io/io_test_files.h"

namespace test_atomic_file {

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
