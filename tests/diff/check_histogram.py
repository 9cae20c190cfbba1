#!/usr/bin/env python3
"""tests/diff: `tariff diff --histogram` writes an SVG that parses, has one bar per bin, and
counts every customer once (the bars' counts add up to the customers in the CSV output).

Usage: check_histogram.py TARIFF PLAN USAGE
"""
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

tariff, plan, usage = sys.argv[1:4]
with tempfile.TemporaryDirectory() as d:
    svg_path = os.path.join(d, "change.svg")
    csv = subprocess.run([tariff, "diff", plan, plan, "--old-version", "1", "--new-version", "2", "--usage", usage,
                          "--period", "2026-03-01..2026-04-01", "--format", "csv", "--histogram", svg_path, "--bins", "8"],
                         capture_output=True, text=True, check=True).stdout
    root = ET.parse(svg_path).getroot()
ns = {"svg": "http://www.w3.org/2000/svg"}
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
bars = [r for r in root.findall("svg:rect", ns) if r.get("class") == "bar"]
assert len(bars) == 8, len(bars)
counts = [int(b.find("svg:title", ns).text) for b in bars]
customers = len(csv.strip().splitlines()) - 1
assert sum(counts) == customers, (counts, customers)
# the tallest bar is the plot's full height; an empty bin has no height
tallest = max(counts)
heights = [float(b.get("height")) for b in bars]
for c, h in zip(counts, heights):
    assert (h == 0) == (c == 0), (c, h)
    assert abs(h - heights[counts.index(tallest)] * c / tallest) < 0.2, (c, h)
texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
assert "Change per customer (USD)" in texts, texts
print(f"histogram: {len(bars)} bars, {customers} customers counted once")
