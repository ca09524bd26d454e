#!/usr/bin/env bash
# The classify benchmark: the seed's design (Flask + PyTorch DenseNet-121, Flask's dev server and
# gunicorn with 2 workers) against atelier (POST / and POST /api/v1/classify), over HTTP on
# loopback, with wrk at several concurrencies. See README.md. Not a test; not run by CI.
#
#   bench/classify/run.sh                 everything (sets up the venv and the model on first run)
#   SIDES="flask gunicorn" bench/classify/run.sh    the seed's design only (SIDES=atelier: atelier)
#
# Settings (environment): BENCH_WORK (venv, model, logs, results; outside the repository),
# BENCH_VENV, ATELIER_BIN, DURATION (s, default 20), WARMUP (s, 5), REPEATS (3),
# CONCS ("1 8 32"), FLASK_TORCH_THREADS (2), GUNICORN_TORCH_THREADS (1 per worker),
# QUIET_WAIT (s, 60), BUSY_PATTERN (compilers to wait for), BENCH_NICE (0; see below).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${BENCH_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/atelier-bench-classify}
VENV=${BENCH_VENV:-$WORK/venv}
ATELIER=${ATELIER_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/atelier}
DURATION=${DURATION:-20} WARMUP=${WARMUP:-5} REPEATS=${REPEATS:-3} CONCS=${CONCS:-"1 8 32"}
SIDES=${SIDES:-"flask gunicorn atelier"}
QUIET_WAIT=${QUIET_WAIT:-60} BENCH_NICE=${BENCH_NICE:-0} BUSY_PATTERN=${BUSY_PATTERN:-"rustc|cargo|clippy-driver|cc1|cc1plus|ld"}
FLASK_TORCH_THREADS=${FLASK_TORCH_THREADS:-2} GUNICORN_TORCH_THREADS=${GUNICORN_TORCH_THREADS:-1}
MODEL_DIR=$WORK/model IMAGE=$WORK/model/chelsea.jpg
OUT=$WORK/results/$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results.jsonl

# ---------------------------------------------------------------------------------------------
# atelier's command lines: the only place that knows atelier's CLI. atelier's data folder, with
# its model cache (the imported DenseNet-121, EfficientNet-Lite0 and the ONNX Runtime library,
# downloaded on first use), is kept in $WORK so the benchmark leaves the user's ./data alone.
ATELIER_DATA=$WORK/atelier-data
ATELIER_DENSENET=densenet121          # the name DenseNet-121 is imported under
ATELIER_DEFAULT=efficientnet-lite0    # atelier's default classifier, run for the record
atelier_import_densenet() {           # $1 = the ONNX file; must succeed if already imported
  "$ATELIER" models list --data-dir "$ATELIER_DATA" | grep -qw "^$ATELIER_DENSENET" && return 0
  "$ATELIER" models import "$1" --name "$ATELIER_DENSENET" --labels imagenet --data-dir "$ATELIER_DATA"
}
atelier_serve() {                     # $1 = port; runs in the foreground
  exec "$ATELIER" serve --bind "127.0.0.1:$1" --data-dir "$ATELIER_DATA"
}
# The benchmarked endpoints: "name  path  model" (the model goes in the form field `model`).
ATELIER_ENDPOINTS="atelier-root-densenet121 / $ATELIER_DENSENET
atelier-api-densenet121 /api/v1/classify $ATELIER_DENSENET
atelier-api-efficientnet-lite0 /api/v1/classify $ATELIER_DEFAULT"
# ---------------------------------------------------------------------------------------------

# On a shared machine, BENCH_NICE=-10 (as root) gives the benchmark priority over other work: the
# script re-runs itself in a new session, so in its own scheduler autogroup (Linux shares the CPU
# fairly between autogroups whatever the nice values inside them), and renices itself and that
# group; the servers, wrk and curl inherit it. The group disappears with the session.
if [[ $BENCH_NICE != 0 && -z ${BENCH_SESSION:-} ]]; then
  BENCH_SESSION=1 exec setsid --wait "$0" "$@"
fi
if [[ $BENCH_NICE != 0 ]]; then
  renice -n "$BENCH_NICE" -p $$ >/dev/null
  if [[ -w /proc/$$/autogroup ]]; then echo "$BENCH_NICE" >"/proc/$$/autogroup"; fi
fi

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

setup() {
  command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }
  if [[ ! -x $VENV/bin/gunicorn ]]; then
    log "creating the venv $VENV (PyPI's torch is the CUDA build: ~4.5 GB, several minutes)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 flask==3.1.3 gunicorn==27.0.1 \
      pillow==13.0.0 onnx==1.23.2 onnxruntime==1.31.1 scikit-image==0.26.0
  fi
  if [[ ! -f $MODEL_DIR/densenet121.onnx || ! -f $IMAGE ]]; then
    log "exporting DenseNet-121 (fixed random weights) to $MODEL_DIR"
    "$VENV/bin/python" "$HERE/export_model.py" "$MODEL_DIR"
  fi
  mkdir -p "$OUT"
}

