#!/usr/bin/env python3
"""Joins `<name> <count> <seconds> <ops/s>` lines from gpuenv and from a Python peer into one
Markdown table. Usage: spec_table.py GPUENV_LINES_FILE PEER_LINES_FILE PEER_NAME"""
import sys


def read(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                rows[parts[0]] = (int(parts[1]), float(parts[3]))
    return rows


def main():
    ours, peer, peer_name = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
    print(f"| measurement | gpuenv ops/s | {peer_name} ops/s | gpuenv / {peer_name} |")
    print("|---|---:|---:|---:|")
    for name, (count, ops) in ours.items():
        if name in peer:
            p = peer[name][1]
            print(f"| {name} (n={count:,}) | {ops:,.0f} | {p:,.0f} | {ops / p:.0f}x |")
        else:
            print(f"| {name} (n={count:,}) | {ops:,.0f} | — | — |")


if __name__ == "__main__":
    main()
