#!/usr/bin/python3
"""PIL's side of bench_image_preprocess: what transformers' ViTImageProcessor does per image
(Image.open, convert("RGB"), resize 224x224 BILINEAR, rescale 1/255 in float64 cast to float32,
normalize with mean = std = 0.5 in float32, HWC -> CHW), timed on one thread over every .jpg in
DIR after a warm-up pass, per CPU-second (process time) and per wall-clock second. Prints one JSON line. Run with Debian's /usr/bin/python3 + python3-pil.

    /usr/bin/python3 bench/pil_preprocess.py DIR [REPEATS]
"""
import glob
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
import PIL  # noqa: E402

MEAN = np.array([0.5, 0.5, 0.5], dtype=np.float32)
STD = np.array([0.5, 0.5, 0.5], dtype=np.float32)


def preprocess(path):
    with Image.open(path) as im:
        im = im.convert("RGB").resize((224, 224), Image.BILINEAR)
    x = (np.asarray(im).astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def main():
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    for f in files[:20]:
        preprocess(f)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    checksum = 0.0
    for _ in range(repeats):
        for f in files:
            checksum += float(preprocess(f)[0, 0, 0])
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(files) * repeats
    print(json.dumps({"pil_images_per_cpu_s": n / cpu, "pil_images_per_wall_s": n / wall, "images": n,
                      "pil_version": PIL.__version__, "checksum": checksum}))

if __name__ == "__main__":
    main()
