#!/usr/bin/env python3
"""Writes a large, realistic conda environment for `make bench`.

300 conda records in conda's own style (files[] and paths_data with hashes) holding 40,000
files in all, 100 of them Python packages with a .dist-info of their own, plus 100 pip
distributions with METADATA, RECORD, INSTALLER and REQUESTED. Deterministic for a given seed.
"""
import hashlib
import json
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


def metadata(name, version):
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: the {name} package\nRequires-Python: >=3.8\n"
            f"Requires-Dist: numpy>=1.21\nClassifier: Programming Language :: Python :: 3\n\n{DESCRIPTION}")


def main(prefix):
    rng = random.Random(42)
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
            digest = hashlib.sha256(f.encode()).hexdigest()
            paths.append({"_path": f, "path_type": "hardlink", "sha256": digest,
                          "sha256_in_prefix": digest, "size_in_bytes": 1000 + len(f)})
        record = {
            "build": build, "build_number": i % 3,
            "channel": "https://conda.anaconda.org/conda-forge/linux-64",
            "constrains": [], "depends": [f"pkg{(i + 1) % N_RECORDS:03d} >=0.1", "libgcc-ng >=12"],
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
        write(os.path.join(dist, "METADATA"), metadata(name, version))
        write(os.path.join(dist, "INSTALLER"), "pip\n")
        if i % 2 == 0:
            write(os.path.join(dist, "REQUESTED"), "")
        write(os.path.join(dist, "RECORD"), "".join(
            f"{name.lower()}/m{j}.py,sha256=AAAA,10\n" for j in range(20)))
    print(prefix)


if __name__ == "__main__":
    main(sys.argv[1])
