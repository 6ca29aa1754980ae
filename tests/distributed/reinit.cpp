// init() after finalize(): MPI cannot start again in a process, and calling
// into it then made OpenMPI abort the whole process. It must be a
// tg::ValueError the program can catch (run under mpirun -np 1 by ctest).
// So must a DistributedDataParallel used after finalize(), whose process
// group finalize() freed (its forward crashed reading it).
#include <cstdio>
#include <memory>
#include <string>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/distributed/ddp.h>
#include <tapegrad/distributed/distributed.h>
#include <tapegrad/nn/nn.h>

namespace dist = tg::distributed;

int main() {
  dist::init();
  dist::init();  // idempotent
  if (!dist::is_initialized() || dist::world_size() != 1) return 1;
  auto model = std::make_shared<tg::nn::Linear>(3, 2);
  dist::DistributedDataParallel ddp(model);
  // The default group passed explicitly is checked the same way.
  dist::DistributedDataParallel explicit_group(std::make_shared<tg::nn::Linear>(3, 2),
                                               {.process_group = &dist::default_group()});
  const tg::Tensor x = tg::ones({2, 3});
  const tg::Tensor before = ddp(x);  // recorded while the group lives
  dist::finalize();
  dist::finalize();  // idempotent too
  for (int step = 0; step < 3; ++step) {
    try {
      if (step == 0) ddp(x);
      else if (step == 1) before.sum().backward();
      else explicit_group(x);
      return 5;  // ran on a freed process group
    } catch (const tg::ValueError& e) {
      if (std::string(e.what()).find("after tg::distributed::finalize()") == std::string::npos) return 6;
      std::printf("refused: %s\n", e.what());
    }
  }
  try {
    dist::init();
  } catch (const tg::ValueError& e) {
    if (std::string(e.what()).find("distributed::init: MPI was finalized") == std::string::npos) return 2;
    std::printf("refused: %s\n", e.what());
    return dist::is_initialized() ? 3 : 0;
  }
  return 4;  // init() returned
}
