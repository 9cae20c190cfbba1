#!/usr/bin/env python3
"""tests/junit: `tariff test --format junit` is well-formed XML that a JUnit reader accepts, and
says what `--format json` says: the same tests, passed or failed, the same counts.

Usage: check_junit.py TARIFF DIR   (run by CTest over plans/ and a folder with a failing test)
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

tariff, folder = sys.argv[1], sys.argv[2]
junit = subprocess.run([tariff, "test", "--format", "junit", "--verbose", folder], capture_output=True, text=True)
data = subprocess.run([tariff, "test", "--format", "json", folder], capture_output=True, text=True)
assert junit.returncode == data.returncode, (junit.returncode, data.returncode)
root = ET.fromstring(junit.stdout)  # raises on malformed XML
assert root.tag == "testsuites", root.tag
outcomes = json.loads(data.stdout)

cases = {}
for suite in root.findall("testsuite"):
    mine = suite.findall("testcase")
    assert int(suite.get("tests")) == len(mine), suite.get("name")
    assert int(suite.get("failures")) == sum(1 for c in mine if c.find("failure") is not None)
    assert int(suite.get("errors")) == sum(1 for c in mine if c.find("error") is not None)
    for case in mine:
        assert case.get("file") == suite.get("name")
        assert int(case.get("line", "0")) > 0
        key = (case.get("classname"), case.get("name"))
        assert key not in cases, key
        cases[key] = case

assert len(cases) == len(outcomes), (len(cases), len(outcomes))
for o in outcomes:
    case = cases[(o["file"] + "." + o["plan"], o["test"])]
    assert case.get("file") == o["file"]
    failed = case.find("failure") is not None or case.find("error") is not None
    assert failed == (not o["passed"]), o["test"]
    if case.find("failure") is not None:
        assert o["failures"][0] == case.find("failure").get("message")
    if o["passed"]:
        out = case.find("system-out")  # --verbose: every test's invoice
        assert out is not None and "total" in out.text, o["test"]
total = int(root.get("tests"))
assert total == len(outcomes)
assert int(root.get("failures")) + int(root.get("errors")) == sum(1 for o in outcomes if not o["passed"])
print(f"junit: {total} testcases agree with --format json")
