#!/usr/bin/env python3
"""Regenerates data/digits/{train,test}/{X,Y}.npy from scikit-learn's copy of the UCI
optical-recognition digits (digits.csv.gz; see README.md for provenance and licence).

    pip download scikit-learn --no-deps --only-binary=:all: -d /tmp/skl
    cd /tmp/skl && unzip -o scikit_learn-*.whl sklearn/datasets/data/digits.csv.gz
    python3 data/digits/make_digits.py /tmp/skl/sklearn/datasets/data/digits.csv.gz

Standard library only (no NumPy). Each CSV row is one 8x8 image (64 integer pixels 0..16,
row-major) followed by its digit 0..9. Every image is pooled to 4x4 by summing 2x2 blocks
(integer features 0..64, d = 16). Sample i (0-based, file order) goes to the test split
when i % 3 == 2, to the training split otherwise (1198 / 599 samples). Y holds the digit
itself (0..9) as an n x 1 column; binarising labels and whitening inputs are declared in
the run configuration (data.binarize, data.whiten), not baked into the files.
"""

import csv
import gzip
import hashlib
import os
import struct
import sys

SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def npy_bytes(rows):
    """A C-order little-endian float64 .npy (format 1.0) of a list of equal-length rows."""
    n, d = len(rows), len(rows[0])
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (n, d)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    out = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")
    return out + b"".join(struct.pack("<%dd" % d, *map(float, r)) for r in rows)


def pool(pixels):
    """8x8 row-major -> 4x4 row-major sums of 2x2 blocks."""
    return [
        sum(pixels[(2 * i + a) * 8 + 2 * j + b] for a in (0, 1) for b in (0, 1))
        for i in range(4)
        for j in range(4)
    ]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "digits.csv.gz"
    raw = open(src, "rb").read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        sys.exit(f"{src}: SHA-256 {digest}, expected {SHA256} (scikit-learn's digits.csv.gz)")
    rows = [list(map(int, map(float, r))) for r in csv.reader(gzip.decompress(raw).decode().splitlines())]
    assert len(rows) == 1797 and all(len(r) == 65 for r in rows), "expected 1797 rows of 65"
    here = os.path.dirname(os.path.abspath(__file__))
    for name, keep in (("train", lambda i: i % 3 != 2), ("test", lambda i: i % 3 == 2)):
        part = [r for i, r in enumerate(rows) if keep(i)]
        os.makedirs(os.path.join(here, name), exist_ok=True)
        with open(os.path.join(here, name, "X.npy"), "wb") as f:
            f.write(npy_bytes([pool(r[:64]) for r in part]))
        with open(os.path.join(here, name, "Y.npy"), "wb") as f:
            f.write(npy_bytes([[r[64]] for r in part]))
        print(f"{name}: {len(part)} samples")


if __name__ == "__main__":
    main()
