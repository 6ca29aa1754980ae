#include "report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/io/atomic_file.h>

namespace fashion {

namespace {

// Writes `text` to `path` as the checkpoint is written (tg::AtomicFileWriter:
// a temporary file in the same folder, flushed, synced and renamed over
// `path`), so a failed write leaves the previous file whole. A failure is a
// tg::Error "cannot write <what> to '<path>': <why>". (An ofstream checked
// before its flush reported success for a write to /dev/full or a full disk,
// and truncated the previous file first.)
void write_atomically(const std::string& path, const std::string& text, const std::string& what) {
  namespace fs = std::filesystem;
  const auto fail = [&](std::string_view why) {
    throw tg::Error(fmt::format("cannot write {} to '{}': {}", what, path, why));
  };
  // The two usual mistakes, said in this example's words (the writer's own
  // messages name its temporary file, and say what its save does).
  std::error_code error;
  const fs::path folder = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::is_directory(folder, error)) fail(fmt::format("no folder '{}'", folder.string()));
  if (const auto status = fs::status(path, error); fs::exists(status) && !fs::is_regular_file(status))
    fail("it is not a regular file (the file is replaced by a new one, which a folder or a device cannot be)");
  try {
    tg::AtomicFileWriter out(path);
    out.write(text.data(), text.size());
    out.commit();
  } catch (const tg::Error& e) {
    // The writer's messages begin with the name of the op writing, tg::saver().
    std::string_view why = e.what();
    const std::string op = fmt::format("{}: ", tg::saver());
    if (why.starts_with(op)) why.remove_prefix(op.size());
    fail(why);
  }
}

}  // namespace

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& metrics) {
  std::string text = "epoch,train_loss,test_loss,test_accuracy,seconds\n";
  for (const auto& m : metrics)
    text +=
        fmt::format("{},{:.6f},{:.6f},{:.6f},{:.3f}\n", m.epoch, m.train_loss, m.test_loss, m.test_accuracy, m.seconds);
  write_atomically(path, text, "the metrics");
}

namespace {

// One line chart inside the rectangle (x0, y0, w, h).
std::string panel(double x0, double y0, double w, double h, const std::string& title,
                  const std::vector<std::pair<std::string, std::vector<double>>>& series,
                  const std::vector<std::string>& colors, double lo, double hi, const char* value_format) {
  std::string s;
  s += fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='white' stroke='#999'/>\n", x0, y0, w, h);
  s += fmt::format("<text x='{}' y='{}' font-size='15' text-anchor='middle'>{}</text>\n", x0 + w / 2, y0 - 10, title);
  if (hi <= lo) hi = lo + 1;
  std::size_t n = 0;
  for (const auto& [name, values] : series) n = std::max(n, values.size());
  auto px = [&](std::size_t i) {
    return x0 + (n <= 1 ? w / 2 : w * static_cast<double>(i) / static_cast<double>(n - 1));
  };
  auto py = [&](double v) { return y0 + h - h * (v - lo) / (hi - lo); };
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4;
    s += fmt::format("<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' stroke='#eee'/>\n", x0, py(v), x0 + w, py(v));
    s += fmt::format("<text x='{}' y='{:.1f}' font-size='11' text-anchor='end'>{}</text>\n", x0 - 5, py(v) + 4,
                     fmt::format(fmt::runtime(value_format), v));
  }
  for (std::size_t i = 0; i < n; ++i)
    s += fmt::format("<text x='{:.1f}' y='{}' font-size='11' text-anchor='middle'>{}</text>\n", px(i), y0 + h + 15,
                     i + 1);
  s += fmt::format("<text x='{}' y='{}' font-size='12' text-anchor='middle'>epoch</text>\n", x0 + w / 2, y0 + h + 32);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& [name, values] = series[k];
    std::string points;
    for (std::size_t i = 0; i < values.size(); ++i) points += fmt::format("{:.1f},{:.1f} ", px(i), py(values[i]));
    s += fmt::format("<polyline fill='none' stroke='{}' stroke-width='2' points='{}'/>\n", colors[k], points);
    for (std::size_t i = 0; i < values.size(); ++i)
      s += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='3' fill='{}'/>\n", px(i), py(values[i]), colors[k]);
    s += fmt::format("<text x='{}' y='{}' font-size='12' fill='{}'>{}</text>\n", x0 + 10, y0 + 18 + 16 * k, colors[k],
                     name);
  }
  return s;
}

}  // namespace

void write_curves_svg(const std::string& path, const std::vector<EpochMetrics>& metrics) {
  std::vector<double> train, test, acc;
  for (const auto& m : metrics) {
    train.push_back(m.train_loss);
    test.push_back(m.test_loss);
    acc.push_back(100 * m.test_accuracy);
  }
  double lo = 0, hi = 1;
  if (!metrics.empty()) {
    hi = std::max(*std::max_element(train.begin(), train.end()), *std::max_element(test.begin(), test.end()));
    lo = std::min(*std::min_element(train.begin(), train.end()), *std::min_element(test.begin(), test.end()));
  }
  const double pad = (hi - lo) * 0.1 + 1e-3;
  double alo = 0, ahi = 100;
  if (!acc.empty()) {
    alo = std::max(0.0, *std::min_element(acc.begin(), acc.end()) - 2);
    ahi = std::min(100.0, *std::max_element(acc.begin(), acc.end()) + 2);
  }
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='900' height='380' font-family='sans-serif'>\n";
  svg += "<rect width='900' height='380' fill='white'/>\n";
  svg += panel(70, 40, 350, 270, "Loss", {{"train loss", train}, {"test loss", test}}, {"#1f77b4", "#d62728"},
               std::max(0.0, lo - pad), hi + pad, "{:.3f}");
  svg += panel(520, 40, 350, 270, "Test accuracy (%)", {{"test accuracy", acc}}, {"#2ca02c"}, alo, ahi, "{:.1f}");
  svg += "</svg>\n";
  write_atomically(path, svg, "the training curves");
}

std::string format_confusion_matrix(const std::vector<std::vector<long>>& matrix) {
  const auto& names = tg::data::kFashionMnistClasses;
  std::string out = fmt::format("{:>12} |", "true \\ pred");
  for (std::size_t j = 0; j < matrix.size(); ++j) out += fmt::format(" {:>5.5}", names[j]);
  out += '\n';
  out.append(14 + 6 * matrix.size(), '-');
  out += '\n';
  for (std::size_t i = 0; i < matrix.size(); ++i) {
    out += fmt::format("{:>12} |", names[i]);
    for (long v : matrix[i]) out += fmt::format(" {:>5}", v);
    out += "\n";
  }
  return out;
}

}  // namespace fashion
