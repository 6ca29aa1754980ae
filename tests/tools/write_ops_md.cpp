// Writes docs/ops.md, the op list, from the op registry:
//   write_ops_md docs/ops.md
// The test "docs/ops.md matches the registry" fails until it is rerun after
// a registry change.
//   write_ops_md --entries
// prints each entry's index and label, the opcodes of fuzz_tensor_program
// (fuzz/make_corpus.py reads them).
#include <tapegrad/testing/op_registry.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--entries") {
    const auto& ops = tg::testing::op_registry();
    for (std::size_t i = 0; i < ops.size(); ++i) std::cout << i << "\t" << ops[i].label() << "\n";
    return 0;
  }
  if (argc != 2) {
    std::cerr << "usage: write_ops_md <path of docs/ops.md> | --entries\n";
    return 2;
  }
  std::ofstream out(argv[1], std::ios::binary);
  out << tg::testing::ops_markdown();
  out.close();
  if (!out) {
    std::cerr << "write_ops_md: cannot write " << argv[1] << "\n";
    return 1;
  }
  std::cout << "wrote " << argv[1] << " (" << tg::testing::op_registry().size() << " registry entries)\n";
  return 0;
}
