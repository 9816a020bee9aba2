#!/usr/bin/env bash
# Replicated-volume benchmark on a 3-host testbed: recovery point under a steady write load,
# failover with data, planned-move downtime, the writers' pause per snapshot, the agent's CPU
# and memory per replicated volume, and the same increments shipped by restic and rsync.
# Prints figures with the goals next to them; no pass/fail beyond sanity (it says so loudly
# when data is missing after a failover or a stateful copy ran twice).
#
#   sudo bash bench/volumes.sh
#
# Setup: `testbed up 3` with ROOST_LOG=info,roost_agent::volumes=debug (so each primary round
# logs "snapshot shipped" with took_ms, capture -> shipped, and paused_ms, the writers' freeze).
# h1 makes a cluster token and deploys the stack alone (a one-node cluster takes no snapshots):
# one stateful service `store` (roost-test/app: scripts/app-image/notes.py, the SQLite writer,
# on port 8000 behind the ingress as vol.lan, healthcheck every 1 s) with the named volume
# `data` on default x-roost settings (interval 10 s, consistency pause). A thread in the same
# container fills data/files with BENCH_FILES (10 000) files of 100 KiB from os.urandom (1 GB),
# then rewrites BENCH_CHURN_FILES (10) random ones every second (1 MB/s) for the whole run.
# Then h2 and h3 join: the first snapshot is the full copy (timed: join -> both standbys hold it).
#
# 1. RPO: once both standbys hold a snapshot, `roost volume ls --json` is sampled every second
#    for BENCH_RPO_SECONDS (75): rpo_s (now - capture time of the newest snapshot a standby
#    holds; whole seconds, rounded down). Goal p95 <= 15 s.
# 4. Pause: paused_ms of the primary's "snapshot shipped" lines during that window.
# 5. CPU and memory: utime+stime (/proc/PID/stat) of the primary's and a standby's agent
#    process over the window, as % of one core; VmRSS before the deploy and during the load.
# 3. Planned moves: `roost move volbench/store NODE` while a writer POSTs a row every 100 ms
#    through the third host's ingress; downtime = the longest gap between acknowledged writes,
#    then every acknowledged row must be in the database (0 lost). BENCH_MOVES (3) trials, plus
#    the moves that steer the failover trials (all reported).
# 2. Failover: BENCH_TRIALS (3) crashes (`testbed crash`: one kill -9 of the host's agent,
#    engine and containers) of the service's host while it is the Raft leader, and as many while
#    it is a follower (steered there with `roost move`). Before each: a marker row is written and
#    the script waits until both standbys hold a snapshot taken after it; a writer runs from
#    BENCH_WRITER_LEAD (12) s before the crash on. Time from the crash (the agent's death, polled every 5 ms: the command itself
#    first scans /proc, which takes a while) until a survivor's `roost ps --json` (polled back
#    to back on its unix socket) shows the service ready (running + healthy) on another node,
#    then the data is
#    checked: every marker row present, the volume's file count on the new host, SQLite's
#    integrity_check, acknowledged rows lost (and how many seconds of writes they were), and
#    what `roost ps` says it started from. The host is revived and the cluster must settle
#    (3 nodes, one leader, the service ready) before the next trial. Goal p95 < 5 s. All 3
#    engines are sampled every 100 ms during moves and crashes: two copies running at once
#    (the overlap) must never happen.
# 6. Peers: the volume's tree as it was at the end of the RPO window is copied to the host
#    (outside the cluster, after the stack is down) and BENCH_INCREMENTS (6) increments of the
#    same change rate (100 files of 100 KiB rewritten = 10 s at 1 MB/s) are shipped by
#    (a) `restic backup` into a local repository + `restic restore latest` into a second
#    (empty) directory, (b) `rsync -a --delete` to a second directory; each timed, and set
#    against roost's per-increment figures from the RPO window (took_ms, and capture -> the
#    slower standby's "standby copy restored" line).
#
# Bounded: every wait has a deadline, every loop a count; trials are skipped when the time
# budget runs short (the output says so); a watchdog aborts (and cleans up) after
# BENCH_MAX_SECONDS (1080). The trap always tears the testbed down and removes the copies.
# Refuses to run (exit 2, touching nothing) while another testbed is up.
# Needs: roost-test/app:latest in the main engine (scripts/build-app-image.sh), restic and
# rsync (apt-get install -y restic rsync), jq, curl, python3.
# Output: a table on stdout, also written to bench/results/volumes-latest.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB="$REPO/testbed/testbed"
export ROOST_BIN=${ROOST_BIN:-$REPO/target/release/roost}
export TESTBED_DIR=${TESTBED_DIR:-/tmp/roost-testbed-bench}
export TESTBED_QUIET=1
# The agents inherit it from `testbed up`: the primary logs every round's figures.
export ROOST_LOG=${BENCH_ROOST_LOG:-info,roost_agent::volumes=debug}
RESULTS=${BENCH_RESULTS:-$REPO/bench/results/volumes-latest.txt}
TRIALS=${BENCH_TRIALS:-3}          # crash trials per kind (leader host, follower host)
MOVES=${BENCH_MOVES:-3}            # planned moves at least (steering moves add to them)
RPO_SECONDS=${BENCH_RPO_SECONDS:-75}
INCREMENTS=${BENCH_INCREMENTS:-6}
NFILES=${BENCH_FILES:-10000}
CHURN=${BENCH_CHURN_FILES:-10}     # files of 100 KiB rewritten per second
MAX_SECONDS=${BENCH_MAX_SECONDS:-1080}
# No new failover or move trial after this (s since start): the rest is for the peers.
TRIALS_DEADLINE=${BENCH_TRIALS_DEADLINE:-$((MAX_SECONDS - 240))}
STACK=volbench
SVC=store
VOL=data
VNAME=${STACK}_${VOL}
ROUTE=vol.lan
IMAGE=roost-test/app:latest
KIB=100
WRITER_LEAD=${BENCH_WRITER_LEAD:-12}

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
testbed_preflight
for c in curl restic rsync python3; do command -v "$c" >/dev/null || die "$c is needed (apt-get install -y $c)"; done
"$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || die "$IMAGE is missing in the main engine: bash scripts/build-app-image.sh"

