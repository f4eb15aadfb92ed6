#!/usr/bin/env python3
"""Times commands in one interleaved run and reports median wall time and peak memory
(measured once per command with GNU time).

Usage: measure.py RUNS NAME::CMD [NAME::CMD ...]   (CMD is split on spaces; no shell)
Prints a Markdown table; the first command is the reference for the ratio column.
"""
import os
import subprocess
import statistics
import sys
import time


DEVNULL = os.open(os.devnull, os.O_WRONLY)


def run_once(argv):
    # posix_spawn (vfork underneath) instead of fork: forking this Python process costs about
    # 10 ms on these VMs, which would be counted in every command's time.
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, DEVNULL, 1),
                                        (os.POSIX_SPAWN_DUP2, DEVNULL, 2)])
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(argv)}")
    return elapsed


def peak_rss_kib(argv):
    # A child's ru_maxrss counts the memory of the process it was spawned from until exec,
    # so it would never read below this Python's own RSS; GNU time is small (about 2 MiB).
    with open(os.devnull, "wb") as sink:
        out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=sink,
                             stderr=subprocess.PIPE, check=True, text=True).stderr
    return int(out.strip().splitlines()[-1])


def main():
    runs = int(sys.argv[1])
    commands = [arg.split("::", 1) for arg in sys.argv[2:]]
    results = {name: ([], []) for name, _ in commands}
    for name, cmd in commands:  # warm the page cache once, and take the peak memory
        run_once(cmd.split())
        results[name][1].append(peak_rss_kib(cmd.split()))
    for _ in range(runs):
        for name, cmd in commands:
            results[name][0].append(run_once(cmd.split()))
    ref = statistics.median(results[commands[0][0]][0])
    print(f"| command | median ms | min ms | peak RSS MiB | time / {commands[0][0]} |")
    print("|---|---:|---:|---:|---:|")
    for name, _ in commands:
        times, rss = results[name]
        med = statistics.median(times)
        print(f"| {name} | {med * 1000:.1f} | {min(times) * 1000:.1f} | {max(rss) / 1024:.1f} | {med / ref:.2f} |")


if __name__ == "__main__":
    main()
