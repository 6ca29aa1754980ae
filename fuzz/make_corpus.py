#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Run from anywhere: python3 fuzz/make_corpus.py. The files are committed, so
this only needs running again when the formats or the program encoding of
fuzz/fuzz_tensor_program.cpp change. Output is deterministic (gzip mtime 0).
"""
import gzip
import json
import pathlib
import shutil
import struct

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
N_OPS = 72  # the size of the op table


def tensor_input(dims, mode=1, grad=1, seed=7):
    return bytes([len(dims)] + list(dims) + [mode, grad, seed])


def program(dtype, inputs, ops, how=1):
    return bytes([dtype, len(inputs) - 1]) + b"".join(inputs) + bytes(ops) + bytes([0xFF, how])


def write_programs():
    d = reset("fuzz_tensor_program")
    # Every op once on a [2, 3] and a [3, 2] float32 input, its argument bytes
    # a fixed pattern: operands 0 and 1, small dims and values.
    args = [0, 1, 6, 4, 5, 7, 1, 2, 0, 1, 3, 1]
    two = [tensor_input([2, 3]), tensor_input([3, 2], seed=9)]
    for op in range(N_OPS):
        (d / f"op{op:02d}_f32.bin").write_bytes(program(0, two, [op] + args, how=2))
    # Chains: matmul -> relu -> sum; softmax -> log -> mean; zero-size inputs;
    # float64, int64 and bool programs; in place ops before backward.
    chains = {
        "mlp.bin": program(0, two, [4, 0, 1, 10, 2, 5, 3], how=4),
        "softmax_log.bin": program(3, [tensor_input([2, 4])], [26, 0, 9, 12, 1, 7, 2], how=3),
        "zero_size.bin": program(0, [tensor_input([0, 3]), tensor_input([3, 0])], [4, 0, 1, 5, 2, 8, 0, 1, 6], how=2),
        "scalar.bin": program(3, [tensor_input([])], [11, 0, 13, 1, 2, 0, 1], how=3),
        "int64.bin": program(6, [tensor_input([4], mode=2) + bytes([1, 2, 3, 0])], [5, 0, 51, 0, 3], how=1),
        "bool.bin": program(7, [tensor_input([2, 2], mode=2) + bytes([0, 1, 1, 0])], [0, 0, 0, 1], how=1),
        "inplace.bin": program(0, two, [10, 0, 61, 2, 5, 3], how=3),
        "cross_entropy.bin": program(0, [tensor_input([3, 4]), tensor_input([3], mode=0, grad=0)],
                                     [28, 0, 0, 1, 1, 0, 0], how=2),
        "rank4.bin": program(3, [tensor_input([2, 1, 3, 2]), tensor_input([2])],
                             [17, 0, 6, 8, 18, 2, 3, 5, 6, 7, 4, 0, 1, 27, 4, 4], how=5),
    }
    # Threaded mode (dtype byte | 0x80): a thread byte after each opcode and
    # before backward; odd runs that op on a new thread.
    chains["threads_mlp.bin"] = (bytes([0x80 | 3, 1]) + b"".join(two)
                                 + bytes([4, 1, 0, 1, 10, 0, 2, 5, 1, 3, 0xFF, 1, 4]))
    chains["threads_inplace.bin"] = (bytes([0x80, 1]) + b"".join(two)
                                     + bytes([10, 1, 0, 61, 0, 2, 5, 1, 3, 0xFF, 0, 3]))
    # Found by fuzzing: a chunk piece modified in place, whose history backward
    # then refuses with a tg::Error (the harness must catch it there too).
    chains["split_piece_inplace.bin"] = (b"\x00\x00\x03\x03*\x00\x02\x03\xf8\x01\x00\x01\x03440444"
                                         b"\xcc\xcb\xcd\x05\xff\xcb\xcd\x05\xff\x02")
    for name, data in chains.items():
        (d / name).write_bytes(data)


if __name__ == "__main__":
    write_safetensors()
    write_idx()
    write_programs()
