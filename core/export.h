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
