// The library loads with dlopen() as well as with the program: its hot
// thread-locals use the initial-exec TLS model (TG_TLS_FAST, core/export.h),
// so a dlopen()ed copy takes its whole thread-local block from glibc's small
// reserve of static TLS, and fails to load ("cannot allocate memory in
// static TLS block") if that block grows too large. This program links no
// part of tapegrad: it loads the largest layer's shared library (every layer,
// argv[1]) and takes and gives back allocator blocks through it on two
// threads, each with its own cache in that TLS.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <libtapegrad shared library>\n", argv[0]);
    return 2;
  }
  void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    std::fprintf(stderr, "dlopen failed: %s\n", dlerror());
    return 1;
  }
  // tg::cpu_allocate(std::size_t) and tg::cpu_deallocate(void*, std::size_t) (core/storage.h).
  using Allocate = void* (*)(std::size_t);
  using Deallocate = void (*)(void*, std::size_t);
  auto allocate = reinterpret_cast<Allocate>(dlsym(library, "_ZN2tg12cpu_allocateEm"));
  auto deallocate = reinterpret_cast<Deallocate>(dlsym(library, "_ZN2tg14cpu_deallocateEPvm"));
  if (!allocate || !deallocate) {
    std::fprintf(stderr, "dlsym failed: %s\n", dlerror());
    return 1;
  }
  bool ok = true;
  const auto use = [&] {
    for (int i = 0; i < 1000; ++i) {
      void* p = allocate(100);
      void* q = allocate(100);  // the first from the system, then from this thread's cache
      if (!p || !q || p == q) ok = false;
      deallocate(q, 100);
      deallocate(p, 100);
    }
  };
  use();
  std::thread other(use);
  other.join();
  if (!ok) {
    std::fprintf(stderr, "the allocator gave a null or a doubled block\n");
    return 1;
  }
  std::puts("dlopen: loaded, allocated on two threads");
  return 0;
}
