#!/bin/sh
# run.sh - `make bench`: every benchmark in turn; paste the output into
# docs/BENCHMARKS.md with the date and machine.
set -eu
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(uname -srm), $(date -u +%Y-%m-%d)"
sh bench/bench_plan.sh
