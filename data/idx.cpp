#include <tapegrad/data/idx.h>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <tapegrad/core/regular_file.h>
#include <tapegrad/data/pixels.h>

namespace tg::data {
namespace {

// Deflate cannot expand data by more than about 1032:1 (a 258-byte match coded
// in two bits), so a gzip file of n bytes cannot hold much more than 1032 n.
// This only rejects absurd headers early; the real guard against garbage is
// that data is read in chunks, so memory is never allocated more than one
// chunk ahead of what actually arrived.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::size_t kReadChunk = std::size_t{1} << 20;

struct IdxType {
  std::uint8_t code;
  const char* name;
  std::size_t size;
};

constexpr std::array<IdxType, 6> kIdxTypes{{
    {0x08, "unsigned byte", 1},
    {0x09, "signed byte", 1},
    {0x0B, "short", 2},
    {0x0C, "int", 4},
    {0x0D, "float", 4},
    {0x0E, "double", 8},
}};

const IdxType* find_type(std::uint8_t code) {
  for (const auto& t : kIdxTypes)
    if (t.code == code) return &t;
  return nullptr;
}

class Failure {
 public:
  Failure(const char* op, std::string_view path) : op_(op), path_(path) {}
  [[noreturn]] void operator()(const std::string& problem) const {
    throw FormatError(fmt::format("{}: '{}': {}", op_, path_, problem));
  }
  const char* op() const { return op_; }

 private:
  const char* op_;
  std::string path_;
};

// The bytes of a plain or gzip file, read sequentially.
class ByteSource {
 public:
  ByteSource(const std::string& path, const Failure& fail) : fail_(fail) {
    const RegularFile file = open_regular_file(path);
    if (file.kind) fail_(file.problem());
    if (file.fd < 0) fail_(fmt::format("cannot open: {}", file.problem()));
    file_size_ = file.size;
    std::FILE* f = ::fdopen(file.fd, "rb");
    if (!f) {
      const int error_number = errno;
      ::close(file.fd);
      fail_(fmt::format("cannot open: {}", errno_text(error_number)));
    }
    unsigned char magic[2] = {0, 0};
    const std::size_t got = std::fread(magic, 1, 2, f);
    gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (std::fseek(f, 0, SEEK_SET) != 0) {
      const int error_number = errno;
      std::fclose(f);
      fail_(fmt::format("cannot seek: {}", errno_text(error_number)));
    }
    if (!gzip_) {
      plain_ = f;
      return;
    }
    // zlib reads the same open file (a dup, since each side closes its own),
    // rather than opening the path a second time.
    const int gz_fd = ::dup(::fileno(f));
    std::fclose(f);
    if (gz_fd >= 0) {
      ::fcntl(gz_fd, F_SETFD, FD_CLOEXEC);
      ::lseek(gz_fd, 0, SEEK_SET);
      gz_ = gzdopen(gz_fd, "rb");
      if (!gz_) ::close(gz_fd);
    }
    if (!gz_) fail_(fmt::format("cannot open as gzip: {}", errno_text(errno)));
    gzbuffer(gz_, 256 * 1024);
  }
  // Bytes already in memory, plain or gzip: the same reads, without a file.
  ByteSource(std::span<const std::uint8_t> bytes, const Failure& fail)
      : fail_(fail), memory_(bytes), file_size_(bytes.size()) {
    gzip_ = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
    if (!gzip_) return;
    // 16 + MAX_WBITS: a gzip wrapper, not zlib or raw deflate.
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) fail_("cannot start the gzip decoder");
    inflating_ = true;
    zs_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(bytes.data()));
  }
  ~ByteSource() {
    if (plain_) std::fclose(plain_);
    if (gz_) gzclose(gz_);
    if (inflating_) inflateEnd(&zs_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gzip_; }
  // Size on disk of a regular file (compressed size for gzip).
  std::optional<std::uint64_t> file_size() const { return file_size_; }

  // Reads up to n bytes; fewer only at the end of the data.
  std::size_t read(unsigned char* dst, std::size_t n) {
    if (!plain_ && !gz_) return gzip_ ? inflate_memory(dst, n) : read_memory(dst, n);
    if (plain_) {
      const std::size_t got = std::fread(dst, 1, n, plain_);
      if (got < n && std::ferror(plain_)) fail_(fmt::format("read error: {}", errno_text(errno)));
      return got;
    }
    std::size_t total = 0;
    while (total < n) {
      const auto want = static_cast<unsigned>(std::min<std::size_t>(n - total, INT_MAX));
      const int got = gzread(gz_, dst + total, want);
      if (got < 0) {
        int code = Z_OK;
        const char* msg = gzerror(gz_, &code);
        // zlib names the stream "<fd:N>: " (gzdopen); the error names the file already.
        std::string_view text = msg ? msg : "unknown zlib error";
        if (text.starts_with("<fd:"))
          if (const auto end = text.find(">: "); end != std::string_view::npos) text.remove_prefix(end + 3);
        fail_(fmt::format("corrupt gzip data: {}", text));
      }
      total += static_cast<std::size_t>(got);
      if (static_cast<unsigned>(got) < want) {
        // A short read is the end of the data, unless zlib ran out of input
        // before the stream's end marker and checksum.
        int code = Z_OK;
        gzerror(gz_, &code);
        if (code == Z_BUF_ERROR) fail_("truncated gzip stream: the file ends before the stream does");
        break;
      }
    }
    return total;
  }

 private:
  std::size_t read_memory(unsigned char* dst, std::size_t n) {
    const std::size_t got = std::min(n, memory_.size() - memory_pos_);
    if (got > 0) std::memcpy(dst, memory_.data() + memory_pos_, got);
    memory_pos_ += got;
    return got;
  }

  // As gzread: members that follow one another are one stream, and bytes after
  // the last member that do not start another are ignored.
  std::size_t inflate_memory(unsigned char* dst, std::size_t n) {
    std::size_t total = 0;
    while (total < n && !stream_done_) {
      const std::size_t consumed = memory_pos_;
      const std::size_t avail_in = std::min<std::size_t>(memory_.size() - consumed, UINT_MAX);
      const auto avail_out = static_cast<uInt>(std::min<std::size_t>(n - total, UINT_MAX));
      zs_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(memory_.data() + consumed));
      zs_.avail_in = static_cast<uInt>(avail_in);
      zs_.next_out = dst + total;
      zs_.avail_out = avail_out;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      memory_pos_ = consumed + (avail_in - zs_.avail_in);
      total += avail_out - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        const std::size_t left = memory_.size() - memory_pos_;
        if (left >= 2 && memory_[memory_pos_] == 0x1f && memory_[memory_pos_ + 1] == 0x8b) {
          if (inflateReset(&zs_) != Z_OK) fail_("cannot restart the gzip decoder");
        } else {
          stream_done_ = true;
        }
        continue;
      }
      // Every byte given and output room left, yet no end marker: cut short.
      if ((rc == Z_OK || rc == Z_BUF_ERROR) && memory_pos_ == memory_.size() && zs_.avail_out > 0)
        fail_("truncated gzip stream: the data ends before the stream does");
      if (rc != Z_OK) fail_(fmt::format("corrupt gzip data: {}", zs_.msg ? zs_.msg : "unknown zlib error"));
    }
    return total;
  }

  const Failure& fail_;
  std::span<const std::uint8_t> memory_;
  std::size_t memory_pos_ = 0;
  z_stream zs_{};
  bool inflating_ = false;
  bool stream_done_ = false;
  std::FILE* plain_ = nullptr;
  gzFile gz_ = nullptr;
  bool gzip_ = false;
  std::optional<std::uint64_t> file_size_;
};

