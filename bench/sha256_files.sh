#!/bin/sh
# The peer of `gpuenv verify --files full` in run.sh: hashes the NUL-separated file list $1
# with $2 sha256sum processes at a time, 256 files each.
exec xargs -0 -P "$2" -n 256 sha256sum < "$1" > /dev/null
