#!/usr/bin/env python3
"""Times `gpuenv doctor` and `gpuenv check` on the generated large environment.

Usage: doctor_bench.py BUILD_DIR ENV_PREFIX RUNS
Plants a pip torch (its version.py says CUDA 12.4) and its nvidia-* runtime wheels in the
environment, then times doctor without --probe on a machine of 8 H100s (the fake NVML) and
on one without a driver, check (doctor plus inventory summary, fingerprint and
`verify --files quick`), and `gpuenv list` as the floor (reading the inventory). The Python
peer is `pip list` over the same site-packages: a Python tool answering anything about this
environment pays at least that. Thread limits and --shm-path are set so that the doctor has
no warning on any bench machine (measure.py wants exit status 0).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.realpath(__file__))
build, env_prefix, runs = sys.argv[1], sys.argv[2], sys.argv[3]
gpuenv = os.path.join(build, "gpuenv")
fake = os.path.join(build, "tests/support/fake_nvml/libfake_nvml_current.so")
site = os.path.join(env_prefix, "lib/python3.11/site-packages")


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def plant_dist(name, version, files):
    dist = os.path.join(site, f"{name.replace('-', '_')}-{version}.dist-info")
    os.makedirs(dist, exist_ok=True)
    contents = dict(files)
    contents[os.path.relpath(os.path.join(dist, "METADATA"), site)] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n").encode()
    contents[os.path.relpath(os.path.join(dist, "INSTALLER"), site)] = b"pip\n"
    lines = []
    for rel, data in contents.items():
        path = os.path.join(site, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        lines.append(f"{rel},{record_hash(data)},{len(data)}")
    lines.append(os.path.relpath(os.path.join(dist, "RECORD"), site) + ",,")
    with open(os.path.join(dist, "RECORD"), "w") as f:
        f.write("\n".join(lines) + "\n")


plant_dist("torch", "2.4.1", {
    "torch/__init__.py": b"",
    "torch/version.py": (b"from typing import Optional\n\n__version__ = '2.4.1+cu124'\n"
                         b"debug = False\ncuda: Optional[str] = '12.4'\n"
                         b"git_version = 'ee1b6804381c57161c477caa380a840a84167676'\n"
                         b"hip: Optional[str] = None\n"),
})
plant_dist("nvidia-cuda-runtime-cu12", "12.4.127", {"nvidia/cuda_runtime/__init__.py": b""})
plant_dist("nvidia-cudnn-cu12", "9.1.0.70", {"nvidia/cudnn/__init__.py": b""})

with tempfile.TemporaryDirectory(prefix="gpuenv-doctor-bench-") as work:
    gpus = [{"uuid": f"GPU-{g:08x}-1111-2222-3333-444444444444", "name": "NVIDIA H100 80GB HBM3",
             "pci_bus_id": f"00000000:{g + 1:02X}:00.0", "memory_total": 85899345920,
             "memory_used": 1 << 20, "compute_capability": [9, 0], "processes": []}
            for g in range(8)]
    scenario = os.path.join(work, "h100.json")
    with open(scenario, "w") as f:
        json.dump({"driver_version": "550.54.15", "cuda_version": 12040, "gpus": gpus}, f)
    base = dict(os.environ, GPUENV_STATE_DIR=os.path.join(work, "state"),
                OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HOME=work)
    shm = f"--shm-path {work}"
    measure = [sys.executable, os.path.join(here, "measure.py"), runs]

    check = subprocess.run([gpuenv, "doctor", "-p", env_prefix, "--shm-path", work],
                           env=dict(base, GPUENV_NVML_LIBRARY=fake,
                                    GPUENV_FAKE_NVML_SCENARIO=scenario),
                           capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit("doctor has findings on the bench environment:\n" + check.stdout + check.stderr)

    print("### 8 H100s (fake NVML)\n")
    sys.stdout.flush()
    subprocess.run(measure + [
        f"pip list --path::python3 -m pip list --disable-pip-version-check --path {site}",
        f"gpuenv list (inventory floor)::{gpuenv} list -p {env_prefix}",
        f"gpuenv doctor::{gpuenv} doctor -p {env_prefix} {shm}",
        f"gpuenv doctor --json::{gpuenv} doctor --json -p {env_prefix} {shm}",
        f"gpuenv check::{gpuenv} check -p {env_prefix} {shm}",
    ], env=dict(base, GPUENV_NVML_LIBRARY=fake, GPUENV_FAKE_NVML_SCENARIO=scenario), check=True)
    print("\n### No NVIDIA driver\n")
    sys.stdout.flush()
    subprocess.run(measure + [
        f"gpuenv list (inventory floor)::{gpuenv} list -p {env_prefix}",
        f"gpuenv doctor (no driver)::{gpuenv} doctor -p {env_prefix} {shm}",
    ], env=dict(base, GPUENV_NVML_LIBRARY=os.path.join(work, "none.so")), check=True)
