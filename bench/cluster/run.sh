#!/usr/bin/env bash
# The full cluster run of issue #18 §1 (crates/atelier/tests/api/cluster_run.rs at full scale):
# PostgreSQL + S3, two API nodes and two workers on loopback; a few hundred thumbnail, animate,
# photo3d, studio import and train jobs (every sixth canceled), three drawing rooms of eight
# pusher-js clients; kill -9 of a worker (while it trains a detector), SIGTERM of the other, PostgreSQL cut off for 3 s, kill -9 of an API node. Prints
# the figures line (jobs, strokes, clients, faults, losses). See README.md.
#
#   bench/cluster/run.sh            the full run (ATELIER_CLUSTER_FULL=1)
#   SHORT=1 bench/cluster/run.sh    the CI variant
#
# Needs what .ci/run provides: ATELIER_TEST_POSTGRES_URL and ATELIER_TEST_S3 (PostgreSQL and an
# S3-compatible store), node, and `npm ci --prefix crates/atelier/tests/node`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
: "${ATELIER_TEST_POSTGRES_URL:?set ATELIER_TEST_POSTGRES_URL (PostgreSQL, as .ci/run does)}"
: "${ATELIER_TEST_S3:?set ATELIER_TEST_S3 (an S3-compatible store, as .ci/run does)}"
if [ -z "${SHORT:-}" ]; then export ATELIER_CLUSTER_FULL=1; fi
export ATELIER_TEST_REQUIRE_SCALED=1 ATELIER_REQUIRE_NODE=1
cargo test --release -q -p atelier --test api --no-run
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(date -u +%FT%TZ)"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
if ! cargo test --release -q -p atelier --test api -- --exact \
  cluster_run::a_cluster_under_faults_loses_no_job_no_file_and_no_stroke --nocapture >"$LOG" 2>&1; then
  tail -n 200 "$LOG"
  echo "the cluster run FAILED"
  exit 1
fi
grep -E '^(cluster run|kill -9|SIGTERM|PostgreSQL cut|drawing stopped|every job)' "$LOG" || true
grep '^cluster figures' "$LOG" | sed 's/ | /\n  /g'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
