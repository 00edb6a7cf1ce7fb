#!/usr/bin/env bash
# Records samples/plant-cell.pcap: a small plant cell of real protocol stacks
# (three Modbus PLCs, an S7 PLC, an IEC 104 RTU, an EtherNet/IP PLC, an HMI
# and an engineering workstation; see samples/README.md),
# each host in its own network namespace, joined by veth pairs to a Linux
# bridge in a "switch" namespace, where tcpdump records the bridge.
#
#   scripts/record-sample.sh [OUTPUT.pcap]      (as root; default samples/plant-cell.pcap)
#
# Needs: root, ip (iproute2), tcpdump, python3 with the stacks pinned in
# tests/requirements.txt (.ci/install provides them). Nothing outside the
# namespaces it creates is touched; they are removed on exit, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-samples/plant-cell.pcap}
SECONDS_RECORDED=40
HELPER=scripts/plant_cell.py

die() { echo "record-sample.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, tcpdump)"
command -v ip >/dev/null || die "ip (iproute2) is not installed (run .ci/install)"
TCPDUMP=$(command -v tcpdump || true)
[ -n "$TCPDUMP" ] || die "tcpdump is not installed (run .ci/install)"
python3 -c 'import pymodbus, snap7, c104, cpppo' 2>/dev/null ||
  die "the stacks of tests/requirements.txt are not installed (run .ci/install)"

TAG="psc$$"          # namespace names are unique to this run
SW="$TAG-sw"
WORK=$(mktemp -d)
PIDS=()
NAMESPACES=()

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in "${NAMESPACES[@]}"; do
    # anything left running inside (started by this script) goes too
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ $rc -ne 0 ]; then
    echo "record-sample.sh: failed; logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 2>/dev/null
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns() { ip netns add "$1"; NAMESPACES+=("$1"); }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# spawn NS LOG CMD...: runs CMD in the background in NS; its pid (ip netns
# exec execs CMD) is in LAST and in PIDS.
spawn() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  LAST=$!
  PIDS+=("$LAST")
}

# The switch: a bridge, no address, no IPv6 chatter.
netns "$SW"
in_ns "$SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns "$SW" ip link add br0 type bridge stp_state 0 forward_delay 0
in_ns "$SW" ip link set br0 up
in_ns "$SW" ip link set lo up

# One namespace per host, eth0 there, its peer on the bridge.
while read -r name addr mac _unit; do
  ns="$TAG-$name"
  netns "$ns"
  in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add eth0 netns "$ns" address "$mac" type veth peer name "$name" netns "$SW"
  in_ns "$ns" ip addr add "$addr/24" dev eth0
  in_ns "$ns" ip link set lo up
  in_ns "$ns" ip link set eth0 up
  in_ns "$ns" python3 "$HELPER" tx-checksum-off eth0
  in_ns "$SW" ip link set "$name" master br0
  in_ns "$SW" ip link set "$name" up
done < <(python3 "$HELPER" hosts)

# The PLCs, then wait until they serve (checked from the HMI, before
# recording starts).
for plc in plc1 plc2 plc3; do
  spawn "$TAG-$plc" "$WORK/$plc.log" python3 "$HELPER" plc "$plc"
done
for server in s7plc rtu logix; do
  spawn "$TAG-$server" "$WORK/$server.log" python3 "$HELPER" "$server"
done
in_ns "$TAG-hmi" python3 "$HELPER" wait plc1 plc2 plc3 s7plc rtu logix
sleep 1

# Record the bridge. -B: a large kernel buffer; the drop count is checked.
spawn "$SW" "$WORK/tcpdump.log" "$TCPDUMP" -i br0 -n -s 1600 -B 16384 -U -Z root -w "$WORK/cell.pcap"
TCPDUMP_PID=$LAST
for _ in $(seq 100); do
  grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && [ -f "$WORK/cell.pcap" ] && break
  sleep 0.1
done
grep -q "listening on" "$WORK/tcpdump.log" || die "tcpdump did not start: $(cat "$WORK/tcpdump.log")"
sleep 0.5

echo "record-sample.sh: recording ${SECONDS_RECORDED} s ..." >&2
spawn "$TAG-hmi" "$WORK/hmi.log" python3 "$HELPER" hmi "$SECONDS_RECORDED"
HMI_PID=$LAST
in_ns "$TAG-ews" python3 "$HELPER" ews 2>&1 | tee "$WORK/ews.log" >&2
wait "$HMI_PID" || die "the HMI failed: $(cat "$WORK/hmi.log")"
cat "$WORK/hmi.log" >&2
sleep 1

kill -INT "$TCPDUMP_PID"
for _ in $(seq 100); do kill -0 "$TCPDUMP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$TCPDUMP_PID" 2>/dev/null && die "tcpdump did not stop on SIGINT"
wait "$TCPDUMP_PID" || true
cat "$WORK/tcpdump.log" >&2
grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.log" || die "tcpdump dropped packets"

mkdir -p "$(dirname "$OUT")"
cp "$WORK/cell.pcap" "$OUT"
echo "record-sample.sh: wrote $OUT ($(stat -c %s "$OUT") bytes)" >&2
