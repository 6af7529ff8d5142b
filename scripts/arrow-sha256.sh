#!/bin/bash
# usage: scripts/arrow-sha256.sh CHECKOUT OUTFILE
# The sha256 and size of events.arrow for every bundled workload (and the ping-pong x100), as
# CHECKOUT's built dist/ records them. Run it on two builds and diff the outputs to check that a
# change to the recorder leaves the log's bytes as they were (issue #16 item 1).
set -euo pipefail
cd "$1"
out=$(realpath -m "$2")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/arrow-sha-XXXX")
trap 'rm -rf "$tmp"' EXIT
: > "$out"
for f in workloads/*.yaml; do
  n=$(basename "$f" .yaml)
  node dist/src/cli.js run "$f" --sink arrow --out "$tmp/$n" > /dev/null 2>&1 || true
  echo "$n $(sha256sum < "$tmp/$n/events.arrow" | cut -c1-64) $(stat -c %s "$tmp/$n/events.arrow")" >> "$out"
done
node dist/src/cli.js run workloads/atomic-ping-pong.yaml --sink arrow --out "$tmp/pp100" \
  --set threads.cpu0.pattern.count=100 --set threads.gpu0.pattern.count=100 > /dev/null 2>&1 || true
echo "atomic-ping-pong-x100 $(sha256sum < "$tmp/pp100/events.arrow" | cut -c1-64) $(stat -c %s "$tmp/pp100/events.arrow")" >> "$out"
