"""A baseline JPEG encoder (ITU T.81: JFIF, YCbCr 4:4:4, 8x8 FDCT, the Annex K luminance
quantisation table at quality 90, sequential Huffman coding) in pure Python, so the tiny-data
script needs no PIL or numpy. Its Huffman tables are not Annex K's: every DC category gets a
4-bit code and every AC (run, size) symbol an 8-bit one, which any decoder accepts (T.81 C.2) and
which keeps the table a few lines. Fine for images of a few thousand pixels; slow beyond.
"""
import math
import struct

# Annex K.1, table K.1 (luminance), in row order; scaled like libjpeg's quality 90.
_BASE_QUANT = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
               14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
               18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
               49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
QUANT = [max(1, min(255, (q * 20 + 50) // 100)) for q in _BASE_QUANT]


def _zigzag():
    order = []
    for s in range(15):
        cells = [(r, s - r) for r in range(8) if 0 <= s - r < 8]  # rows increasing
        order += cells if s % 2 == 1 else cells[::-1]
    return [r * 8 + c for r, c in order]


ZIGZAG = _zigzag()  # ZIGZAG[k] = row-major index of the k-th coefficient
_COS = [[(math.sqrt(0.5) if u == 0 else 1.0) * math.cos((2 * x + 1) * u * math.pi / 16) / 2 for x in range(8)]
        for u in range(8)]

# Symbol lists in code order (canonical codes: consecutive values within one length).
DC_SYMBOLS = list(range(12))                                           # categories 0..11, 4 bits
AC_SYMBOLS = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]  # 8 bits
DC_BITS, AC_BITS = 4, 8


def _fdct(block):
    """2-D DCT-II of a level-shifted 8x8 block (row-major list), T.81 A.3.3 normalisation."""
    rows = [[sum(_COS[u][x] * block[y * 8 + x] for x in range(8)) for u in range(8)] for y in range(8)]
    return [sum(_COS[v][y] * rows[y][u] for y in range(8)) for v in range(8) for u in range(8)]


class _BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def write(self, value, length):
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)  # byte stuffing
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.write((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1 bits


def _category(v):
    return 0 if v == 0 else abs(v).bit_length()


def _magnitude_bits(v, size):
    return v if v >= 0 else v + (1 << size) - 1


def _encode_block(bits, coeffs, previous_dc):
    q = [int(round(coeffs[ZIGZAG[k]] / QUANT[ZIGZAG[k]])) for k in range(64)]
    diff = q[0] - previous_dc
    size = _category(diff)
    bits.write(DC_SYMBOLS.index(size), DC_BITS)
    if size:
        bits.write(_magnitude_bits(diff, size), size)
    run = 0
    for k in range(1, 64):
        v = q[k]
        if v == 0:
            run += 1
            continue
        while run > 15:
            bits.write(AC_SYMBOLS.index(0xF0), AC_BITS)
            run -= 16
        size = _category(v)
        bits.write(AC_SYMBOLS.index((run << 4) | size), AC_BITS)
        bits.write(_magnitude_bits(v, size), size)
        run = 0
    if run:
        bits.write(AC_SYMBOLS.index(0x00), AC_BITS)
    return q[0]


def _segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _dht(table_class, table_id, symbols, length):
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    return _segment(0xC4, bytes([(table_class << 4) | table_id]) + bytes(counts) + bytes(symbols))


def encode(rows, width, height):
    """rows: `height` bytes objects of width*3 RGB values. Returns the JPEG file's bytes."""
    ycc = [[], [], []]
    for y in range(height):
        row = rows[y]
        for x in range(width):
            r, g, b = row[3 * x], row[3 * x + 1], row[3 * x + 2]
            ycc[0].append(0.299 * r + 0.587 * g + 0.114 * b - 128)
            ycc[1].append(-0.168736 * r - 0.331264 * g + 0.5 * b)
            ycc[2].append(0.5 * r - 0.418688 * g - 0.081312 * b)
    bits = _BitWriter()
    dc = [0, 0, 0]
    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            for c in range(3):  # one block per component per MCU (4:4:4), edges replicated
                block = [ycc[c][min(by + y, height - 1) * width + min(bx + x, width - 1)]
                         for y in range(8) for x in range(8)]
                dc[c] = _encode_block(bits, _fdct(block), dc[c])
    bits.flush()
    out = bytearray(b"\xff\xd8")
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += _segment(0xDB, bytes([0]) + bytes(QUANT[ZIGZAG[k]] for k in range(64)))
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + bytes([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]))
    out += _dht(0, 0, DC_SYMBOLS, DC_BITS) + _dht(1, 0, AC_SYMBOLS, AC_BITS)
    out += _segment(0xDA, bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]))
    out += bits.out + b"\xff\xd9"
    return bytes(out)
