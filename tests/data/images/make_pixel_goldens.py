#!/usr/bin/python3
"""Dev-time generator of the image-preprocessing goldens (tests never run Python).

Needs Debian's python3-pil (Pillow 9.4.0) and python3-numpy:
    apt-get install -y python3-pil python3-numpy
    cd tests/data/images && /usr/bin/python3 make_pixel_goldens.py

It does two things, both deterministic:

1. Writes extra decoder fixtures into variants/ (from the CC0 chelsea.png): WebP (lossless with
   alpha, lossy), BMP (24-bit, 8-bit palette), and orient/chelsea_o{1..8}.jpg: one small JPEG per
   EXIF orientation with identical pixel data, plus a PNG (eXIf chunk) and a WebP (EXIF chunk)
   with orientation 6.

2. Reproduces transformers 4.35 CLIPImageProcessor.preprocess step by step in PIL + numpy and
   writes pixel_goldens.safetensors:
     "<file>@224"  U8  [3, 224, 224]  resize(shortest_edge=224, BICUBIC) + center crop 224, BEFORE
                                      rescale/normalise (the photos)
     "<file>@64"   U8  [3, 64, 64]    same with 64/64 (the decoder variants; small on purpose)
     "chelsea.png@64/<filter>" U8 [3, 64, 64]  the other PIL filters (lanczos, bilinear, box,
                                      hamming), same steps
     "<file>@tiny" F32 [3, 32, 32]    full pixel_values with
                                      models/lmeye-tiny-opt/clip/preprocessor_config.json
                                      (rescale + normalise in float32 exactly as numpy does)

   The uint8 tensors are what PIL produces; normalisation is a fixed float formula checked bit for
   bit by the "@tiny" tensors, so comparing uint8 isolates decode + resample + crop.

Where our C++ pipeline deliberately differs from `Image.open(p).convert("RGB")` + HF, the golden
follows OUR documented behaviour (and says so in the metadata):
  * EXIF orientation is applied (PIL.ImageOps.exif_transpose); HF/PIL ignore it.
  * 16-bit grayscale: Pillow 9.4 opens it as mode "I" and convert("RGB") clips every value > 255
    to 255 (an all-white image). We keep the high byte (v >> 8), as libpng's strip_16 does.
"""

import io
import json
import os
import struct

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

PHOTOS = [
    "chelsea.png", "astronaut.jpg", "coffee.jpg", "rocket.jpg", "grace_hopper.jpg",
    "raccoon_face.jpg", "retina.jpg", "coins.png", "exif_orientation_6.jpg",
]
VARIANTS = [
    "variants/chelsea_progressive.jpg", "variants/chelsea_444.jpg", "variants/chelsea_420.jpg",
    "variants/chelsea_cmyk.jpg", "variants/chelsea_rgba.png", "variants/chelsea_la.png",
    "variants/chelsea_palette.png", "variants/chelsea_gray16.png",
    "variants/coffee_strip_600x12.jpg", "variants/chelsea_lossless_rgba.webp",
    "variants/chelsea_lossy.webp", "variants/chelsea_24bit.bmp", "variants/chelsea_8bit.bmp",
    "bad/one_by_one.png", "bad/one_by_one.jpg", "bad/jpeg_named.png",
]
TINY = ["chelsea.png", "astronaut.jpg", "variants/coffee_strip_600x12.jpg"]


def exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def make_variants():
    base = Image.open(os.path.join(HERE, "chelsea.png")).convert("RGB").resize((256, 170),
                                                                             Image.BICUBIC)
    var = os.path.join(HERE, "variants")
    rgba = base.copy()
    alpha = np.tile(np.linspace(0, 255, 256).astype(np.uint8), (170, 1))
    rgba.putalpha(Image.fromarray(alpha, "L"))
    rgba.save(os.path.join(var, "chelsea_lossless_rgba.webp"), lossless=True)
    base.save(os.path.join(var, "chelsea_lossy.webp"), quality=80, method=4)
    base.save(os.path.join(var, "chelsea_24bit.bmp"))
    base.quantize(64).save(os.path.join(var, "chelsea_8bit.bmp"))
    small = base.resize((64, 43), Image.BICUBIC)
    os.makedirs(os.path.join(var, "orient"), exist_ok=True)
    for o in range(1, 9):
        small.save(os.path.join(var, "orient", "chelsea_o%d.jpg" % o), quality=90,
                   exif=exif_with_orientation(o))
    small.save(os.path.join(var, "orient", "chelsea_o6.png"), exif=exif_with_orientation(6))
    small.save(os.path.join(var, "orient", "chelsea_o6.webp"), lossless=True,
               exif=exif_with_orientation(6))


