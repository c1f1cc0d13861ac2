#!/usr/bin/env python3
"""ferry serve benchmarks (issue: `ferry serve`): throughput of the job execution table,
trigger latency, and the idle cost of a large config table. Standard library only.

  serve_bench.py FERRY_BIN [--runs 10000] [--jobs 1000] [--idle-jobs 5000] [--concurrency 4]

1. Throughput: `--jobs` no-op jobs (an empty CSV into the null destination), `--runs` runs
   queued in the metastore before the daemon starts; the daemon works through them at
   `--concurrency`. Reports runs/s from the first start to the last finish, and the
   per-run scheduling overhead (wall time per run x concurrency).
2. Latency: 50 `POST /api/jobs/{id}/runs` calls, one at a time; queued_at -> started_at of
   each run (the daemon's own timestamps): median and p95. And a config row INSERTed with
   SQL -> visible in GET /api/jobs.
3. Idle: `--idle-jobs` jobs with hourly schedules, no runs due; CPU (% of one core) and RSS of
   the daemon over 10 s.
The baseline is the target each figure has in the issue (printed next to it).
"""
import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

TICKS = os.sysconf("SC_CLK_TCK")


def iso_seconds(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def write_project(path, jobs, trigger=""):
    os.makedirs(os.path.join(path, "data"), exist_ok=True)
    with open(os.path.join(path, "data", "empty.csv"), "w") as f:
        f.write("id\n")
    lines = ["project: bench_serve", "warehouse: sink", "concurrency: 4", "connections:",
             "  sink: {type: \"null\"}", "  files: {type: file, path: data}", "templates:",
             "  noop:", "    source: {connection: files, path: empty.csv}",
             "    target: {table: \"t_{{n}}\"}"]
    if trigger:
        lines.append("    " + trigger)
    lines.append("jobs:")
    for i in range(jobs):
        lines.append(f"  - {{id: job_{i}, template: noop, params: {{n: {i}}}}}")
    with open(os.path.join(path, "ferry.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")


class Serve:
    def __init__(self, ferry, project, concurrency):
        self.proc = subprocess.Popen(
            [ferry, "-C", project, "serve", "--listen", "127.0.0.1:0", "-n", str(concurrency)],
            stdout=subprocess.PIPE, stderr=open(os.path.join(project, "serve.log"), "w"))
        line = self.proc.stdout.readline().decode()
        self.base = "http://" + line.split("http://")[1].split()[0]

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return json.load(r)

    def post(self, path, body=b"{}"):
        req = urllib.request.Request(self.base + path, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def throughput(ferry, runs, jobs, concurrency):
    with tempfile.TemporaryDirectory() as d:
        write_project(d, jobs)
        subprocess.run([ferry, "-C", d, "apply"], check=True, stdout=subprocess.DEVNULL)
        db = sqlite3.connect(os.path.join(d, ".ferry", "meta.db"))
        db.executemany("INSERT INTO ferry_runs (job_id, batch_id, state, attempt, queued_at) "
                       "VALUES (?, 'bench', 'queued', 1, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                       [(f"job_{i % jobs}",) for i in range(runs)])
        db.commit()
        t0 = time.time()
        serve = Serve(ferry, d, concurrency)
        while True:
            left, = db.execute("SELECT COUNT(*) FROM ferry_runs WHERE state IN "
                               "('queued', 'running')").fetchone()
            if left == 0:
                break
            time.sleep(0.05)
        wall = time.time() - t0
        serve.stop()
        ok, = db.execute("SELECT COUNT(*) FROM ferry_runs WHERE state = 'succeeded'").fetchone()
        first, last = db.execute("SELECT MIN(started_at), MAX(finished_at) FROM ferry_runs").fetchone()
        busy = iso_seconds(last) - iso_seconds(first)
        rate = runs / busy
        print(f"  throughput: {runs:,} queued runs of {jobs:,} jobs, concurrency {concurrency}: "
              f"{ok:,} succeeded in {busy:.2f} s -> {rate:,.0f} runs/s "
              f"(target >= 5,000/s: {'OK' if rate >= 5000 else 'MISS'}); "
              f"{busy / runs * concurrency * 1000:.2f} ms of a worker per run; "
              f"(wall incl. start-up {wall:.2f} s)")
        return ok == runs


def latency(ferry):
    with tempfile.TemporaryDirectory() as d:
        write_project(d, 50)
        serve = Serve(ferry, d, 4)
        waits = []
        for i in range(50):
            run = serve.post(f"/api/jobs/job_{i}/runs")["run"]
            while True:
                r = serve.get(f"/api/runs/{run}")
                if r["state"] not in ("queued", "running"):
                    break
                time.sleep(0.005)
            waits.append((iso_seconds(r["started_at"]) - iso_seconds(r["queued_at"])) * 1000)
        med, p95 = statistics.median(waits), sorted(waits)[int(len(waits) * 0.95) - 1]
        print(f"  latency: API trigger -> run started: median {med:.1f} ms, p95 {p95:.1f} ms "
              f"(target median <= 20 ms: {'OK' if med <= 20 else 'MISS'})")
        db = sqlite3.connect(os.path.join(d, ".ferry", "meta.db"))
        t0 = time.time()
        db.execute("INSERT INTO ferry_jobs (id, template, params) VALUES "
                   "('from_sql', 'noop', '{\"n\": 999}')")
        db.commit()
        while not any(j["id"] == "from_sql" for j in serve.get("/api/jobs")):
            time.sleep(0.01)
        seen = time.time() - t0
        print(f"  config row INSERTed with SQL -> in GET /api/jobs: {seen:.2f} s "
              f"(target <= 2 s: {'OK' if seen <= 2 else 'MISS'})")
        serve.stop()


def idle(ferry, jobs):
    with tempfile.TemporaryDirectory() as d:
        write_project(d, jobs, trigger='schedule: "0 * * * *"')
        subprocess.run([ferry, "-C", d, "apply"], check=True, stdout=subprocess.DEVNULL)
        serve = Serve(ferry, d, 4)
        time.sleep(2)  # past start-up
        c0, t0 = serve.cpu_seconds(), time.time()
        time.sleep(10)
        cpu = (serve.cpu_seconds() - c0) / (time.time() - t0) * 100
        rss = serve.rss_mib()
        n = len(serve.get("/api/jobs"))
        serve.stop()
        print(f"  idle with {n:,} jobs: CPU {cpu:.2f} % of one core "
              f"(target < 2 %: {'OK' if cpu < 2 else 'MISS'}), RSS {rss:.1f} MiB")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ferry")
    p.add_argument("--runs", type=int, default=10000)
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--idle-jobs", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=4)
    a = p.parse_args()
    ok = throughput(a.ferry, a.runs, a.jobs, a.concurrency)
    latency(a.ferry)
    idle(a.ferry, a.idle_jobs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
