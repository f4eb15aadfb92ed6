#!/usr/bin/env bash
# Times `gpuenv fleet check` over 256 simulated nodes that each answer after 100 ms with the
# 300-package inventory, --jobs 64, against xargs -P 64 running the same node commands (the
# fan-out alone, no parsing). A node is BUILD_DIR/bench/gpuenv_fleet_node (bench/fleet_node.cpp),
# one process per node as ssh is. Usage: fleet_bench.sh BUILD_DIR ENV_PREFIX RUNS
set -euo pipefail
build=$1 env=$2 runs=$3
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d "${TMPDIR:-/tmp}/gpuenv-fleet-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/gpuenv" list --json -p "$env" > "$work/answer.json"
export FLEET_ANSWER=$work/answer.json
node=$build/bench/gpuenv_fleet_node
seq -f 'gpu%03g' 1 256 > "$work/hosts"
printf '#!/bin/sh\nxargs -P 64 -I{} %s {} gpuenv < %s > /dev/null\n' "$node" "$work/hosts" > "$work/xargs.sh"
printf '#!/bin/sh\nexec %s fleet check @%s --jobs 64 --via "%s {host}" > /dev/null\n' "$build/gpuenv" "$work/hosts" "$node" > "$work/fleet.sh"
chmod +x "$work/xargs.sh" "$work/fleet.sh"
echo "256 nodes, each answering \`gpuenv list --json\` ($(wc -c < "$work/answer.json") bytes, $(grep -c '"name"' "$work/answer.json") packages) after 100 ms; --jobs 64, so the floor is 4 rounds of 100 ms = 0.4 s plus process start-up."
echo
python3 "$here/measure.py" "$runs" \
  "xargs -P 64 (fan-out only)::$work/xargs.sh" \
  "gpuenv fleet check (256 nodes)::$work/fleet.sh"