def load_rgb(path):
    """Our documented decode: PIL convert('RGB') + EXIF transpose + 16-bit high byte."""
    im = Image.open(path)
    im.load()
    if im.mode in ("I", "I;16", "I;16B"):
        im = Image.fromarray((np.asarray(im, dtype=np.int64) >> 8).astype(np.uint8), "L")
    else:
        im = ImageOps.exif_transpose(im)  # no-op without an orientation tag
    return im.convert("RGB")


def hf_resize_crop(im, shortest_edge, crop, resample=Image.BICUBIC):
    """transformers 4.35: get_resize_output_image_size + PIL resize + center_crop (uint8 HWC)."""
    width, height = im.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = shortest_edge, int(shortest_edge * long / short)
    out_h, out_w = (new_long, new_short) if width <= height else (new_short, new_long)
    arr = np.array(im.resize((out_w, out_h), resample=resample))  # uint8 round trip
    top = (out_h - crop) // 2
    left = (out_w - crop) // 2
    assert top >= 0 and left >= 0  # padding is exercised by the C++ unit tests instead
    return arr[top:top + crop, left:left + crop, :]


def hf_pixel_values(im, cfg):
    arr = hf_resize_crop(im, cfg["size"]["shortest_edge"], cfg["crop_size"]["height"])
    x = (arr.astype(np.float64) * cfg["rescale_factor"]).astype(np.float32)  # HF rescale()
    mean = np.array(cfg["image_mean"], dtype=np.float32)
    std = np.array(cfg["image_std"], dtype=np.float32)
    x = (x - mean) / std  # HF normalize(), float32 throughout
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, arr in tensors:
        dtype = {np.dtype(np.uint8): "U8", np.dtype(np.float32): "F32"}[arr.dtype]
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def main():
    make_variants()
    tensors = []
    for name in PHOTOS:
        crop = hf_resize_crop(load_rgb(os.path.join(HERE, name)), 224, 224)
        tensors.append((name + "@224", crop.transpose(2, 0, 1)))
    for name in VARIANTS:
        crop = hf_resize_crop(load_rgb(os.path.join(HERE, name)), 64, 64)
        tensors.append((name + "@64", crop.transpose(2, 0, 1)))
    for fname, resample in (("lanczos", Image.LANCZOS), ("bilinear", Image.BILINEAR),
                            ("box", Image.BOX), ("hamming", Image.HAMMING)):
        crop = hf_resize_crop(load_rgb(os.path.join(HERE, "chelsea.png")), 64, 64, resample)
        tensors.append(("chelsea.png@64/" + fname, crop.transpose(2, 0, 1)))
    with open(os.path.join(HERE, "..", "models", "lmeye-tiny-opt", "clip",
                           "preprocessor_config.json")) as f:
        tiny_cfg = json.load(f)
    for name in TINY:
        tensors.append((name + "@tiny", hf_pixel_values(load_rgb(os.path.join(HERE, name)),
                                                        tiny_cfg)))
    metadata = {
        "generator": "make_pixel_goldens.py (Pillow %s, numpy %s)" % (Image.__version__,
                                                                      np.__version__),
        "reference": "transformers 4.35 CLIPImageProcessor steps: convert RGB, shortest-edge "
                     "PIL BICUBIC resize (uint8), center crop ((h-c)//2), rescale, normalise",
        "deviations": "EXIF orientation applied (HF does not); 16-bit gray keeps the high byte "
                      "(Pillow 9.4 clips to white)",
    }
    write_safetensors(os.path.join(HERE, "pixel_goldens.safetensors"), tensors, metadata)
    print("wrote %d tensors" % len(tensors))


if __name__ == "__main__":
    main()
