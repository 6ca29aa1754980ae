#include <tapegrad/io/safetensors.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/regular_file.h>
#include <tapegrad/io/atomic_file.h>

namespace tg {
namespace {

using json = nlohmann::json;

// Tensor bytes are copied between memory and file as they are.
static_assert(std::endian::native == std::endian::little,
              "safetensors data are little-endian; a big-endian build needs byte swapping here");

// The reference implementation refuses larger headers; so do we, before
// allocating anything for one. save() refuses to write one, which load would
// refuse to read back.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::size_t kLengthBytes = 8;

// ---- dtypes -----------------------------------------------------------------

template <class Narrow>
void widen_to_int64(const unsigned char* raw, std::int64_t* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    Narrow v;
    std::memcpy(&v, raw + i * static_cast<std::int64_t>(sizeof(Narrow)), sizeof(Narrow));
    out[i] = static_cast<std::int64_t>(v);
  }
}

// A dtype as a file names it, and the tapegrad dtype it loads as. The
// unsigned integers tapegrad has no dtype for (U16, U32) fit int64 exactly, so
// they are widened rather than refused.
struct FileDType {
  std::string_view name;
  std::size_t itemsize;
  DType loads_as;
  void (*widen)(const unsigned char*, std::int64_t*, std::int64_t) = nullptr;
};

constexpr FileDType kFileDTypes[] = {
    {"F32", 4, kFloat32},
    {"F64", 8, kFloat64},
    {"I64", 8, kInt64},
    {"BOOL", 1, kBool},
    {"I32", 4, kInt32},
    {"I16", 2, kInt16},
    {"I8", 1, kInt8},
    {"U8", 1, kUInt8},
    {"F16", 2, kFloat16},
    {"BF16", 2, kBFloat16},
    {"U32", 4, kInt64, widen_to_int64<std::uint32_t>},
    {"U16", 2, kInt64, widen_to_int64<std::uint16_t>},
};

const FileDType* find_file_dtype(std::string_view name) {
  for (const auto& d : kFileDTypes)
    if (d.name == name) return &d;
  return nullptr;
}

std::string_view file_dtype_name(DType d) {
  for (const auto& f : kFileDTypes)
    if (!f.widen && f.loads_as == d) return f.name;
  throw DTypeError(fmt::format("{}: dtype {} has no safetensors name", saver(), dtype_name(d)));
}

// The reference writer orders tensors by its dtype enum, largest first (I64,
// F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), and then by name: element
// sizes never grow along the file, so with the 8-byte-aligned header every
// tensor starts at a multiple of its element size and can be used in place.
// We keep its order so that our files are aligned too and equal to its files
// byte for byte.
int reference_dtype_rank(DType d) {
  switch (d) {
    case DType::Bool:
      return 0;
    case DType::UInt8:
      return 1;
    case DType::Int8:
      return 2;
    case DType::Int16:
      return 3;
    case DType::Float16:
      return 4;
    case DType::BFloat16:
      return 5;
    case DType::Int32:
      return 6;
    case DType::Float32:
      return 7;
    case DType::Float64:
      return 8;
    case DType::Int64:
      return 9;
  }
  return 0;
}

// ---- messages ---------------------------------------------------------------

// Names come from untrusted files and may be megabytes long.
std::string quote_name(std::string_view s) {
  constexpr std::size_t kMaxShown = 120;
  if (s.size() <= kMaxShown) return fmt::format("'{}'", s);
  return fmt::format("'{}...' ({} bytes)", s.substr(0, kMaxShown), s.size());
}

// A JSON value from the header, cut short if long.
std::string shown(const json& value) {
  constexpr std::size_t kMaxShown = 120;
  std::string s = value.dump();
  if (s.size() > kMaxShown) s = s.substr(0, kMaxShown) + "...";
  return s;
}

[[noreturn]] void bad_file(std::string_view source, std::string_view problem) {
  throw FormatError(fmt::format("safetensors: {}: {}", quote_name(source), problem));
}

[[noreturn]] void bad_tensor(std::string_view source, std::string_view name, std::string_view problem) {
  bad_file(source, fmt::format("tensor {}: {}", quote_name(name), problem));
}

// ---- reading bytes ----------------------------------------------------------

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  // Exactly `nbytes` from `offset`; the caller keeps within size().
  virtual void read(std::uint64_t offset, void* dst, std::size_t nbytes) const = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void read(std::uint64_t offset, void* dst, std::size_t nbytes) const override {
    if (nbytes > 0) std::memcpy(dst, bytes_.data() + offset, nbytes);
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    const RegularFile f = open_regular_file(path);
    // FormatError, as the docs and the IDX reader say: "cannot be read".
    if (f.kind) throw FormatError(fmt::format("load_file: '{}' {}", path, f.problem()));
    if (f.fd < 0) throw FormatError(fmt::format("load_file: cannot open '{}': {}", path, errno_text(f.error)));
    fd_ = f.fd;
    size_ = f.size;
  }
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, void* dst, std::size_t nbytes) const override {
    char* out = static_cast<char*>(dst);
    while (nbytes > 0) {
      const ::ssize_t n = ::pread(fd_, out, nbytes, static_cast<::off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int error_number = errno;
        throw FormatError(fmt::format("load_file: cannot read '{}': {}", path_, errno_text(error_number)));
      }
      if (n == 0)
        bad_file(path_,
                 fmt::format("the file ended at byte {} while reading it (was it truncated meanwhile?)", offset));
      out += n;
      offset += static_cast<std::uint64_t>(n);
      nbytes -= static_cast<std::size_t>(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// ---- the header -------------------------------------------------------------

struct Entry {
  std::string name;
  const FileDType* type = nullptr;
  Dims shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

struct Header {
  std::vector<Entry> entries;
  Metadata metadata;
};

// A header is an object (depth 0) of objects (depth 1) whose fields are
// strings or arrays (depth 2) of at most kMaxDims numbers. A first pass holds
// the text to that shape without building anything, so that hostile input
// can neither nest deeply nor make the parser build huge arrays; the tree is
// built after it. (Both passes are linear: nlohmann's parser with a callback,
// used before, walks the parent object at each object's end, which made a
// header of n entries cost n^2: 76 s for a 1 MB file of 100k empty entries.)
class HeaderShapeCheck {
 public:
  using string_t = json::string_t;
  explicit HeaderShapeCheck(std::string_view source) : source_(source) {}

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const string_t&) { return value(); }
  bool string(string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }
  bool start_object(std::size_t) {
    if (depth_ > 1) bad_file(source_, fmt::format("header: entry {} holds a nested object", quote_name(top_key_)));
    ++depth_;
    return true;
  }
  bool key(string_t& k) {
    if (depth_ == 1) {
      top_key_ = k;
      if (!top_keys_.insert(top_key_).second)
        bad_file(source_, fmt::format("header: the name {} appears twice", quote_name(top_key_)));
      entry_keys_.clear();
    } else if (depth_ == 2 && !entry_keys_.insert(k).second) {
      bad_file(source_, fmt::format("header: entry {} gives {} twice", quote_name(top_key_), quote_name(k)));
    }
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 0) bad_file(source_, "header is a JSON array, not an object");
    if (depth_ == 1)
      bad_file(source_, fmt::format("header: entry {} is an array instead of an object", quote_name(top_key_)));
    if (depth_ > 2) bad_file(source_, fmt::format("header: entry {} nests arrays", quote_name(top_key_)));
    ++depth_;
    array_elements_ = 0;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    bad_file(source_, fmt::format("header is not valid JSON: {}", e.what()));
  }

 private:
  // A number, string, bool or null; inside an entry's array, one element.
  bool value() {
    if (depth_ == 3 && ++array_elements_ > static_cast<std::size_t>(kMaxDims))
      bad_file(source_, fmt::format("header: entry {} holds an array longer than {} (tensors have at most {} "
                                    "dimensions)",
                                    quote_name(top_key_), kMaxDims, kMaxDims));
    return true;
  }
  std::string_view source_;
  int depth_ = 0;        // containers open
  std::string top_key_;  // the tensor being read, for messages
  std::size_t array_elements_ = 0;
  // The parser keeps the last of repeated keys; a file that repeats a name
  // (or a field of one entry) is ambiguous, so it is refused.
  std::set<std::string> top_keys_, entry_keys_;
};

json parse_json(std::string_view text, std::string_view source) {
  // JSON has no raw NUL bytes, but nlohmann's parser takes one for the end of
  // its input and would accept whatever follows.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos)
    bad_file(source, fmt::format("header is not valid JSON: it holds a NUL byte at offset {}", nul));
  HeaderShapeCheck check(source);
  try {
    json::sax_parse(text.begin(), text.end(), &check);
    return json::parse(text.begin(), text.end(), nullptr);
  } catch (const json::exception& e) {
    bad_file(source, fmt::format("header is not valid JSON: {}", e.what()));
  }
}

void read_metadata(const json& value, Metadata& out, std::string_view source) {
  if (value.is_null()) return;  // as the reference reader: no metadata
  if (!value.is_object())
    bad_file(source, fmt::format("\"__metadata__\" is {} instead of an object of strings", value.type_name()));
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!it.value().is_string())
      bad_file(source, fmt::format("\"__metadata__\" entry {} is {} instead of a string", quote_name(it.key()),
                                   it.value().type_name()));
    out.emplace(it.key(), it.value().get<std::string>());
  }
}

