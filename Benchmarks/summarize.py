#!/usr/bin/env python3
"""Turns package-benchmark markdown output into ratio tables.

Each shouldAccept result is divided by the Mutex<Dictionary> baseline measured for the same keys
in the same run. Usage: summarize.py accept.md failed.md
"""
import re
import sys


def parse(path):
    results, name = {}, None
    for line in open(path, encoding="utf-8"):
        if line.startswith("### "):
            name = line[4:].strip()
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if name is None or len(cells) < 4:
            continue
        match = re.match(r"Time \(wall clock\) \((\w+)\)", cells[0])
        if match:
            scale = {"ns": 1, "μs": 1_000, "us": 1_000, "ms": 1_000_000}[match.group(1)]
            results.setdefault(name, {})["p50_ns"] = float(cells[3]) * scale
        if cells[0].startswith("Malloc (total)"):
            results.setdefault(name, {})["mallocs"] = float(cells[3])
    return results


accept = parse(sys.argv[1])
print("| shouldAccept | bans | p50 ns | baseline p50 ns | × baseline | allocations/call |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name in sorted(accept, key=lambda n: (("IPv6" in n), ("miss" in n), int(n.split()[-2]))):
    if not name.startswith("shouldAccept"):
        continue
    case = name[len("shouldAccept "):]
    baseline = accept.get("baseline Mutex<Dictionary> " + case, {})
    ours = accept[name]
    kind, family, bans = case.rsplit(" ", 3)[0], case.split()[-3], int(case.split()[-2])
    ratio = ours["p50_ns"] / baseline["p50_ns"] if baseline.get("p50_ns") else float("nan")
    print(f"| {kind} {family} | {bans:,} | {ours['p50_ns']:.0f} | {baseline.get('p50_ns', float('nan')):.0f} | {ratio:.2f} | {ours.get('mallocs', 0):.0f} |")

if len(sys.argv) > 2:
    failed = parse(sys.argv[2])
    print()
    print("| recordFailedAuth | p50 µs | allocations/call |")
    print("| --- | ---: | ---: |")
    for name in sorted(failed):
        print(f"| {name[len('recordFailedAuth '):]} | {failed[name]['p50_ns'] / 1000:.2f} | {failed[name].get('mallocs', 0):.0f} |")
