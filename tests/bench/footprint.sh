#!/usr/bin/env bash
# The idle daemon's footprint (targets: VmRSS ≤ 8 MB; ≤ 6 MB for -Dnotify=disabled):
# the embedded service and a daemon on loopback, 20 subscriptions, then SECONDS
# connected and idle. Prints VmRSS, Pss, Private_Dirty, the shared libraries
# mapped, the largest mappings from /proc/PID/smaps, the size of the stripped
# programs, and the wake-ups while idle (scheduler run count, context switches,
# and the system calls made, from strace -c when it is installed). For scale it
# prints the same figures for footprint-floor (tests/bench/footprint_floor.cpp):
# the libraries any such daemon needs, initialised, and nothing else.
#
#   tests/bench/footprint.sh [--notify] [--unifiedpush] [BUILD_DIR] [SECONDS]
#
# BUILD_DIR defaults to build-release (configured with --buildtype=release when
# missing: the figures are those of what a package ships). --notify configures
# the notify sink, on a private session bus with a mock notification server
# (dbus-run-session and python3-dbusmock), so that libnotify and GLib are loaded
# as on a desktop; without it the daemon runs with --no-notify. --unifiedpush
# runs the UnifiedPush distributor on that private bus (GDBus: GLib is loaded)
# with one app registered (the test suite's fake connector, python3-gi);
# without it the daemon runs with --no-unifiedpush.
set -euo pipefail
cd "$(dirname "$0")/../.."

NOTIFY=0
UNIFIEDPUSH=0
modes=()
while [[ ${1:-} == --* ]]; do
  case $1 in
    --notify) NOTIFY=1 ;;
    --unifiedpush) UNIFIEDPUSH=1 ;;
    *) echo "footprint: unknown option $1" >&2; exit 2 ;;
  esac
  modes+=("$1")
  shift
done
BUILD=${1:-build-release}
IDLE=${2:-60}

