#!/usr/bin/env bash
# Idle cost of `mltop --demo` in a 200x50 terminal: CPU % of one core and bytes written to the
# terminal per second, over MEASURE_SECS (default 60) after WARMUP_SECS (default 10).
#
#   bash benches/idle.sh                      # build release, then measure (about 80 s)
#   SKIP_BUILD=1 MEASURE_SECS=20 bash benches/idle.sh
#
# Three fresh instances run side by side, each in its own 200x50 pane of a private tmux server,
# so they see the same stretch of the (seed-deterministic) demo story:
#   overview  `mltop --demo`, left on the overview: the headline figure;
#   help      `mltop --demo` with the help overlay open (`?` pressed at start);
#   split     the same world as two processes: `mltop demo --write-config F` (the simulated
#             model server alone, headless) and `mltop --config F` (the console alone), to
#             show what each half costs.
# In `--demo` the simulated model server runs inside the mltop process (it computes lazily,
# when scraped every 2 s), so the overview and help figures include it.
#
# How: each console runs under `script -q -f`, which copies every byte the console writes to
# its terminal into a log file: the file's growth is the bytes written to the terminal. Every
# frame is wrapped in a synchronized update (ESC [ ? 2026 h), counted as frames. CPU time is
# utime + stime of the process from /proc/PID/stat (all its threads, clock ticks / CLK_TCK),
# read before and after. tmux and script themselves are not counted.
# Goals (docs/performance.md): ≤ 0.5 % of one core; bytes/s small.
set -euo pipefail

MEASURE_SECS=${MEASURE_SECS:-60}
WARMUP_SECS=${WARMUP_SECS:-10}
COLS=200
ROWS=50

cd "$(dirname "$0")/.."
for tool in tmux script getconf awk; do
  command -v "$tool" >/dev/null || {
    echo "idle.sh: needs $tool (apt-get install tmux util-linux)" >&2
    exit 2
  }
done

if [[ -z ${SKIP_BUILD:-} ]]; then
  echo "building the release binary (cargo build --release --bin mltop)..."
  cargo build --release --bin mltop
