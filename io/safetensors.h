#pragma once
/// @file
/// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian row-major data.
/// Files written here load in Python's safetensors and PyTorch, and theirs load
/// here as long as they hold dtypes tapegrad has.
///
/// This layer knows tensors only: checkpoint/checkpoint.h saves modules,
/// optimizers and RNG state by building a TensorMap and calling these.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

/// Ordered by name: the same order safetensors gives, so saves are reproducible.
using TensorMap = std::map<std::string, Tensor>;
/// Free-form text stored in the header under "__metadata__".
using Metadata = std::map<std::string, std::string>;

/// What a safetensors file holds.
struct LoadedFile {
  TensorMap tensors;  ///< by name
  Metadata metadata;  ///< the header's "__metadata__"
};

/// Writes `tensors` (any layout; non-contiguous ones are written contiguous) to
/// `path` through a temporary file in the same folder that is renamed into
/// place, so a crash leaves either the old file or the new one, never half of
/// one. Throws tg::Error naming the path on an I/O failure, tg::ValueError for
/// an undefined tensor, a name that cannot be stored, or a header (names,
/// shapes and metadata) over the 100 MB that load_file() reads, before any
/// file is written.
void save(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

/// Reads a whole file. Throws tg::FormatError naming the file and the problem
/// for anything that is not a valid safetensors file (a name given twice
/// included), and for dtypes tapegrad lacks (U64, F8, ...). F16, BF16, F32,
/// F64, BOOL, U8, I8, I16, I32 and I64 load as themselves; U16 and U32 are
/// widened to int64.
LoadedFile load_file(const std::string& path);
/// The tensors of load_file(path), without the metadata.
/// @throws tg::FormatError as load_file.
TensorMap load(const std::string& path);

/// The same without a file: the exact bytes save() writes, and a loader whose
/// errors name `source_name` instead of a path (for buffers and fuzzing).
std::vector<std::uint8_t> save_to_bytes(const TensorMap& tensors, const Metadata& metadata = {});
/// Reads a file's bytes, as load_file; errors name `source_name`.
/// @throws tg::FormatError naming `source_name` and the problem.
LoadedFile load_from_bytes(std::span<const std::uint8_t> bytes, std::string_view source_name = "<memory>");

}  // namespace tg