// The data arrives in chunks of kReadChunk bytes (a multiple of every element
// size, so no element straddles two chunks): nothing is allocated ahead of
// the bytes that actually arrived, and nothing is copied on the way.
struct Chunk {
  std::unique_ptr<unsigned char[]> bytes;
  std::size_t size = 0;
};

struct RawIdx {
  const IdxType* type = nullptr;
  std::vector<std::int64_t> dims;
  std::vector<Chunk> chunks;

  Dims shape() const { return Dims(dims); }
};

// What a caller needs the file to hold, checked before any data is read.
struct Expectation {
  std::uint8_t type;
  int ndim;
  const char* layout;
};

std::uint32_t load_be32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}
std::uint16_t load_be16(const unsigned char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(p[0]) << 8 | p[1]);
}
std::uint64_t load_be64(const unsigned char* p) {
  return static_cast<std::uint64_t>(load_be32(p)) << 32 | load_be32(p + 4);
}

// Reads and checks the header, then the data, without converting it.
RawIdx read_raw(ByteSource& src, const Failure& fail, std::optional<Expectation> expect = {}) {
  unsigned char head[4];
  const std::size_t got = src.read(head, 4);
  if (got < 4)
    fail(got == 0 ? std::string("the file is empty (an IDX file starts with a 4-byte magic number)")
                  : fmt::format("truncated header: the data ends after {} bytes, inside the 4-byte magic number", got));
  if (head[0] != 0 || head[1] != 0)
    fail(
        fmt::format("bad magic number 0x{:02x}{:02x}{:02x}{:02x}: an IDX file starts with two zero bytes, "
                    "a type byte and a dimension count",
                    head[0], head[1], head[2], head[3]));
  RawIdx raw;
  raw.type = find_type(head[2]);
  if (!raw.type)
    fail(
        fmt::format("unsupported type byte 0x{:02x} (IDX types are 0x08 unsigned byte, 0x09 signed byte, "
                    "0x0B short, 0x0C int, 0x0D float, 0x0E double)",
                    head[2]));
  const int ndim = head[3];
  if (ndim == 0) fail("the header declares no dimensions (dimension count 0)");
  if (ndim > kMaxDims) fail(fmt::format("the header declares {} dimensions; tensors have at most {}", ndim, kMaxDims));

  unsigned char dim_bytes[4 * kMaxDims];
  const std::size_t dims_len = 4 * static_cast<std::size_t>(ndim);
  const std::size_t dims_got = src.read(dim_bytes, dims_len);
  if (dims_got < dims_len)
    fail(fmt::format("truncated header: the data ends inside the {} dimension sizes ({} of {} bytes)", ndim, dims_got,
                     dims_len));
  for (int d = 0; d < ndim; ++d) raw.dims.push_back(load_be32(dim_bytes + 4 * d));
  const std::uint64_t header_len = 4 + dims_len;
  if (expect && raw.type->code != expect->type)
    fail(fmt::format("expected {} data (type 0x{:02x}), found {} (0x{:02x})", find_type(expect->type)->name,
                     expect->type, raw.type->name, raw.type->code));
  if (expect && ndim != expect->ndim)
    fail(fmt::format("expected {} dimensions {}, found {}", expect->ndim, expect->layout, shape_str(raw.dims)));

  // How many data bytes this file could possibly hold, if we can tell.
  std::optional<std::uint64_t> limit;
  if (auto size = src.file_size()) {
    if (src.gzip())
      limit = *size > (UINT64_MAX - kMaxDeflateRatio) / kMaxDeflateRatio ? UINT64_MAX : (*size + 1) * kMaxDeflateRatio;
    else limit = *size > header_len ? *size - header_len : 0;
  }
  const std::uint64_t cap = limit.value_or(static_cast<std::uint64_t>(INT64_MAX));
  const auto describe = [&] { return fmt::format("dimensions {} of {}", shape_str(raw.dims), raw.type->name); };
  // The product is checked against the limit as it grows, so it cannot overflow.
  std::uint64_t count = 1;
  bool too_big = false;
  // An empty tensor needs no data, but its other dimensions still make its
  // strides, which must fit in int64.
  std::uint64_t extent = 1;
  bool empty = false, overflow = false;
  for (auto d : raw.dims) {
    const auto n = static_cast<std::uint64_t>(d);
    if (n == 0) empty = true;
    else if (extent > static_cast<std::uint64_t>(INT64_MAX) / 8 / n) overflow = true;  // as make_tensor
    else extent *= n;
  }
  if (empty && overflow) fail(fmt::format("{} are too large for any tensor, even an empty one", describe()));
  for (auto d : raw.dims) {
    const auto n = static_cast<std::uint64_t>(d);
    if (n == 0) {
      count = 0;
      too_big = false;
      break;
    }
    if (too_big) continue;
    if (count > cap / raw.type->size / n) too_big = true;
    else count *= n;
  }
  if (too_big) {
    double need = static_cast<double>(raw.type->size);
    for (auto d : raw.dims) need *= static_cast<double>(d);
    // Exact while a double holds the count exactly (2^53), else 4 digits.
    const std::string need_text = need < 0x1p53 ? fmt::format("{:.0f}", need) : fmt::format("{:.4g}", need);
    if (!limit) fail(fmt::format("{} need {} bytes of data, more than any tensor can hold", describe(), need_text));
    if (src.gzip())
      fail(
          fmt::format("{} need {} bytes of data, but a gzip file of {} bytes holds at most {} "
                      "(deflate expands at most {}:1)",
                      describe(), need_text, *src.file_size(), *limit, kMaxDeflateRatio));
    fail(
        fmt::format("{} need {} bytes of data, but the file has only {} after its {}-byte header (truncated "
                    "file or corrupt header)",
                    describe(), need_text, *limit, header_len));
  }
  const std::uint64_t expected = count * raw.type->size;
  if (!src.gzip() && limit && *limit != expected)
    fail(fmt::format("{} need {} bytes of data, but the file has {} after its {}-byte header ({})", describe(),
                     expected, *limit, header_len, *limit < expected ? "truncated file" : "trailing data"));

  std::uint64_t have = 0;
  while (have < expected) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, expected - have));
    Chunk chunk{std::make_unique_for_overwrite<unsigned char[]>(want), 0};
    chunk.size = src.read(chunk.bytes.get(), want);
    have += chunk.size;
    if (chunk.size < want)
      fail(fmt::format("truncated data: it ends after {} of the {} bytes that {} need", have, expected, describe()));
    raw.chunks.push_back(std::move(chunk));
  }
  unsigned char extra;
  if (src.read(&extra, 1) != 0)
    fail(fmt::format("trailing data after the {} bytes that {} need", expected, describe()));
  return raw;
}

