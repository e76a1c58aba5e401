#!/usr/bin/env bash
# A local Spark standalone cluster from the pip-installed pyspark (no Spark download):
# one master and N workers, each a JVM started with spark-class, pid files and logs in
# $CLUSTER_DIR. Used by `make cluster-up` / `make cluster-down` and tests/engine/test_cluster.py.
#
#   scripts/cluster.sh up       start master + workers, wait until every worker registered
#   scripts/cluster.sh down     stop them (SIGTERM, then SIGKILL after a grace period)
#   scripts/cluster.sh status   print what runs
#
# Then: SPARK_MASTER=spark://127.0.0.1:7077 .venv/bin/python -m engine train
#
# Environment (defaults in brackets):
#   PY [.venv/bin/python]  CLUSTER_DIR [.cluster]  SPARK_MASTER_HOST [127.0.0.1]
#   SPARK_MASTER_PORT [7077]  SPARK_MASTER_WEBUI_PORT [8080]  SPARK_WORKER_WEBUI_PORT [8081, +1 each]
#   (a web UI port of 0 means any free port)
#   CLUSTER_WORKERS [2]  CLUSTER_WORKER_CORES [1]  CLUSTER_WORKER_MEMORY [1g]
#   SPARK_DAEMON_MEMORY [256m: heap of the master/worker daemons themselves, not of executors]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/.cluster}"
HOST="${SPARK_MASTER_HOST:-127.0.0.1}"
PORT="${SPARK_MASTER_PORT:-7077}"
MASTER_UI="${SPARK_MASTER_WEBUI_PORT:-8080}"
WORKER_UI="${SPARK_WORKER_WEBUI_PORT:-8081}"
WORKERS="${CLUSTER_WORKERS:-2}"
CORES="${CLUSTER_WORKER_CORES:-1}"
MEMORY="${CLUSTER_WORKER_MEMORY:-1g}"
WAIT_S="${CLUSTER_WAIT_S:-90}"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
export SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-256m}"
# Executors run Python UDFs with the driver's interpreter (the venv), found through this.
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$PY}"
# Remove finished applications' executor folders from the work dir after a day.
export SPARK_WORKER_OPTS="${SPARK_WORKER_OPTS:--Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400}"

die() { echo "cluster: $*" >&2; exit 1; }

spark_home() {
  [[ -x "$PY" ]] || die "no python at $PY (run 'make venv' first)"
  "$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null \
    || die "pyspark is not installed in $PY (run 'make venv')"
}

# True when the pid in file $1 is alive and still one of our Spark daemons (not a reused pid).
alive() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  ps -p "$pid" -o args= 2>/dev/null | grep -q "org.apache.spark.deploy"
}

start() {  # name, class, args...
  local name="$1" pidfile="$CLUSTER_DIR/$1.pid" log="$CLUSTER_DIR/logs/$1.log"
  shift
  if alive "$pidfile"; then
    echo "cluster: $name already running (pid $(cat "$pidfile"))"
    return
  fi
  # spark-class execs the JVM, so $! is the daemon's own pid.
  nohup "$SPARK_HOME/bin/spark-class" "$@" >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

wait_for() {  # description, command...
  local what="$1" deadline=$((SECONDS + WAIT_S))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "cluster: $what did not happen within ${WAIT_S}s; last log lines:" >&2
      tail -n 20 "$CLUSTER_DIR"/logs/*.log >&2 || true
      return 1
    fi
    sleep 1
  done
}

master_up() { grep -q "I have been elected leader" "$CLUSTER_DIR/logs/master.log" 2>/dev/null; }
registered() {
  local n=0 i
  for ((i = 1; i <= WORKERS; i++)); do
    grep -q "Successfully registered with master" "$CLUSTER_DIR/logs/worker-$i.log" 2>/dev/null && n=$((n + 1))
  done
  ((n == WORKERS))
}

ui_port() {  # base, worker number: consecutive ports; 0 (any free port) stays 0
  if (($1 == 0)); then echo 0; else echo $(($1 + $2 - 1)); fi
}

up() {
  SPARK_HOME="$(spark_home)"
  export SPARK_HOME
  command -v java >/dev/null || die "no java on PATH (run 'make java')"
  mkdir -p "$CLUSTER_DIR/logs" "$CLUSTER_DIR/work"
  start master org.apache.spark.deploy.master.Master \
    --host "$HOST" --port "$PORT" --webui-port "$MASTER_UI"
  if ! wait_for "master start" master_up; then down; exit 1; fi
  local i
  for ((i = 1; i <= WORKERS; i++)); do
    start "worker-$i" org.apache.spark.deploy.worker.Worker \
      --host "$HOST" --cores "$CORES" --memory "$MEMORY" \
      --webui-port "$(ui_port "$WORKER_UI" "$i")" --work-dir "$CLUSTER_DIR/work/worker-$i" \
      "spark://$HOST:$PORT"
  done
  if ! wait_for "worker registration" registered; then down; exit 1; fi
  echo "cluster: master spark://$HOST:$PORT (UI http://$HOST:$MASTER_UI), $WORKERS workers x $CORES core(s), $MEMORY; logs in $CLUSTER_DIR/logs"
}

stop_one() {
  local pidfile="$1" pid i
  if ! alive "$pidfile"; then
    rm -f "$pidfile"
    return
  fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    alive "$pidfile" || break
    sleep 0.5
  done
  if alive "$pidfile"; then
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  echo "cluster: stopped $(basename "$pidfile" .pid) (pid $pid)"
  rm -f "$pidfile"
}

down() {
  local f
  shopt -s nullglob
  # Workers first, so they do not spend the grace period reconnecting to a stopped master.
  for f in "$CLUSTER_DIR"/worker-*.pid; do stop_one "$f"; done
  [[ -f "$CLUSTER_DIR/master.pid" ]] && stop_one "$CLUSTER_DIR/master.pid"
  return 0
}

status() {
  local f any=1
  shopt -s nullglob
  for f in "$CLUSTER_DIR"/*.pid; do
    if alive "$f"; then
      echo "$(basename "$f" .pid): running (pid $(cat "$f"))"
      any=0
    else
      echo "$(basename "$f" .pid): not running (stale pid file)"
    fi
  done
  ((any == 0)) || { echo "cluster: not running"; return 1; }
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
