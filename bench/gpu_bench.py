#!/usr/bin/env python3
"""Times `gpuenv gpus` and `gpuenv run` against the fake NVML and real processes.

Usage: gpu_bench.py BUILD_DIR ENV_PREFIX RUNS
`gpus`: 8 fake GPUs listing 64 real sleeping processes (8 each), so that /proc attribution is
the real work; the fake answers NVML calls from memory, so gpuenv's time is what it adds on
top of NVML. The peer is `ps` reading the same 64 processes from /proc.
`run`: the overhead of activation, GPU choice and leases over a bare exec of /bin/true.
"""
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.realpath(__file__))
build, env_prefix, runs = sys.argv[1], sys.argv[2], sys.argv[3]
gpuenv = os.path.join(build, "gpuenv")
fake = os.path.join(build, "tests/support/fake_nvml/libfake_nvml_current.so")

with tempfile.TemporaryDirectory(prefix="gpuenv-gpu-bench-") as work:
    sleepers = []
    for i in range(64):
        env = {"PATH": "/usr/bin:/bin", "CONDA_PREFIX": f"/opt/conda/envs/job{i % 8}"}
        sleepers.append(subprocess.Popen(["sleep", "600"], env=env))
    try:
        def scenario(with_processes):
            gpus = []
            for g in range(8):
                procs = [{"pid": p.pid, "used_memory": (g + 1) << 30}
                         for p in sleepers[g * 8:(g + 1) * 8]] if with_processes else []
                gpus.append({"uuid": f"GPU-{g:08x}-1111-2222-3333-444444444444",
                             "name": "NVIDIA H100 80GB HBM3",
                             "pci_bus_id": f"00000000:{g + 1:02X}:00.0",
                             "memory_total": 85899345920, "memory_used": (g + 1) << 33,
                             "utilisation_gpu": 50 if with_processes else 0, "temperature": 40, "power_mw": 300000,
                             "compute_capability": [9, 0], "processes": procs})
            return {"driver_version": "550.54.15", "cuda_version": 12040, "gpus": gpus}

        for name, with_processes in (("busy", True), ("idle", False)):
            with open(os.path.join(work, name + ".json"), "w") as f:
                json.dump(scenario(with_processes), f)
        base = dict(os.environ, GPUENV_NVML_LIBRARY=fake,
                    GPUENV_STATE_DIR=os.path.join(work, "state"),
                    GPUENV_CONFIG=os.path.join(work, "no-policy.yaml"))
        pids = ",".join(str(p.pid) for p in sleepers)
        measure = [sys.executable, os.path.join(here, "measure.py"), runs]

        print("### gpuenv gpus: 8 GPUs (fake NVML), 64 real processes\n")
        sys.stdout.flush()
        subprocess.run(measure + [
            f"ps -p (64 pids)::ps -o pid,user,etime,args -p {pids}",
            f"gpuenv gpus (8 GPUs, 64 processes)::{gpuenv} gpus",
            f"gpuenv gpus --json (64 processes)::{gpuenv} gpus --json",
        ], env=dict(base, GPUENV_FAKE_NVML_SCENARIO=os.path.join(work, "busy.json")), check=True)
        print()
        subprocess.run(measure + [
            f"gpuenv gpus (8 GPUs, no process)::{gpuenv} gpus",
        ], env=dict(base, GPUENV_FAKE_NVML_SCENARIO=os.path.join(work, "idle.json")), check=True)

        print("\n### gpuenv run: overhead over a bare exec of /bin/true\n")
        sys.stdout.flush()
        subprocess.run(measure + [
            "/bin/true::/bin/true",
            f"gpuenv --version (start-up floor)::{gpuenv} --version",
            f"gpuenv run -- /bin/true::{gpuenv} run -p {env_prefix} -- /bin/true",
            f"gpuenv run --cpu -- /bin/true::{gpuenv} run -p {env_prefix} --cpu -- /bin/true",
            f"gpuenv run --gpus 1 (NVML + lease)::{gpuenv} run -p {env_prefix} --gpus 1 -- /bin/true",
        ], env=dict(base, GPUENV_FAKE_NVML_SCENARIO=os.path.join(work, "idle.json")), check=True)
    finally:
        for p in sleepers:
            p.kill()
            p.wait()