// Calls convert(bytes, nbytes, first_element) on each chunk in order and frees
// it, so the raw bytes and the tensor they become are not all held at once.
template <class Convert>
void drain(RawIdx& raw, Convert convert) {
  std::size_t first = 0;
  for (auto& chunk : raw.chunks) {
    convert(chunk.bytes.get(), chunk.size, first);
    first += chunk.size / raw.type->size;
    chunk.bytes.reset();
  }
}

template <class T, class Decode>
Tensor decode_into(RawIdx& raw, Decode decode) {
  Tensor out = kernel::empty(raw.shape(), {.dtype = dtype_of<T>()});
  if (out.numel() == 0) return out;
  T* o = out.data_ptr<T>();
  const std::size_t step = raw.type->size;
  drain(raw, [&](const unsigned char* p, std::size_t nbytes, std::size_t first) {
    for (std::size_t i = 0; i < nbytes / step; ++i) o[first + i] = static_cast<T>(decode(p + i * step));
  });
  return out;
}

Tensor decode(RawIdx& raw) {
  switch (raw.type->code) {
    case 0x08:
      return decode_into<std::int64_t>(raw, [](const unsigned char* p) { return std::int64_t{p[0]}; });
    case 0x09:
      return decode_into<std::int64_t>(
          raw, [](const unsigned char* p) { return std::int64_t{std::bit_cast<std::int8_t>(p[0])}; });
    case 0x0B:
      return decode_into<std::int64_t>(
          raw, [](const unsigned char* p) { return std::int64_t{std::bit_cast<std::int16_t>(load_be16(p))}; });
    case 0x0C:
      return decode_into<std::int64_t>(
          raw, [](const unsigned char* p) { return std::int64_t{std::bit_cast<std::int32_t>(load_be32(p))}; });
    case 0x0D:
      return decode_into<float>(raw, [](const unsigned char* p) { return std::bit_cast<float>(load_be32(p)); });
    case 0x0E:
      return decode_into<double>(raw, [](const unsigned char* p) { return std::bit_cast<double>(load_be64(p)); });
  }
  throw FormatError(fmt::format("read_idx: unhandled type byte 0x{:02x}", raw.type->code));
}

