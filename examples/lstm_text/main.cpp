// A character-level LSTM language model on the English text of Debian's
// `fortunes` package (scripts/setup.sh --text installs it; nothing is
// downloaded). It trains on the first 90% of the text with Adam and gradient
// clipping, and reports the loss on the held-out last 10% against the
// uniform and the character-bigram baselines.
//
//   build/examples/lstm_text --steps 2000
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

#include "cli.h"

namespace {

constexpr const char* kUsage = R"(usage: lstm_text [options]
  --steps N        training steps (2000)
  --batch N        sequences per step (32)
  --seq-len N      characters per sequence (64)
  --hidden N       LSTM hidden size (128)
  --layers N       LSTM layers (1)
  --lr X           Adam learning rate (0.003)
  --eval-every N   steps between validation losses (200)
  --val-batches N  batches in each validation loss (8)
  --seed N         seed for initialisation and batches (0)
  --text PATH      a text file, or a folder of them (/usr/share/games/fortunes)
  --sample N       characters to generate at the end (200)
)";

struct Config {
  long steps = 2000, batch = 32, seq_len = 64, hidden = 128, layers = 1, eval_every = 200, val_batches = 8;
  long seed = 0, sample = 200;
  double lr = 3e-3;
  std::string text = "/usr/share/games/fortunes";
};

using examples::parse_int;

// The fortune files are the plain files of the folder (the .dat indexes and
// .u8 links are skipped); non-ASCII bytes are dropped to keep the vocabulary small.
std::string read_text(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.is_regular_file() && !entry.is_symlink() && !entry.path().has_extension())
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path)) {
    files.push_back(path);
  }
  if (files.empty())
    throw tg::ValueError(
        fmt::format("no text at '{}': install Debian's fortunes package "
                    "(scripts/setup.sh --text) or pass --text FILE",
                    path));
  std::string text;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char ch : content)
      if (ch == '\n' || (ch >= 32 && ch < 127)) text += ch;
  }
  return text;
}

struct CharLSTM : tg::nn::Module {
  tg::nn::Embedding embed;
  tg::nn::LSTM lstm;
  tg::nn::Linear head;
  CharLSTM(std::int64_t vocab, std::int64_t hidden, std::int64_t layers)
      : embed(vocab, 32), lstm(32, hidden, {.num_layers = layers, .batch_first = true}), head(hidden, vocab) {
    register_module("embed", embed);
    register_module("lstm", lstm);
    register_module("head", head);
  }
  // Logits [B, T, V] and the final state, which generation carries on.
  std::tuple<tg::Tensor, tg::nn::LSTMState> step(const tg::Tensor& tokens,
                                                 const std::optional<tg::nn::LSTMState>& state) {
    auto [out, next] = lstm(embed(tokens), state);
    return {head(out), next};
  }
};

// `count` windows of seq_len + 1 characters of `data` starting at `starts`.
std::pair<tg::Tensor, tg::Tensor> windows(const std::vector<std::int64_t>& data,
                                          const std::vector<std::int64_t>& starts, std::int64_t seq_len) {
  std::vector<std::int64_t> x, y;
  for (auto s : starts)
    for (std::int64_t t = 0; t < seq_len; ++t) {
      x.push_back(data[static_cast<std::size_t>(s + t)]);
      y.push_back(data[static_cast<std::size_t>(s + t + 1)]);
    }
  const auto rows = static_cast<std::int64_t>(starts.size());
  return {tg::tensor(x, {rows, seq_len}), tg::tensor(y, {rows * seq_len})};
}

double loss_on(CharLSTM& model, const std::vector<std::int64_t>& data, const std::vector<std::int64_t>& starts,
               std::int64_t seq_len) {
  auto [x, y] = windows(data, starts, seq_len);
  auto [logits, state] = model.step(x, std::nullopt);
  return tg::cross_entropy(logits.reshape({-1, logits.size(-1)}), y).item<double>();
}

// Cross-entropy of a character-bigram model (add-one smoothed counts of the
// training text) on the validation text: the number to beat.
double bigram_loss(const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& val, std::size_t vocab) {
  std::vector<double> counts(vocab * vocab, 1.0), totals(vocab, static_cast<double>(vocab));
  for (std::size_t i = 0; i + 1 < train.size(); ++i) {
    counts[static_cast<std::size_t>(train[i]) * vocab + static_cast<std::size_t>(train[i + 1])] += 1;
    totals[static_cast<std::size_t>(train[i])] += 1;
  }
  double nll = 0;
  for (std::size_t i = 0; i + 1 < val.size(); ++i) {
    const auto a = static_cast<std::size_t>(val[i]), b = static_cast<std::size_t>(val[i + 1]);
    nll -= std::log(counts[a * vocab + b] / totals[a]);
  }
  return nll / static_cast<double>(val.size() - 1);
}

