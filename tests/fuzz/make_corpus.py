#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (tests/fuzz/corpus/TARGET/seed-*) from the committed real
data and configs, and a real checkpoint trained by nabla: python3 make_corpus.py BUILD/nabla.
Each seed is laid out as its target reads its input (see fuzz_TARGET.cpp). Inputs that once
crashed a target are kept beside the seeds (crash-*), and this script leaves them alone."""
import glob, gzip, os, struct, subprocess, sys, tempfile, zlib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
corpus = os.path.join(here, "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(corpus, target, "seed-" + name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


# Real images and labels: the first of the Fashion-MNIST test sample.
with gzip.open(os.path.join(root, "data/samples/fashion-test-500-images-idx3-ubyte.gz")) as f:
    images = f.read()
with gzip.open(os.path.join(root, "data/samples/fashion-test-500-labels-idx1-ubyte.gz")) as f:
    labels = f.read()
pixels = [images[16 + 784 * i: 16 + 784 * (i + 1)] for i in range(4)]
classes = list(labels[8:12])


def idx_images(n, magic=0x803):
    return struct.pack(">IIII", magic, n, 28, 28) + b"".join(pixels[:n])


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(classes[:n])


def idx_input(mode, im, lb):
    return bytes([mode]) + struct.pack(">H", len(im)) + im + lb


# idx: mode bit 0 gzips the images in the target, bit 1 the labels; bytes 1-2 the images' length.
put("idx", "raw", idx_input(0, idx_images(3), idx_labels(3)))
put("idx", "gzip-in-target", idx_input(3, idx_images(2), idx_labels(2)))
put("idx", "gzip-files", idx_input(0, gz(idx_images(1)), gz(idx_labels(1))))
flat = struct.pack(">III", 0x802, 2, 784) + b"".join(pixels[:2])
put("idx", "features", idx_input(0, flat, idx_labels(2)))
floats = struct.pack(">IIII", 0xD03, 1, 28, 28) + struct.pack(">784f", *[p / 255 for p in pixels[0]])
put("idx", "float32", idx_input(2, floats, idx_labels(1)))

# csv: byte 0 bit 0 is --csv-header; rows of the MNIST test sample.
with open(os.path.join(root, "data/samples/mnist-test-100.csv")) as f:
    rows = f.read().splitlines()
put("csv", "header", b"\x01" + ("\n".join(rows[:3]) + "\n").encode())
put("csv", "sniffed-header", b"\x00" + ("\n".join(rows[:2]) + "\n").encode())
put("csv", "no-header", b"\x00" + ("\r\n".join(rows[1:3]) + "\r\n").encode())
put("csv", "floats", b"\x00" + "3,0.5,1e-3,-2.25,7\n1,0,0,0,1.5\n".encode())

# inputs: byte 0 bit 0 = a network of 4 inputs (else 784), bit 1 = --csv-header.
put("inputs", "idx", b"\x00" + idx_images(2))
put("inputs", "idx-gzip", b"\x00" + gz(idx_images(1)))
put("inputs", "idx-float32", b"\x00" + floats)
put("inputs", "pgm-p5", b"\x00" + b"P5\n# a comment\n28 28\n255\n" + pixels[0])
put("inputs", "pgm-p2", b"\x01" + b"P2\n2 2\n15\n0 3\n9 15\n")


def png(width, height, colour, depth, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


put("inputs", "png-grey", b"\x00" + png(28, 28, 0, 8, [pixels[1][28 * r: 28 * (r + 1)] for r in range(28)]))
put("inputs", "png-rgb", b"\x01" + png(2, 2, 2, 8, [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 9, 9, 9])]))
put("inputs", "png-grey-alpha-16", b"\x01" + png(2, 2, 4, 16, [bytes(range(8)), bytes(range(8, 16))]))
put("inputs", "csv", b"\x03" + ("a,b,c,d\n" + "1,2,3,4\n" + "0.5,0,255,7\n").encode())

# config: each committed config, one with overrides after it ("\n--set a.b=VALUE" lines).
for path in sorted(glob.glob(os.path.join(root, "configs/*.json"))):
    with open(path) as f:
        text = f.read()
    put("config", os.path.basename(path)[:-5], text)
with open(os.path.join(root, "configs/default.json")) as f:
    put("config", "default-set", f.read().rstrip("\n") + "\n--set optimizer.type=adam\n--set training.epochs=3"
        "\n--set model.layers[0].units=8\n--set schedule={\"type\":\"cosine\"}")

# checkpoint: real checkpoints of a small network (4 inputs, MNIST rows' pixels 300-303).
nabla = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build/nabla")
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "small.csv"), "w") as f:
        for r in rows[1:41]:
            v = r.split(",")
            f.write(",".join([v[0]] + v[301:305]) + "\n")
    for name, optimizer in (("adam", '{"type": "adam", "learning_rate": 0.01}'),
                            ("sgd", '{"type": "sgd", "learning_rate": 0.1, "momentum": 0}')):
        with open(os.path.join(tmp, name + ".json"), "w") as f:
            f.write('{"data": {"format": "csv", "train": {"csv": "small.csv"}, "validation": 8, "classes": 10},'
                    ' "model": {"layers": [{"type": "dense", "units": 3, "activation": "relu"},'
                    ' {"type": "dropout", "rate": 0.1}, {"type": "dense", "units": 10, "activation": "softmax"}]},'
                    ' "optimizer": ' + optimizer + ', "training": {"epochs": 1, "batch_size": 8, "seed": 1}}')
        subprocess.run([nabla, "train", os.path.join(tmp, name + ".json"), "--quiet", "--out",
                        os.path.join(tmp, name)], check=True)
        with open(os.path.join(tmp, name, "checkpoints/last.safetensors"), "rb") as f:
            put("checkpoint", name, f.read())