Entry read_entry(const std::string& name, const json& value, std::uint64_t data_bytes, std::string_view source) {
  auto bad = [&](std::string_view problem) { bad_tensor(source, name, problem); };
  if (!value.is_object())
    bad(fmt::format("entry is {} instead of an object with dtype, shape and data_offsets", value.type_name()));
  auto field = [&](const char* key) -> const json& {
    auto it = value.find(key);
    if (it == value.end()) bad_tensor(source, name, fmt::format("\"{}\" is missing", key));
    return *it;
  };
  // Sizes and offsets are JSON integers >= 0 (the reference reads them as usize).
  auto non_negative = [&](const json& v, const char* key, const json& whole) -> std::uint64_t {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    bad_tensor(source, name,
               fmt::format("\"{}\" {} holds {}, which is not a non-negative integer", key, shown(whole), shown(v)));
  };

  Entry e;
  e.name = name;

  const json& dtype = field("dtype");
  if (!dtype.is_string()) bad(fmt::format("\"dtype\" is {} instead of a string", dtype.type_name()));
  e.type = find_file_dtype(dtype.get_ref<const std::string&>());
  if (!e.type)
    bad(
        fmt::format("dtype {} is not one tapegrad can load (it loads F16, BF16, F32, F64, U8, I8, I16, I32, I64 and "
                    "BOOL, and widens U16 and U32 to I64)",
                    quote_name(dtype.get_ref<const std::string&>())));

  const json& shape = field("shape");
  if (!shape.is_array()) bad(fmt::format("\"shape\" is {} instead of an array", shape.type_name()));
  if (shape.size() > static_cast<std::size_t>(kMaxDims))
    bad(fmt::format("shape has {} dimensions; tensors have at most {}", shape.size(), kMaxDims));
  // Sizes must leave the contiguous strides representable even when a zero
  // makes the tensor empty, so the product of the nonzero ones must fit, in
  // bytes of the widest dtype (make_tensor's bound).
  constexpr auto kMaxExtent = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 8);
  std::uint64_t extent = 1;
  bool has_zero = false;
  for (const json& d : shape) {
    const std::uint64_t size = non_negative(d, "shape", shape);
    if (size == 0) {
      has_zero = true;
    } else {
      if (size > kMaxExtent / extent) bad(fmt::format("shape {} is absurdly large", shown(shape)));
      extent *= size;
    }
    e.shape.push_back(static_cast<std::int64_t>(size));
  }
  const std::uint64_t numel = has_zero ? 0 : extent;

  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    bad(fmt::format("\"data_offsets\" {} is not an array [begin, end]", shown(offsets)));
  e.begin = non_negative(offsets[0], "data_offsets", offsets);
  e.end = non_negative(offsets[1], "data_offsets", offsets);
  if (e.end < e.begin) bad(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
  if (e.end > data_bytes)
    bad(fmt::format("data_offsets [{}, {}] reach past the end of the data section ({} bytes)", e.begin, e.end,
                    data_bytes));
  // Division first: numel * itemsize could overflow.
  const std::uint64_t nbytes = e.end - e.begin;
  if (numel > nbytes / e.type->itemsize || numel * e.type->itemsize != nbytes)
    bad(fmt::format("shape {} of {} is {} elements of {} bytes, but data_offsets [{}, {}] hold {} bytes", shown(shape),
                    e.type->name, numel, e.type->itemsize, e.begin, e.end, nbytes));
  return e;
}