int run(const Config& config) {
  const std::string text = read_text(config.text);
  std::string vocab_chars = text;
  std::sort(vocab_chars.begin(), vocab_chars.end());
  vocab_chars.erase(std::unique(vocab_chars.begin(), vocab_chars.end()), vocab_chars.end());
  std::array<std::int64_t, 256> index{};
  for (std::size_t i = 0; i < vocab_chars.size(); ++i)
    index[static_cast<unsigned char>(vocab_chars[i])] = static_cast<std::int64_t>(i);
  std::vector<std::int64_t> encoded;
  encoded.reserve(text.size());
  for (char ch : text) encoded.push_back(index[static_cast<unsigned char>(ch)]);

  const std::size_t split = encoded.size() * 9 / 10;
  const std::vector<std::int64_t> train(encoded.begin(), encoded.begin() + static_cast<std::ptrdiff_t>(split));
  const std::vector<std::int64_t> val(encoded.begin() + static_cast<std::ptrdiff_t>(split), encoded.end());
  const std::int64_t T = config.seq_len;
  // A window is T + 1 characters (the inputs and the next-character
  // targets); written without T + 1, which overflows for the largest --seq-len.
  if (static_cast<std::int64_t>(val.size()) - 1 <= T)
    throw tg::ValueError(fmt::format("the text ({} characters) is too short for --seq-len {}", text.size(), T));
  // Windows start at 0 .. *_room - 1 (training, drawn at random) and 0 ..
  // val_room (validation, evenly spaced).
  const auto train_room = static_cast<std::int64_t>(train.size()) - T - 1;
  const auto val_room = static_cast<std::int64_t>(val.size()) - T - 1;
  // Checked before anything is sized by them: a batch of more windows than
  // the training text has only repeats them, and --batch 100000000000 grew a
  // vector until std::bad_alloc, a message that named nothing.
  if (config.batch > train_room)
    throw tg::ValueError(fmt::format(
        "--batch {} is more than the {} windows of --seq-len {} + 1 characters in the training text ({} characters); "
        "use a smaller --batch or --seq-len, or more text",
        config.batch, std::max<std::int64_t>(train_room, 0), T, train.size()));
  // The validation windows are spread evenly over the held-out text:
  // --val-batches times --batch of them, or each distinct window once when it
  // has fewer (more would be the same windows again, and a count past memory
  // was a std::bad_alloc, one that overflowed a crash).
  const std::int64_t val_asked =
      examples::checked_product("--val-batches", config.val_batches, "--batch", config.batch);
  const std::int64_t val_count = std::min(val_asked, val_room + 1);
  const auto vocab = static_cast<std::int64_t>(vocab_chars.size());
  fmt::print("text: {} characters, vocabulary {}, train {} / validation {}, {} validation windows{}\n", text.size(),
             vocab, train.size(), val.size(), val_count,
             val_count < val_asked
                 ? fmt::format(" (each distinct window once: the text has fewer than --val-batches {} x --batch {})",
                               config.val_batches, config.batch)
                 : "");
  fmt::print("baselines on validation: uniform {:.4f}, character bigram {:.4f}\n", std::log(static_cast<double>(vocab)),
             bigram_loss(train, val, vocab_chars.size()));

  tg::manual_seed(static_cast<std::uint64_t>(config.seed));
  CharLSTM model(vocab, config.hidden, config.layers);
  tg::optim::Adam optimizer(model.parameters(), {.lr = config.lr});
  tg::Generator batches(static_cast<std::uint64_t>(config.seed) + 1);

  // Fixed validation windows, spread over the held-out text (val_count of
  // them, at most val_room + 1, so the vector is bounded by the text; with
  // val_room + 1 of them, start i is window i).
  std::vector<std::int64_t> val_starts;
  val_starts.reserve(static_cast<std::size_t>(val_count));
  for (std::int64_t i = 0; i < val_count; ++i)
    val_starts.push_back(
        val_count > 1 ? static_cast<std::int64_t>(static_cast<__int128>(val_room) * i / (val_count - 1)) : 0);
  // The mean loss per character over all of them, in batches of --batch (the
  // last one smaller when the text has fewer windows than asked for).
  auto validate = [&] {
    tg::NoGradGuard no_grad;
    double total = 0;
    for (std::int64_t b = 0; b < val_count; b += config.batch) {
      const std::int64_t n = std::min<std::int64_t>(config.batch, val_count - b);
      const std::vector<std::int64_t> starts(val_starts.begin() + b, val_starts.begin() + b + n);
      total += loss_on(model, val, starts, T) * static_cast<double>(n);
    }
    return total / static_cast<double>(val_count);
  };

  double train_loss = 0;
  for (long step = 1; step <= config.steps; ++step) {
    const tg::Tensor picks = tg::randint(0, train_room, {config.batch}, {.dtype = tg::kInt64}, &batches);
    auto [x, y] = windows(train, picks.to_vector<std::int64_t>(), T);
    auto [logits, state] = model.step(x, std::nullopt);
    tg::Tensor loss = tg::cross_entropy(logits.reshape({-1, vocab}), y);
    optimizer.zero_grad();
    loss.backward();
    tg::nn::utils::clip_grad_norm_(model.parameters(), 1.0);
    optimizer.step();
    train_loss = loss.item<double>();
    if (step % config.eval_every == 0 || step == config.steps)
      fmt::print("step {:>5}/{}  train loss {:.4f}  val loss {:.4f}\n", step, config.steps, train_loss, validate());
  }
  fmt::print("final: train loss {:.4f}, val loss {:.4f}\n", train_loss, validate());

  if (config.sample > 0) {
    // Sampling, one character at a time, carrying the LSTM state.
    tg::NoGradGuard no_grad;
    // Printed as it is generated: a long --sample needs no memory for it.
    fmt::print("sample:\n");
    std::optional<tg::nn::LSTMState> state;
    tg::Tensor token = tg::tensor(std::vector<std::int64_t>{index[static_cast<unsigned char>('\n')]}, {1, 1});
    for (long i = 0; i < config.sample; ++i) {
      auto [logits, next] = model.step(token, state);
      state = next;
      const tg::Tensor probs = tg::softmax(logits.reshape({vocab}), 0);
      const auto p = probs.to_vector<double>();
      double u = tg::rand({1}, {.dtype = tg::kFloat64}, &batches).item<double>();
      std::int64_t pick = vocab - 1;
      for (std::int64_t v = 0; v < vocab; ++v) {
        u -= p[static_cast<std::size_t>(v)];
        if (u <= 0) {
          pick = v;
          break;
        }
      }
      std::fputc(vocab_chars[static_cast<std::size_t>(pick)], stdout);
      token = tg::tensor(std::vector<std::int64_t>{pick}, {1, 1});
    }
    std::fputc('\n', stdout);
    examples::check_stdout("the sample");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        fmt::print("{}", kUsage);
        return 0;
      }
      if (i + 1 >= argc) throw examples::missing_value(flag, kUsage);
      const std::string value = argv[++i];
      if (flag == "--steps") config.steps = parse_int(flag, value, 1);
      else if (flag == "--batch") config.batch = parse_int(flag, value, 1);
      else if (flag == "--seq-len") config.seq_len = parse_int(flag, value, 1);
      else if (flag == "--hidden") config.hidden = parse_int(flag, value, 1);
      else if (flag == "--layers") config.layers = parse_int(flag, value, 1);
      else if (flag == "--eval-every") config.eval_every = parse_int(flag, value, 1);
      else if (flag == "--val-batches") config.val_batches = parse_int(flag, value, 1);
      else if (flag == "--seed") config.seed = parse_int(flag, value, 0);
      else if (flag == "--sample") config.sample = parse_int(flag, value, 0);
      else if (flag == "--text") config.text = value;
      else if (flag == "--lr") {
        // parse_double refuses inf, nan and 1e400 (strtod's HUGE_VAL), which
        // Adam would take and turn into NaN weights.
        config.lr = examples::parse_double(flag, value);
        if (!(config.lr > 0)) throw tg::ValueError(fmt::format("--lr must be positive, got '{}'", value));
      } else {
        throw tg::ValueError(fmt::format("unknown option '{}'\n{}", flag, kUsage));
      }
    }
    return run(config);
  } catch (const std::exception& e) {
    fmt::print(stderr, "lstm_text: {}\n", e.what());
    return 1;
  }
}
