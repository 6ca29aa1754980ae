// init() after finalize(): MPI cannot start again in a process, and calling
// into it then made OpenMPI abort the whole process. It must be a
// tg::ValueError the program can catch (run under mpirun -np 1 by ctest).
#include <cstdio>
#include <string>

#include <tapegrad/distributed/distributed.h>

namespace dist = tg::distributed;

int main() {
  dist::init();
  dist::init();  // idempotent
  if (!dist::is_initialized() || dist::world_size() != 1) return 1;
  dist::finalize();
  dist::finalize();  // idempotent too
  try {
    dist::init();
  } catch (const tg::ValueError& e) {
    if (std::string(e.what()).find("distributed::init: MPI was finalized") == std::string::npos) return 2;
    std::printf("refused: %s\n", e.what());
    return dist::is_initialized() ? 3 : 0;
  }
  return 4;  // init() returned
}
