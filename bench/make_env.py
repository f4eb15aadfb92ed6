#!/usr/bin/env python3
"""Writes a large, realistic conda environment for `make bench`.

300 conda records in conda's own style (files[] and paths_data with hashes) holding 40,000
files in all, 100 of them Python packages with a .dist-info of their own, plus 100 pip
distributions with METADATA, RECORD, INSTALLER and REQUESTED. Every file is written with real
content (about 450 MB: .py files of 0.5-16 KiB, libraries of 1-64 KiB, log-uniform) and the
records and RECORDs carry its real sha256 and size, so `gpuenv verify --files quick|full` finds
an intact environment. Deterministic for a given seed.
"""
import base64
import hashlib
import json
import math
import os
import random
import sys

N_RECORDS = 300
N_FILES = 40_000
N_CONDA_PY = 100
N_PIP = 100
PY = "python3.11"
SP = f"lib/{PY}/site-packages"

DESCRIPTION = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20 + "\n") * 10


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class Contents:
    """Makes file contents: a line naming the file, then bytes cut from a fixed random block."""

    def __init__(self, rng):
        self.rng = rng
        self.block = rng.randbytes(1 << 20)

    def make(self, rel, low, high):
        size = int(math.exp(self.rng.uniform(math.log(low), math.log(high))))
        head = (rel + "\n").encode()
        start = self.rng.randrange(0, len(self.block) - size)
        return (head + self.block[start:start + size])[:max(size, len(head))]


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def metadata(name, version):
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: the {name} package\nRequires-Python: >=3.8\n"
            f"Requires-Dist: pkg000>=0\nClassifier: Programming Language :: Python :: 3\n\n{DESCRIPTION}")


def main(prefix):
    rng = random.Random(42)
    contents = Contents(random.Random(7))
    os.makedirs(os.path.join(prefix, "conda-meta"), exist_ok=True)
    write(os.path.join(prefix, "conda-meta", "history"), "==> 2026-01-01 00:00:00 <==\n")
    for i in range(N_RECORDS):
        per_record = N_FILES // N_RECORDS + (1 if i < N_FILES % N_RECORDS else 0)
        name = f"pkg{i:03d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        build = f"h{rng.getrandbits(32):08x}_{i % 3}"
        files = []
        if i < N_CONDA_PY:
            dist = f"{SP}/{name}-{version}.dist-info"
            write(os.path.join(prefix, dist, "METADATA"), metadata(name, version))
            write(os.path.join(prefix, dist, "INSTALLER"), "conda\n")
            files += [f"{dist}/METADATA", f"{dist}/INSTALLER", f"{dist}/RECORD"]
            write(os.path.join(prefix, dist, "RECORD"), "")
            files += [f"{SP}/{name}/mod{j}.py" for j in range(per_record - 3)]
        else:
            files += [f"lib/lib{name}/file{j}.so" for j in range(per_record)]
        paths = []
        for f in files:
            full = os.path.join(prefix, f)
            if os.path.exists(full):  # the dist-info files written above
                with open(full, "rb") as existing:
                    data = existing.read()
            elif f.endswith(".py"):
                data = contents.make(f, 512, 16 << 10)
            else:
                data = contents.make(f, 1 << 10, 64 << 10)
            write_bytes(full, data)
            digest = hashlib.sha256(data).hexdigest()
            paths.append({"_path": f, "path_type": "hardlink", "sha256": digest,
                          "sha256_in_prefix": digest, "size_in_bytes": len(data)})
        record = {
            "build": build, "build_number": i % 3,
            "channel": "https://conda.anaconda.org/conda-forge/linux-64",
            "constrains": [], "depends": [f"pkg{(i + 1) % N_RECORDS:03d} >=0", "__glibc >=2.17"],
            "extracted_package_dir": f"/opt/conda/pkgs/{name}-{version}-{build}",
            "features": "", "files": files,
            "fn": f"{name}-{version}-{build}.conda", "license": "BSD-3-Clause",
            "link": {"source": f"/opt/conda/pkgs/{name}-{version}-{build}", "type": 1},
            "md5": hashlib.md5(name.encode()).hexdigest(), "name": name,
            "package_tarball_full_path": f"/opt/conda/pkgs/{name}-{version}-{build}.conda",
            "paths_data": {"paths": paths, "paths_version": 1},
            "requested_spec": "None", "sha256": hashlib.sha256(name.encode()).hexdigest(),
            "size": 100000 + i, "subdir": "linux-64", "timestamp": 1700000000000 + i,
            "track_features": "",
            "url": f"https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-{build}.conda",
            "version": version,
        }
        write(os.path.join(prefix, "conda-meta", f"{name}-{version}-{build}.json"),
              json.dumps(record, indent=2, sort_keys=True))
    for i in range(N_PIP):
        name = f"PipPkg_{i:03d}"
        version = f"{rng.randint(0, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        dist = os.path.join(prefix, SP, f"{name}-{version}.dist-info")
        info = f"{name}-{version}.dist-info"
        files = {f"{info}/METADATA": metadata(name, version).encode(), f"{info}/INSTALLER": b"pip\n"}
        if i % 2 == 0:
            files[f"{info}/REQUESTED"] = b""
        for j in range(20):
            rel = f"{name.lower()}/m{j}.py"
            files[rel] = contents.make(rel, 512, 16 << 10)
        rows = []
        for rel, data in files.items():
            write_bytes(os.path.join(prefix, SP, rel), data)
            rows.append(f"{rel},{record_hash(data)}\n")
        rows.append(f"{info}/RECORD,,\n")
        write(os.path.join(dist, "RECORD"), "".join(sorted(rows)))
    print(prefix)


if __name__ == "__main__":
    main(sys.argv[1])