RawIdx read_raw_file(const char* op, const std::string& path, std::optional<Expectation> expect = {}) {
  const Failure fail(op, path);
  ByteSource src(path, fail);
  return read_raw(src, fail, expect);
}

}  // namespace

Tensor read_idx(const std::string& path) {
  RawIdx raw = read_raw_file("read_idx", path);
  return decode(raw);
}

Tensor read_idx_bytes(std::span<const std::uint8_t> bytes, std::string_view source_name) {
  const Failure fail("read_idx", source_name);
  ByteSource src(bytes, fail);
  RawIdx raw = read_raw(src, fail);
  return decode(raw);
}

Tensor load_mnist_images(const std::string& path) {
  RawIdx raw = read_raw_file("load_mnist_images", path, Expectation{0x08, 3, "[images, rows, cols]"});
  Tensor out = kernel::empty(raw.shape(), {.dtype = kFloat32});
  if (out.numel() == 0) return out;
  float* o = out.data_ptr<float>();
  drain(raw, [&](const unsigned char* p, std::size_t n, std::size_t first) {
    detail::pixels_to_unit_floats(p, n, o + first);
  });
  return out;
}

Tensor load_mnist_images_uint8(const std::string& path) {
  RawIdx raw = read_raw_file("load_mnist_images_uint8", path, Expectation{0x08, 3, "[images, rows, cols]"});
  Tensor out = kernel::empty(raw.shape(), {.dtype = kUInt8});
  if (out.numel() == 0) return out;
  std::uint8_t* o = out.data_ptr<std::uint8_t>();
  drain(raw, [&](const unsigned char* p, std::size_t n, std::size_t first) { std::memcpy(o + first, p, n); });
  return out;
}

Tensor load_mnist_labels(const std::string& path) {
  RawIdx raw = read_raw_file("load_mnist_labels", path, Expectation{0x08, 1, "[labels]"});
  return decode(raw);
}

}  // namespace tg::data
