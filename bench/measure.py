#!/usr/bin/env python3
"""Times commands in one interleaved run and reports median wall time and peak memory.

Usage: measure.py RUNS NAME::CMD [NAME::CMD ...]   (CMD is split on spaces; no shell)
Prints a Markdown table; the first command is the reference for the ratio column.
"""
import os
import statistics
import sys
import time


def run_once(argv):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def main():
    runs = int(sys.argv[1])
    commands = [arg.split("::", 1) for arg in sys.argv[2:]]
    results = {name: ([], []) for name, _ in commands}
    for name, cmd in commands:  # warm the page cache once
        run_once(cmd.split())
    for _ in range(runs):
        for name, cmd in commands:
            t, rss = run_once(cmd.split())
            results[name][0].append(t)
            results[name][1].append(rss)
    ref = statistics.median(results[commands[0][0]][0])
    print(f"| command | median ms | min ms | peak RSS MiB | time / {commands[0][0]} |")
    print("|---|---:|---:|---:|---:|")
    for name, _ in commands:
        times, rss = results[name]
        med = statistics.median(times)
        print(f"| {name} | {med * 1000:.1f} | {min(times) * 1000:.1f} | {max(rss) / 1024:.1f} | {med / ref:.2f} |")


if __name__ == "__main__":
    main()
