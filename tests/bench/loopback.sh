# Sourced by the loopback benchmarks: a scratch directory removed at exit, the
# embedded service on an ephemeral port (its WebSocket URL in $url), and a
# cleanup that stops $daemon and $service. Needs $W, the webpushd binary.
#   start_service [serve options…]
work=$(mktemp -d)
cleanup() {
  kill "${daemon:-}" "${service:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_service() {
  "$W" -q serve --listen 127.0.0.1:0 --state-dir "$work/svc" "$@" >"$work/serve.out" 2>/dev/null &
  service=$!
  for _ in $(seq 100); do [[ -s "$work/serve.out" ]] && break; sleep 0.05; done
  url=$(head -1 "$work/serve.out")
}

# Waits until the daemon's control socket answers.
wait_for_daemon() {
  for _ in $(seq 100); do "$W" --state-dir "$work/ua" status >/dev/null 2>&1 && break; sleep 0.05; done
}
