"""IDX files (gzip) and nabla's checkpoints (safetensors) as numpy arrays, for the Python scripts that
compare nabla with PyTorch."""
import gzip
import json
import struct

import numpy as np


def read_idx(path):
    """u8 images as a (count, rows * cols) array, or u8 labels as an int64 array."""
    with gzip.open(path, "rb") as f:
        blob = f.read()
    magic, count = struct.unpack(">II", blob[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", blob[8:16])
        return np.frombuffer(blob[16:], dtype=np.uint8).reshape(count, rows * cols)
    assert magic == 0x801, f"{path}: not an IDX u8 file (magic {magic:#x})"
    return np.frombuffer(blob[8:], dtype=np.uint8).astype(np.int64)


def read_safetensors(path):
    """The tensors of a safetensors file as numpy arrays (the format is simple enough to read by hand)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"]).copy()
    return out