if [[ ${#modes[@]} -gt 0 && -z ${FOOTPRINT_IN_BUS:-} ]]; then
  # Re-run inside a private session bus.
  exec dbus-run-session --config-file=tests/unit/sinks/session-bus.conf -- \
    env FOOTPRINT_IN_BUS=1 "$0" "${modes[@]}" "$BUILD" "$IDLE"
fi

if [[ ! -f $BUILD/build.ninja ]]; then
  echo "footprint: configuring $BUILD (release)" >&2
  meson setup "$BUILD" --buildtype=release -Dtests=disabled >/dev/null
fi
echo "footprint: building $BUILD" >&2
floor_program=tests/bench/footprint-floor  # built with the benchmarks (Google Benchmark found)
ninja -C "$BUILD" -t targets all | grep -q "^$floor_program:" || floor_program=""
modules=()
[[ $UNIFIEDPUSH == 1 ]] && modules+=(src/unifiedpush/webpushd-unifiedpush.so)
ninja -C "$BUILD" src/cli/webpushd src/cli/webpushd-run $floor_program "${modules[@]}" >/dev/null
W="$BUILD/src/cli/webpushd"
# shellcheck source=tests/bench/loopback.sh
source tests/bench/loopback.sh

run_flags=()
[[ $NOTIFY == 1 ]] || run_flags+=(--no-notify)
[[ $UNIFIEDPUSH == 1 ]] || run_flags+=(--no-unifiedpush)
if [[ $NOTIFY == 1 ]]; then
  /usr/bin/python3 -m dbusmock --template notification_daemon >/dev/null 2>&1 &
  mock=$!
  trap 'kill $mock 2>/dev/null || true; cleanup' EXIT
  for _ in $(seq 100); do
    gdbus introspect --session --dest org.freedesktop.Notifications --object-path /org/freedesktop/Notifications \
      >/dev/null 2>&1 && break
    sleep 0.05
  done
fi

start_service
"$W" -q --state-dir "$work/ua" --server "$url" run "${run_flags[@]}" 2>"$work/run.err" &
daemon=$!
wait_for_daemon
for i in $(seq 1 20); do
  "$W" --state-dir "$work/ua" subscribe --name "idle-$i" >/dev/null 2>"$work/subscribe.err" ||
    { cat "$work/subscribe.err" >&2; exit 1; }
done
if [[ $UNIFIEDPUSH == 1 ]]; then
  # One app registered through the distributor, its connector running.
  mkfifo "$work/app.in"
  /usr/bin/python3 tests/integration/unifiedpush/fake_connector.py --name org.example.Idle <"$work/app.in" >"$work/app.out" &
  app=$!
  exec 3>"$work/app.in"
  for _ in $(seq 200); do
    grep -q '"ready"' "$work/app.out" 2>/dev/null && break
    sleep 0.05
  done
  for _ in $(seq 100); do
    echo "register idle" >&3
    sleep 0.1
    grep -q REGISTRATION_SUCCEEDED "$work/app.out" && break
  done
  for _ in $(seq 100); do grep -q '"new_endpoint"' "$work/app.out" && break; sleep 0.05; done
  grep -q '"new_endpoint"' "$work/app.out" || { echo "footprint: the app was not registered" >&2; exit 1; }
  trap 'kill ${app:-} ${mock:-} 2>/dev/null || true; cleanup' EXIT
fi
[[ $(readlink "/proc/$daemon/exe") == */webpushd-run ]] || echo "footprint: note: the daemon runs in webpushd itself" >&2

runs() { awk '{print $3}' "/proc/$daemon/schedstat"; }
switches() { awk '/ctxt_switches/ {s += $2} END {print s}' "/proc/$daemon/status"; }
echo "footprint: idle for $IDLE s" >&2
if command -v strace >/dev/null; then
  strace -c -f -p "$daemon" -o "$work/strace" 2>/dev/null &
  tracer=$!
  sleep 0.5  # attached (the attach itself is a wake-up: not counted)
fi
runs_before=$(runs)
switches_before=$(switches)
sleep "$IDLE"
runs_after=$(runs)
switches_after=$(switches)
if [[ -n ${tracer:-} ]]; then
  kill -INT "$tracer" 2>/dev/null || true
  wait "$tracer" 2>/dev/null || true
fi
"$W" --state-dir "$work/ua" status >/dev/null || { echo "footprint: the daemon is not connected" >&2; exit 1; }

kb() { awk -v k="$1" '$1 == k":" {print $2}' "$2"; }
mb() { awk -v v="$1" 'BEGIN {printf "%.1f MB", v / 1024}'; }
# VmRSS, file-backed, anonymous, Pss, USS (private clean + dirty), private dirty: kB.
figures() {
  local status=/proc/$1/status rollup=/proc/$1/smaps_rollup
  echo "$(kb VmRSS "$status") $(kb RssFile "$status") $(kb RssAnon "$status") $(kb Pss "$rollup")" \
    "$(($(kb Private_Clean "$rollup") + $(kb Private_Dirty "$rollup")))" "$(kb Private_Dirty "$rollup")"
}
row() {
  local name=$1 v
  shift
  printf '  %-18s' "$name"
  for v in "$@"; do printf ' %9s' "$(mb "$v")"; done
  echo
}
read -r d_rss d_file d_anon d_pss d_uss d_dirty <<<"$(figures "$daemon")"
if [[ -n $floor_program ]]; then
  "$BUILD/$floor_program" "$work" >"$work/floor.out" &
  floor=$!
  for _ in $(seq 100); do [[ -s $work/floor.out ]] && break; sleep 0.05; done
  read -r f_rss f_file f_anon f_pss f_uss f_dirty <<<"$(figures "$floor")"
  kill "$floor"
fi

echo "idle daemon, $(meson introspect --buildoptions "$BUILD" | python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))') build," \
  "notify sink $([[ $NOTIFY == 1 ]] && echo on || echo off)," \
  "UnifiedPush distributor $([[ $UNIFIEDPUSH == 1 ]] && echo "on, 1 app" || echo off), 20 subscriptions, after $IDLE s connected, $(kb Threads \
  "/proc/$daemon/status") thread(s):"
printf '  %-18s %9s %9s %9s %9s %9s %9s\n' "" VmRSS file anon Pss USS dirty
row daemon "$d_rss" "$d_file" "$d_anon" "$d_pss" "$d_uss" "$d_dirty"
if [[ -n $floor_program ]]; then
  row "floor (libraries)" "$f_rss" "$f_file" "$f_anon" "$f_pss" "$f_uss" "$f_dirty"
  row "daemon - floor" $((d_rss - f_rss)) $((d_file - f_file)) $((d_anon - f_anon)) $((d_pss - f_pss)) \
    $((d_uss - f_uss)) $((d_dirty - f_dirty))
else
  echo "  (no floor: $BUILD was configured without the benchmarks)"
fi
echo "  largest mappings (Rss):"
awk '/^[0-9a-f]+-[0-9a-f]+ / {name = ($6 == "" ? "[anonymous]" : $6)} /^Rss:/ {rss[name] += $2}
     END {for (n in rss) printf "%8d kB  %s\n", rss[n], n}' "/proc/$daemon/smaps" | sort -rn | head -12 |
  sed 's/^/  /'
libs=$(awk '$6 ~ /\.so/ {print $6}' "/proc/$daemon/maps" | sort -u)
echo "  shared libraries mapped ($(wc -l <<<"$libs")): $(xargs -n1 basename <<<"$libs" | tr '\n' ' ')"
for program in webpushd webpushd-run; do
  strip -o "$work/$program.stripped" "$BUILD/src/cli/$program"
  printf '  %-26s %s\n' "$program stripped" "$(stat -c %s "$work/$program.stripped" | awk '{printf "%.2f MB", $1 / 1048576}')"
done
[[ -f $BUILD/src/unifiedpush/webpushd-unifiedpush.so ]] &&
  strip -o "$work/up.so" "$BUILD/src/unifiedpush/webpushd-unifiedpush.so" &&
  printf '  %-26s %s\n' "webpushd-unifiedpush.so stripped" \
    "$(stat -c %s "$work/up.so" | awk '{printf "%.2f MB", $1 / 1048576}')"
[[ -f $BUILD/src/sinks/webpushd-notify.so ]] && strip -o "$work/notify.so" "$BUILD/src/sinks/webpushd-notify.so" &&
  printf '  %-26s %s\n' "webpushd-notify.so stripped" "$(stat -c %s "$work/notify.so" | awk '{printf "%.2f MB", $1 / 1048576}')"
echo "  wake-ups while idle: $((runs_after - runs_before)) runs on a CPU, $((switches_after - switches_before)) context switches"
echo "    (keepalive: a ping after 300 s of silence by default, so none is due in $IDLE s)"
if [[ -n ${tracer:-} ]]; then
  calls=$(awk '/^ *[0-9]/ && $NF != "total" {printf "%s %s, ", $4, $NF}' "$work/strace" | sed 's/, $//')
  echo "  system calls while idle (strace -c -f): ${calls:-none}"
fi
