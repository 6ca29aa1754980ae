// Modules with static storage duration: they are destroyed at exit after any
// table the library built on first use during main, so the by-reference
// bookkeeping they reach from their destructors must still be there. A plain
// program (no doctest), as its failure happens after main returns: a crash
// or a sanitizer report at exit fails the ctest entry.
#include <cstdio>
#include <utility>

#include <tapegrad/nn/nn.h>

namespace {

struct Holder : tg::nn::Module {
  explicit Holder(tg::nn::Module& m) { register_module("m", m); }
};

// Built before main, so destroyed after everything built during it.
tg::nn::Linear first(2, 2);
tg::nn::Linear second(2, 2);
Holder holder(first);

}  // namespace

int main() {
  // The first move of a registered module during main: `first` stays
  // registered, and `second` is recorded as its successor until exit.
  second = std::move(first);
  if (holder.children().size() != 1 || holder.children()[0] != &first) {
    std::fputs("module_globals: the holder lost its child\n", stderr);
    return 1;
  }
  return 0;
}
