#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Run from anywhere: python3 fuzz/make_corpus.py build-test/tests/write_ops_md,
then, for the one-entry seeds of fuzz_tensor_program,
TG_FUZZ_WRITE_SEEDS=fuzz/corpus/fuzz_tensor_program build-fuzz/fuzz/fuzz_tensor_program.
The files are committed, so this only needs running again when the formats,
the program encoding of fuzz/fuzz_tensor_program.cpp or the op registry's
entries change (a stale seed is still a valid program, of other ops). Output is deterministic (gzip mtime 0).
"""
import gzip
import json
import pathlib
import shutil
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def reset(name):
    d = ROOT / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


# ---- safetensors: 8-byte little-endian header length, JSON header, data ----
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference writer pads to 8 bytes
    return struct.pack("<Q", len(text)) + text + data


def write_safetensors():
    d = reset("fuzz_safetensors")
    f32 = struct.pack("<6f", 1, -2, 3.5, 0, float("inf"), float("nan"))
    files = {
        "f32.safetensors": {"w": ("F32", [2, 3], f32)},
        "mixed.safetensors": {
            "a": ("F64", [2], struct.pack("<2d", 0.25, -1e300)),
            "b": ("I64", [3], struct.pack("<3q", 1, -2, 2**62)),
            "c": ("BOOL", [2, 2], bytes([1, 0, 0, 1])),
            "d": ("I32", [2], struct.pack("<2i", -7, 2**31 - 1)),
            "e": ("U8", [3], bytes([0, 128, 255])),
            "f": ("I16", [1], struct.pack("<h", -300)),
            "g": ("U16", [1], struct.pack("<H", 65535)),
            "h": ("I8", [2], struct.pack("<2b", -128, 127)),
            "i": ("U32", [1], struct.pack("<I", 2**32 - 1)),
        },
        "scalar_and_empty.safetensors": {
            "s": ("F32", [], struct.pack("<f", 42)),
            "z": ("F64", [0, 3], b""),
            "y": ("I64", [2, 0, 4], b""),
        },
        "rank4.safetensors": {"x": ("F32", [1, 2, 1, 2], struct.pack("<4f", 1, 2, 3, 4))},
    }
    for name, tensors in files.items():
        (d / name).write_bytes(safetensors(tensors))
    (d / "metadata.safetensors").write_bytes(
        safetensors({"b": ("F32", [1], struct.pack("<f", 1))}, {"format": "pt", "epoch": "3"}))
    (d / "empty_header.safetensors").write_bytes(safetensors({}))


# ---- IDX: 0, 0, type byte, rank, big-endian u32 dims, big-endian data ----
def idx(type_byte, dims, payload):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + payload


def write_idx():
    d = reset("fuzz_idx")
    files = {
        "ubyte_2x3.idx": idx(0x08, [2, 3], bytes([0, 1, 2, 127, 128, 255])),
        "sbyte_4.idx": idx(0x09, [4], struct.pack(">4b", -128, -1, 0, 127)),
        "short_2x2.idx": idx(0x0B, [2, 2], struct.pack(">4h", -32768, -1, 1, 32767)),
        "int_3.idx": idx(0x0C, [3], struct.pack(">3i", -(2**31), 0, 2**31 - 1)),
        "float_1x2x2.idx": idx(0x0D, [1, 2, 2], struct.pack(">4f", 1.5, -0.0, float("inf"), float("nan"))),
        "double_2.idx": idx(0x0E, [2], struct.pack(">2d", 3.25, -1e300)),
        "empty_dim.idx": idx(0x08, [0, 28, 28], b""),
        "mnist_labels.idx": idx(0x08, [10], bytes(range(10))),
        "mnist_images.idx": idx(0x08, [2, 4, 4], bytes(range(0, 256, 8))),
        "rank8.idx": idx(0x08, [1] * 8, bytes([9])),
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    for name in ["ubyte_2x3.idx", "float_1x2x2.idx", "mnist_images.idx"]:
        (d / (name + ".gz")).write_bytes(gzip.compress(files[name], mtime=0))


# ---- tensor programs: see the byte layout in fuzz_tensor_program.cpp ----
# The opcodes are the op registry's entry indices, listed by
# `write_ops_md --entries` (built in any tree: cmake --build build-test
# --target write_ops_md); the two after the last entry are the harness's
# detach and no-grad steps.
def registry_entries(write_ops_md):
    out = subprocess.run([write_ops_md, "--entries"], check=True, capture_output=True, text=True).stdout
    return {label: int(index) for index, label in (line.split("\t", 1) for line in out.splitlines())}


def tensor_input(dims, mode=1, grad=1, seed=7):
    return bytes([len(dims)] + list(dims) + [mode, grad, seed])


def op(entries, label):
    index = entries[label]
    return [index >> 8, index & 0xFF]


def program(dtype, inputs, ops, how=1):
    return bytes([dtype, len(inputs) - 1]) + b"".join(inputs) + bytes(ops) + bytes([0xFF, how])


def write_programs(entries):
    # Only the chains below: the one-entry seeds op<index>.bin, one per
    # registry entry on its own sample shapes and arguments, are written by
    # the fuzz target itself (TG_FUZZ_WRITE_SEEDS, see fuzz_tensor_program.cpp).
    d = ROOT / "fuzz_tensor_program"
    d.mkdir(parents=True, exist_ok=True)
    e = lambda label: op(entries, label)  # noqa: E731
    two = [tensor_input([2, 3]), tensor_input([3, 2], seed=9)]
    # Chains: matmul -> relu -> sum; softmax -> log -> mean; zero-size inputs;
    # float64, int64 and bool programs; in place ops before backward.
    chains = {
        "mlp.bin": program(0, two, e("matmul") + [0, 1] + e("relu") + [2] + e("sum (all)") + [3], how=4),
        "softmax_log.bin": program(3, [tensor_input([2, 4])],
                                   e("softmax (dim 1)") + [0, 6] + e("log") + [1] + e("mean (all)") + [2], how=3),
        "zero_size.bin": program(0, [tensor_input([0, 3]), tensor_input([3, 0])],
                                 e("matmul") + [0, 1] + e("sum (all)") + [2] + e("mean (dim 1)") + [0, 1, 6], how=2),
        "scalar.bin": program(3, [tensor_input([])], e("exp") + [0] + e("tanh") + [1] + e("mul (tensor)") + [0, 1],
                              how=3),
        "int64.bin": program(6, [tensor_input([4], mode=2) + bytes([1, 2, 3, 0])],
                             e("sum (all)") + [0] + e("to_dtype (same dtype)") + [0, 3], how=1),
        "bool.bin": program(7, [tensor_input([2, 2], mode=2) + bytes([0, 1, 1, 0])], e("add (tensor)") + [0, 0, 1],
                            how=1),
        "inplace.bin": program(0, two, e("relu") + [0] + e("Tensor::relu_") + [2] + e("sum (all)") + [3], how=3),
        # The target: an int64 input (mode 0x33: int64, values 0..2), taken
        # from the pool as the entry's class indices.
        "cross_entropy.bin": program(0, [tensor_input([3, 4]), tensor_input([3], mode=0x33, grad=0)],
                                     e("F::cross_entropy (class indices)") + [0, 0, 1], how=2),
        "rank4.bin": program(3, [tensor_input([2, 1, 3, 2]), tensor_input([2])],
                             e("transpose") + [0, 6, 8] + e("permute") + [2, 3, 5, 6, 7]
                             + e("matmul") + [0, 1] + e("log_softmax (dim -1)") + [4, 4], how=5),
    }
    # Threaded mode (dtype byte | 0x80): a thread byte after each opcode and
    # before backward; odd runs that op on a new thread.
    chains["threads_mlp.bin"] = (bytes([0x80 | 3, 1]) + b"".join(two)
                                 + bytes(e("matmul") + [1, 0, 1] + e("relu") + [0, 2] + e("sum (all)") + [1, 3]
                                         + [0xFF, 1, 4]))
    chains["threads_inplace.bin"] = (bytes([0x80, 1]) + b"".join(two)
                                     + bytes(e("relu") + [1, 0] + e("Tensor::relu_") + [0, 2]
                                             + e("sum (all)") + [1, 3] + [0xFF, 0, 3]))
    # Found by fuzzing: a chunk piece modified in place, whose history backward
    # then refuses with a tg::Error (the harness must catch it there too).
    # relu, chunk it in two along dim 0 (count byte 4, dim byte 5), scale
    # the first piece in place, differentiate that piece.
    chains["split_piece_inplace.bin"] = program(0, [tensor_input([3, 3])],
                                                e("relu") + [0] + e("chunk") + [1, 4, 5]
                                                + e("Tensor::mul_ (scalar)") + [2, 4], how=2)
    for name, data in chains.items():
        (d / name).write_bytes(data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py <path of a built write_ops_md> (cmake --build build-test --target write_ops_md)")
    write_safetensors()
    write_idx()
    write_programs(registry_entries(sys.argv[1]))
