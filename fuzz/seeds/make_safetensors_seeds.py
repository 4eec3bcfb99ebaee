#!/usr/bin/env python3
"""Writes the fuzz_safetensors seeds (also read by tests/unit/io/tensor_store_test.cpp as files made
by an independent writer): the safetensors layout done with json + struct only, header padded with
spaces to 8 bytes as the reference library does. Run from the repository root."""
import json
import os
import struct

OUT = "fuzz/seeds/safetensors"


def write(name, tensors, meta=None):
    header = {}
    if meta:
        header["__metadata__"] = meta
    offset, data = 0, b""
    for tensor_name, dtype, shape, raw in tensors:
        header[tensor_name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


os.makedirs(OUT, exist_ok=True)
write("empty.safetensors", [])
write("f32.safetensors", [("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))], {"format": "pt"})
write("mixed.safetensors", [
    ("a", "BF16", [3], b"\x80\x3f" * 3),          # 1.0 three times
    ("b", "I64", [1], struct.pack("<q", -5)),
    ("c", "BOOL", [2], b"\x01\x00"),
    ("d", "U8", [0], b""),
    ("e", "F16", [], b"\x00\x3c"),                 # 1.0, a scalar
    ("f", "I8", [2], b"\xff\x01"),                 # -1, 1
    ("g", "I16", [1, 1], b"\x02\x00"),
    ("h", "I32", [1], b"\x03\x00\x00\x00"),
    ("i", "F64", [1], struct.pack("<d", 0.5)),
])
