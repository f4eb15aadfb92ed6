#!/usr/bin/python3
"""Times Debian's python3-packaging on the inputs gpuenv_pep440_bench generates.

Run with /usr/bin/python3 (which has python3-packaging); prints the same
`<name> <count> <seconds> <ops/s>` lines as gpuenv_pep440_bench, for a smaller
count (default 100000) scaled to operations per second.
"""
import sys
import time

from packaging.specifiers import SpecifierSet
from packaging.version import Version

MASK = (1 << 64) - 1


class Rng:
    """splitmix64, as bench/pep440_bench.cpp has it."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return (z ^ (z >> 31)) % n


def version(rng):
    major, minor, micro = rng.below(40), rng.below(30), rng.below(20)
    shape = rng.below(100)
    v = f"{major}.{minor}"
    if shape < 70:
        v += f".{micro}"
    elif shape >= 90:
        v += f".{micro}.{rng.below(10)}"
    suffix = rng.below(100)
    if suffix < 8:
        v += f"rc{rng.below(3) + 1}"
    elif suffix < 12:
        v += f"a{rng.below(5)}"
    elif suffix < 15:
        v += f"b{rng.below(5)}"
    elif suffix < 20:
        v += f".post{rng.below(3) + 1}"
    elif suffix < 24:
        v += f".dev{rng.below(20240000)}"
    elif suffix < 30:
        v += f"+cu{110 + rng.below(15)}"
    if rng.below(100) == 0:
        v = "1!" + v
    return v


def specifier(rng):
    a, b, c = rng.below(40), rng.below(30), rng.below(20)
    ab, abc = f"{a}.{b}", f"{a}.{b}.{c}"
    return [
        f">={ab}",
        f">={ab},<{a + 1}",
        f"~={abc}",
        f"=={ab}.*",
        f"!={abc}",
        f">={ab},!={abc},<{a + 2}",
        f"=={abc}",
    ][rng.below(7)]


def report(name, count, seconds):
    print(f"{name} {count} {seconds:.6f} {count / seconds:.0f}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_specs = 1000
    rng = Rng(42)
    texts = [version(rng) for _ in range(n)]
    spec_texts = [specifier(rng) for _ in range(n_specs)]

    start = time.perf_counter()
    versions = [Version(t) for t in texts]
    report("pep440_parse", n, time.perf_counter() - start)

    start = time.perf_counter()
    sink = 0
    for i in range(n):
        sink += versions[i] < versions[(i * 7919 + 1) % n]
    report("pep440_compare", n, time.perf_counter() - start)

    start = time.perf_counter()
    sorted(versions)
    report("pep440_sort", n, time.perf_counter() - start)

    sets = [SpecifierSet(s) for s in spec_texts]
    start = time.perf_counter()
    for i in range(n):
        sink += sets[i % n_specs].contains(versions[i])
    report("pep440_contains", n, time.perf_counter() - start)
    print(f"checksum {sink}", file=sys.stderr)


if __name__ == "__main__":
    main()
