#!/bin/sh
# A simulated fleet node for `make bench`: answers `gpuenv list --json` after 100 ms with a
# saved inventory ($1 is the host, $2 the remote gpuenv; the saved answer is $FLEET_ANSWER).
sleep 0.1
exec cat "$FLEET_ANSWER"
