#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup and the *_prepare functions are called indirectly
# ferry's benchmarks, each against its baseline in the same run. See bench/README.md.
#
#   bench/run.sh BUILD_DIR [csv|json|normalize|memory|rest|s3|postgres ...]  (make bench: all)
#
# Environment:
#   SCALE=0.1          shrink every data set (default 1)
#   REPEAT=3           run each measured command N times, keep the fastest (default 1)
#   KEEP_BENCH_DATA=1  keep the 10x CSV of the memory benchmark (~1.9 GB) in bench/data/
#   KEEP_BENCH_TMP=1   keep the temporary projects, databases and logs (path is printed)
#   BENCH_DATA_DIR     where generated data is cached (default bench/data/)
#   BENCH_TIMEOUT=1800 seconds one ferry run may take before it counts as failed
#   AWS_CLI=/usr/bin/aws the aws CLI of the s3 baseline (default: Debian's, else the one in PATH)
#
# Exit status: 0 when every benchmark ran and verified (a missed target is reported as MISS
# but is not a failure); 1 when something failed (ferry missing, a run exited non-zero, a row
# count did not match); 2 on bad usage.
set -u -o pipefail

usage() {
  sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac
BUILD_DIR=$1
shift
FERRY=$BUILD_DIR/ferry
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
SQLITE=sqlite3
DATA=${BENCH_DATA_DIR:-$BENCH_DIR/data}
SCALE=${SCALE:-1}
REPEAT=${REPEAT:-1}
TIMEOUT=${BENCH_TIMEOUT:-1800}
ALL=(csv json normalize memory rest s3 postgres serve)

if [ $# -eq 0 ]; then
  SELECTED=("${ALL[@]}")
else
  SELECTED=("$@")
  for name in "${SELECTED[@]}"; do
    case " ${ALL[*]} " in
      *" $name "*) ;;
      *)
        echo "run.sh: unknown benchmark '$name' (choose from: ${ALL[*]})" >&2
        exit 2
        ;;
    esac
  done
fi
if ! awk -v s="$SCALE" 'BEGIN { exit !(s + 0 > 0) }'; then
  echo "run.sh: SCALE must be a number > 0, got '$SCALE'" >&2
  exit 2