// As the reference demands, the tensors must tile the data section exactly:
// in offset order each starts where the previous one ended, and the last ends
// at the end of the file. A hole or an overlap means a damaged or forged file.
void check_tiling(const std::vector<Entry>& entries, std::uint64_t data_bytes, std::string_view source) {
  std::vector<const Entry*> order;
  order.reserve(entries.size());
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : order) {
    if (e->begin < covered)
      bad_file(source,
               fmt::format("tensors {} (bytes [{}, {}]) and {} (bytes [{}, {}]) overlap", quote_name(previous->name),
                           previous->begin, previous->end, quote_name(e->name), e->begin, e->end));
    if (e->begin > covered)
      bad_file(source, fmt::format("bytes [{}, {}] of the data section belong to no tensor (a hole before {})", covered,
                                   e->begin, quote_name(e->name)));
    covered = e->end;
    previous = e;
  }
  if (covered != data_bytes)
    bad_file(source,
             fmt::format("the data section has {} bytes but the tensors cover only the first {}", data_bytes, covered));
}

Header parse_header(std::string_view text, std::uint64_t data_bytes, std::string_view source) {
  const json root = parse_json(text, source);
  if (!root.is_object()) bad_file(source, fmt::format("header is {} instead of a JSON object", root.type_name()));
  Header header;
  header.entries.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") read_metadata(it.value(), header.metadata, source);
    else header.entries.push_back(read_entry(it.key(), it.value(), data_bytes, source));
  }
  check_tiling(header.entries, data_bytes, source);
  return header;
}