fi
BIN=$(pwd)/target/release/mltop
[[ -x $BIN ]] || { echo "idle.sh: no $BIN" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mltop-idle.XXXXXX")
SOCK=mltop-idle-$$
CLK_TCK=$(getconf CLK_TCK)
SERVER_PID=

cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

tm() { tmux -L "$SOCK" "$@"; }

# The process named mltop under a pane: breadth-first over /proc children.
find_mltop() {
  local pids=("$1") p c
  while ((${#pids[@]})); do
    p=${pids[0]}
    pids=("${pids[@]:1}")
    if [[ $(cat "/proc/$p/comm" 2>/dev/null) == mltop ]]; then
      echo "$p"
      return 0
    fi
    # children files hold space-separated pids: words, not lines.
    # shellcheck disable=SC2013
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do pids+=("$c"); done
  done
  return 1
}

# start NAME COMMAND...: a 200x50 session running COMMAND under script; prints mltop's pid.
start() {
  local name=$1 pane pid='' _
  shift
  mkdir -p "$WORK/$name"
  # mltop's log goes to WORK, not the user's state dir.
  tm -f /dev/null new-session -d -s "$name" -x "$COLS" -y "$ROWS" \
    "env MLTOP_LOG_DIR='$WORK/$name' script -q -f -c '$*' '$WORK/$name/tty.log'"
  pane=$(tm display-message -p -t "$name" '#{pane_pid}')
  for _ in $(seq 100); do
    pid=$(find_mltop "$pane" || true)
    [[ -n $pid ]] && break
    sleep 0.1
  done
  [[ -n $pid ]] || { echo "idle.sh: $name: mltop did not start" >&2; exit 1; }
  echo "$pid"
}

# The headless demo model server for the split case, as a process of its own.
mkdir -p "$WORK/server"
MLTOP_LOG_DIR=$WORK/server "$BIN" demo --write-config "$WORK/server/demo.toml" \
  </dev/null >"$WORK/server/out.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  [[ -s $WORK/server/demo.toml ]] && break
  sleep 0.1
done
[[ -s $WORK/server/demo.toml ]] || { echo "idle.sh: mltop demo did not start" >&2; exit 1; }

OVERVIEW=$(start overview "$BIN" --demo)
HELP=$(start help "$BIN" --demo)
SPLIT=$(start split "$BIN" --config "$WORK/server/demo.toml")
sleep 1
tm send-keys -t help '?'
echo "panes: $(tm display-message -p -t overview '#{window_width}x#{window_height}');" \
  "mltop pids: overview $OVERVIEW, help $HELP, split console $SPLIT + server $SERVER_PID"
echo "warming up ${WARMUP_SECS}s..."
sleep "$WARMUP_SECS"

# utime + stime of a whole process (every thread), in clock ticks.
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || { echo "idle.sh: process $1 exited" >&2; exit 1; }
  # Fields after "pid (comm) ": state is the 1st, utime the 12th, stime the 13th.
  awk '{print $12 + $13}' <<<"${stat##*) }"
}
bytes() { stat -c %s "$WORK/$1/tty.log"; }

declare -A C0 B0
for s in overview help split; do B0[$s]=$(bytes "$s"); done
for p in "$OVERVIEW" "$HELP" "$SPLIT" "$SERVER_PID"; do C0[$p]=$(cpu_ticks "$p"); done
T0=$(date +%s.%N)
echo "measuring ${MEASURE_SECS}s..."
sleep "$MEASURE_SECS"
T1=$(date +%s.%N)
declare -A C1 B1
for p in "$OVERVIEW" "$HELP" "$SPLIT" "$SERVER_PID"; do C1[$p]=$(cpu_ticks "$p"); done
for s in overview help split; do B1[$s]=$(bytes "$s"); done

# report LABEL PID [SESSION]: CPU of PID; bytes and frames written by SESSION's console.
report() {
  local label=$1 pid=$2 s=${3:-} b=0 f=0
  if [[ -n $s ]]; then
    b=$((B1[$s] - B0[$s]))
    f=$(tail -c +"$((B0[$s] + 1))" "$WORK/$s/tty.log" | head -c "$b" |
      grep -a -o $'\e\\[?2026h' | wc -l)
  fi
  awk -v l="$label" -v c="$((C1[$pid] - C0[$pid]))" -v hz="$CLK_TCK" -v t0="$T0" -v t1="$T1" \
    -v b="$b" -v f="$f" -v term="$s" 'BEGIN {
      wall = t1 - t0; cpu = c / hz
      printf "%-34s CPU %6.2f s = %6.3f %% of one core", l, cpu, 100 * cpu / wall
      if (term != "") printf "; %7.0f bytes/s to the terminal; %.2f frames/s", b / wall, f / wall
      printf "\n"
    }'
}

echo "over $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s at ${COLS}x${ROWS}:"
report "mltop --demo, overview" "$OVERVIEW" overview
report "mltop --demo, help overlay open" "$HELP" help
report "split: console (mltop --config)" "$SPLIT" split
report "split: model server (mltop demo)" "$SERVER_PID"

if tm capture-pane -p -t help | grep -q 'Quit, from anywhere'; then
  echo "(help overlay was on screen)"
else
  echo "idle.sh: warning: the help overlay was not on screen" >&2
fi
echo "overview screen at the end (first 2 lines):"
tm capture-pane -p -t overview | head -2
for s in overview help split server; do
  if grep -q -E ' (WARN|ERROR) ' "$WORK/$s/mltop.log" 2>/dev/null; then
    echo "$s logged warnings:"
    grep -E ' (WARN|ERROR) ' "$WORK/$s/mltop.log" | head -3
  fi
done
for s in overview help split; do tm send-keys -t "$s" q; done
sleep 0.5