fi
if ! [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || ! [[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: REPEAT and BENCH_TIMEOUT must be whole numbers >= 1" >&2
  exit 2
fi
for tool in "$PY" /usr/bin/time; do
  [ -x "$tool" ] || { echo "run.sh: $tool is missing (run make setup)" >&2; exit 1; }
done
command -v "$SQLITE" >/dev/null || { echo "run.sh: sqlite3 is missing (run make setup)" >&2; exit 1; }

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
BIG_CSV=""  # the memory benchmark's 10x file, removed on exit unless KEEP_BENCH_DATA=1
REST_SERVER_PID=""  # the rest benchmark's API server, stopped on exit
S3_SERVER_PID=""    # the s3 benchmark's s3rver, stopped on exit
PG_DIR=""           # the postgres benchmark's cluster (data/, sock/, log), stopped on exit
cleanup() {
  if [ -n "$REST_SERVER_PID" ]; then kill "$REST_SERVER_PID" 2>/dev/null; fi
  if [ -n "$S3_SERVER_PID" ]; then kill "$S3_SERVER_PID" 2>/dev/null; fi
  stop_pg_server
  if [ -n "$BIG_CSV" ] && [ "${KEEP_BENCH_DATA:-0}" != 1 ]; then rm -f "$BIG_CSV"; fi
  if [ "${KEEP_BENCH_TMP:-0}" = 1 ]; then
    echo "run.sh: kept temporary files in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

FAILED=0
SUMMARY=()  # "benchmark|metric|value|target|result"

# ---------------------------------------------------------------- helpers

scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { r = int(n * s + 0.5); print (r < 1 ? 1 : r) }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
commas() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }
file_bytes() { stat -c %s "$1"; }
fail() { echo "  FAIL: $*"; FAILED=1; }
note() { echo "  $*"; }
add_summary() { SUMMARY+=("$1|$2|$3|$4|$5"); }
show_log() { # LOG: the end of a failed command's output
  echo "  --- last lines of $(basename "$1") ---"
  tail -n 20 "$1" | sed 's/^/  | /'
}

FERRY_MISSING_TOLD=0
ferry_ready() {
  [ -x "$FERRY" ] && return 0
  if [ "$FERRY_MISSING_TOLD" = 0 ]; then
    fail "ferry binary not found at $FERRY (build it first: make build); ferry parts skipped"
    FERRY_MISSING_TOLD=1
  fi
  FAILED=1 F_WHY="ferry missing"
  return 1
}

# ensure_csv ROWS REPEAT: sets DATA_FILE to the cached CSV, generating it when missing.
ensure_csv() {
  local rows=$1 repeat=$2 name t0=$SECONDS
  if [ "$repeat" = 1 ]; then name="csv_v1_${rows}.csv"; else name="csv_v1_${rows}x${repeat}.csv"; fi
  DATA_FILE=$DATA/$name
  [ -s "$DATA_FILE" ] && return 0
  note "generating $name ($(commas $((rows * repeat))) rows) ..."
  "$PY" "$BENCH_DIR/gen_data.py" csv "$DATA_FILE" --rows "$rows" --repeat "$repeat" || return 1
  note "generated $name: $(calc %.1f "$(file_bytes "$DATA_FILE") / 1e6") MB in $((SECONDS - t0)) s"
}

# ensure_jsonl ROWS: sets DATA_FILE to the cached JSONL (DATA_FILE.counts beside it),
# generating both when missing.
ensure_jsonl() {
  local rows=$1 name t0=$SECONDS
  name="orders_v1_${rows}.jsonl"
  DATA_FILE=$DATA/$name
  [ -s "$DATA_FILE" ] && [ -s "$DATA_FILE.counts" ] && return 0
  note "generating $name ($(commas "$rows") orders) ..."
  "$PY" "$BENCH_DIR/gen_data.py" jsonl "$DATA_FILE" --rows "$rows" || return 1
  note "generated $name: $(calc %.1f "$(file_bytes "$DATA_FILE") / 1e6") MB in $((SECONDS - t0)) s"
}

warm() { cat "$@" >/dev/null; }  # read inputs once so no contender pays for a cold cache

# timed LOG DIR CMD... : runs CMD in DIR; sets WALL (s), RSS_KB (peak) and RC.
timed() {
  local log=$1 dir=$2 tf t0 t1
  shift 2
  tf=$(mktemp "$WORK/time.XXXXXX")
  t0=$(date +%s%N)
  (cd "$dir" && exec /usr/bin/time -f '%e %M' -o "$tf" "$@") >"$log" 2>&1
  RC=$?
  t1=$(date +%s%N)
  WALL=$(calc %.3f "($t1 - $t0) / 1e9")
  RSS_KB=$(tail -n 1 "$tf" | awk '{ print $2 + 0 }')
  rm -f "$tf"
}

# measure PREPARE LOG CMD... : REPEAT times, calls PREPARE (which makes a fresh target and
# sets RUN_DIR), then times CMD in RUN_DIR. Sets BEST_WALL (fastest run), PEAK_RSS_KB
# (largest) and RC (the first non-zero exit status stops the repetitions).
measure() {
  local prepare=$1 log=$2 i
  shift 2
  BEST_WALL="" PEAK_RSS_KB=0 RC=0
  for ((i = 0; i < REPEAT; i++)); do
    if ! "$prepare" >"$log" 2>&1; then
      RC=1
      echo "(the preparation step $prepare failed)" >>"$log"
      return
    fi
    timed "$log" "$RUN_DIR" "$@"
    [ "$RC" -eq 0 ] || return
    if [ -z "$BEST_WALL" ] || awk -v a="$WALL" -v b="$BEST_WALL" 'BEGIN { exit !(a < b) }'; then
      BEST_WALL=$WALL
    fi
    [ "$RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$RSS_KB
  done
  return 0
}

table_header() {
  printf '  %-26s %9s %14s %9s %13s\n' "" "time s" "rows/s" "MB/s" "peak RSS MiB"
}
# table_row LABEL WALL ROWS BYTES RSS_KB
table_row() {
  local rate
  rate=$(commas "$(calc %.0f "$3 / $2")")
  printf '  %-26s %9.2f %14s %9.1f %13.1f\n' "$1" "$2" "$rate" \
    "$(calc %.4f "$4 / 1e6 / $2")" "$(calc %.4f "$5 / 1024")"
}
# verdict VALUE OP LIMIT -> PASS or MISS (OP is <= or >=)
verdict() {
  if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !(op == "<=" ? v <= l : v >= l) }'; then
    echo PASS
  else
    echo MISS
  fi
}
last_line() { grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c1-160; }
# baseline_ok WHAT LOG WANT CHECK...: after `measure`, whether the baseline WHAT exited 0 and
# the command CHECK... prints WANT (what the baseline made: a row count, sums); a failure is
# reported (with LOG's end when WHAT failed) and returns 1.
baseline_ok() {
  local what=$1 log=$2 want=$3 got
  shift 3
  if [ "$RC" -ne 0 ]; then
    fail "$what exited with status $RC"
    show_log "$log"
    return 1
  fi
  got=$("$@" 2>&1)
  if [ "$got" != "$want" ]; then
    fail "$what made '$got', expected '$want'"
    return 1
  fi
}

# new_project NAME YAML -> prints a fresh project dir (under $WORK) holding ferry.yml.
new_project() {
  local dir
  dir=$(mktemp -d "$WORK/$1.XXXXXX") || return 1
  printf '%s\n' "$2" >"$dir/ferry.yml"
  echo "$dir"
}

# project_yaml JOB_ID FILE FORMAT TABLE [null] -> ferry.yml text: a `files` connection at the
# data dir, a sqlite warehouse and one job; with `null`, the job targets a null destination.
project_yaml() {
  local target="{table: $4, mode: append}"
  [ "${5:-}" = null ] && target="{connection: devnull, table: $4, mode: append}"
  echo "project: $1"
  echo "metastore: sqlite:.ferry/meta.db"
  echo "warehouse: wh"
  echo "connections:"
  echo "  wh: {type: sqlite, path: warehouse.db}"
  echo "  files: {type: file, path: \"$DATA\"}"
  [ "${5:-}" = null ] && echo '  devnull: {type: "null"}'
  echo "jobs:"
  echo "  - {id: $1, source: {connection: files, path: \"$2\", format: $3}, target: $target}"
}

# sql DB QUERY -> the result on one line ('|' between columns, ';' between rows)
sql() { "$SQLITE" -batch "$1" "$2" 2>&1 | paste -sd';'; }

# run_ferry NAME YAML JOB: times `ferry run JOB` in a fresh project (one per repetition).
# Sets F_OK=1, F_WALL, F_RSS and PROJ (the last project, kept for verification).
P_NAME="" P_YAML="" PROJ=""
P_RESET=""  # a command run before each repetition (e.g. emptying a warehouse server)
ferry_prepare() {
  [ -n "$PROJ" ] && rm -rf "$PROJ"
  if [ -n "$P_RESET" ]; then $P_RESET || return 1; fi
  PROJ=$(new_project "$P_NAME" "$P_YAML") && RUN_DIR=$PROJ
}
run_ferry() {
  F_OK=0 F_WALL="" F_RSS="" F_WHY=""
  ferry_ready || return 0
  P_NAME=$1 P_YAML=$2 PROJ=""
  local log=$WORK/$1_ferry.log
  measure ferry_prepare "$log" timeout "$TIMEOUT" "$FERRY" run "$3"
  if [ "$RC" -eq 124 ]; then
    fail "'ferry run $3' did not finish within $TIMEOUT s (BENCH_TIMEOUT)"
    show_log "$log"
    F_WHY="ferry timed out"
    return 0
  elif [ "$RC" -ne 0 ]; then
    fail "'ferry run $3' exited with status $RC"
    show_log "$log"
    F_WHY="ferry exit $RC"
    return 0
  fi
  F_OK=1 F_WALL=$BEST_WALL F_RSS=$PEAK_RSS_KB
  grep -v '^[[:space:]]*$' "$log" | tail -n 8 | cut -c1-150 | sed 's/^/  ferry> /'
}

# run_sqlite_import NAME CSV ROWS: times sqlite3 .import into a fresh db with table t.
# Sets S_OK=1, S_WALL, S_RSS and S_DB (kept for verification; the caller removes it).
S_DB=""
sqlite_prepare() {
  rm -f "$S_DB" && RUN_DIR=$WORK &&
    "$SQLITE" "$S_DB" 'CREATE TABLE t(id INTEGER, name TEXT, amount REAL, updated_at TEXT, payload TEXT)'
}
run_sqlite_import() {
  S_OK=0 S_WALL="" S_RSS="" S_DB=$WORK/$1_sqlite3.db
  local log=$WORK/$1_sqlite3.log got
  measure sqlite_prepare "$log" "$SQLITE" "$S_DB" ".import --csv --skip 1 \"$2\" t"
  baseline_ok "sqlite3 .import" "$log" "$3" sql "$S_DB" 'select count(*) from t' || return 0
  S_OK=1 S_WALL=$BEST_WALL S_RSS=$PEAK_RSS_KB
}

# ---------------------------------------------------------------- 1. CSV -> SQLite

bench_csv() {
  local rows csv bytes got
  rows=$(scaled 2000000)
  echo
  echo "== csv: CSV -> SQLite, ferry vs sqlite3 .import =="
  if ensure_csv "$rows" 1; then csv=$DATA_FILE; else
    fail "could not generate the CSV"
    add_summary csv "time ferry / sqlite3 .import" "- (no data)" "<= 1.00" FAIL
    return
  fi
  bytes=$(file_bytes "$csv")
  note "input: $(basename "$csv"): $(commas "$rows") rows, $(calc %.1f "$bytes / 1e6") MB"
  warm "$csv"

  run_sqlite_import csv "$csv" "$rows"
  local s_check=""
  [ "$S_OK" = 1 ] && s_check=$(sql "$S_DB" 'select count(*), sum(id), round(total(amount), 2) from t')
  rm -f "$S_DB"

  run_ferry csv "$(project_yaml bench_csv "$(basename "$csv")" csv t)" bench_csv
  if [ "$F_OK" = 1 ]; then
    got=$(sql "$PROJ/warehouse.db" 'select count(*) from t')
    if [ "$got" != "$rows" ]; then
      fail "ferry's table t has '$got' rows, expected $rows"
      F_OK=0 F_WHY="ferry row count"
    else
      local f_check
      f_check=$(sql "$PROJ/warehouse.db" 'select count(*), sum(id), round(total(amount), 2) from t')
      [ -z "$s_check" ] || [ "$f_check" = "$s_check" ] ||
        note "WARN: count|sum(id)|total(amount) differ: ferry $f_check, sqlite3 $s_check"
    fi
    rm -rf "$PROJ"
  fi

  echo
  table_header
  [ "$F_OK" = 1 ] && table_row "ferry run" "$F_WALL" "$rows" "$bytes" "$F_RSS"
  [ "$S_OK" = 1 ] && table_row "sqlite3 .import (baseline)" "$S_WALL" "$rows" "$bytes" "$S_RSS"
  if [ "$F_OK" = 1 ] && [ "$S_OK" = 1 ]; then
    local ratio result
    ratio=$(calc %.2f "$F_WALL / $S_WALL")
    result=$(verdict "$ratio" "<=" 1.0)
    echo "  ratio ferry / sqlite3 .import: $ratio (target <= 1.00): $result"
    add_summary csv "time ferry / sqlite3 .import" \
      "$ratio ($(printf %.2f "$F_WALL") s / $(printf %.2f "$S_WALL") s)" "<= 1.00" "$result"
  else
    add_summary csv "time ferry / sqlite3 .import" "- (${F_WHY:-baseline failed})" "<= 1.00" FAIL
  fi
}

# ---------------------------------------------------------------- 2. nested JSON -> SQLite

# count_tables DB -> "orders=N orders__items=N orders__items__tags=N" (? for a missing table)
count_tables() {
  local out="" t n
  for t in orders orders__items orders__items__tags; do
    n=$("$SQLITE" -batch "$1" "select count(*) from \"$t\"" 2>/dev/null) || n="?"
    out+="$t=${n:-?} "
  done
  echo "${out% }"
}

# has_columns DB TABLE COLUMN... -> the missing columns ("" when all are there)
missing_columns() {
  local db=$1 table=$2 cols c missing=""
  shift 2
  cols=" $(sql "$db" "select group_concat(name, ' ') from pragma_table_info('$table')") "
  for c in "$@"; do
    case "$cols" in *" $c "*) ;; *) missing+="$c " ;; esac
  done
  echo "${missing% }"
}

bench_json() {
  local rows jsonl bytes expected py_db got
  rows=$(scaled 200000)
  echo
  echo "== json: nested JSONL -> SQLite (3 tables), ferry vs a Python stdlib script =="
  if ensure_jsonl "$rows"; then jsonl=$DATA_FILE; else
    fail "could not generate the JSONL"
    add_summary json "speedup python / ferry" "- (no data)" ">= 5.0x" FAIL
    return
  fi
  bytes=$(file_bytes "$jsonl")
  expected=$("$PY" -c 'import json, sys
c = json.load(open(sys.argv[1]))
print(" ".join(f"{t}={c[t]}" for t in ("orders", "orders__items", "orders__items__tags")))' "$jsonl.counts")
  note "input: $(basename "$jsonl"): $(commas "$rows") orders, $(calc %.1f "$bytes / 1e6") MB"
  note "expected rows: $expected"
  warm "$jsonl"

  # Baseline: bench/baseline_flatten.py
  py_db=$WORK/json_python.db
  python_prepare() { rm -f "$py_db" && RUN_DIR=$WORK; }
  measure python_prepare "$WORK/json_python.log" \
    "$PY" "$BENCH_DIR/baseline_flatten.py" "$jsonl" "$py_db" orders
  local p_ok=0 p_wall=$BEST_WALL p_rss=$PEAK_RSS_KB
  if baseline_ok baseline_flatten.py "$WORK/json_python.log" "$expected" count_tables "$py_db"; then
    p_ok=1
  fi
  rm -f "$py_db"

  run_ferry json "$(project_yaml bench_json "$(basename "$jsonl")" jsonl orders)" bench_json
  if [ "$F_OK" = 1 ]; then
    local db=$PROJ/warehouse.db missing
    got=$(count_tables "$db")
    if [ "$got" != "$expected" ]; then
      fail "ferry rows: $got; expected $expected"
      F_OK=0 F_WHY="ferry row counts"
    fi
    missing=$(missing_columns "$db" orders _ferry_id customer__address__city)
    [ -z "$missing" ] || note "WARN: ferry's orders lacks column(s) $missing"
    missing=$(missing_columns "$db" orders__items _ferry_id _ferry_parent_id _ferry_idx sku)
    [ -z "$missing" ] || note "WARN: ferry's orders__items lacks column(s) $missing"
    rm -rf "$PROJ"
  fi

  echo
  table_header
  [ "$F_OK" = 1 ] && table_row "ferry run" "$F_WALL" "$rows" "$bytes" "$F_RSS"
  [ "$p_ok" = 1 ] && table_row "baseline_flatten.py" "$p_wall" "$rows" "$bytes" "$p_rss"
  note "(rows/s counts orders, the input records)"
  if [ "$F_OK" = 1 ] && [ "$p_ok" = 1 ]; then
    local speedup result
    speedup=$(calc %.1f "$p_wall / $F_WALL")
    result=$(verdict "$speedup" ">=" 5.0)
    echo "  speedup python / ferry: ${speedup}x (target >= 5.0x): $result"
    add_summary json "speedup python / ferry" \
      "${speedup}x ($(printf %.2f "$p_wall") s / $(printf %.2f "$F_WALL") s)" ">= 5.0x" "$result"
  else
    add_summary json "speedup python / ferry" "- (${F_WHY:-baseline failed})" ">= 5.0x" FAIL
  fi
}

# ---------------------------------------------------------------- 3. normalise only

bench_normalize() {
  local rows jsonl bytes
  rows=$(scaled 200000)
  echo
  echo "== normalize: nested JSONL -> null destination (read, parse, flatten; no writes) =="
  if ensure_jsonl "$rows"; then jsonl=$DATA_FILE; else
    fail "could not generate the JSONL"
    add_summary normalize "ferry MB/s into null" "- (no data)" ">= 150" FAIL
    return
  fi
  bytes=$(file_bytes "$jsonl")
  note "input: $(basename "$jsonl"): $(commas "$rows") orders, $(calc %.1f "$bytes / 1e6") MB"
  warm "$jsonl"

  # For context: Python's json.loads alone, without flattening or writing.
  local log=$WORK/normalize_python.log
  plain_prepare() { RUN_DIR=$WORK; }
  measure plain_prepare "$log" "$PY" -c '
import json, sys
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line)
        n += 1
print(n)' "$jsonl"
  local p_ok=0 p_wall=$BEST_WALL p_rss=$PEAK_RSS_KB
  if baseline_ok "the python json.loads loop" "$log" "$rows" last_line "$log"; then
    p_ok=1
  fi

  run_ferry normalize \
    "$(project_yaml bench_normalize "$(basename "$jsonl")" jsonl orders null)" bench_normalize
  [ "$F_OK" = 1 ] && rm -rf "$PROJ"

  echo
  table_header
  [ "$F_OK" = 1 ] && table_row "ferry run -> null" "$F_WALL" "$rows" "$bytes" "$F_RSS"
  [ "$p_ok" = 1 ] && table_row "python json.loads only" "$p_wall" "$rows" "$bytes" "$p_rss"
  if [ "$F_OK" = 1 ]; then
    local mbs result value
    mbs=$(calc %.0f "$bytes / 1e6 / $F_WALL")
    result=$(verdict "$mbs" ">=" 150)
    echo "  ferry: $mbs MB/s (target >= 150 MB/s): $result"
    value="$mbs MB/s"
    [ "$p_ok" = 1 ] && value+=" (json.loads alone: $(calc %.0f "$bytes / 1e6 / $p_wall"))"
    add_summary normalize "ferry MB/s into null" "$value" ">= 150" "$result"
  else
    add_summary normalize "ferry MB/s into null" "- ($F_WHY)" ">= 150" FAIL
  fi
}

# ---------------------------------------------------------------- 4. memory

bench_memory() {
  local rows small big
  rows=$(scaled 2000000)
  echo
  echo "== memory: peak RSS of ferry loading the 1x and the 10x CSV =="
  if ensure_csv "$rows" 1 && small=$DATA_FILE && ensure_csv "$rows" 10 && big=$DATA_FILE; then
    :
  else
    fail "could not generate the CSVs"
    add_summary memory "peak RSS ferry 10x / 1x" "- (no data)" "<= 1.20" FAIL
    return
  fi
  [ "${KEEP_BENCH_DATA:-0}" = 1 ] || BIG_CSV=$big
  note "inputs: $(basename "$small") ($(calc %.1f "$(file_bytes "$small") / 1e6") MB)," \
    "$(basename "$big") ($(calc %.1f "$(file_bytes "$big") / 1e6") MB)"

  local -A f_ok f_wall f_rss s_ok s_wall s_rss n bytes
  local size csv got why=""
  n[1x]=$rows n[10x]=$((rows * 10))
  bytes[1x]=$(file_bytes "$small") bytes[10x]=$(file_bytes "$big")
  for size in 1x 10x; do
    if [ "$size" = 1x ]; then csv=$small; else csv=$big; fi
    warm "$csv"
    run_sqlite_import "memory_$size" "$csv" "${n[$size]}"
    s_ok[$size]=$S_OK s_wall[$size]=$S_WALL s_rss[$size]=$S_RSS
    rm -f "$S_DB"
    run_ferry "memory_$size" "$(project_yaml bench_csv "$(basename "$csv")" csv t)" bench_csv
    if [ "$F_OK" = 1 ]; then
      got=$(sql "$PROJ/warehouse.db" 'select count(*) from t')
      if [ "$got" != "${n[$size]}" ]; then
        fail "ferry's table t has '$got' rows from the $size CSV, expected ${n[$size]}"
        F_OK=0 F_WHY="ferry row count"
      fi
      rm -rf "$PROJ"
    fi
    f_ok[$size]=$F_OK f_wall[$size]=$F_WALL f_rss[$size]=$F_RSS
    [ "$F_OK" = 1 ] || why=$F_WHY
  done
  if [ -n "$BIG_CSV" ]; then
    rm -f "$BIG_CSV"
    note "removed $(basename "$BIG_CSV") (KEEP_BENCH_DATA=1 keeps it)"
  fi

  echo
  table_header
  for size in 1x 10x; do
    [ "${f_ok[$size]}" = 1 ] &&
      table_row "ferry run, $size" "${f_wall[$size]}" "${n[$size]}" "${bytes[$size]}" "${f_rss[$size]}"
    [ "${s_ok[$size]}" = 1 ] &&
      table_row "sqlite3 .import, $size" "${s_wall[$size]}" "${n[$size]}" "${bytes[$size]}" "${s_rss[$size]}"
  done
  if [ "${f_ok[1x]}" = 1 ] && [ "${f_ok[10x]}" = 1 ]; then
    local ratio result
    ratio=$(calc %.2f "${f_rss[10x]} / ${f_rss[1x]}")
    result=$(verdict "$ratio" "<=" 1.2)
    echo "  peak RSS ferry 10x / 1x: $ratio (target <= 1.20): $result"
    add_summary memory "peak RSS ferry 10x / 1x" \
      "$ratio ($(calc %.0f "${f_rss[10x]} / 1024") / $(calc %.0f "${f_rss[1x]} / 1024") MiB)" \
      "<= 1.20" "$result"
  else
    add_summary memory "peak RSS ferry 10x / 1x" "- ($why)" "<= 1.20" FAIL
  fi
}

# ---------------------------------------------------------------- 5. REST API -> SQLite

REST_URL=""
# start_rest_server ORDERS: starts BUILD_DIR/ferry_test_api_server (uncompressed JSON, pages
# of 100) on an ephemeral port; sets REST_SERVER_PID and REST_URL once it listens.
start_rest_server() {
  local server=$BUILD_DIR/ferry_test_api_server log=$WORK/rest_server.log port="" i
  if [ ! -x "$server" ]; then
    fail "$server not found (build it: ninja -C $BUILD_DIR ferry_test_api_server)"
    return 1
  fi
  "$server" --orders "$1" --page-size 100 --no-compress >"$log" 2>&1 &
  REST_SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do
    port=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$REST_SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    fail "ferry_test_api_server did not start"
    show_log "$log"
    stop_rest_server
    return 1
  fi
  REST_URL=http://127.0.0.1:$port
}
stop_rest_server() {
  [ -n "$REST_SERVER_PID" ] || return 0
  kill "$REST_SERVER_PID" 2>/dev/null
  wait "$REST_SERVER_PID" 2>/dev/null
  REST_SERVER_PID=""
}

# rest_counts DB -> "orders=N orders__items=N orders__tags=N" (? for a missing table)
rest_counts() {
  local out="" t n
  for t in orders orders__items orders__tags; do
    n=$("$SQLITE" -batch "$1" "select count(*) from \"$t\"" 2>/dev/null) || n="?"
    out+="$t=${n:-?} "
  done
  echo "${out% }"
}

# rest_requests PATH -> how many requests to PATH the server has logged
rest_requests() {
  "$PY" -c 'import json, sys, urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1] + "/_control/requests?path=" + sys.argv[2]))))' \
    "$REST_URL" "$1" 2>/dev/null || echo "?"
}

# rest_row LABEL WALL PAGES RECORDS RSS_KB
rest_row() {
  printf '  %-26s %9.2f %10s %12s %13.1f\n' "$1" "$2" "$(commas "$(calc %.0f "$3 / $2")")" \
    "$(commas "$(calc %.0f "$4 / $2")")" "$(calc %.4f "$5 / 1024")"
}

bench_rest() {
  local orders pages expected py_db got p_pages
  orders=$(scaled 200000)
  pages=$(((orders + 99) / 100))
  echo
  echo "== rest: REST API (cursor pagination) -> SQLite (3 tables), ferry vs a Python stdlib script =="
  # Order i has i%3+1 items, and two tags when i is even (tests/servers/api_server.h).
  expected=$(awk -v n="$orders" 'BEGIN { for (i = 1; i <= n; i++) items += i % 3 + 1
    printf "orders=%d orders__items=%d orders__tags=%d", n, items, 2 * int(n / 2) }')
  if ! start_rest_server "$orders"; then
    add_summary rest "speedup python / ferry" "- (no API server)" ">= 5.0x" FAIL
    return
  fi
  note "server: $REST_URL, $(commas "$orders") orders in $(commas "$pages") pages of 100" \
    "(uncompressed JSON, one connection at a time)"
  note "expected rows: $expected"

  # Baseline: bench/baseline_rest.py
  py_db=$WORK/rest_python.db
  rest_python_prepare() { rm -f "$py_db" && RUN_DIR=$WORK; }
  measure rest_python_prepare "$WORK/rest_python.log" \
    "$PY" "$BENCH_DIR/baseline_rest.py" "$REST_URL" "$py_db"
  local p_ok=0 p_wall=$BEST_WALL p_rss=$PEAK_RSS_KB
  if baseline_ok baseline_rest.py "$WORK/rest_python.log" "$expected" rest_counts "$py_db"; then
    p_pages=$(sed -n 's/^pages=\([0-9]*\) .*/\1/p' "$WORK/rest_python.log" | tail -n 1)
    if [ "$p_pages" != "$pages" ]; then
      fail "baseline_rest.py read '$p_pages' pages; expected $pages"
    else
      p_ok=1
    fi
  fi
  rm -f "$py_db"

  # ferry, once it has the rest source (`type: http` connections).
  local f_skip=0
  F_OK=0 F_WHY=""
  if ! ferry_ready; then
    :
  elif ! "$FERRY" help source http >/dev/null 2>&1 && ! "$FERRY" help source rest >/dev/null 2>&1; then
    note "skipped: ferry has no rest source yet ('ferry help source http' and '... rest' fail)"
    f_skip=1
  else
    local yaml before requests
    yaml="project: bench_rest
metastore: sqlite:.ferry/meta.db
warehouse: wh
connections:
  api: {type: http, base_url: \"$REST_URL\"}
  wh: {type: sqlite, path: wh.db}
jobs:
  - id: orders
    source: {connection: api, path: /orders, params: {limit: 100}, records: /data,
             paginate: {type: cursor, cursor: /meta/next_cursor, param: cursor}}
    target: {table: orders, mode: append}"
    before=$(rest_requests /orders)
    run_ferry rest "$yaml" orders
    if [ "$F_OK" = 1 ]; then
      got=$(rest_counts "$PROJ/wh.db")
      if [ "$got" != "$expected" ]; then
        fail "ferry rows: $got; expected $expected"
        F_OK=0 F_WHY="ferry row counts"
      fi
      requests=$(($(rest_requests /orders) - before))
      [ "$requests" = $((pages * REPEAT)) ] ||
        note "WARN: the server saw $requests requests to /orders from ferry; expected $((pages * REPEAT))"
      rm -rf "$PROJ"
    fi
  fi
  stop_rest_server

  echo
  printf '  %-26s %9s %10s %12s %13s\n' "" "time s" "pages/s" "records/s" "peak RSS MiB"
  [ "$F_OK" = 1 ] && rest_row "ferry run" "$F_WALL" "$pages" "$orders" "$F_RSS"
  [ "$p_ok" = 1 ] && rest_row "baseline_rest.py" "$p_wall" "$pages" "$orders" "$p_rss"
  note "(records/s counts orders, the API's records; time includes ferry's start-up)"
  if [ "$f_skip" = 1 ]; then
    add_summary rest "speedup python / ferry" "- (skipped: no rest source yet)" ">= 5.0x" SKIP
  elif [ "$F_OK" = 1 ] && [ "$p_ok" = 1 ]; then
    local speedup result
    speedup=$(calc %.1f "$p_wall / $F_WALL")
    result=$(verdict "$speedup" ">=" 5.0)
    echo "  speedup python / ferry: ${speedup}x (target >= 5.0x): $result"
    add_summary rest "speedup python / ferry" \
      "${speedup}x ($(printf %.2f "$p_wall") s / $(printf %.2f "$F_WALL") s)" ">= 5.0x" "$result"
  else
    add_summary rest "speedup python / ferry" "- (${F_WHY:-baseline failed})" ">= 5.0x" FAIL
  fi
}

# ---------------------------------------------------------------- 6. S3 -> SQLite

# start_s3_server: starts tests/servers/s3rver.js (@20minutes/s3rver from tests/node_modules,
# the server of the s3 tests) on an ephemeral port with its store under $WORK; sets
# S3_SERVER_PID and S3_URL once it listens.
start_s3_server() {
  local src log=$WORK/s3rver.log port="" i
  src=$(cd "$BENCH_DIR/.." && pwd)
  if ! command -v node >/dev/null; then
    fail "node is missing (run make setup)"
    return 1
  fi
  if [ ! -d "$src/tests/node_modules/@20minutes/s3rver" ]; then
    fail "tests/node_modules/@20minutes/s3rver is missing (run make test-deps)"
    return 1
  fi
  # Its continuation tokens use DES, which Node's OpenSSL 3 has only in the legacy provider.
  node --openssl-legacy-provider "$src/tests/servers/s3rver.js" 0 "$WORK/s3rver" >"$log" 2>&1 &
  S3_SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do
    port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$S3_SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    fail "s3rver did not start"
    show_log "$log"
    stop_s3_server
    return 1
  fi
  S3_URL=http://127.0.0.1:$port
}
stop_s3_server() {
  [ -n "$S3_SERVER_PID" ] || return 0
  kill "$S3_SERVER_PID" 2>/dev/null
  wait "$S3_SERVER_PID" 2>/dev/null
  S3_SERVER_PID=""
}

# The aws CLI with s3rver's credentials (S3RVER / S3RVER) and no user configuration.
S3_AWS_ENV=(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required)
s3_aws() { env "${S3_AWS_ENV[@]}" "$AWS_CLI" --endpoint-url "$S3_URL" "$@"; }

bench_s3() {
  local rows csv bytes key uri got
  rows=$(scaled 2000000)
  echo
  echo "== s3: CSV object in S3 (local s3rver) -> SQLite, ferry vs aws s3 cp | sqlite3 .import =="
  if [ -z "${AWS_CLI:-}" ]; then
    if [ -x /usr/bin/aws ]; then AWS_CLI=/usr/bin/aws; else AWS_CLI=$(command -v aws); fi
  fi
  if [ -z "$AWS_CLI" ]; then
    fail "the aws CLI is missing (run make setup: Debian's awscli)"
    add_summary s3 "time ferry / aws cp + .import" "- (no aws CLI)" "<= 1.00" FAIL
    return
  fi
  if ensure_csv "$rows" 1; then csv=$DATA_FILE; else
    fail "could not generate the CSV"
    add_summary s3 "time ferry / aws cp + .import" "- (no data)" "<= 1.00" FAIL
    return
  fi
  if ! start_s3_server; then
    add_summary s3 "time ferry / aws cp + .import" "- (no S3 server)" "<= 1.00" FAIL
    return
  fi
  bytes=$(file_bytes "$csv")
  key=in/$(basename "$csv")
  uri=s3://bench/$key
  if ! s3_aws s3 mb s3://bench >"$WORK/s3_upload.log" 2>&1 ||
    ! s3_aws s3 cp --quiet "$csv" "$uri" >>"$WORK/s3_upload.log" 2>&1; then
    fail "could not upload $(basename "$csv") to $S3_URL"
    show_log "$WORK/s3_upload.log"
    stop_s3_server
    add_summary s3 "time ferry / aws cp + .import" "- (upload failed)" "<= 1.00" FAIL
    return
  fi
  note "server: $S3_URL (s3rver, path style, SigV4 checked); aws CLI: $("$AWS_CLI" --version 2>&1 | cut -d' ' -f1)"
  note "object: $uri: $(commas "$rows") rows, $(calc %.1f "$bytes / 1e6") MB"
  # The download alone, for context (and so the server's copy is in the page cache).
  # shellcheck disable=SC2016  # $0.. are bash -c's arguments
  timed "$WORK/s3_download.log" "$WORK" env "${S3_AWS_ENV[@]}" bash -c \
    'set -o pipefail; "$0" --endpoint-url "$1" s3 cp "$2" - | wc -c' "$AWS_CLI" "$S3_URL" "$uri"
  local dl_wall=$WALL dl_rss=$RSS_KB dl_ok=0
  if [ "$RC" -eq 0 ] && [ "$(tail -n 1 "$WORK/s3_download.log")" = "$bytes" ]; then dl_ok=1; else
    note "WARN: aws s3 cp - | wc -c did not give $bytes bytes"
    show_log "$WORK/s3_download.log"
  fi

  # Baseline: the pipe a user would write, into a table created with the right types.
  S_OK=0 S_DB=$WORK/s3_pipe.db
  local log=$WORK/s3_pipe.log s_check=""
  # shellcheck disable=SC2016  # $0.. are bash -c's arguments
  measure sqlite_prepare "$log" env "${S3_AWS_ENV[@]}" bash -c \
    'set -o pipefail; "$0" --endpoint-url "$1" s3 cp "$2" - | "$3" "$4" ".import --csv --skip 1 /dev/stdin t"' \
    "$AWS_CLI" "$S3_URL" "$uri" "$SQLITE" "$S_DB"
  if baseline_ok "aws s3 cp | sqlite3 .import" "$log" "$rows" sql "$S_DB" 'select count(*) from t'; then
    S_OK=1 S_WALL=$BEST_WALL S_RSS=$PEAK_RSS_KB
    s_check=$(sql "$S_DB" 'select count(*), sum(id), round(total(amount), 2) from t')
  fi
  rm -f "$S_DB"

  export BENCH_S3_SECRET=S3RVER
  run_ferry s3 "project: bench_s3
metastore: sqlite:.ferry/meta.db
warehouse: wh
connections:
  wh: {type: sqlite, path: warehouse.db}
  lake: {type: s3, bucket: bench, endpoint: \"$S3_URL\", access_key_id: S3RVER,
         secret_access_key: \"\${BENCH_S3_SECRET}\"}
jobs:
  - {id: bench_s3, source: {connection: lake, prefix: in/, format: csv}, target: {table: t, mode: append}}" \
    bench_s3
  if [ "$F_OK" = 1 ]; then
    got=$(sql "$PROJ/warehouse.db" 'select count(*) from t')
    if [ "$got" != "$rows" ]; then
      fail "ferry's table t has '$got' rows, expected $rows"
      F_OK=0 F_WHY="ferry row count"
    else
      local f_check
      f_check=$(sql "$PROJ/warehouse.db" 'select count(*), sum(id), round(total(amount), 2) from t')
      [ -z "$s_check" ] || [ "$f_check" = "$s_check" ] ||
        note "WARN: count|sum(id)|total(amount) differ: ferry $f_check, pipe $s_check"
    fi
    rm -rf "$PROJ"
  fi
  stop_s3_server

  echo
  table_header
  [ "$F_OK" = 1 ] && table_row "ferry run" "$F_WALL" "$rows" "$bytes" "$F_RSS"
  [ "$S_OK" = 1 ] && table_row "aws s3 cp | sqlite3 (base)" "$S_WALL" "$rows" "$bytes" "$S_RSS"
  [ "$dl_ok" = 1 ] && table_row "  aws s3 cp alone" "$dl_wall" "$rows" "$bytes" "$dl_rss"
  note "(the pipe's peak RSS is its largest process's; 'aws s3 cp alone' is the download to wc -c)"
  if [ "$F_OK" = 1 ] && [ "$S_OK" = 1 ]; then
    local ratio result
    ratio=$(calc %.2f "$F_WALL / $S_WALL")
    result=$(verdict "$ratio" "<=" 1.0)
    echo "  ratio ferry / aws s3 cp | sqlite3 .import: $ratio (target <= 1.00): $result"
    add_summary s3 "time ferry / aws cp + .import" \
      "$ratio ($(printf %.2f "$F_WALL") s / $(printf %.2f "$S_WALL") s)" "<= 1.00" "$result"
  else
    add_summary s3 "time ferry / aws cp + .import" "- (${F_WHY:-baseline failed})" "<= 1.00" FAIL
  fi
}

# ---------------------------------------------------------------- 7. PostgreSQL -> PostgreSQL, SQLite

PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=""
# start_pg_server: a throwaway PostgreSQL 15 cluster for this run, as tests/pg_server.cpp
# makes one: initdb (as the postgres user: the server refuses root) in a fresh directory,
# pg_ctl start on a free loopback port with a private socket directory, trust
# authentication, fsync off. Sets PG_DIR and PG_PORT; stop_pg_server stops it by its PID.
start_pg_server() {
  local log i
  if [ ! -x "$PG_BIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
    fail "PostgreSQL 15 is not installed ($PG_BIN/initdb or the postgres user is missing; run make setup)"
    return 1
  fi
  command -v psql >/dev/null || { fail "psql is missing (run make setup)"; return 1; }
  # Not under $WORK: the postgres user must be able to reach it.
  PG_DIR=$(mktemp -d /tmp/ferry-bench-pg.XXXXXX) || return 1
  chmod 755 "$PG_DIR"
  mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
  chmod 700 "$PG_DIR/data"
  log=$PG_DIR/log
  : >"$log"
  chown -R postgres: "$PG_DIR/data" "$PG_DIR/sock" "$log"
  if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 \
    --locale=C --no-sync >>"$log" 2>&1; then
    fail "initdb failed"
    show_log "$log"
    return 1
  fi
  for ((i = 0; i < 5; i++)); do
    PG_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # fsync off on both sides of every comparison; big enough buffers and WAL that neither
    # contender waits on a checkpoint mid-load.
    if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$log" -w -t 60 -o \
      "-p $PG_PORT -k $PG_DIR/sock -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=256MB -c max_wal_size=8GB" \
      start >>"$PG_DIR/pg_ctl.log" 2>&1; then
      return 0
    fi
  done
  fail "pg_ctl start failed"
  show_log "$PG_DIR/pg_ctl.log"
  show_log "$log"
  return 1
}
# Restarts the cluster (same options): its shared buffers start empty, and the shutdown's
# checkpoint means the next change of each page writes the whole page to the WAL.
restart_pg_server() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -m fast -w -t 60 \
    restart >>"$PG_DIR/pg_ctl.log" 2>&1
}
# The postmaster's PID from postmaster.pid, killed only when it is still a postgres on PG_DIR.
stop_pg_server() {
  [ -n "$PG_DIR" ] || return 0
  local pid=""
  [ -f "$PG_DIR/data/postmaster.pid" ] && pid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$PG_DIR/data"; then
    kill -9 "$pid" 2>/dev/null
  fi
  rm -rf "$PG_DIR"
  PG_DIR=""
}
pg_url() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"; }
# A checkpoint before each timed run of ferry and of a baseline: the dirty pages of the last
# run are written now, not by the background writer during the next.
pg_settle() { psql -X -q -v ON_ERROR_STOP=1 -d "$(pg_url postgres)" -c CHECKPOINT; }
# psql_do DB SQL -> the result, unaligned, one line per row ('|' between columns)
psql_do() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$(pg_url "$1")" -c "$2"; }

# pg_check DB TABLE -> "count|sum(id)|sum(amount)|max(updated_at)|sum(length(payload))"
pg_check() {
  psql_do "$1" "select count(*), sum(id), sum(amount), max(updated_at), sum(length(payload)) from $2" 2>&1
}

# bench_pg_csv ROWS: CSV file -> PostgreSQL: ferry's file source into the postgres warehouse
# vs psql \copy from the file into a table created with the right types. Sets C_F_OK, C_F_WALL,
# C_F_RSS, C_P_OK, C_P_WALL, C_P_RSS and C_BYTES (the file's size), and C_WHY on a failure.
bench_pg_csv() {
  local rows=$1 csv got log=$WORK/pg_csv_psql.log p_check=""
  C_F_OK=0 C_P_OK=0 C_WHY="" C_BYTES=0
  if ensure_csv "$rows" 1; then csv=$DATA_FILE; else
    fail "could not generate the CSV"
    C_WHY="no data"
    return
  fi
  C_BYTES=$(file_bytes "$csv")
  note "CSV -> PG input: $(basename "$csv"): $(commas "$rows") rows, $(calc %.1f "$C_BYTES / 1e6") MB"
  warm "$csv"
  local check="select count(*), sum(id), round(sum(amount)::numeric, 2), max(updated_at),
    sum(length(payload)) from"

  # Baseline: PostgreSQL's own bulk path, into a table it is told the types of.
  pg_csv_prepare() {
    RUN_DIR=$WORK
    pg_settle && psql_do bench_dst "DROP TABLE IF EXISTS csv_t; CREATE TABLE csv_t (id bigint, name text,
      amount numeric(12,2), updated_at timestamptz, payload text)"
  }
  measure pg_csv_prepare "$log" psql -X -q -v ON_ERROR_STOP=1 -d "$(pg_url bench_dst)" \
    -c "\\copy csv_t from '$csv' csv header"
  if baseline_ok "psql \\copy from the CSV" "$log" "$rows" psql_do bench_dst "select count(*) from csv_t"; then
    C_P_OK=1 C_P_WALL=$BEST_WALL C_P_RSS=$PEAK_RSS_KB
    p_check=$(psql_do bench_dst "$check csv_t" 2>&1)
  fi
  psql_do bench_dst "DROP TABLE IF EXISTS csv_t" >/dev/null 2>&1

  # ferry: a `file` connection at the data directory, the postgres warehouse (schema ods, made
  # afresh for each repetition), mode append: ferry infers the types itself.
  P_RESET=pg_reset_ods
  run_ferry pg_csv "project: bench_pg_csv
metastore: sqlite:.ferry/meta.db
warehouse: wh
connections:
  files: {type: file, path: \"$DATA\"}
  wh: {type: postgres, url: \"$(pg_url bench_dst)\", schema: ods}
jobs:
  - {id: bench_pg_csv, source: {connection: files, path: \"$(basename "$csv")\", format: csv},
     target: {table: t, mode: append}}" bench_pg_csv
  P_RESET=""
  if [ "$F_OK" = 1 ]; then
    got=$(psql_do bench_dst "select count(*) from ods.t" 2>&1)
    if [ "$got" != "$rows" ]; then
      fail "ferry's table ods.t (CSV) has '$got' rows, expected $rows"
      C_WHY="ferry row count"
    else
      C_F_OK=1 C_F_WALL=$F_WALL C_F_RSS=$F_RSS
      local f_check
      f_check=$(psql_do bench_dst "$check ods.t" 2>&1)
      [ -z "$p_check" ] || [ "$f_check" = "$p_check" ] ||
        note "WARN: count|sum(id)|sum(amount)|max(updated_at)|sum(length(payload)) differ:" \
          "ferry $f_check, psql $p_check"
    fi
    rm -rf "$PROJ"
  else
    C_WHY=$F_WHY
  fi
  psql_do bench_dst "DROP SCHEMA IF EXISTS ods CASCADE" >/dev/null 2>&1
}

# bench_pg_incremental ROWS: a merge job on id with incremental.cursor_field updated_at: the
# full first run; then 1% of the source's rows get a new updated_at and amount (+1,000,000);
# then the incremental run, in the same project. Changes the source: run it last. Sets I_OK,
# I_FULL_WALL, I_FULL_RSS, I_NOOP_WALL (a run with nothing changed), I_WALL, I_RSS, I_CHANGED,
# and I_WHY on a failure.
bench_pg_incremental() {
  local rows=$1 got want i log=$WORK/pg_inc_run.log
  I_OK=0 I_FULL_WALL="" I_WALL="" I_WHY="" I_CHANGED=$((rows / 100)) I_P_OK=0 I_P_WALL="" I_P_RSS=0
  local yaml
  yaml="project: bench_pg_inc
metastore: sqlite:.ferry/meta.db
warehouse: wh
connections:
  pg: {type: postgres, url: \"$(pg_url bench_src)\"}
  wh: {type: postgres, url: \"$(pg_url bench_dst)\", schema: ods}
jobs:
  - {id: bench_pg_inc, source: {connection: pg, table: public.src},
     incremental: {cursor_field: updated_at}, target: {table: t, mode: merge, primary_key: [id]}}"
  P_RESET=pg_reset_ods
  run_ferry pg_inc_full "$yaml" bench_pg_inc
  P_RESET=""
  if [ "$F_OK" != 1 ]; then
    I_WHY="full run: $F_WHY"
    return
  fi
  want=$(pg_check bench_src src)
  got=$(pg_check bench_dst ods.t)
  if [ "$got" != "$want" ]; then
    fail "ferry's table ods.t (merge, full run): '$got', expected '$want'"
    I_WHY="full run rows differ"
    return
  fi
  I_FULL_WALL=$F_WALL I_FULL_RSS=$F_RSS

  # The constant: the same run with nothing changed (start-up, connections, catalog look-ups,
  # the one row at the watermark, the commit).
  timed "$log" "$PROJ" timeout "$TIMEOUT" "$FERRY" run bench_pg_inc
  if [ "$RC" -ne 0 ]; then
    fail "the unchanged incremental 'ferry run bench_pg_inc' exited with status $RC"
    show_log "$log"
    I_WHY="unchanged run exit $RC"
    return
  fi
  I_NOOP_WALL=$WALL

  # 1% of the rows change, as an application would change them; vacuumed like the source was.
  # The watermark before the change, for the hand-written baseline below.
  local watermark
  watermark=$(psql_do bench_src "select max(updated_at) from src" 2>&1)
  if ! psql_do bench_src "UPDATE src SET updated_at = now(), amount = amount + 1000000
      WHERE id % 100 = 0" >"$WORK/pg_inc_update.log" 2>&1 ||
    ! psql_do bench_src "VACUUM ANALYZE src" >>"$WORK/pg_inc_update.log" 2>&1; then
    fail "could not update 1% of the source's rows"
    show_log "$WORK/pg_inc_update.log"
    I_WHY="update failed"
    return
  fi
  note "updated $(commas "$I_CHANGED") source rows (updated_at = now(), amount + 1,000,000)"

  # Timed in the project of the full run (its watermark). A repetition reads the same changed
  # rows again: they share the watermark's value, and the source reads >= it.
  # Each timed run (ferry's and the baseline's) starts on a restarted server: shared buffers
  # empty, and a checkpoint just made, after which the first change of a page writes the
  # whole page to the WAL. Both are most of the cost of updating 1% of the rows spread over
  # every page, and fall on both alike.
  local best="" peak=0
  for ((i = 0; i < REPEAT; i++)); do
    if ! restart_pg_server; then
      fail "could not restart PostgreSQL"
      I_WHY="restart failed"
      return
    fi
    timed "$log" "$PROJ" timeout "$TIMEOUT" "$FERRY" run bench_pg_inc
    if [ "$RC" -ne 0 ]; then
      fail "the incremental 'ferry run bench_pg_inc' exited with status $RC"
      show_log "$log"
      I_WHY="incremental run exit $RC"
      return
    fi
    if [ -z "$best" ] || awk -v a="$WALL" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$WALL; fi
    [ "$RSS_KB" -gt "$peak" ] && peak=$RSS_KB
  done
  grep -v '^[[:space:]]*$' "$log" | tail -n 8 | cut -c1-150 | sed 's/^/  ferry> /'
  want=$(pg_check bench_src src)
  got=$(pg_check bench_dst ods.t)
  if [ "$got" != "$want" ]; then
    fail "ferry's table ods.t after the incremental run: '$got', expected '$want'"
    I_WHY="incremental rows differ"
    return
  fi
  got=$(psql_do bench_dst "select count(*) from ods.t where amount >= 1000000" 2>&1)
  if [ "$got" != "$I_CHANGED" ]; then
    fail "ferry's table ods.t has '$got' rows with the new amounts, expected $I_CHANGED"
    I_WHY="incremental rows differ"
    return
  fi
  I_OK=1 I_WALL=$best I_RSS=$peak
  rm -rf "$PROJ"

  # Baseline: the incremental a user would script: the rows at or after the last watermark
  # piped into a temporary table, then upserted into ferry's table on its key, in one
  # transaction.
  local inc_log=$WORK/pg_inc_psql.log
  pg_inc_prepare() {
    RUN_DIR=$WORK
    restart_pg_server
  }
  # shellcheck disable=SC2016  # $0.. are bash -c's arguments
  measure pg_inc_prepare "$inc_log" bash -c \
    'set -o pipefail; psql -X -q -v ON_ERROR_STOP=1 -d "$0" \
       -c "\copy (SELECT * FROM src WHERE updated_at >= '"'"'$2'"'"') to stdout" |
     psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "BEGIN" \
       -c "CREATE TEMP TABLE s (id bigint, name text, amount numeric(12,2), updated_at timestamptz, payload text)" \
       -c "\copy s from pstdin" \
       -c "INSERT INTO ods.t (id, name, amount, updated_at, payload, _ferry_load_id)
           SELECT *, '"'"'psql'"'"' FROM s ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
           amount = EXCLUDED.amount, updated_at = EXCLUDED.updated_at, payload = EXCLUDED.payload,
           _ferry_load_id = EXCLUDED._ferry_load_id" -c "COMMIT"' \
    "$(pg_url bench_src)" "$(pg_url bench_dst)" "$watermark"
  if baseline_ok "the psql incremental" "$inc_log" "$I_CHANGED" \
    psql_do bench_dst "select count(*) from ods.t where _ferry_load_id = 'psql'"; then
    I_P_OK=1 I_P_WALL=$BEST_WALL I_P_RSS=$PEAK_RSS_KB
  fi
}

bench_postgres() {
  local rows src_check got bytes
  rows=$(scaled 2000000)
  echo
  echo "== postgres: PostgreSQL -> PostgreSQL and -> SQLite, ferry vs psql \\copy pipes =="
  if ! start_pg_server; then
    add_summary postgres "time ferry / psql pipe (PG)" "- (no PostgreSQL)" "<= 1.00" FAIL
    return
  fi
  note "server: PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$PG_PORT" \
    "(fsync=off, shared_buffers=256MB)"
  # The source: 2,000,000 rows of int, text, numeric, timestamptz and text, made by the
  # server itself; vacuumed (hint bits set) and read once, so no contender pays for that.
  if ! psql_do postgres "CREATE DATABASE bench_src" >"$WORK/pg_setup.log" 2>&1 ||
    ! psql_do postgres "CREATE DATABASE bench_dst" >>"$WORK/pg_setup.log" 2>&1 ||
    ! psql_do bench_src "CREATE TABLE src AS SELECT g::bigint AS id, 'name ' || g AS name,
        round(((g::bigint * 7919) % 10000000) / 100.0, 2)::numeric(12,2) AS amount,
        timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS updated_at,
        md5(g::text) || ' ' || md5((g::bigint * 31)::text) AS payload
      FROM generate_series(1, $rows) g;
      ALTER TABLE src ADD PRIMARY KEY (id);
      CREATE INDEX src_updated_at ON src (updated_at)" >>"$WORK/pg_setup.log" 2>&1 ||
    ! psql_do bench_src "VACUUM ANALYZE src" >>"$WORK/pg_setup.log" 2>&1; then
    fail "could not create the source table"
    show_log "$WORK/pg_setup.log"
    stop_pg_server
    add_summary postgres "time ferry / psql pipe (PG)" "- (no data)" "<= 1.00" FAIL
    return
  fi
  bytes=$(psql_do bench_src "select pg_table_size('src')")
  src_check=$(pg_check bench_src src)
  note "source: bench_src.public.src (id bigint pk, name text, amount numeric(12,2)," \
    "updated_at timestamptz, payload text): $(commas "$rows") rows, $(calc %.1f "$bytes / 1e6") MB on disk"

  # --- PG -> PG
  # Baseline: the pipe a user would write, into a table with the source's types.
  local pipe_log=$WORK/pg_pipe.log p_ok=0 p_wall="" p_rss=""
  pg_pipe_prepare() {
    RUN_DIR=$WORK
    pg_settle && psql_do bench_dst "DROP TABLE IF EXISTS pipe_t; CREATE TABLE pipe_t (id bigint, name text,
      amount numeric(12,2), updated_at timestamptz, payload text)"
  }
  # shellcheck disable=SC2016  # $0.. are bash -c's arguments
  measure pg_pipe_prepare "$pipe_log" bash -c \
    'set -o pipefail; psql -X -q -v ON_ERROR_STOP=1 -d "$0" -c "\copy (SELECT * FROM src) to stdout" |
       psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "\copy pipe_t from pstdin"' \
    "$(pg_url bench_src)" "$(pg_url bench_dst)"
  if baseline_ok "the psql \\copy pipe" "$pipe_log" "$src_check" pg_check bench_dst pipe_t; then
    p_ok=1 p_wall=$BEST_WALL p_rss=$PEAK_RSS_KB
  fi
  psql_do bench_dst "DROP TABLE IF EXISTS pipe_t" >/dev/null 2>&1

  # ferry: replace (a new table swapped in; a fresh schema ods of bench_dst for each
  # repetition) and append (into the existing table the replace runs left, emptied first).
  local yaml mode
  local -A f_ok f_wall f_rss
  pg_reset_ods() { psql_do bench_dst "DROP SCHEMA IF EXISTS ods CASCADE" && pg_settle; }
  # shellcheck disable=SC2016  # $$ is SQL's
  pg_empty_t() {
    psql_do bench_dst 'DO $$ BEGIN IF to_regclass($q$ods.t$q$) IS NOT NULL THEN TRUNCATE ods.t;
      END IF; END $$' && pg_settle
  }
  for mode in replace append; do
    if [ "$mode" = replace ]; then P_RESET=pg_reset_ods; else P_RESET=pg_empty_t; fi
    yaml="project: bench_pg
metastore: sqlite:.ferry/meta.db
warehouse: wh
connections:
  pg: {type: postgres, url: \"$(pg_url bench_src)\"}
  wh: {type: postgres, url: \"$(pg_url bench_dst)\", schema: ods}
jobs:
  - {id: bench_pg, source: {connection: pg, table: public.src}, target: {table: t, mode: $mode}}"
    run_ferry "pg_$mode" "$yaml" bench_pg
    if [ "$F_OK" = 1 ]; then
      got=$(pg_check bench_dst ods.t)
      if [ "$got" != "$src_check" ]; then
        fail "ferry's table ods.t ($mode): '$got', expected '$src_check'"
        F_OK=0 F_WHY="ferry rows differ"
      fi
      rm -rf "$PROJ"
    fi
    f_ok[$mode]=$F_OK f_wall[$mode]=$F_WALL f_rss[$mode]=$F_RSS
    [ "$F_OK" = 1 ] || PG_WHY=$F_WHY
  done
  P_RESET=""

  # --- PG -> SQLite
  local lite_log=$WORK/pg_lite_pipe.log l_ok=0 l_wall="" l_rss=""
  S_DB=$WORK/pg_lite_pipe.db
  pg_lite_prepare() {
    rm -f "$S_DB" && RUN_DIR=$WORK && pg_settle &&
      "$SQLITE" "$S_DB" 'CREATE TABLE t(id INTEGER, name TEXT, amount NUMERIC, updated_at TEXT, payload TEXT)'
  }
  # shellcheck disable=SC2016  # $0.. are bash -c's arguments
  measure pg_lite_prepare "$lite_log" bash -c \
    'set -o pipefail; psql -X -q -v ON_ERROR_STOP=1 -d "$0" -c "\copy (SELECT * FROM src) to stdout with csv" |
       "$1" "$2" ".import --csv /dev/stdin t"' \
    "$(pg_url bench_src)" "$SQLITE" "$S_DB"
  if baseline_ok "psql \\copy | sqlite3 .import" "$lite_log" "$rows|$((rows * (rows + 1) / 2))" \
    sql "$S_DB" 'select count(*), sum(id) from t'; then
    l_ok=1 l_wall=$BEST_WALL l_rss=$PEAK_RSS_KB
  fi
  rm -f "$S_DB"

  local lf_ok=0 lf_wall="" lf_rss=""
  P_RESET=pg_settle
  run_ferry pg_lite "project: bench_pg_lite
metastore: sqlite:.ferry/meta.db
warehouse: wh
connections:
  pg: {type: postgres, url: \"$(pg_url bench_src)\"}
  wh: {type: sqlite, path: warehouse.db}
jobs:
  - {id: bench_pg_lite, source: {connection: pg, table: public.src}, target: {table: t, mode: append}}" \
    bench_pg_lite
  P_RESET=""
  if [ "$F_OK" = 1 ]; then
    got=$(sql "$PROJ/warehouse.db" 'select count(*), sum(id) from t')
    if [ "$got" != "$rows|$((rows * (rows + 1) / 2))" ]; then
      fail "ferry's SQLite table t: '$got' (count|sum(id)), expected $rows|$((rows * (rows + 1) / 2))"
    else
      lf_ok=1 lf_wall=$F_WALL lf_rss=$F_RSS
    fi
    rm -rf "$PROJ"
  fi

  # --- CSV file -> PG, then the incremental run (last: it changes the source)
  bench_pg_csv "$rows"
  bench_pg_incremental "$rows"
  stop_pg_server

  echo
  table_header
  [ "${f_ok[replace]}" = 1 ] &&
    table_row "ferry PG->PG replace" "${f_wall[replace]}" "$rows" "$bytes" "${f_rss[replace]}"
  [ "${f_ok[append]}" = 1 ] &&
    table_row "ferry PG->PG append" "${f_wall[append]}" "$rows" "$bytes" "${f_rss[append]}"
  [ "$p_ok" = 1 ] && table_row "psql | psql (baseline)" "$p_wall" "$rows" "$bytes" "$p_rss"
  [ "$lf_ok" = 1 ] && table_row "ferry PG->SQLite" "$lf_wall" "$rows" "$bytes" "$lf_rss"
  [ "$l_ok" = 1 ] && table_row "psql | sqlite3 (baseline)" "$l_wall" "$rows" "$bytes" "$l_rss"
  note "(MB/s: of the source table's size on disk; peak RSS: the client processes only, not the" \
    "server's; a pipe's is its largest process's)"
  local ratio result mode_label
  # The target is the table copy's (replace, into a new table like the pipe's). append goes
  # into an existing table through a staging table and has none: reported for comparison.
  local target
  for mode in replace append; do
    mode_label="time ferry $mode / psql pipe"
    target="<= 1.00"
    [ "$mode" = append ] && target="-"
    if [ "${f_ok[$mode]}" = 1 ] && [ "$p_ok" = 1 ]; then
      ratio=$(calc %.2f "${f_wall[$mode]} / $p_wall")
      result=$(verdict "$ratio" "<=" 1.0)
      [ "$mode" = append ] && result="-"
      echo "  ratio ferry PG->PG ($mode) / psql | psql: $ratio (target $target): $result"
      add_summary postgres "$mode_label" \
        "$ratio ($(printf %.2f "${f_wall[$mode]}") s / $(printf %.2f "$p_wall") s)" "$target" "$result"
    else
      add_summary postgres "$mode_label" "- (${PG_WHY:-baseline failed})" "$target" FAIL
    fi
  done
  if [ "$lf_ok" = 1 ] && [ "$l_ok" = 1 ]; then
    ratio=$(calc %.2f "$lf_wall / $l_wall")
    result=$(verdict "$ratio" "<=" 1.0)
    echo "  ratio ferry PG->SQLite / psql | sqlite3: $ratio (target <= 1.00): $result"
    add_summary postgres "time ferry / psql to sqlite3" \
      "$ratio ($(printf %.2f "$lf_wall") s / $(printf %.2f "$l_wall") s)" "<= 1.00" "$result"
  else
    add_summary postgres "time ferry / psql to sqlite3" "- (ferry or baseline failed)" "<= 1.00" FAIL
  fi

  # CSV -> PG: MB/s of the CSV file.
  echo
  table_header
  [ "$C_F_OK" = 1 ] && table_row "ferry CSV->PG" "$C_F_WALL" "$rows" "$C_BYTES" "$C_F_RSS"
  [ "$C_P_OK" = 1 ] && table_row "psql \\copy csv (baseline)" "$C_P_WALL" "$rows" "$C_BYTES" "$C_P_RSS"
  note "(MB/s: of the CSV file)"
  if [ "$C_F_OK" = 1 ] && [ "$C_P_OK" = 1 ]; then
    ratio=$(calc %.2f "$C_F_WALL / $C_P_WALL")
    result=$(verdict "$ratio" "<=" 1.1)
    echo "  ratio ferry CSV->PG / psql \\copy from file: $ratio (target <= 1.10): $result"
    add_summary postgres "time ferry CSV / psql \\copy" \
      "$ratio ($(printf %.2f "$C_F_WALL") s / $(printf %.2f "$C_P_WALL") s)" "<= 1.10" "$result"
  else
    add_summary postgres "time ferry CSV / psql \\copy" "- (${C_WHY:-baseline failed})" "<= 1.10" FAIL
  fi

  # Incremental: rows/s and MB/s of the rows read (the changed ones, and the one at the watermark).
  echo
  table_header
  if [ -n "$I_FULL_WALL" ]; then
    table_row "ferry PG->PG merge, full" "$I_FULL_WALL" "$rows" "$bytes" "$I_FULL_RSS"
  fi
  [ "$I_OK" = 1 ] && table_row "ferry incremental, 1%" "$I_WALL" "$I_CHANGED" \
    "$(calc %.0f "$bytes * $I_CHANGED / $rows")" "$I_RSS"
  note "(the same merge job on id, cursor_field updated_at: its first, full run, then the run" \
    "after $(commas "$I_CHANGED") source rows changed)"
  [ "$I_P_OK" = 1 ] && table_row "psql incr. (baseline)" "$I_P_WALL" "$I_CHANGED" \
    "$(calc %.0f "$bytes * $I_CHANGED / $rows")" "$I_P_RSS"
  note "(baseline: \\copy of the rows >= the last watermark | a temp table, INSERT ... ON CONFLICT (id)" \
    "DO UPDATE; each timed run on a restarted server)"
  # ~1% of the full run plus the constant: (incremental - unchanged run) / full run; and the
  # incremental against the script a user would write for it.
  if [ "$I_OK" = 1 ]; then
    note "the same run with nothing changed (the constant): $(printf %.2f "$I_NOOP_WALL") s"
    ratio=$(calc %.3f "($I_WALL - $I_NOOP_WALL) / $I_FULL_WALL")
    echo "  ratio (ferry incremental 1% - unchanged run) / full run: $ratio"
    add_summary postgres "(incr. 1% - constant) / full" \
      "$ratio ($(printf %.2f "$I_WALL") s - $(printf %.2f "$I_NOOP_WALL") s; $(printf %.1f "$I_FULL_WALL") s)" \
      "-" "-"
  else
    add_summary postgres "(incr. 1% - constant) / full" "- (${I_WHY:-failed})" "-" FAIL
  fi
  if [ "$I_OK" = 1 ] && [ "$I_P_OK" = 1 ]; then
    ratio=$(calc %.2f "$I_WALL / $I_P_WALL")
    echo "  ratio ferry incremental / psql incremental: $ratio"
    add_summary postgres "time ferry incr. / psql incr." \
      "$ratio ($(printf %.2f "$I_WALL") s / $(printf %.2f "$I_P_WALL") s)" "-" "-"
  else
    add_summary postgres "time ferry incr. / psql incr." "- (${I_WHY:-baseline failed})" "-" FAIL
  fi
}

# ---------------------------------------------------------------- serve

# ferry serve: runs/s through the job execution table, trigger latency, idle cost
# (bench/serve_bench.py prints each figure with its target).
bench_serve() {
  echo
  echo "== serve: the job execution table, trigger latency, idle with 5,000 jobs =="
  local out
  if ! out=$("$PY" "$BENCH_DIR/serve_bench.py" "$FERRY" \
    --runs "$(scaled 10000)" --jobs "$(scaled 1000)" --idle-jobs "$(scaled 5000)" 2>&1); then
    echo "$out" | tail -n 5
    fail "serve_bench.py failed"
    return
  fi
  echo "$out"
  local rate
  rate=$(echo "$out" | sed -n 's/.* -> \([0-9,]*\) runs\/s.*/\1/p' | tr -d ,)
  add_summary serve "runs/s, concurrency 4" "${rate:-?} runs/s" ">= 5000" \
    "$([ "${rate:-0}" -ge 5000 ] && echo OK || echo MISS)"
}

# ---------------------------------------------------------------- main

echo "ferry benchmarks: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, SCALE=$SCALE, REPEAT=$REPEAT"
echo "ferry:     $FERRY$([ -x "$FERRY" ] || echo '  (MISSING: build it with make build)')"
echo "baselines: sqlite3 $("$SQLITE" -version | cut -d' ' -f1), $("$PY" --version)"
echo "data:      $DATA"
echo "temporary: $WORK"
for name in "${SELECTED[@]}"; do
  case "$name" in
    csv) bench_csv ;;
    json) bench_json ;;
    normalize) bench_normalize ;;
    memory) bench_memory ;;
    rest) bench_rest ;;
    s3) bench_s3 ;;
    postgres) bench_postgres ;;
    serve) bench_serve ;;
  esac
done

echo
echo "== summary =="
printf '  %-10s %-30s %-46s %-9s %s\n' benchmark metric value target result
for line in "${SUMMARY[@]}"; do
  IFS='|' read -r b m v t r <<<"$line"
  printf '  %-10s %-30s %-46s %-9s %s\n' "$b" "$m" "$v" "$t" "$r"
done
if [ "$FAILED" != 0 ]; then
  echo "run.sh: FAILED (see the messages above)"
  exit 1
fi
exit 0
