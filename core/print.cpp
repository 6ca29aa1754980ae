#include <tapegrad/core/print.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ostream>
#include <vector>

namespace tg {

namespace {

constexpr int kThreshold = 1000;  // more elements than this are summarized
constexpr int kEdgeItems = 3;     // entries kept at each end of a summarized dim
constexpr int kLineWidth = 80;
constexpr int kPrecision = 4;

// Elements are read as their storage type; bools as bytes (any nonzero is
// true), so odd bytes cannot trip a sanitizer.
template <class T>
struct Element {
  using type = T;
};
template <>
struct Element<bool> {
  using type = unsigned char;
};

// One width and one style for every element of a tensor, chosen from the
// values shown (torch/_tensor_str.py's _Formatter).
template <class T>
class Formatter {
 public:
  explicit Formatter(const std::vector<T>& values) {
    if constexpr (is_floating_v<T>) {
      std::vector<double> finite;
      for (T v : values)
        if (std::isfinite(v) && v != T(0)) finite.push_back(static_cast<double>(v));
      if (finite.empty()) return;
      double lo = std::abs(finite[0]), hi = lo;
      for (double v : finite) {
        lo = std::min(lo, std::abs(v));
        hi = std::max(hi, std::abs(v));
        if (v != std::ceil(v)) int_mode_ = false;
      }
      sci_mode_ = hi / lo > 1000.0 || hi > 1.0e8 || (!int_mode_ && lo < 1.0e-4);
      for (double v : finite) {
        std::size_t len;
        if (sci_mode_) len = fmt::format("{:.{}e}", v, kPrecision).size();
        else if (int_mode_) len = fmt::format("{:.0f}", v).size() + 1;
        else len = fmt::format("{:.{}f}", v, kPrecision).size();
        width_ = std::max(width_, len);
      }
    } else {
      for (T v : values) width_ = std::max(width_, plain(v).size());
    }
  }

  std::size_t width() const { return width_; }

  std::string format(T v) const {
    std::string s;
    if constexpr (is_floating_v<T>) {
      const double d = static_cast<double>(v);
      if (std::isnan(d)) s = "nan";                                              // never "-nan", as Python
      else if (sci_mode_) s = fmt::format("{:>{}.{}e}", d, width_, kPrecision);  // right-aligned: fmt puts inf left
      else if (int_mode_) s = fmt::format("{:.0f}", d) + (std::isinf(d) ? "" : ".");
      else s = fmt::format("{:.{}f}", d, kPrecision);
    } else {
      s = plain(v);
    }
    if (s.size() < width_) s.insert(0, width_ - s.size(), ' ');
    return s;
  }

 private:
  static std::string plain(T v) {
    if constexpr (std::is_same_v<T, bool>) return v ? "True" : "False";
    else return fmt::format("{}", v);
  }

  bool int_mode_ = true;
  bool sci_mode_ = false;
  std::size_t width_ = 1;
};

template <class T>
class Printer {
 public:
  Printer(const TensorBase& t, bool summarize)
      : data_(static_cast<const typename Element<T>::type*>(t.raw_data())),
        sizes_(t.sizes()),
        strides_(t.strides()),
        summarize_(summarize) {}

  T at(std::int64_t offset) const {
    if constexpr (std::is_same_v<T, bool>) return data_[offset] != 0;
    else return data_[offset];
  }