bench_state volumes
WRITER_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM ERR
  set +e
  touch "$TMP/writer.stop" 2>/dev/null
  stop_job "$WRITER_PID"
  stop_job "$SAMPLER_PID"
  stop_job "$WATCHDOG_PID"
  testbed_teardown "$rc" || rc=1
  rm -rf "$TMP"
  exit "$rc"
}
bench_traps

# --- binary and testbed --------------------------------------------------------------------------
testbed_up3 180
rt() { local s=$1 h=$2; shift 2; timeout "$s" "$ROOST_BIN" --host "${SOCK[$h]}" "$@"; } # SECONDS H ARGS
third() { local i; for i in 1 2 3; do [ "$i" != "$1" ] && [ "$i" != "$2" ] && echo "$i"; done; return 0; } # A B -> the third
addr() { echo "10.77.0.$((10 + $1))"; }
agent_pid() { tr -dc '0-9' <"$TESTBED_DIR/h$1/agent.pid"; }
# The time (µs, to OUT) a process is gone or a zombie, polled every 5 ms for 60 s at most.
death_watch() { # PID OUT
  local p=$1 n=0 st
  while [ "$n" -lt 12000 ]; do
    n=$((n + 1))
    st=Z
    { read -r _ _ st _ <"/proc/$p/stat"; } 2>/dev/null || st=Z
    [ "$st" = Z ] && { now_us >"$2"; return 0; }
    sleep 0.005
  done
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; } # PID -> utime+stime
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mountpoint_of() { dk "$1" volume inspect -f '{{.Mountpoint}}' "$VNAME" 2>/dev/null; }
HZ=$(getconf CLK_TCK)

# --- percentiles -----------------------------------------------------------------------------------
sumof() { awk '{ s += $1 } END { printf "%.3f\n", s }'; }

# --- the engine sampler (as bench/failover.sh) -----------------------------------------------------
RFILTER="{\"label\":[\"io.roost.stack=$STACK\",\"io.roost.service=$SVC\"],\"status\":[\"running\"]}"

