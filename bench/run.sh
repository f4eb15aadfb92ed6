#!/usr/bin/env bash
# make bench: builds a large environment and times gpuenv against the peer tools in one run.
set -euo pipefail
gpuenv=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d "${TMPDIR:-/tmp}/gpuenv-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
runs=${BENCH_RUNS:-20}

python3 "$here/make_env.py" "$work/env" >/dev/null
sp="$work/env/lib/python3.11/site-packages"
records=$(ls "$work/env/conda-meta"/*.json | wc -l)
files=$(python3 -c 'import json,glob,sys; print(sum(len(json.load(open(f))["files"]) for f in glob.glob(sys.argv[1]+"/conda-meta/*.json")))' "$work/env")
dists=$(ls -d "$sp"/*.dist-info | wc -l)

echo "## gpuenv list ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $runs runs each)"
echo
echo "Environment: $records conda records holding $files files, $dists dist-info directories in site-packages ($((dists - 100)) of them owned by conda records)."
echo
python3 "$here/measure.py" "$runs" \
  "gpuenv list::$gpuenv list -p $work/env" \
  "gpuenv list --json::$gpuenv list --json -p $work/env" \
  "pip list --path::python3 -m pip list --disable-pip-version-check --path $sp" \
  "pip list --format=json --path::python3 -m pip list --disable-pip-version-check --format=json --path $sp"
