// A job in which rank 1 throws mid-training while the others wait in an
// all-reduce: the whole job must end, non-zero, with rank 1's message.
#include <cstdio>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/distributed/distributed.h>

int main() {
  tg::distributed::init();
  for (int step = 0; step < 5; ++step) {
    tg::Tensor t = tg::ones({8});
    if (step == 2 && tg::distributed::rank() == 1)
      throw tg::ValueError("fail_rank: rank 1 failed at step 2 on purpose");
    tg::distributed::all_reduce(t);
  }
  tg::distributed::barrier();
  std::printf("fail_rank: no rank failed\n");
  return 0;
}
