// Writes docs/ops.md, the op list, from the op registry:
//   write_ops_md docs/ops.md
// The test "docs/ops.md matches the registry" fails until it is rerun after
// a registry change.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <tapegrad/testing/op_registry.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_ops_md <path of docs/ops.md>\n";
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
