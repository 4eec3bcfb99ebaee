#!/usr/bin/env python3
"""Writes the fuzz_tar and fuzz_table seeds with Python's own tarfile and plain strings (writers
independent of vlm's). Run from the repository root.

tar: a webdataset shard (two samples: jpg, txt, json) in pax format, one in GNU format with a
long name, one with a pax path and size record, an empty archive, one cut inside a member and
one whose pax size is near 2^63;
each after fuzz_tar's mode byte (1: the fuzzer sets header checksums right, 0: bytes as they are).
table: one file per kind; the first byte is the fuzzer's kind selector (0 csv, 1 tsv, 2 jsonl,
3 cc_tsv, 4 captions_txt, 5 auto)."""
import io
import os
import tarfile

TAR = "fuzz/seeds/tar"
TABLE = "fuzz/seeds/table"


def shard(fmt, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data, pax in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            if pax:
                info.pax_headers = pax
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main():
    os.makedirs(TAR, exist_ok=True)
    os.makedirs(TABLE, exist_ok=True)
    sample = [("000000000.jpg", b"\xff\xd8\xff\xe0" + b"x" * 40, None),
              ("000000000.txt", b"a red circle", None),
              ("000000000.json", b'{"url": "http://example.com/a.jpg", "key": "000000000"}', None),
              ("000000001.jpg", b"\xff\xd8\xff\xe0" + b"y" * 700, None),
              ("000000001.txt", b"two blue squares", None)]
    seeds = {
        "webdataset_pax.tar": shard(tarfile.PAX_FORMAT, sample),
        "gnu_longname.tar": shard(tarfile.GNU_FORMAT, [("d/" * 70 + "000000002.txt", b"long name", None)]),
        "pax_records.tar": shard(tarfile.PAX_FORMAT, [("short.txt", b"0123456789",
                                                        {"path": "p/" * 60 + "x.txt", "comment": "c"})]),
        "empty.tar": shard(tarfile.PAX_FORMAT, []),
    }
    seeds["cut.tar"] = seeds["webdataset_pax.tar"][:512 * 4 + 100]
    # Issue 22's defect 2: a pax size near 2^63 (the offset arithmetic overflowed).
    seeds["pax_huge_size.tar"] = shard(tarfile.PAX_FORMAT, [("000000000.jpg", b"0123456789",
                                                              {"size": "9223372036854775000"})])
    for name, data in seeds.items():
        with open(os.path.join(TAR, name), "wb") as f:
            f.write((b"\x00" if name == "cut.tar" else b"\x01") + data)

    tables = {
        "csv": b"\x00image,caption,split\nimages/a.jpg,\"a red circle, small\",train\nb.png,\"say \"\"hi\"\"\",val\n",
        "tsv": b"\x01url\tcaption\nhttp://example.com/a.jpg\ta red circle\nhttps://x.org/b.png\ttwo stars\n",
        "jsonl": b'\x02{"image": "a.png", "caption": "a red circle", "qa": [{"question": "What colour?", '
                 b'"answer": "red"}]}\n{"url": "http://e.com/b.jpg", "captions": ["one", "two"]}\n',
        "cc_tsv": b"\x03a red circle\thttp://example.com/a.jpg\ntwo blue squares\thttp://example.com/b.jpg\n",
        "captions_txt": b"\x04a.png\ta red circle\nb.jpg\ttwo blue squares\n",
        "auto": b"\x05\xef\xbb\xbfimage,caption\r\na.png,caf\xe9 latin-1\r\n",
    }
    for name, data in tables.items():
        with open(os.path.join(TABLE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
