#!/usr/bin/env bash
# Runs fuzz targets one after another on stable Rust (RUSTC_BOOTSTRAP=1),
# one libFuzzer process at a time, at low priority.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 600 s, every target
#
# Logs go to fuzz/logs/TARGET.log (not committed); a crash stops the script
# with libFuzzer's exit code and leaves the input in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture_reader decode reassembly modbus sensor
    dnp3 s7comm iec104 enip dns netbios dhcp http bacnet opcua profinet_dcp)
for t in "${targets[@]}"; do
    [ -d "corpus/$t" ] || { python3 seed.py; break; }
done
mkdir -p logs
# Longest input per target (see README.md, "Targets", for the reasons).
max_len() {
    case $1 in
        modbus) echo 1024 ;;
        iec104 | dns | netbios | dhcp | profinet_dcp) echo 4096 ;;
        dnp3) echo 8192 ;;
        decode | reassembly | enip | bacnet | opcua) echo 16384 ;;
        s7comm | http) echo 20480 ;;
        *) echo 65536 ;;
    esac
}
export RUSTC_BOOTSTRAP=1
nice -n 10 cargo fuzz build
for t in "${targets[@]}"; do
    start=$(date +%s)
    nice -n 10 cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 >"logs/$t.log" 2>&1 || {
        rc=$?
        echo "$t: FAILED (exit $rc), see fuzz/logs/$t.log"
        exit $rc
    }
    end=$(date +%s)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$')
    last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
    echo "$t: $((end - start)) s, $runs execs, $((runs / (end - start > 0 ? end - start : 1))) exec/s; $last"
done
