#pragma once
/// @file
/// Symbol visibility of libtapegrad.so. The library is compiled with
/// -fvisibility=hidden -fvisibility-inlines-hidden, and every declaration in an
/// installed header is exported without an annotation: each library source
/// first includes a generated prelude that includes those headers between
/// `#pragma GCC visibility push(default)` and `pop`
/// (cmake/tapegrad_visibility.cmake). TG_API exports one declaration that is
/// not in an installed header; nothing in the installed headers needs it.

/// Exports one declaration from libtapegrad.so (default visibility).
#define TG_API __attribute__((visibility("default")))

/// For the library's own hot thread-local variables (the allocator's cache,
/// grad mode, the tape's counters): the initial-exec TLS model, an offset
/// from the thread pointer, instead of the call to __tls_get_addr that -fPIC
/// code makes for every access. A static link relaxes that call away but
/// keeps its cost around it: the registers saved for the call made the
/// allocator's cached path twice as long as its work. The library's whole
/// thread-local block (about 300 bytes; keep it small: large thread-local
/// objects go on the heap) is then static TLS: set up with the program, or,
/// for a dlopen()ed library, taken from glibc's reserve for such libraries,
/// as jemalloc's and libGL's are.
#define TG_TLS_FAST __attribute__((tls_model("initial-exec")))