# --- the writer: a row every 100 ms through one host's ingress --------------------------------------
# Lines "id t_us ok" (ok 1 = acknowledged "ok" after the commit, 0 = failed or timed out).
writer_loop() { # VIA FIRST_ID OUT MAXN
  local via=$1 id=$2 out=$3 max=$4 n=0 t a next url
  url="http://$(addr "$via")/rows?id="
  while [ "$n" -lt "$max" ] && [ ! -e "$TMP/writer.stop" ]; do
    n=$((n + 1))
    t=${EPOCHREALTIME/./}
    a=$(curl -s -m 2 -X POST -H "Host: $ROUTE" "$url$id" 2>/dev/null) || a=""
    if [ "$a" = ok ]; then echo "$id ${EPOCHREALTIME/./} 1" >>"$out"; else echo "$id ${EPOCHREALTIME/./} 0" >>"$out"; fi
    id=$((id + 1))
    next=$(( t + 100000 - ${EPOCHREALTIME/./} ))
    [ "$next" -gt 0 ] && sleep "$(printf '0.%06d' "$next")"
  done
}
writer_start() { # VIA FIRST_ID OUT
  rm -f "$TMP/writer.stop"
  : >"$3"
  writer_loop "$1" "$2" "$3" 2400 </dev/null &
  WRITER_PID=$!
}
writer_stop() {
  touch "$TMP/writer.stop"
  if [ -n "$WRITER_PID" ]; then wait "$WRITER_PID" 2>/dev/null || true; fi
  WRITER_PID=""
}
post_row() { # VIA ID -> 0 if acknowledged
  [ "$(curl -s -m 3 -X POST -H "Host: $ROUTE" "http://$(addr "$1")/rows?id=$2" 2>/dev/null)" = ok ]
}
rows_of() { # VIA -> every id the database holds, one a line, sorted (fails without an answer)
  local body
  body=$(curl -s -f -m 10 -H "Host: $ROUTE" "http://$(addr "$1")/rows" 2>/dev/null) || return 1
  tr ',' '\n' <<<"$body" | sed '/^$/d' | sort
}
check_db() { curl -s -m 10 -H "Host: $ROUTE" "http://$(addr "$1")/check" 2>/dev/null || echo "no answer"; }

# The volume as host H sees it: "state primary rpo_s n_standbys node1 age1 snap1 node2 age2 snap2"
# (- or -1 where null).
vol_row() {
  r "$1" volume ls --json 2>/dev/null | jq -r --arg v "$VNAME" '.[] | select(.docker_name == $v) |
    [.state, (.primary // "-"), (.rpo_s // -1), (.standbys | length),
     (.standbys[0].node // "-"), (.standbys[0].age_s // -1), (.standbys[0].snapshot // "-"),
     (.standbys[1].node // "-"), (.standbys[1].age_s // -1), (.standbys[1].snapshot // "-")] | @tsv' 2>/dev/null | head -n 1
}
# Whether both standbys of the volume (seen from H) hold a snapshot captured after T_US and the
# primary is PRIMARY: age_s is rounded down, so taken > now - age - 1 s.
fresh_after() { # H T_US PRIMARY
  local st p rpo n a1 a2 lim
  read -r st p rpo n _ a1 _ _ a2 _ < <(vol_row "$1") || return 1
  lim=$(( ($(now_us) - $2) / 1000000 - 1 ))
  [ "$st" = replicated ] && [ "$p" = "$3" ] && [ "$n" = 2 ] && [ "$a1" -ge 0 ] && [ "$a2" -ge 0 ] &&
    [ "$a1" -le "$lim" ] && [ "$a2" -le "$lim" ]
}
wait_fresh_after() { # SECONDS H T_US PRIMARY
  local deadline=$(( $(elapsed) + $1 ))
  while [ "$(elapsed)" -lt "$deadline" ]; do
    fresh_after "$2" "$3" "$4" && return 0
    sleep 0.5
  done
  return 1
}


# --- the agent log: "snapshot shipped" (primary) and "standby copy restored" (standby) ---------------
# -> "t_us snapshot took_ms paused_ms" (paused_ms -1 if absent), t_us = the log line's time.
shipped_lines() { # LOGFILE...
  sed 's/\x1b\[[0-9;]*m//g' "$@" 2>/dev/null | grep "snapshot shipped" | grep "volume=$VNAME" |
    awk '{ s = "-"; t = -1; p = -1
           for (i = 2; i <= NF; i++) { split($i, kv, "=")
             if (kv[1] == "snapshot") s = kv[2]; else if (kv[1] == "took_ms") t = kv[2]; else if (kv[1] == "paused_ms") p = kv[2] }
           print $1, s, t, p }' >"$TMP/shipped.raw" || true
  [ -s "$TMP/shipped.raw" ] || return 0
  paste -d ' ' <(cut -d ' ' -f 1 "$TMP/shipped.raw" | date -f - +%s%6N) <(cut -d ' ' -f 2- "$TMP/shipped.raw")
}
restored_lines() { # LOGFILE -> "t_us snapshot"
  sed 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null | grep "standby copy restored" | grep "volume=$VNAME" |
    awk '{ s = "-"; for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "snapshot") s = kv[2] }; print $1, s }' >"$TMP/restored.raw" || true
  [ -s "$TMP/restored.raw" ] || return 0
  paste -d ' ' <(cut -d ' ' -f 1 "$TMP/restored.raw" | date -f - +%s%6N) <(cut -d ' ' -f 2 "$TMP/restored.raw")
}

# --- 0. the stack on h1 alone, filled; then the cluster ----------------------------------------------
declare -a RSS0
for i in 1 2 3; do
  p=$(agent_pid "$i")
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q ' agent --data-dir ' || die "h$i's agent pid $p is not a roost agent"
  RSS0[i]=$(rss_kb "$p")
done
TOKEN=$(r 1 token)

cat >"$TMP/stack.yaml" <<EOF
services:
  $SVC:
    image: $IMAGE
    # notes.py (the SQLite writer) plus a thread that fills /data/files once, then rewrites
    # $CHURN random files of $KIB KiB every second.
    command:
      - python3
      - -c
      - |
        import os, random, runpy, threading, time
        D, N, SZ, RATE = "/data/files", $NFILES, $KIB * 1024, $CHURN
        def churn():
            os.makedirs(D, exist_ok=True)
            done = os.path.join(D, ".complete")
            if not os.path.exists(done):
                for i in range(N):
                    with open(os.path.join(D, "f%05d" % i), "wb") as f:
                        f.write(os.urandom(SZ))
                open(done, "w").close()
            nxt = time.monotonic()
            while True:
                for _ in range(RATE):
                    with open(os.path.join(D, "f%05d" % random.randrange(N)), "wb") as f:
                        f.write(os.urandom(SZ))
                nxt += 1
                time.sleep(max(0.0, nxt - time.monotonic()))
        threading.Thread(target=churn, daemon=True).start()
        runpy.run_path("/app/notes.py", run_name="__main__")
    volumes: [$VOL:/data]
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/health')"]
      interval: 1s
    x-roost:
      routes: [{host: $ROUTE, port: 8000, tls: off}]
volumes:
  $VOL: {}
EOF
rt 90 1 up -f "$TMP/stack.yaml" -p "$STACK" --wait --wait-timeout 80 >"$TMP/up.log" 2>&1 ||
  { cat "$TMP/up.log" >&2; die "roost up of the $STACK stack on h1 failed"; }
MP1=$(mountpoint_of 1) || MP1=""
[ -n "$MP1" ] || die "no mountpoint of $VNAME on h1"
log "stack deployed on h1 (one node: no snapshots yet); filling $NFILES files of $KIB KiB"
T_FILL0=$(now_us)
deadline=$(( $(elapsed) + 180 ))
until [ -e "$MP1/files/.complete" ]; do
  [ "$(elapsed)" -lt "$deadline" ] || die "the volume was not filled within 180 s ($(find "$MP1/files" -type f 2>/dev/null | wc -l) files)"
  sleep 0.5
done
FILL_S=$(secs $(( $(now_us) - T_FILL0 )))
VOL_BYTES=$(du -sb "$MP1/files" | cut -f1)
VOL_NFILES=$(find "$MP1/files" -type f -name 'f*' | wc -l)
VOL_MB=$(( VOL_BYTES / 1000000 ))
log "filled in $FILL_S s: $VOL_NFILES files, $VOL_MB MB"

T_JOIN=$(now_us)
r 2 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || die "h2 could not join"
r 3 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || die "h3 could not join"
read -r LEADER SVCN < <(wait_settled 60) || die "the cluster did not settle (3 nodes, one leader, $SVC ready) within 60 s"
log "cluster formed: leader $LEADER, $SVC on $SVCN; waiting for the first full copy on both standbys"
wait_fresh_after 300 2 "$T_JOIN" "$SVCN" || die "the standbys did not both hold a snapshot within 300 s of the join: $(vol_row 2)"
FIRST_S=$(secs $(( $(now_us) - T_JOIN )))
log "first full copy on both standbys $FIRST_S s after the join: $(vol_row 2)"

# --- 1, 4, 5: the RPO window ---------------------------------------------------------------------------
PRIM=$SVCN
PI=${PRIM#h}
read -r _ _ _ _ SB1 _ _ SB2 _ _ < <(vol_row 2)
SI=${SB1#h}
PPID_=$(agent_pid "$PI"); SPID=$(agent_pid "$SI")
: >"$TMP/rpo.txt"; : >"$TMP/rss-p.txt"; : >"$TMP/rss-s.txt"; : >"$TMP/states.txt"
W0=$(now_us); C0P=$(cpu_ticks "$PPID_"); C0S=$(cpu_ticks "$SPID")
log "RPO window: ${RPO_SECONDS} s, one \`volume ls\` a second (primary $PRIM, standbys $SB1 $SB2)"
for ((k = 0; k < RPO_SECONDS; k++)); do
  t=$(now_us)
  read -r st _ rpo _ < <(vol_row 2) || { st=none; rpo=-1; }
  echo "$st" >>"$TMP/states.txt"
  [ "${rpo:--1}" -ge 0 ] && echo "$rpo" >>"$TMP/rpo.txt"
  rss_kb "$PPID_" >>"$TMP/rss-p.txt"; rss_kb "$SPID" >>"$TMP/rss-s.txt"
  next=$(( t + 1000000 - $(now_us) ))
  [ "$next" -gt 0 ] && sleep "$(secs "$next")"
done
W1=$(now_us); C1P=$(cpu_ticks "$PPID_"); C1S=$(cpu_ticks "$SPID")
WIN_S=$(secs $((W1 - W0)))
CPU_P=$(awk -v c=$((C1P - C0P)) -v hz="$HZ" -v w="$WIN_S" 'BEGIN { printf "%.1f", 100 * c / hz / w }')
CPU_S=$(awk -v c=$((C1S - C0S)) -v hz="$HZ" -v w="$WIN_S" 'BEGIN { printf "%.1f", 100 * c / hz / w }')
CPUSEC_P=$(awk -v c=$((C1P - C0P)) -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz }')
CPUSEC_S=$(awk -v c=$((C1S - C0S)) -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz }')
RSS_P=$(sort -n "$TMP/rss-p.txt" | tail -n 1); RSS_S=$(sort -n "$TMP/rss-s.txt" | tail -n 1)
NOT_REPL=$(grep -vc '^replicated$' "$TMP/states.txt" || true)
read -r RPO_N RPO_MIN RPO_P50 RPO_P95 RPO_MAX < <(stats <"$TMP/rpo.txt")

# The primary's rounds: the first (the full copy) and those captured in the window.
shipped_lines "$TESTBED_DIR/h$PI/agent.log" >"$TMP/shipped.txt"
restored_lines "$TESTBED_DIR/h${SB1#h}/agent.log" >"$TMP/restored1.txt"
restored_lines "$TESTBED_DIR/h${SB2#h}/agent.log" >"$TMP/restored2.txt"
read -r _ FIRST_SNAP FIRST_TOOK FIRST_PAUSED < <(head -n 1 "$TMP/shipped.txt") || { FIRST_TOOK=-1; FIRST_PAUSED=-1; FIRST_SNAP=-; }
# Rounds captured in the window (capture = line time - took_ms), with capture -> both standbys
# restored it (the later of the two "standby copy restored" lines): "t_cap took paused held_ms".
awk -v w0="$W0" -v w1="$W1" 'FILENAME == ARGV[1] { r1[$2] = $1; next } FILENAME == ARGV[2] { r2[$2] = $1; next }
     { cap = $1 - $3 * 1000; if (cap < w0 || cap > w1) next
       h = -1; if (($2 in r1) && ($2 in r2)) { h = (r1[$2] > r2[$2] ? r1[$2] : r2[$2]); h = (h - cap) / 1000 }
       printf "%.0f %s %s %s\n", cap, $3, $4, h }' "$TMP/restored1.txt" "$TMP/restored2.txt" "$TMP/shipped.txt" >"$TMP/window-rounds.txt"
FIRST_HELD=$(awk -v s="$FIRST_SNAP" -v took="$FIRST_TOOK" 'FILENAME == ARGV[1] { if ($2 == s && !a) a = $1; next }
     FILENAME == ARGV[2] { if ($2 == s && !b) b = $1; next }
     $2 == s && !done { done = 1; if (a && b) { h = (a > b ? a : b); printf "%.1f", (h - ($1 - took * 1000)) / 1e6 } }
     END { if (!done || !a || !b) printf "n/a" }' "$TMP/restored1.txt" "$TMP/restored2.txt" "$TMP/shipped.txt")
awk '$3 >= 0 { print $3 }' "$TMP/window-rounds.txt" >"$TMP/paused.txt"
awk '{ printf "%.3f\n", $2 / 1000 }' "$TMP/window-rounds.txt" >"$TMP/took.txt"
awk '$4 >= 0 { printf "%.3f\n", $4 / 1000 }' "$TMP/window-rounds.txt" >"$TMP/held.txt"
read -r PA_N PA_MIN PA_P50 PA_P95 PA_MAX < <(stats <"$TMP/paused.txt")
read -r TK_N TK_MIN TK_P50 TK_P95 TK_MAX < <(stats <"$TMP/took.txt")
read -r HD_N HD_MIN HD_P50 HD_P95 HD_MAX < <(stats <"$TMP/held.txt")
log "RPO p50 $RPO_P50 p95 $RPO_P95 max $RPO_MAX s (n=$RPO_N); pause p50 $PA_P50 ms; took p50 $TK_P50 s; CPU $CPU_P% / $CPU_S%"

# The tree for the peers, as it is now (copied while the load runs, like any live copy).
PEER="$TMP/peer"
mkdir -p "$PEER"
cp -a "$MP1/files" "$PEER/src"
log "copied the volume's tree to $PEER/src for the peers ($(du -sm "$PEER/src" | cut -f1) MB)"

# --- 2, 3: planned moves and crashes -------------------------------------------------------------------
: >"$TMP/move.txt"; : >"$TMP/move-cmd.txt"; : >"$TMP/move-raw.txt"; : >"$TMP/overlap.txt"
: >"$TMP/fo-leader.txt"; : >"$TMP/fo-follower.txt"; : >"$TMP/fo-raw.txt"; : >"$TMP/fo-lost.txt"
: >"$TMP/markers.txt"
NMOVE=0; NMOVE_LOST=0; NL=0; NF=0; NFO_BAD=0; NFO_FAIL=0; TRIALS_NOTE=""
: >"$TMP/unk.txt"; : >"$TMP/crash-cmd.txt"
NEXT_ID=1000

# Rows acknowledged by the writer (file) that the database (via VIA) does not hold -> LOST lines
# "id t_us"; sets LOST_N, ACK_N.
lost_rows() { # WRITERFILE VIA
  awk '$3 == 1 { print $1 }' "$1" | sort >"$TMP/acked.txt"
  ACK_N=$(wc -l <"$TMP/acked.txt")
  if ! rows_of "$2" >"$TMP/held-rows.txt"; then LOST_N=-1; return 1; fi
  comm -23 "$TMP/acked.txt" "$TMP/held-rows.txt" >"$TMP/lost-ids.txt"
  LOST_N=$(wc -l <"$TMP/lost-ids.txt")
  awk 'FILENAME == ARGV[1] { l[$1] = 1; next } ($1 in l) && $3 == 1 { print $1, $2 }' "$TMP/lost-ids.txt" "$1" >"$TMP/lost.txt"
}
longest_gap() { # WRITERFILE -> seconds between consecutive acknowledged writes, the longest
  awk '$3 == 1 { if (p) { d = $2 - p; if (d > m) m = d } p = $2 } END { printf "%.3f", m / 1e6 }' "$1"
}
sample_overlap() { # SAMPLEFILE -> "overlap maxcopies" (and the overlap and unanswered count to files)
  local ov mx unk
  read -r ov mx unk _ < <(overlap_of "$1")
  echo "$ov" >>"$TMP/overlap.txt"
  echo "$unk" >>"$TMP/unk.txt"
  echo "$ov $mx"
}

move_trial() { # FROM_INDEX TO_INDEX WHY
  local from=$1 to=$2 why=$3 via t0 t1 gap ov mx fails said
  via=$(third "$from" "$to")
  NMOVE=$((NMOVE + 1))
  sampler_start "$RFILTER" "$TMP/m-samp-$NMOVE.txt"
  writer_start "$via" "$NEXT_ID" "$TMP/m-writer-$NMOVE.txt"
  sleep 2
  t0=$(now_us)
  said=$(rt 130 "$via" move "$STACK/$SVC" "h$to" 2>&1) || said="FAILED: $said"
  t1=$(now_us)
  sleep 2
  writer_stop
  NEXT_ID=$(( $(tail -n 1 "$TMP/m-writer-$NMOVE.txt" | cut -d ' ' -f 1) + 100 ))
  wait_settled 30 >/dev/null || log "   move $NMOVE: not settled within 30 s"
  sleep 0.5
  sampler_stop
  read -r ov mx < <(sample_overlap "$TMP/m-samp-$NMOVE.txt")
  gap=$(longest_gap "$TMP/m-writer-$NMOVE.txt")
  fails=$(awk '$3 == 0' "$TMP/m-writer-$NMOVE.txt" | wc -l)
  lost_rows "$TMP/m-writer-$NMOVE.txt" "$via" || true
  [ "$LOST_N" != 0 ] && NMOVE_LOST=$((NMOVE_LOST + 1))
  echo "$gap" >>"$TMP/move.txt"
  secs $((t1 - t0)) >>"$TMP/move-cmd.txt"
  echo "h$from->h$to($why) down=${gap}s cmd=$(secs $((t1 - t0)))s acked=$ACK_N lost=$LOST_N failed_writes=$fails overlap=$ov" >>"$TMP/move-raw.txt"
  log "   move $NMOVE ($why): h$from -> h$to: writes down ${gap} s (longest gap between acks), \`roost move\` took $(secs $((t1 - t0))) s" \
    "[$(tail -n 1 <<<"$said")]; $ACK_N acknowledged, $LOST_N lost, $fails failed; overlap $ov s, max copies $mx"
}

# A marker row written through VIA, then both standbys hold a snapshot taken after it.
marker() { # VIA PRIMARY_NAME
  local id=$((9000000 + NMOVE * 100 + NL + NF + 1)) t k
  for k in 1 2 3 4 5 6 7 8 9 10; do post_row "$1" "$id" && break; sleep 0.5; [ "$k" = 10 ] && return 1; done
  t=$(now_us)
  echo "$id" >>"$TMP/markers.txt"
  wait_fresh_after 45 "$1" "$t" "$2"
}

crash_trial() { # LEADER NODE (names) -> records leader/follower figures
  local l=$1 d=$2 di kind s t0 tc t1="" polls=0 deadline_us new="" ov mx nf chk note miss lostn lost_s mp wpid cpid tcmd
  di=${d#h}
  if [ "$l" = "$d" ]; then kind=leader; else kind=follower; fi
  read -r s _ <<<"$(others "$di")"
  local t=$((NL + NF + 1)) tw rest
  writer_start "$s" "$NEXT_ID" "$TMP/c-writer-$t.txt"
  tw=$(now_us)
  marker "$s" "$d" || log "   trial $t: marker not on both standbys within 45 s (trial goes on): $(vol_row "$s")"
  sampler_start "$RFILTER" "$TMP/c-samp-$t.txt"
  rm -f "$TMP/killed"
  death_watch "$(agent_pid "$di")" "$TMP/killed" </dev/null &
  wpid=$!
  sleep 1
  # The writer runs WRITER_LEAD s at least before the crash: longer than a snapshot interval and
  # a round, so the writes lost are not cut short by its start.
  rest=$(( tw + WRITER_LEAD * 1000000 - $(now_us) ))
  [ "$rest" -gt 0 ] && sleep "$(secs "$rest")"
  # The crash runs in the background: \`testbed crash\` first finds the host's processes (it
  # reads every /proc/*/cmdline), then kills them all with one kill -9, then waits for them to
  # be gone. t0 = the agent's death (polled every 5 ms); the command's start is kept too.
  tc=$(now_us)
  "$TB" crash "$d" >"$TMP/crash.log" 2>&1 &
  cpid=$!
  deadline_us=$(( tc + 60000000 ))
  poll_ready_elsewhere "$s" "$d" "$deadline_us" 6000
  t1=$T_READY; new=$NEW_NODE; polls=$POLLS
  wait "$cpid" || log "   crash $d: \`testbed crash\` failed: $(tail -n 1 "$TMP/crash.log")"
  tcmd=$(( $(now_us) - tc ))
  wait "$wpid" 2>/dev/null || true
  t0=$(cat "$TMP/killed" 2>/dev/null || echo "$tc")
  [ -s "$TMP/killed" ] || log "   crash $d: the agent's death was not seen; timing from the command's start"
  secs $(( t0 - tc )) >>"$TMP/crash-cmd.txt"
  sleep 2
  writer_stop
  NEXT_ID=$(( $(tail -n 1 "$TMP/c-writer-$t.txt" | cut -d ' ' -f 1) + 100 ))
  if [ -z "$t1" ]; then
    NFO_FAIL=$((NFO_FAIL + 1))
    log "   trial $t ($kind): crash $d: $SVC not ready elsewhere within 60 s"
    echo "$t $kind $d->none" >>"$TMP/fo-raw.txt"
  else
    secs $((t1 - t0)) >>"$TMP/fo-$kind.txt"
    # The data it started from.
    mp=$(mountpoint_of "${new#h}") || mp=""
    nf=$( [ -n "$mp" ] && find "$mp/files" -type f -name 'f*' 2>/dev/null | wc -l || echo 0)
    chk=$(check_db "$s" | head -n 1)
    note=$(r "$s" ps -p "$STACK" --json 2>/dev/null | jq -r --arg s "$SVC" '[.[] | select(.service == $s and .ready) | .note // ""] | first // ""' 2>/dev/null || echo "")
    miss="?"
    lostn=-1; lost_s=n/a
    if lost_rows "$TMP/c-writer-$t.txt" "$s"; then
      miss=$(comm -23 <(sort "$TMP/markers.txt") "$TMP/held-rows.txt" | wc -l)
      lostn=$LOST_N
      lost_s=$(awk -v t0="$t0" '$2 < t0 { d = t0 - $2; if (d > m) m = d } END { printf "%.1f", m / 1e6 }' "$TMP/lost.txt")
      echo "$lost_s" >>"$TMP/fo-lost.txt"
    fi
    if [ "$miss" != 0 ] || [ "$nf" != "$VOL_NFILES" ] || [ "$chk" != ok ]; then NFO_BAD=$((NFO_BAD + 1)); fi
    echo "$t $kind $d->$new $(secs $((t1 - t0)))s (from the command $(secs $((t1 - tc)))s, killed after $(secs $((t0 - tc)))s) markers_missing=$miss files=$nf check=$chk acked=$ACK_N lost=$lostn(${lost_s}s) note=\"$note\"" >>"$TMP/fo-raw.txt"
    log "   trial $t ($kind): crash $d: $SVC ready on $new after $(secs $((t1 - t0))) s (killed $(secs $((t0 - tc))) s into the $(secs "$tcmd") s command; $polls polls); markers missing $miss of $(wc -l <"$TMP/markers.txt")," \
      "files $nf/$VOL_NFILES, integrity_check $chk, $lostn of $ACK_N acknowledged rows lost ($lost_s s of writes); ps: $note"
  fi
  if [ "$kind" = leader ]; then NL=$((NL + 1)); else NF=$((NF + 1)); fi
  timeout 120 "$TB" revive "$d" >/dev/null 2>&1 || log "   trial $t: revive $d failed"
  wait_settled 60 >/dev/null || log "   trial $t: not settled within 60 s after the revive"
  sleep 1
  sampler_stop
  read -r ov mx < <(sample_overlap "$TMP/c-samp-$t.txt")
  [ "$mx" -ge 2 ] && log "   trial $t: TWO COPIES RAN AT ONCE (overlap $ov s)"
  return 0
}

log "trials: $MOVES planned moves at least, $TRIALS crashes of the leader's host and of a follower's"
k=0
while [ "$k" -lt $((4 * TRIALS + 2 * MOVES + 6)) ]; do
  k=$((k + 1))
  if [ "$(elapsed)" -ge "$TRIALS_DEADLINE" ]; then
    TRIALS_NOTE="time budget (${TRIALS_DEADLINE}s) reached after $NMOVE moves and $((NL + NF)) crashes"
    log "$TRIALS_NOTE"; break
  fi
  read -r LEADER SVCN < <(wait_settled 60) || { TRIALS_NOTE="cluster not settled before a trial; stopped after $NMOVE moves and $((NL + NF)) crashes"; log "$TRIALS_NOTE"; break; }
  di=${SVCN#h}; li=${LEADER#h}
  if [ "$NMOVE" -lt "$MOVES" ]; then
    # A planned move to the host with the least recent... simply the next one round.
    to=$(( di % 3 + 1 ))
    marker "$(third "$di" "$to")" "$SVCN" || log "   move: marker not on both standbys within 45 s"
    move_trial "$di" "$to" planned
    continue
  fi
  [ "$NL" -ge "$TRIALS" ] && [ "$NF" -ge "$TRIALS" ] && break
  if [ "$LEADER" = "$SVCN" ]; then KIND=leader; else KIND=follower; fi
  want=$KIND
  if [ "$KIND" = leader ] && [ "$NL" -ge "$TRIALS" ]; then want=follower; fi
  if [ "$KIND" = follower ] && [ "$NF" -ge "$TRIALS" ]; then want=leader; fi
  if [ "$want" != "$KIND" ]; then
    if [ "$want" = leader ]; then to=$li; else to=$(third "$li" "$di"); fi
    marker "$(third "$di" "$to")" "$SVCN" || log "   steer: marker not on both standbys within 45 s"
    move_trial "$di" "$to" "steer-to-$want"
    continue
  fi
  crash_trial "$LEADER" "$SVCN"
done
read -r MV_N MV_MIN MV_P50 MV_P95 MV_MAX < <(stats <"$TMP/move.txt")
read -r MC_N MC_MIN MC_P50 MC_P95 MC_MAX < <(stats <"$TMP/move-cmd.txt")
read -r FL_N FL_MIN FL_P50 FL_P95 FL_MAX < <(stats <"$TMP/fo-leader.txt")
read -r FF_N FF_MIN FF_P50 FF_P95 FF_MAX < <(stats <"$TMP/fo-follower.txt")
read -r FA_N FA_MIN FA_P50 FA_P95 FA_MAX < <(cat "$TMP/fo-leader.txt" "$TMP/fo-follower.txt" | stats)
read -r LS_N LS_MIN LS_P50 LS_P95 LS_MAX < <(stats <"$TMP/fo-lost.txt")
OVERLAP=$(maxof <"$TMP/overlap.txt")
UNK=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/unk.txt")
NSAMPLES=$(cat "$TMP"/m-samp-*.txt "$TMP"/c-samp-*.txt 2>/dev/null | wc -l)
TRIALS_S=$(elapsed)

# --- 6. the peers on the same increments --------------------------------------------------------------
log "stopping the stack; peers on the host: restic and rsync, $INCREMENTS increments"
rt 60 1 down -p "$STACK" >/dev/null 2>&1 || rt 60 2 down -p "$STACK" >/dev/null 2>&1 || log "roost down -p $STACK failed (ignored)"
export RESTIC_PASSWORD=roost-bench
RESTIC=(restic -r "$PEER/repo" --cache-dir "$PEER/cache" --quiet)
mutate() { # DIR COUNT: COUNT random files rewritten with new random data (as the container does)
  python3 - "$1" "$2" "$NFILES" "$((KIB * 1024))" <<'PY'
import os, random, sys
d, n, total, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for _ in range(n):
    with open(os.path.join(d, "f%05d" % random.randrange(total)), "wb") as f:
        f.write(os.urandom(size))
PY
}
run_timed() { local out=$1; shift; local t; t=$(now_us); "$@" >/dev/null; secs $(( $(now_us) - t )) >>"$out"; }
: >"$TMP/p-rb.txt"; : >"$TMP/p-rr.txt"; : >"$TMP/p-rs.txt"; : >"$TMP/p-rt.txt"
: >"$TMP/p-first-rb.txt"; : >"$TMP/p-first-rr.txt"; : >"$TMP/p-first-rs.txt"
sync
timeout 60 "${RESTIC[@]}" init >/dev/null
run_timed "$TMP/p-first-rb.txt" timeout 300 "${RESTIC[@]}" backup --host bench "$PEER/src"
run_timed "$TMP/p-first-rr.txt" timeout 300 "${RESTIC[@]}" restore latest --target "$PEER/restic-dst"
run_timed "$TMP/p-first-rs.txt" timeout 300 rsync -a --delete "$PEER/src/" "$PEER/rsync-dst/"
for ((k = 1; k <= INCREMENTS; k++)); do
  [ "$(elapsed)" -lt $((MAX_SECONDS - 60)) ] || { PEER_NOTE="time budget: $((k - 1)) of $INCREMENTS increments"; break; }
  mutate "$PEER/src" $((10 * CHURN))
  run_timed "$TMP/p-rb.txt" timeout 120 "${RESTIC[@]}" backup --host bench "$PEER/src"
  rm -rf "$PEER/restic-dst"
  run_timed "$TMP/p-rr.txt" timeout 120 "${RESTIC[@]}" restore latest --target "$PEER/restic-dst"
  run_timed "$TMP/p-rs.txt" timeout 120 rsync -a --delete "$PEER/src/" "$PEER/rsync-dst/"
  paste -d ' ' <(sed -n "${k}p" "$TMP/p-rb.txt") <(sed -n "${k}p" "$TMP/p-rr.txt") | awk '{ printf "%.3f\n", $1 + $2 }' >>"$TMP/p-rt.txt"
done
PEER_NOTE=${PEER_NOTE:-}
read -r RB_N RB_MIN RB_P50 RB_P95 RB_MAX < <(stats <"$TMP/p-rb.txt")
read -r RR_N RR_MIN RR_P50 RR_P95 RR_MAX < <(stats <"$TMP/p-rr.txt")
read -r RT_N RT_MIN RT_P50 RT_P95 RT_MAX < <(stats <"$TMP/p-rt.txt")
read -r RS_N RS_MIN RS_P50 RS_P95 RS_MAX < <(stats <"$TMP/p-rs.txt")
P_FIRST_RB=$(cat "$TMP/p-first-rb.txt"); P_FIRST_RR=$(cat "$TMP/p-first-rr.txt"); P_FIRST_RS=$(cat "$TMP/p-first-rs.txt")
P_FIRST_RT=$(awk -v a="$P_FIRST_RB" -v b="$P_FIRST_RR" 'BEGIN { printf "%.3f", a + b }')
FIRST_TOOK_S=$(awk -v t="$FIRST_TOOK" 'BEGIN { if (t >= 0) printf "%.3f", t / 1000; else print "n/a" }')
log "peers done: restic backup+restore p50 $RT_P50 s, rsync p50 $RS_P50 s"

# --- report ------------------------------------------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")"
row() { printf '%-60s %3s %8s %8s %8s %8s\n' "$@"; }
goal() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN { if (v == "n/a") print "n/a"; else if ((op == "<=" && v + 0 <= g) || (op == "<" && v + 0 < g)) print "met"; else print "MISSED" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
{
  echo "roost replicated-volume benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "roost $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release; working tree as built), $(nproc) cores, kernel $(uname -r),"
  echo "3 hosts on testbed/testbed (one machine: netns + own dockerd + agent each), Docker $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"
  echo "Volume: $VOL_NFILES files, $VOL_MB MB (written once in $FILL_S s), $CHURN files of $KIB KiB rewritten a second"
  echo "(~$(( CHURN * KIB * 1024 / 1000000 )) MB/s) by the service itself all run long; x-roost defaults: interval 10 s, consistency pause."
  echo "The same volume is used for every part (failover and moves too)."
  echo
  row "" "n" "p50" "p95" "min" "max"
  row "1. RPO under load, s (volume ls rpo_s, 1/s, ${WIN_S}s)" "$RPO_N" "$RPO_P50" "$RPO_P95" "$RPO_MIN" "$RPO_MAX"
  row "2. failover, crash of the leader's host -> ready, s" "$FL_N" "$FL_P50" "$FL_P95" "$FL_MIN" "$FL_MAX"
  row "2. failover, crash of a follower's host -> ready, s" "$FF_N" "$FF_P50" "$FF_P95" "$FF_MIN" "$FF_MAX"
  row "2. failover, all crashes -> ready, s" "$FA_N" "$FA_P50" "$FA_P95" "$FA_MIN" "$FA_MAX"
  row "   acknowledged writes lost by a crash, s of writes" "$LS_N" "$LS_P50" "$LS_P95" "$LS_MIN" "$LS_MAX"
  row "3. planned move: writes down (longest gap between acks), s" "$MV_N" "$MV_P50" "$MV_P95" "$MV_MIN" "$MV_MAX"
  row "   planned move: \`roost move\` until ready there, s" "$MC_N" "$MC_P50" "$MC_P95" "$MC_MIN" "$MC_MAX"
  row "4. writers paused per snapshot (paused_ms), ms" "$PA_N" "$PA_P50" "$PA_P95" "$PA_MIN" "$PA_MAX"
  row "6. roost per increment: capture -> shipped (took_ms), s" "$TK_N" "$TK_P50" "$TK_P95" "$TK_MIN" "$TK_MAX"
  row "6. roost per increment: capture -> both standbys restored, s" "$HD_N" "$HD_P50" "$HD_P95" "$HD_MIN" "$HD_MAX"
  row "6. restic backup, per increment, s" "$RB_N" "$RB_P50" "$RB_P95" "$RB_MIN" "$RB_MAX"
  row "6. restic restore latest (into an empty dir), s" "$RR_N" "$RR_P50" "$RR_P95" "$RR_MIN" "$RR_MAX"
  row "6. restic backup + restore, per increment, s" "$RT_N" "$RT_P50" "$RT_P95" "$RT_MIN" "$RT_MAX"
  row "6. rsync -a --delete, per increment, s" "$RS_N" "$RS_P50" "$RS_P95" "$RS_MIN" "$RS_MAX"
  echo
  echo "Goals:"
  printf '  %-58s %s\n' "RPO p95 <= 15 s" "$RPO_P95 s: $(goal "$RPO_P95" 15 '<=') (max $RPO_MAX s; $NOT_REPL of $RPO_SECONDS samples not 'replicated')"
  printf '  %-58s %s\n' "failover p95 < 5 s (all crashes)" "$FA_P95 s: $(goal "$FA_P95" 5 '<')"
  printf '  %-58s %s\n' "failover started from the data" "$((FA_N - NFO_BAD)) of $FA_N trials (markers, $VOL_NFILES files, integrity_check)$([ "$NFO_FAIL" -gt 0 ] && echo "; $NFO_FAIL not ready within 60 s")"
  printf '  %-58s %s\n' "planned move loses 0 acknowledged rows" "$((MV_N - NMOVE_LOST)) of $MV_N moves lost none"
  printf '  %-58s %s\n' "never two copies running (longest overlap)" "$OVERLAP s over $((NMOVE + NL + NF)) moves and crashes (must be 0)"
  echo
  echo "5. Agent per replicated volume during the RPO window (${WIN_S} s, the agent process only):"
  printf '  %-22s %-18s %-16s %s\n' "" "CPU" "RSS before deploy" "RSS under load (max)"
  printf '  %-22s %-18s %-16s %s\n' "primary ($PRIM)" "$CPU_P% ($CPUSEC_P s)" "$(mb "${RSS0[$PI]}")" "$(mb "$RSS_P")"
  printf '  %-22s %-18s %-16s %s\n' "standby ($SB1)" "$CPU_S% ($CPUSEC_S s)" "$(mb "${RSS0[$SI]}")" "$(mb "$RSS_S")"
  echo "  (% of one core; RSS before deploy: each agent just started, before h1 deployed the stack and h2, h3 joined.)"
  echo
  echo "First full copy ($VOL_MB MB): the join -> both standbys hold it: $FIRST_S s; its round took $FIRST_TOOK_S s"
  echo "  (capture -> shipped; capture -> both restored $FIRST_HELD s), writers paused $FIRST_PAUSED ms for it."
  echo "  restic: backup $P_FIRST_RB s + restore $P_FIRST_RR s = $P_FIRST_RT s; rsync: $P_FIRST_RS s."
  echo
  echo "Per increment (10 s of changes, ~$(( 10 * CHURN * KIB * 1024 / 1000000 )) MB in $((10 * CHURN)) files), p50 / p95, and roost / peer:"
  printf '  %-40s %-17s %s\n' "roost took_ms (capture -> shipped)" "$TK_P50 / $TK_P95" ""
  printf '  %-40s %-17s %s\n' "roost capture -> both standbys restored" "$HD_P50 / $HD_P95" ""
  printf '  %-40s %-17s %s\n' "restic backup + restore" "$RT_P50 / $RT_P95" "roost took / restic: $(ratio "$TK_P50" "$RT_P50"), $(ratio "$TK_P95" "$RT_P95"); restored / restic: $(ratio "$HD_P50" "$RT_P50"), $(ratio "$HD_P95" "$RT_P95")"
  printf '  %-40s %-17s %s\n' "restic backup only" "$RB_P50 / $RB_P95" "roost took / restic backup: $(ratio "$TK_P50" "$RB_P50"), $(ratio "$TK_P95" "$RB_P95")"
  printf '  %-40s %-17s %s\n' "rsync -a --delete" "$RS_P50 / $RS_P95" "roost took / rsync: $(ratio "$TK_P50" "$RS_P50"), $(ratio "$TK_P95" "$RS_P95"); restored / rsync: $(ratio "$HD_P50" "$RS_P50"), $(ratio "$HD_P95" "$RS_P95")"
  [ -n "$PEER_NOTE" ] && echo "  peers note: $PEER_NOTE"
  echo
  echo "How: RPO = rpo_s of \`roost volume ls --json\` on h2, every second (whole seconds, rounded down:"
  echo "  the true value is up to 1 s more). took_ms and paused_ms from the primary's \"snapshot shipped\" debug"
  echo "  lines (ROOST_LOG=roost_agent::volumes=debug), rounds captured in the window; 'both standbys restored'"
  echo "  from their \"standby copy restored\" lines (same clock). Failover: from \`testbed crash\` of the"
  echo "  service's host (t0 = its agent killed: the command kills all of the host's processes with one kill -9)"
  echo "  to the first answer of a survivor's \`roost ps --json\` (polled back to back) with it"
  echo "  ready elsewhere; before each crash a marker row and a snapshot after it on both standbys; a writer"
  echo "  (a row every 100 ms via a survivor's ingress) runs from ${WRITER_LEAD} s or more before the crash. Steering and planned"
  echo "  moves: \`roost move\` with that writer through the third host. Overlap: all 3 engines every 100 ms"
  echo "  during every move and crash ($NSAMPLES samples; $UNK host-answers missing: the crashed host's engine)."
  echo "  Peers: the volume's tree copied to the host at the end of the RPO window, run after the stack was"
  echo "  stopped (a quieter machine than roost had); restic $(restic version | awk '{ print $2 }') (repository and cache on the same disk),"
  echo "  restore into an empty directory each time (restic 0.14 restores every file); rsync $(rsync --version | awk 'NR == 1 { print $3 }')."
  echo "p50/p95 are nearest-rank (with n<=3 the p95 is the max)."
  echo "Raw moves: $(awk '{ printf "%s%s", sep, $0; sep = "; " }' "$TMP/move-raw.txt")"
  echo "Raw crashes: $(awk '{ printf "%s%s", sep, $0; sep = "; " }' "$TMP/fo-raw.txt")"
  [ -n "$TRIALS_NOTE" ] && echo "Trials note: $TRIALS_NOTE"
  echo "Time: trials done at ${TRIALS_S} s, total $(elapsed) s (before teardown)"
} | tee "$RESULTS"