// Every check passes before the first tensor is allocated, and the tensors'
// bytes add up to the data section, so memory use stays within a small
// multiple of the file's size (8 times, for U8 data widened to int64).
LoadedFile load_from(const ByteSource& src, std::string_view source) {
  const std::uint64_t file_bytes = src.size();
  if (file_bytes < kLengthBytes)
    bad_file(source, fmt::format("the file has {} bytes, too few for the 8-byte header length", file_bytes));
  unsigned char length[kLengthBytes];
  src.read(0, length, kLengthBytes);
  std::uint64_t header_bytes = 0;
  for (std::size_t i = kLengthBytes; i-- > 0;) header_bytes = header_bytes << 8 | length[i];
  if (header_bytes > kMaxHeaderBytes)
    bad_file(source, fmt::format("header length {} is over the {}-byte limit", header_bytes, kMaxHeaderBytes));
  if (header_bytes > file_bytes - kLengthBytes)
    bad_file(source, fmt::format("header length {} is larger than the rest of the file ({} bytes)", header_bytes,
                                 file_bytes - kLengthBytes));

  std::string text(header_bytes, '\0');
  src.read(kLengthBytes, text.data(), header_bytes);
  const std::uint64_t data_start = kLengthBytes + header_bytes;
  Header header = parse_header(text, file_bytes - data_start, source);

  LoadedFile out;
  out.metadata = std::move(header.metadata);
  for (Entry& e : header.entries) {
    Tensor t = kernel::empty(e.shape, {.dtype = e.type->loads_as});
    const std::size_t nbytes = e.end - e.begin;
    if (e.type->widen) {
      std::vector<unsigned char> raw(nbytes);
      src.read(data_start + e.begin, raw.data(), nbytes);
      e.type->widen(raw.data(), t.data_ptr<std::int64_t>(), t.numel());
    } else if (nbytes > 0) {
      src.read(data_start + e.begin, t.raw_data(), nbytes);
    }
    if (e.type->loads_as == kBool) {
      // A byte other than 0 or 1 is not a valid bool in C++; read it as true.
      auto* bytes = static_cast<unsigned char*>(t.raw_data());
      for (std::size_t i = 0; i < nbytes; ++i) bytes[i] = bytes[i] != 0;
    }
    out.tensors.emplace(std::move(e.name), std::move(t));
  }
  return out;
}

// ---- writing ----------------------------------------------------------------

struct TensorToWrite {
  const std::string* name;
  Tensor data;  // contiguous
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::vector<TensorToWrite> plan_layout(const TensorMap& tensors) {
  std::vector<TensorToWrite> plan;
  plan.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw ValueError(
          fmt::format("{}: a tensor cannot be named '__metadata__': safetensors keeps that key for metadata", saver()));
    if (!t.defined()) throw ValueError(fmt::format("{}: tensor {} is undefined", saver(), quote_name(name)));
    // The kernel, not Tensor::contiguous: it records nothing on the tape, and
    // io/ sits on core alone.
    plan.push_back({&name, kernel::contiguous(t)});
  }
  // The map gives name order; a stable sort keeps it within each dtype.
  std::stable_sort(plan.begin(), plan.end(), [](const TensorToWrite& a, const TensorToWrite& b) {
    return reference_dtype_rank(a.data.dtype()) > reference_dtype_rank(b.data.dtype());
  });
  std::uint64_t offset = 0;
  for (TensorToWrite& t : plan) {
    t.begin = offset;
    offset += static_cast<std::uint64_t>(t.data.numel()) * t.data.element_size();
    t.end = offset;
  }
  return plan;
}

