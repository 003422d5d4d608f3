#!/usr/bin/env python3
"""A rendered picture is the size it should be and shows something: png_check.py PNG [options].

Decodes the PNG with the standard library alone (zlib, and the five row filters of the PNG
specification, section 9), 8-bit grey, grey+alpha, RGB or RGBA, not interlaced: what rsvg-convert
and Chromium write. Transparent pixels are laid over white. Then counts the pixels that are not
white (any channel below 245), dark (luminance below 96: text, axes) and coloured (channels more
than 60 apart: the lines and the heat map's cells; text and grid lines are grey). Prints one line
of those figures; exits 1 naming what failed.

  --size W H        the PNG must be W x H pixels (from its IHDR header)
  --ink F           at least a fraction F of the pixels not white (default 0.02)
  --dark F          at least a fraction F dark (default 0.001)
  --colour F        at least a fraction F coloured (default 0)
"""
import argparse
import struct
import sys
import zlib


def fail(message):
    print(f"FAILED: {message}")
    sys.exit(1)


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: not a PNG file (no PNG signature)")
    at, header, idat = 8, None, []
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        crc = struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0]
        if zlib.crc32(kind + body) != crc:
            fail(f"{path}: the CRC of chunk {kind!r} at byte {at} is wrong")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        at += 12 + length
    if header is None:
        fail(f"{path}: no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace != 0:
        fail(f"{path}: bit depth {depth}, colour type {colour_type}, interlace {interlace}: this checker reads "
             "8-bit grey, grey+alpha, RGB and RGBA, not interlaced")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        fail(f"{path}: {len(raw)} bytes of image data, expected {height * (stride + 1)} for {width}x{height}")
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:  # Sub
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 255
        elif kind == 2:  # Up
            row = bytearray((a + b) & 255 for a, b in zip(row, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = row[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif kind != 0:
            fail(f"{path}: row {y} has filter type {kind} (0 to 4 exist)")
        rows.append(row)
        previous = row
    return width, height, channels, rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("png")
    parser.add_argument("--size", nargs=2, type=int)
    parser.add_argument("--ink", type=float, default=0.02)
    parser.add_argument("--dark", type=float, default=0.001)
    parser.add_argument("--colour", type=float, default=0)
    args = parser.parse_args()
    width, height, channels, rows = decode(args.png)
    if args.size and [width, height] != args.size:
        fail(f"{args.png} is {width}x{height} pixels, expected {args.size[0]}x{args.size[1]}")
    ink = dark = colour = 0
    for row in rows:
        for x in range(0, len(row), channels):
            if channels <= 2:
                r = g = b = row[x]
            else:
                r, g, b = row[x], row[x + 1], row[x + 2]
            if channels in (2, 4):  # over white
                alpha = row[x + channels - 1]
                r, g, b = ((v * alpha + 255 * (255 - alpha)) // 255 for v in (r, g, b))
            if r < 245 or g < 245 or b < 245:
                ink += 1
                if 0.299 * r + 0.587 * g + 0.114 * b < 96:
                    dark += 1
                if max(r, g, b) - min(r, g, b) > 60:
                    colour += 1
    n = width * height
    print(f"{args.png}: {width}x{height}, {100 * ink / n:.2f}% not white, {100 * dark / n:.2f}% dark, "
          f"{100 * colour / n:.2f}% coloured")
    for name, count, least in (("not white", ink, args.ink), ("dark", dark, args.dark),
                               ("coloured", colour, args.colour)):
        if count < least * n:
            fail(f"{args.png}: {100 * count / n:.2f}% of the pixels {name}, expected at least {100 * least:.2f}%")


if __name__ == "__main__":
    main()
