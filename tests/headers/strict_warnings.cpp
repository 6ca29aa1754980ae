// Every public header, compiled as a user's strict build compiles it: the
// headers reach users through pkg-config's -I (not -isystem), so a warning in
// them is a warning in the user's program, and an error under -Werror. The
// build fails when one appears (see tests/CMakeLists.txt).
#include <tapegrad/tapegrad.h>

int main() { return tg::ones({2}).numel() == 2 ? 0 : 1; }