SERVER_PID=
start() {   # $1 = name, then the command; sets SERVER_PID
  local name=$1; shift
  log "starting $name: $*"
  "$@" >"$OUT/$name.log" 2>&1 &
  SERVER_PID=$!
}
stop() {
  [[ -n $SERVER_PID ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
trap stop EXIT

classify_once() {   # $1 = url, $2 = model (may be empty); prints the answer, fails unless 200
  curl -sS -f --max-time 60 -F "file=@$IMAGE" ${2:+-F "model=$2"} "$1"
}
wait_ready() {      # $1 = url, $2 = model, $3 = seconds
  local deadline=$((SECONDS + $3))
  until answer=$(classify_once "$1" "$2" 2>/dev/null); do
    kill -0 "$SERVER_PID" 2>/dev/null || { log "server died, see $OUT"; return 1; }
    ((SECONDS < deadline)) || { log "not ready after $3 s: $1"; return 1; }
    sleep 1
  done
  log "ready: $answer"
}

# Other CPU-heavy work (a cargo build on this 2-core machine) ruins the figures: wait up to
# QUIET_WAIT seconds for compilers to end before each run, and record for each run the CPU that
# processes other than the server used meanwhile ("others", in cores; wrk's own share included).
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT))
  while ps -e -o comm= | grep -qxE "$BUSY_PATTERN" && ((SECONDS < deadline)); do sleep 5; done
}
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
server_jiffies() {  # CPU of the server and its descendants
  local pid
  for pid in $(ps -e -o pid=,ppid= | awk -v root="$SERVER_PID" '{up[$1] = $2}
      END {for (p in up) {x = p; while (x > 1 && x != root) x = up[x]; if (x == root) print p}}'); do
    awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null || true
  done | awk '{s += $1} END {print s + 0}'
}

load() {            # $1 = name, $2 = url, $3 = model
  local conc rep line sys0 srv0 others
  for conc in $CONCS; do
    for rep in $(seq "$REPEATS"); do
      wait_quiet
      timeout $((WARMUP + 60)) wrk -t1 -c"$conc" -d"${WARMUP}s" --timeout 120s \
        -s "$HERE/multipart.lua" "$2" -- "$IMAGE" "$3" >/dev/null
      sys0=$(busy_jiffies) srv0=$(server_jiffies)
      line=$(timeout $((DURATION + 150)) wrk -t1 -c"$conc" -d"${DURATION}s" --timeout 120s \
        -s "$HERE/multipart.lua" "$2" -- "$IMAGE" "$3" | grep '^{')
      others=$(( ($(busy_jiffies) - sys0) - ($(server_jiffies) - srv0) ))
      line="{\"server\": \"$1\", \"conc\": $conc, \"rep\": $rep, ${line#\{}"
      line="${line%\}}, \"others_cpu\": $(awk -v j="$others" -v hz="$(getconf CLK_TCK)" \
        -v d="$DURATION" 'BEGIN {printf "%.2f", j / hz / d}')}"
      log "$line"
      echo "$line" >>"$RESULTS"
    done
  done
}

SEED_ENV=(env PYTHONDONTWRITEBYTECODE=1 SEED_WEIGHTS="$MODEL_DIR/densenet121.pt"
  SEED_CLASS_INDEX="$REPO/crates/classify/data/imagenet_class_index.json")

flask_side() {      # the seed as it ran: Flask's dev server (threaded)
  local name=seed-flask-dev-${FLASK_TORCH_THREADS}t port
  port=$(free_port)
  start "$name" "${SEED_ENV[@]}" TORCH_THREADS="$FLASK_TORCH_THREADS" \
    "$VENV/bin/python" "$HERE/seed_server.py" 127.0.0.1 "$port"
  wait_ready "http://127.0.0.1:$port/" "" 120
  load "$name" "http://127.0.0.1:$port/" ""
  stop
}

gunicorn_side() {   # the same app under gunicorn, 2 sync workers
  local name=seed-gunicorn-2x${GUNICORN_TORCH_THREADS}t port
  port=$(free_port)
  start "$name" "${SEED_ENV[@]}" TORCH_THREADS="$GUNICORN_TORCH_THREADS" \
    "$VENV/bin/gunicorn" -w 2 -b "127.0.0.1:$port" --chdir "$HERE" seed_server:app
  wait_ready "http://127.0.0.1:$port/" "" 120
  load "$name" "http://127.0.0.1:$port/" ""
  stop
}

atelier_side() {
  [[ -x $ATELIER ]] || { log "no atelier binary at $ATELIER (cargo build --release)"; return 1; }
  atelier_import_densenet "$MODEL_DIR/densenet121.onnx"
  local port endpoints endpoint name path model
  mapfile -t endpoints <<<"$ATELIER_ENDPOINTS"
  port=$(free_port)
  start atelier atelier_serve "$port"
  # The first start may provision ONNX Runtime and the default model (downloads, once).
  for endpoint in "${endpoints[@]}"; do
    read -r name path model <<<"$endpoint"
    wait_ready "http://127.0.0.1:$port$path" "$model" 300
  done
  for endpoint in "${endpoints[@]}"; do
    read -r name path model <<<"$endpoint"
    load "$name" "http://127.0.0.1:$port$path" "$model"
  done
  stop
}

setup
{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "runs: ${DURATION}s after ${WARMUP}s warm-up, $REPEATS repeats, concurrency $CONCS, image $IMAGE"
  echo "seed: torch threads flask-dev=$FLASK_TORCH_THREADS, gunicorn=2 workers x $GUNICORN_TORCH_THREADS"
  echo "nice: $BENCH_NICE ($(cat /proc/$$/autogroup 2>/dev/null)); atelier: $("$ATELIER" --version 2>/dev/null || echo none)"
} | tee "$OUT/setup.txt"
for side in $SIDES; do "${side}_side"; done
python3 "$HERE/summarize.py" "$RESULTS" | tee "$OUT/table.txt"
log "results in $OUT"
