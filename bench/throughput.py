#!/usr/bin/env python3
"""Reads the table measure.py printed and says how fast each command went through the files.

Usage: throughput.py TABLE.md FILES BYTES
Prints one line per command: files/s and MiB/s from its median time, and its throughput
relative to the table's first command (the reference).
"""
import sys


def main():
    table, files, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows = []
    with open(table, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 2:
                continue
            try:
                rows.append((cells[0], float(cells[1]) / 1000))
            except ValueError:
                continue  # the header and the separator
    if not rows:
        raise SystemExit(f"no timings in {table}")
    ref_name, ref_time = rows[0]
    for name, seconds in rows:
        print(f"- {name}: {files / seconds:,.0f} files/s, {size / seconds / 2**20:,.0f} MiB/s, "
              f"{ref_time / seconds:.2f}x the throughput of {ref_name}")


if __name__ == "__main__":
    main()
