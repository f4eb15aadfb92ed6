#!/usr/bin/env bash
# make bench: builds a large environment and times gpuenv against the peer tools in one run.
set -euo pipefail
build=$(realpath "$1")
gpuenv=$build/gpuenv
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

echo
echo "## gpuenv verify --files ($(nproc) cores, $runs runs each)"
echo
# Every installed file, as verify reads them: the conda records' files and the pip RECORDs'.
find "$work/env" -type f ! -path "$work/env/conda-meta/*" -print0 > "$work/files.list"
hashed=$(tr -cd '\0' < "$work/files.list" | wc -c)
bytes=$(find "$work/env" -type f ! -path "$work/env/conda-meta/*" -printf '%s\n' | awk '{s += $1} END {print s}')
echo "Same environment, every file with real content and its real sha256 in the records and RECORDs: $hashed files, $((bytes / 1048576)) MiB. The peer is \`sha256sum\` over the same files with the same parallelism (\`xargs -0 -P $(nproc) -n 256\`); \`--files none\` is verify's own floor (inventory and consistency checks)."
echo
python3 "$here/measure.py" "$runs" \
  "sha256sum -P $(nproc)::$here/sha256_files.sh $work/files.list $(nproc)" \
  "gpuenv verify --files none::$gpuenv verify --files none -p $work/env" \
  "gpuenv verify --files quick::$gpuenv verify --files quick -p $work/env" \
  "gpuenv verify --files full::$gpuenv verify --files full -p $work/env" \
  | tee "$work/verify.md"
echo
python3 "$here/throughput.py" "$work/verify.md" "$hashed" "$bytes"
if ! "$gpuenv" verify --files full -p "$work/env" >/dev/null; then
  echo "error: verify --files full reported findings on the generated environment" >&2
  exit 1
fi

echo
echo "## GPUs: gpuenv gpus and gpuenv run ($(nproc) cores, $runs runs each)"
echo
python3 "$here/gpu_bench.py" "$build" "$work/env" "$runs"

echo
echo "## gpuenv fleet check ($(nproc) cores, 5 runs each)"
echo
"$here/fleet_bench.sh" "$build" "$work/env" 5

echo
echo "## gpuenv doctor and check ($(nproc) cores, $runs runs each)"
echo
python3 "$here/doctor_bench.py" "$build" "$work/env" "$runs"

echo
echo "## Spec engine (one timed loop per line, single thread)"
echo
echo "Conda versions, version specs and MatchSpecs (no Python peer runs here: conda is not installable from Debian):"
echo
"$build/bench/gpuenv_spec_bench" > "$work/spec.txt" 2>/dev/null
: > "$work/none.txt"
python3 "$here/spec_table.py" "$work/spec.txt" "$work/none.txt" conda
echo
echo "PEP 440 versions and specifier sets against Debian's python3-packaging $(/usr/bin/python3 -c 'import packaging; print(packaging.__version__)'), same generated inputs:"
echo
"$build/bench/gpuenv_pep440_bench" > "$work/pep440.txt" 2>/dev/null
/usr/bin/python3 "$here/pep440_packaging.py" > "$work/packaging.txt" 2>/dev/null
python3 "$here/spec_table.py" "$work/pep440.txt" "$work/packaging.txt" packaging