std::string json_string(const std::string& s, std::string_view what) {
  try {
    return json(s).dump();
  } catch (const json::type_error&) {
    throw ValueError(fmt::format("{}: {} {} is not valid UTF-8, which JSON requires", saver(), what,
                                 json(s).dump(-1, ' ', false, json::error_handler_t::replace)));
  }
}

// Byte for byte what the reference writer makes: compact JSON, "__metadata__"
// first (only when there is some), then the tensors in file order with their
// fields in the order dtype, shape, data_offsets, padded with spaces to a
// multiple of 8 bytes so that the data start aligned.
std::string build_header(const std::vector<TensorToWrite>& plan, const Metadata& metadata) {
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
      if (it != metadata.begin()) h += ',';
      h += json_string(it->first, "metadata key");
      h += ':';
      h += json_string(it->second, "metadata value");
    }
    h += '}';
  }
  for (const TensorToWrite& t : plan) {
    if (h.size() > 1) h += ',';
    h += json_string(*t.name, "tensor name");
    h += fmt::format(R"(:{{"dtype":"{}","shape":[{}],"data_offsets":[{},{}]}})", file_dtype_name(t.data.dtype()),
                     fmt::join(t.data.sizes(), ","), t.begin, t.end);
  }
  h += '}';
  h.append((8 - h.size() % 8) % 8, ' ');
  return h;
}

struct PreparedFile {
  std::vector<TensorToWrite> plan;
  std::string header;
};

// A header load_file would refuse is refused before it is written.
// `destination` names the caller and its file ("save: 'a.safetensors'").
void check_header_size(std::uint64_t header_bytes, bool exact, std::string_view destination, const TensorMap& tensors,
                       const Metadata& metadata) {
  if (header_bytes <= kMaxHeaderBytes) return;
  throw ValueError(fmt::format(
      "{}: the header would be {}{} bytes ({} tensors, {} metadata entries), over the "
      "{}-byte limit of load_file and of the reference reader, so the file could not be "
      "read back; store less metadata or fewer tensors",
      destination, exact ? "" : "at least ", header_bytes, tensors.size(), metadata.size(), kMaxHeaderBytes));
}

// Escaping never shortens a string, so the names and the metadata as they
// are give a floor on the header's size: one far over the limit is refused
// before hundreds of megabytes are escaped.
std::uint64_t header_floor(const TensorMap& tensors, const Metadata& metadata) {
  std::uint64_t bytes = 0;
  for (const auto& [key, value] : metadata) bytes += key.size() + value.size();
  for (const auto& entry : tensors) bytes += entry.first.size();
  return bytes;
}

// Everything that can fail on bad input fails here, before a file is touched.
PreparedFile prepare(const TensorMap& tensors, const Metadata& metadata, std::string_view destination) {
  check_header_size(header_floor(tensors, metadata), false, destination, tensors, metadata);
  PreparedFile f;
  f.plan = plan_layout(tensors);
  f.header = build_header(f.plan, metadata);
  check_header_size(f.header.size(), true, destination, tensors, metadata);
  return f;
}

template <class Sink>
void write_prepared(Sink&& sink, const PreparedFile& file) {
  const std::string& header = file.header;
  unsigned char length[kLengthBytes];
  const std::uint64_t n = header.size();
  for (std::size_t i = 0; i < kLengthBytes; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
  sink(length, kLengthBytes);
  sink(header.data(), header.size());
  for (const TensorToWrite& t : file.plan) sink(t.data.raw_data(), static_cast<std::size_t>(t.end - t.begin));
}

}  // namespace

void save(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  detail::CurrentOpScope op("save");
  const PreparedFile prepared = prepare(tensors, metadata, fmt::format("{}: '{}'", saver(), path));
  AtomicFileWriter file(path);
  write_prepared([&](const void* p, std::size_t n) { file.write(p, n); }, prepared);
  file.commit();
}

std::vector<std::uint8_t> save_to_bytes(const TensorMap& tensors, const Metadata& metadata) {
  std::vector<std::uint8_t> out;
  write_prepared(
      [&](const void* p, std::size_t n) {
        if (n > 0) out.insert(out.end(), static_cast<const std::uint8_t*>(p), static_cast<const std::uint8_t*>(p) + n);
      },
      prepare(tensors, metadata, "save_to_bytes"));
  return out;
}

LoadedFile load_file(const std::string& path) { return load_from(FileSource(path), path); }

TensorMap load(const std::string& path) { return load_file(path).tensors; }

LoadedFile load_from_bytes(std::span<const std::uint8_t> bytes, std::string_view source_name) {
  return load_from(MemorySource(bytes), source_name);
}

}  // namespace tg
