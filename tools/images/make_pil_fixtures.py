#!/usr/bin/python3
"""Writes tests/fixtures/images/: small test images in every colour type we decode, and PIL's
own decoded / resized / normalized outputs of them as .npy, the reference the C++ tests compare
against. Run with Debian's Python and python3-pil (PIL 9.4, linked to the system libjpeg-turbo
2.1.5 and libwebp 1.2.4, the same libraries vlm links):

    /usr/bin/python3 tools/images/make_pil_fixtures.py [OUT_DIR]

Deterministic: the content comes from numpy's RandomState(0) and fixed drawings.
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageOps

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "tests", "fixtures", "images")
rng = np.random.RandomState(0)


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array))


def photo_like(width, height):
    """Gradients, shapes and noise: content with edges and texture, like a photo."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([
        128 + 100 * np.sin(x / 37.0) * np.cos(y / 23.0),
        60 + 150 * x / width,
        200 - 150 * y / height,
    ], axis=-1)
    base += rng.normal(0, 12, size=base.shape)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    d.ellipse((width * 0.1, height * 0.2, width * 0.4, height * 0.7), fill=(230, 40, 40))
    d.rectangle((width * 0.55, height * 0.15, width * 0.9, height * 0.5), fill=(30, 200, 60))
    d.polygon([(width * 0.5, height * 0.95), (width * 0.7, height * 0.55), (width * 0.9, height * 0.95)],
              fill=(250, 240, 30))
    d.line((0, 0, width, height), fill=(255, 255, 255), width=3)
    return im


def decoded(path):
    """What transformers feeds its processors: Image.open(path).convert('RGB')."""
    with Image.open(os.path.join(OUT, path)) as im:
        return np.asarray(im.convert("RGB"))


def vit_normalize(uint8_hwc, mean, std, factor=1 / 255):
    """transformers' rescale (float64 multiply, cast to float32) then normalize in float32."""
    x = (uint8_hwc.astype(np.float64) * factor).astype(np.float32)
    x = (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return x.transpose(2, 0, 1)  # (3, H, W)


def main():
    os.makedirs(OUT, exist_ok=True)
    photo = photo_like(500, 375)
    photo.save(os.path.join(OUT, "photo.jpg"), quality=90)
    small = photo_like(37, 29)

    # PNG colour types.
    rgba = np.dstack([np.asarray(small), rng.randint(0, 256, size=(29, 37)).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "alpha.png"))
    small.quantize(colors=16).save(os.path.join(OUT, "palette.png"), transparency=3)
    small.convert("L").save(os.path.join(OUT, "gray.png"))
    small.convert("1").save(os.path.join(OUT, "gray1.png"))
    gray16 = (rng.randint(0, 65536, size=(21, 33))).astype(np.uint16)
    Image.fromarray(gray16, "I;16").save(os.path.join(OUT, "gray16.png"))
    save_npy("gray16.expected.npy", np.repeat((gray16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2))
    Image.fromarray(rgba, "RGBA").convert("LA").save(os.path.join(OUT, "gray_alpha.png"))
    # Other decoders.
    small.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
    small.convert("L").save(os.path.join(OUT, "gray.jpg"), quality=90)
    photo.resize((64, 48)).save(os.path.join(OUT, "lossy.webp"), quality=80)
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "lossless_alpha.webp"), lossless=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 clockwise to display
    photo.resize((40, 30)).save(os.path.join(OUT, "exif6.jpg"), quality=90, exif=exif.tobytes())

    # The big photo's decode as a lossless PNG (a third of the .npy's size); the tests read it
    # with the PNG decoder, itself checked against .npy files on the small images.
    Image.fromarray(decoded("photo.jpg")).save(os.path.join(OUT, "photo_jpg.decoded.png"), optimize=True)
    for name in ["alpha.png", "palette.png", "gray.png", "gray1.png", "gray_alpha.png", "cmyk.jpg",
                 "gray.jpg", "lossy.webp", "lossless_alpha.webp", "exif6.jpg"]:
        save_npy(name.replace(".", "_") + ".decoded.npy", decoded(name))
    with Image.open(os.path.join(OUT, "exif6.jpg")) as im:
        save_npy("exif6_jpg.transposed.npy", np.asarray(ImageOps.exif_transpose(im).convert("RGB")))

    # Resizes: down (antialiased) and up, every filter, odd sizes.
    src = Image.fromarray(decoded("photo.jpg"))
    cases = [("photo", src, 224, 224, Image.BILINEAR), ("photo", src, 224, 224, Image.BICUBIC),
             ("photo", src, 61, 47, Image.BILINEAR), ("photo", src, 61, 47, Image.BICUBIC),
             ("photo", src, 500, 20, Image.BILINEAR), ("photo", src, 97, 375, Image.BICUBIC),
             ("photo", src, 50, 37, Image.LANCZOS), ("photo", src, 50, 37, Image.BOX),
             ("photo", src, 50, 37, Image.HAMMING), ("photo", src, 50, 37, Image.NEAREST)]
    alpha_rgb = Image.fromarray(decoded("alpha.png"))
    cases += [("alpha", alpha_rgb, 80, 61, Image.BILINEAR), ("alpha", alpha_rgb, 80, 61, Image.BICUBIC),
              ("alpha", alpha_rgb, 120, 90, Image.BILINEAR), ("alpha", alpha_rgb, 91, 13, Image.NEAREST)]
    for stem, image, w, h, resample in cases:
        save_npy(f"resize_{stem}_{w}x{h}_r{int(resample)}.npy", np.asarray(image.resize((w, h), resample)))

    # Final float values. ViTImageProcessor defaults (bilinear, 1/255, mean = std = 0.5) at 64x64,
    # and a CLIP-style config: shortest edge 64 (bicubic), center crop 56, CLIP mean/std.
    vit = np.asarray(src.resize((64, 64), Image.BILINEAR))
    save_npy("normalized_vit64.npy", vit_normalize(vit, [0.5] * 3, [0.5] * 3))
    clip_mean, clip_std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    w, h = src.size
    new_w, new_h = (int(64 * w / h), 64) if h <= w else (64, int(64 * h / w))
    clip = np.asarray(src.resize((new_w, new_h), Image.BICUBIC))
    top, left = (new_h - 56) // 2, (new_w - 56) // 2
    save_npy("normalized_clip56.npy", vit_normalize(clip[top:top + 56, left:left + 56], clip_mean, clip_std))
    vit64_of_other_images()


def vit64_of_other_images():
    """The ViT 64x64 values of the other images `vlm preprocess` is tested on (a PNG with alpha, a
    WebP): decoded as transformers is fed them (convert('RGB')), then as normalized_vit64.npy."""
    for name in ["alpha.png", "lossy.webp"]:
        vit = np.asarray(Image.fromarray(decoded(name)).resize((64, 64), Image.BILINEAR))
        save_npy("normalized_vit64_" + name.replace(".", "_") + ".npy", vit_normalize(vit, [0.5] * 3, [0.5] * 3))


if __name__ == "__main__":
    main()