  // The indices shown along a dim of `size` (-1 marks the "..." gap).
  std::vector<std::int64_t> shown(std::int64_t size) const {
    std::vector<std::int64_t> idx;
    if (summarize_ && size > 2 * kEdgeItems) {
      for (std::int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
      idx.push_back(-1);
      for (std::int64_t i = size - kEdgeItems; i < size; ++i) idx.push_back(i);
    } else {
      for (std::int64_t i = 0; i < size; ++i) idx.push_back(i);
    }
    return idx;
  }

  void collect(std::size_t dim, std::int64_t offset, std::vector<T>& out) const {
    if (dim == sizes_.size()) {
      out.push_back(at(offset));
      return;
    }
    for (std::int64_t i : shown(sizes_[dim]))
      if (i >= 0) collect(dim + 1, offset + i * strides_[dim], out);
  }

  std::string str(std::size_t dim, std::int64_t offset, std::size_t indent, const Formatter<T>& f) const {
    const std::size_t ndim = sizes_.size();
    if (dim == ndim) return f.format(at(offset));
    const std::string newline_indent(indent + 1, ' ');
    std::string out = "[";
    if (dim + 1 == ndim) {
      // A row: as many elements per line as fit in the line width.
      const std::size_t per_line = std::max<std::size_t>(
          1, (static_cast<std::size_t>(kLineWidth) - std::min<std::size_t>(indent, kLineWidth)) / (f.width() + 2));
      std::size_t on_line = 0;
      bool first = true;
      for (std::int64_t i : shown(sizes_[dim])) {
        if (!first) {
          if (on_line == per_line) {
            out += ",\n" + newline_indent;
            on_line = 0;
          } else {
            out += ", ";
          }
        }
        out += i < 0 ? std::string(" ...") : f.format(at(offset + i * strides_[dim]));
        ++on_line;
        first = false;
      }
    } else {
      const std::string sep = "," + std::string(ndim - dim - 1, '\n') + newline_indent;
      bool first = true;
      for (std::int64_t i : shown(sizes_[dim])) {
        if (!first) out += sep;
        out += i < 0 ? std::string("...") : str(dim + 1, offset + i * strides_[dim], indent + 1, f);
        first = false;
      }
    }
    return out + "]";
  }

 private:
  const typename Element<T>::type* data_;
  IntArrayRef sizes_;
  IntArrayRef strides_;
  bool summarize_;
};

std::string tensor_body(const TensorBase& t, std::size_t indent) {
  const bool summarize = t.numel() > kThreshold;
  return dispatch(t.dtype(), [&]<class T>() {
    Printer<T> printer(t, summarize);
    std::vector<T> values;
    printer.collect(0, 0, values);
    return printer.str(0, 0, indent, Formatter<T>(values));
  });
}

// "log_softmax" -> "LogSoftmaxBackward".
std::string backward_name(std::string_view op) {
  std::string name;
  bool upper = true;
  for (char c : op) {
    if (c == '_') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  const std::string_view suffix = "Backward";
  if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    name += suffix;
  return name;
}

// Appends ", suffix" to the text, or starts a new line when the line would
// pass the line width (torch/_tensor_str.py's _add_suffixes).
std::string add_suffixes(std::string text, const std::vector<std::string>& suffixes, std::size_t indent) {
  // PyTorch's count of the last line: its length plus 2 (plus 1 after a newline).
  const auto newline = text.rfind('\n');
  std::size_t last_line = newline == std::string::npos ? text.size() + 2 : text.size() - newline + 1;
  for (const auto& s : suffixes) {
    if (last_line + s.size() + 2 > static_cast<std::size_t>(kLineWidth)) {
      text += ",\n" + std::string(indent, ' ') + s;
      last_line = indent + s.size();
    } else {
      text += ", " + s;
      last_line += s.size() + 2;
    }
  }
  return text + ")";
}

std::string size_tuple(IntArrayRef sizes) {
  std::string s = "(";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + (sizes.size() == 1 ? ",)" : ")");
}

}  // namespace

std::string repr(const TensorBase& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const std::size_t indent = prefix.size();
  std::vector<std::string> suffixes;
  std::string body;
  if (t.numel() == 0) {
    if (t.dim() != 1) suffixes.push_back("size=" + size_tuple(t.sizes()));
    if (t.dtype() != kFloat32) suffixes.push_back(fmt::format("dtype={}", dtype_name(t.dtype())));
    body = "[]";
  } else {
    if (t.dtype() != kFloat32 && t.dtype() != kInt64 && t.dtype() != kBool)
      suffixes.push_back(fmt::format("dtype={}", dtype_name(t.dtype())));
    body = tensor_body(t, indent);
  }
  if (AutogradMetaBase* meta = t.impl()->autograd.get()) {
    if (auto name = meta->grad_fn_name_for(t); !name.empty())
      suffixes.push_back("grad_fn=<" + backward_name(name) + ">");
    else if (meta->requires_grad_for(t)) suffixes.push_back("requires_grad=True");
  }
  return add_suffixes(prefix + body, suffixes, indent);
}

std::ostream& operator<<(std::ostream& os, const TensorBase& t) { return os << repr(t); }

std::ostream& operator<<(std::ostream& os, DType dtype) { return os << dtype_name(dtype); }

}  // namespace tg
