#!/usr/bin/env python3
"""tests/plot: every bundled plan's charts (plans/*/*.tariff, each plan of each file) through
`tariff plot`, rendered by a real headless Chromium: the SVG parses as XML, Chromium loads it
without a parse error (its DOM, --dump-dom, has no <parsererror> and is the chart's <svg>),
and `tariff plot --out FILE.png` writes a PNG of exactly the SVG's size that is not blank.

Usage: render_plans.py TARIFF PLANS_DIR [KEEP_DIR]
Exits 77 (CTest's SKIP_RETURN_CODE) when no Chromium is installed; scripts/setup.sh installs it.
KEEP_DIR, when given, keeps the PNGs there (to look at them).
"""
import glob
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

tariff, plans_dir = sys.argv[1:3]
keep = sys.argv[3] if len(sys.argv) > 3 else None
chromium = os.environ.get("TARIFF_CHROMIUM") or next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
if not chromium:
    print("SKIP: no Chromium (install the Debian package `chromium`: scripts/setup.sh)")
    sys.exit(77)


def png_pixels(path):
    """(width, height, rows of RGBA/RGB bytes) of a PNG, decoded with zlib and the PNG filters."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


failures = 0
rendered = 0
with tempfile.TemporaryDirectory() as tmp:
    for plan_file in sorted(glob.glob(os.path.join(plans_dir, "*", "*.tariff"))):
        names = []
        for name in re.findall(r'^\s*plan\s+"([^"]+)"', open(plan_file, encoding="utf-8").read(), re.M):
            if name not in names:
                names.append(name)
        for name in names:
            stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
            svg_path, png_path = os.path.join(tmp, stem + ".svg"), os.path.join(tmp, stem + ".png")
            what = f"{os.path.relpath(plan_file, plans_dir)} plan {name!r}"
            run = subprocess.run([tariff, "plot", plan_file, "--plan", name, "--out", svg_path], capture_output=True, text=True)
            if run.returncode == 1 and "no charge to plot" in run.stderr:
                print(f"ok: {what}: nothing to plot ({run.stderr.strip().splitlines()[-1]})")
                continue
            if run.returncode != 0:
                print(f"FAIL: {what}: tariff plot exited {run.returncode}: {run.stderr}")
                failures += 1
                continue
            root = ET.parse(svg_path).getroot()
            width, height = int(root.get("width")), int(root.get("height"))
            charts = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "chart"]
            dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                  f"--user-data-dir={os.path.join(tmp, 'profile')}", "--dump-dom", "file://" + svg_path],
                                 capture_output=True, text=True, timeout=120)
            if dom.returncode != 0 or "parsererror" in dom.stdout or "<svg" not in dom.stdout:
                print(f"FAIL: {what}: Chromium did not load the SVG cleanly (exit {dom.returncode}): {dom.stdout[:400]}")
                failures += 1
                continue
            run = subprocess.run([tariff, "plot", plan_file, "--plan", name, "--out", png_path], capture_output=True, text=True, timeout=300)
            if run.returncode != 0:
                print(f"FAIL: {what}: tariff plot --out .png exited {run.returncode}: {run.stderr}")
                failures += 1
                continue
            w, h, channels, rows = png_pixels(png_path)
            if (w, h) != (width, height):
                print(f"FAIL: {what}: PNG is {w}x{h}, the SVG {width}x{height}")
                failures += 1
                continue
            # Not blank: a share of the pixels is ink (not near-white), and some of it is colour
            # (the curves), not only grey text.
            ink = coloured = 0
            for row in rows[::2]:
                for x in range(0, len(row), channels * 2):
                    r, g, b = row[x], row[x + 1], row[x + 2]
                    if min(r, g, b) < 200:
                        ink += 1
                        if max(r, g, b) - min(r, g, b) > 60:
                            coloured += 1
            sampled = (h // 2 + 1) * (w // 2 + 1)
            if ink < sampled * 0.005 or coloured < 200:
                print(f"FAIL: {what}: the PNG looks blank ({ink} ink, {coloured} coloured of {sampled} sampled pixels)")
                failures += 1
                continue
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(png_path, os.path.join(keep, stem + ".png"))
            rendered += 1
            print(f"ok: {what}: {len(charts)} chart(s), {w}x{h} PNG, {ink * 100 // sampled}% ink")
if failures:
    sys.exit(1)
print(f"render: {rendered} plans rendered by {chromium}")
