// Issue 11, class 5: files that are not files. Every loader that takes a path
// refuses a FIFO, a device, a directory or a socket quickly, with an error
// naming the file and what it is, instead of blocking in open() on a FIFO
// with no writer or reading /dev/zero forever.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <tapegrad/checkpoint/checkpoint.h>
#include <tapegrad/data/fashion_mnist.h>
#include <tapegrad/data/idx.h>
#include <tapegrad/io/safetensors.h>
#include <tapegrad/nn/nn.h>
#include "io/io_test_files.h"
#include "tg_error_check.h"

namespace test_special_files {

using tg_test::require_tg_error;

namespace {

// A loader that blocks on a FIFO fails the test after 5 s instead of hanging.
void within_5s(const std::string& what, const std::function<void()>& load) {
  tg_test::within_seconds(5, what + " (blocked on a file that is not a file?)", load);
}

struct SpecialFiles {
  tg::test::TempDir dir;
  std::string fifo = dir.file("fifo");
  std::string socket = dir.file("socket");
  int socket_fd = -1;
  SpecialFiles() {
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    socket_fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(socket_fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(socket.size() < sizeof(addr.sun_path));
    socket.copy(addr.sun_path, socket.size());
    REQUIRE(::bind(socket_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~SpecialFiles() { ::close(socket_fd); }
  SpecialFiles(const SpecialFiles&) = delete;
  SpecialFiles& operator=(const SpecialFiles&) = delete;
};

// (path, what the error must say it is; empty when opening itself fails,
// as for a socket, which open() refuses with ENXIO)
struct Case {
  std::string path, kind;
};

std::vector<Case> cases(const SpecialFiles& f) {
  return {{f.fifo, "is a FIFO, not a regular file"},
          {"/dev/zero", "is a character device, not a regular file"},
          {"/dev/null", "is a character device, not a regular file"},
          {f.dir.path().string(), "is a directory, not a regular file"},
          {f.socket, ""}};
}

template <class E, class Load>
void check_every_case(const char* loader, const SpecialFiles& f, Load load) {
  for (const Case& c : cases(f)) {
    CAPTURE(c.path);
    const std::string what = std::string(loader) + "('" + c.path + "')";
    const std::string msg = require_tg_error<E>([&] { within_5s(what, [&] { load(c.path); }); }, what.c_str());
    CHECK(msg.find(c.path) != std::string::npos);
    if (!c.kind.empty()) CHECK(msg.find(c.kind) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("read_idx and the MNIST loaders refuse FIFOs, devices, directories and sockets without blocking") {
  SpecialFiles f;
  check_every_case<tg::FormatError>("read_idx", f, [](const std::string& p) { tg::data::read_idx(p); });
  check_every_case<tg::FormatError>("load_mnist_images", f,
                                    [](const std::string& p) { tg::data::load_mnist_images(p); });
  check_every_case<tg::FormatError>("load_mnist_labels", f,
                                    [](const std::string& p) { tg::data::load_mnist_labels(p); });
}

TEST_CASE("load_fashion_mnist refuses a folder whose files are FIFOs, plain or gzip-named, without blocking") {
  for (const char* suffix : {"", ".gz"}) {
    CAPTURE(suffix);
    tg::test::TempDir dir;
    for (const char* name :
         {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
      REQUIRE(::mkfifo(dir.file(std::string(name) + suffix).c_str(), 0600) == 0);
    const std::string msg = require_tg_error<tg::FormatError>(
        [&] { within_5s("load_fashion_mnist", [&] { tg::data::load_fashion_mnist(dir.path().string()); }); },
        "load_fashion_mnist of FIFOs");
    CHECK(msg.find("train-images-idx3-ubyte") != std::string::npos);
    CHECK(msg.find("is a FIFO, not a regular file") != std::string::npos);
  }
}

// tg::FormatError, as their docs say (a plain tg::Error before, which a
// catch of FormatError missed), as the IDX reader's.
TEST_CASE("safetensors and checkpoint loaders refuse FIFOs, devices, directories and sockets without blocking") {
  SpecialFiles f;
  check_every_case<tg::FormatError>("load", f, [](const std::string& p) { tg::load(p); });
  check_every_case<tg::FormatError>("load_file", f, [](const std::string& p) { tg::load_file(p); });
  check_every_case<tg::FormatError>("load(module)", f, [](const std::string& p) {
    tg::nn::Linear net(2, 2);
    tg::load(p, net);
  });
  check_every_case<tg::FormatError>("load_checkpoint", f, [](const std::string& p) {
    tg::nn::Linear net(2, 2);
    tg::Checkpoint c{.model = &net};
    tg::load_checkpoint(p, c);
  });
}

TEST_CASE("a missing file is a FormatError naming it, from every loader") {
  tg::test::TempDir dir;
  const std::string missing = dir.file("missing.safetensors");
  tg::nn::Linear net(2, 2);
  tg::Checkpoint c{.model = &net};
  const std::string want = "cannot open '" + missing + "': No such file or directory";
  for (const auto& load :
       std::vector<std::function<void()>>{[&] { tg::load(missing); }, [&] { tg::load_file(missing); },
                                          [&] { tg::load(missing, net); }, [&] { tg::load_checkpoint(missing, c); }})
    CHECK_THROWS_WITH_AS(load(), doctest::Contains(want.c_str()), tg::FormatError);
}

TEST_CASE("a FIFO that has a writer is still refused, and regular files still load") {
  tg::test::TempDir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A writer that never writes: reading would wait for data forever.
  auto writer = std::async(std::launch::async, [&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // waits for the reader's open
    if (fd >= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ::close(fd);
    }
  });
  const std::string msg = require_tg_error<tg::FormatError>(
      [&] { within_5s("read_idx of a FIFO with a writer", [&] { tg::data::read_idx(fifo); }); }, "FIFO with a writer");
  CHECK(msg.find("is a FIFO") != std::string::npos);
  // Unblock the writer if the loader never opened the FIFO.
  const int unblock = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  writer.wait();
  if (unblock >= 0) ::close(unblock);

  const std::string file = dir.file("x.safetensors");
  tg::save(file, tg::TensorMap{{"x", tg::arange(3.0)}});
  CHECK(tg::load(file).at("x").to_vector<float>() == std::vector<float>{0, 1, 2});
}

}  // namespace test_special_files
