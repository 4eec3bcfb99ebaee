"""An RGB 8-bit PNG writer (PNG spec: signature, IHDR, one zlib IDAT with filter 0 rows, IEND)
from the standard library's zlib and struct, so the tiny-data script needs no PIL.
"""
import struct
import zlib


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode(rows, width, height):
    """rows: `height` bytes objects of width*3 RGB values. Returns the PNG file's bytes."""
    raw = b"".join(b"\x00" + bytes(rows[y][: 3 * width]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
