#pragma once
/// @file
/// Text that must be UTF-8 (JSON traces, Graphviz labels) made from names a
/// user chose, which may hold any bytes.
#include <string>
#include <string_view>

namespace tg::detail {

/// `s` with every byte that does not belong to a well-formed UTF-8 sequence
/// (overlong forms, surrogates and code points past U+10FFFF included)
/// replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace tg::detail
