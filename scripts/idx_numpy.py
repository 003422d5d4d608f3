"""IDX files (gzip) as numpy arrays, for the Python scripts that compare nabla with PyTorch."""
import gzip
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
