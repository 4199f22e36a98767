#!/usr/bin/env python3
"""trainq benchmark: starts its own stack and measures four figures, each next to a floor.

`make bench` runs it. It starts what tests/conftest.py starts, in a temporary folder: the API
(gunicorn), the result consumer, the scheduler and one one-slot `cpu` host, on SQLite (or
--database-url), with
Redis database 14 (or --redis-url), which it FLUSHDBs before and after. TRAINQ_POOLS is
`cpu=0,idle=2`: jobs asking for 2 GPUs go to the `idle` pool, which has no host, so they stay
queued (the scheduler plans them every cycle all the same). No webhooks are configured. Every process, the benchmark's client included, shares this
machine's CPUs, so the figures are for the whole stack on one host.

What it measures, and the floor printed next to each (measured in the same run, same machine):

a. API submissions per second, N clients in threads, each with its own session and token,
   submitting `idle` jobs (never run). Floor: raw Celery publish rate of a same-sized message
   with the same Celery settings, single-threaded: the broker step the scheduler does for each
   placed job (a submission itself only writes SQL and wakes the scheduler); the rest (HTTP,
   token check, validation, SQL writes, the detail read) is trainq's own.
b. Submit-to-script-start latency on the idle `cpu` slot, once the status webhooks of a.'s
   thousands of jobs are delivered (the time that took is printed): from just before the POST to the
   time.time() the script prints as its first line (read back through the logs route; the
   client asks for the job's end every 0.1 s meanwhile), and, in as many runs of their own,
   submit to the API first answering `training` (asked every 20 ms). Floor: `python -c pass` wall time, the cost
   of starting the interpreter that any design pays. "Idle" means the slot has finished with
   the previous job (its lease reads "done"); the benchmark waits for that, and separately
   measures jobs queued back to back: the gap from one script's last
   line to the next one's first, against the same floor.
c. Epoch reports per second: one job prints M `##trainq` lines as fast as it can; from its
   first printed timestamp until GET metrics returns all M. Floor: raw XADD rate of the same
   event payload to a scratch stream, pipelined (as the worker ships them) and one by one.
d. Stop-to-cancelled latency: POST stop on a training job whose script sleeps (and exits on
   SIGTERM) until GET answers `cancelled`. Floor: SIGTERM-to-exit of the same script started
   locally the same way (own session, pipes): what stopping costs without a queue around it.

It also prints the CPU seconds each process group used during each measurement, to show where
the time goes. Ctrl-C (or SIGTERM) stops the stack and removes what the benchmark created.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shlex
import signal
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis as redis_lib  # noqa: E402

from config.keys import lease_key  # noqa: E402
from config.settings import Settings  # noqa: E402
from scripts.benchlib.client import get, log_lines, poll, submit, wait_status  # noqa: E402
from scripts.benchlib import history, placer, steps, targets  # noqa: E402
from scripts.benchlib.batch import batch_rate  # noqa: E402
from scripts.benchlib.memory import idle_memory, proc_stats  # noqa: E402
from scripts.benchlib.steps_live import step_rate  # noqa: E402
from scripts.benchlib.stack import (DEFAULT_REDIS_URL, UP_SECONDS, Stack,  # noqa: E402
                                    flushed_redis, progress, running_stack, scratch_database)
from tests.support.client import ApiClient  # noqa: E402

HOLD_SECONDS = "0.3"  # the latency script stays up this long so `training` can be seen
FLOOR_QUEUE = "trainq.bench.publish"
FLOOR_STREAM = "trainq:bench:xadd"
#: (option, default, what it counts); --quick (a smoke run) and --short (CI) use their own.
COUNTS = [("submissions", 400, "jobs submitted in a."), ("clients", 8, "concurrent clients in a."),
          ("batch_jobs", 5000, "jobs submitted in batches in a."),
          ("latency_runs", 20, "runs in b."), ("epochs", 2000, "epochs reported in c."),
          ("stop_runs", 10, "runs in d."), ("placer_pending", 10_000, "pending jobs in e."),
          ("placer_hosts", 500, "simulated hosts in e."), ("placer_cycles", 30, "cycles in e."),
          ("step_jobs", 32, "concurrent jobs reporting steps in c."),
          ("steps", 2000, "steps each of them reports in c."),
          ("curve_steps", 100_000, "steps of the job whose curve is read in c."),
          ("history_jobs", 100_000, "jobs in the database in g."),
          ("reads", 200, "timed reads of each kind in g.")]
QUICK = {"submissions": 40, "clients": 4, "batch_jobs": 1000, "latency_runs": 5, "epochs": 200,
         "stop_runs": 3, "placer_pending": 1000, "placer_hosts": 50, "placer_cycles": 5,
         "step_jobs": 4, "steps": 500, "curve_steps": 5000, "history_jobs": 5000, "reads": 50}
#: CI's run: every figure, with enough samples for p95s and ratios steady within their band.
SHORT = {"submissions": 200, "clients": 8, "batch_jobs": 3000, "latency_runs": 20,
         "epochs": 1000, "stop_runs": 5, "placer_pending": 10_000, "placer_hosts": 500,
         "placer_cycles": 15, "step_jobs": 32, "steps": 1000, "curve_steps": 100_000,
         "history_jobs": 100_000, "reads": 100}

# ---------------------------------------------------------------------------------------------
# a. submissions per second vs raw Celery publish


def logged_in_clients(stack: Stack, count: int) -> list[ApiClient]:
    """One session and token each, warmed up by one submission (not counted)."""
    clients = [stack.client() for _ in range(count)]
    for client in clients:
        submit(client, "bench_hello.py", gpu=2)
    return clients


def submission_rate(sessions: list[ApiClient], total: int) -> dict:
    counter, stop = itertools.count(), threading.Event()

    def client_loop(client: ApiClient) -> list[float]:
        times = []
        while next(counter) < total and not stop.is_set():
            started = time.perf_counter()
            submit(client, "bench_hello.py", gpu=2)
            times.append(time.perf_counter() - started)
        return times

    pool = ThreadPoolExecutor(len(sessions))
    try:
        started = time.perf_counter()
        per_client = [f.result() for f in [pool.submit(client_loop, c) for c in sessions]]
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        pool.shutdown(wait=True)
    latencies = [t for times in per_client for t in times]
    return {"submissions": len(latencies), "clients": len(sessions), "seconds": elapsed,
            "per_second": len(latencies) / elapsed, **stats_ms("request", latencies)}


def publish_floor(env: dict[str, str], count: int) -> dict:
    """send_task of a job-sized no-op message to a queue nobody reads; the queue is deleted."""
    from kombu import Exchange, Queue

    from workers.celery_app import make_celery

    app = make_celery(Settings.from_env(env))
    queue = Queue(FLOOR_QUEUE, Exchange(FLOOR_QUEUE, type="direct"), routing_key=FLOOR_QUEUE)
    spec = {"script_path": "bench_hello.py", "args": [], "envs": {}, "framework": "pytorch",
            "dataset_id": None, "max_running_time_ms": None, "cpu": 1, "memory": 1 << 30, "gpu": 2}

    def publish(i: int) -> None:
        app.send_task("trainq.bench.noop", kwargs={"job_id": f"job-{i:016x}", "attempt": 1,
                                                   "spec": spec},
                      queue=queue, task_id=f"bench-{i}", retry=False)
    try:
        publish(-1)  # warm-up: connection and queue declaration
        started = time.perf_counter()
        for i in range(count):
            publish(i)
        elapsed = time.perf_counter() - started
    finally:
        with app.connection_for_write() as conn:
            queue.bind(conn.default_channel).delete()
        app.close()
    return {"messages": count, "seconds": elapsed, "per_second": count / elapsed}


# ---------------------------------------------------------------------------------------------
# b. submit → script start vs python -c pass


def start_latency(stack: Stack, client: ApiClient, runs: int) -> dict:
    starts = [one_start(stack, client) for _ in range(runs)]
    seen = [one_training_seen(stack, client) for _ in range(runs)]
    return {"runs": runs, **stats_ms("script_start", starts), **stats_ms("training_seen", seen)}


def one_start(stack: Stack, client: ApiClient) -> float:
    """Seconds from submit to the script's first line. The client asks for the end only every
    0.1 s: asking 50 times a second would take the CPU the script's interpreter starts on."""
    submitted = time.time()
    job_id = submit(client, "bench_hello.py", [HOLD_SECONDS])
    wait_status(client, job_id, {"completed"}, interval=0.1)
    script_start = float(log_lines(client, job_id)[0])
    wait_slot_idle(stack, job_id)
    return script_start - submitted


def one_training_seen(stack: Stack, client: ApiClient) -> float:
    """Seconds from submit until GET answers `training` (asked every POLL_SECONDS)."""
    submitted = time.time()
    job_id = submit(client, "bench_hello.py", [HOLD_SECONDS])
    # A consumer behind on its events may apply `started` and `finished` in one batch, so the
    # API never shows `training`: then the first `completed` answer stands for it (later).
    training_seen = wait_status(client, job_id, {"training", "completed"})
    wait_status(client, job_id, {"completed"})
    wait_slot_idle(stack, job_id)
    return training_seen - submitted


def turnaround(stack: Stack, client: ApiClient, gaps: int) -> dict:
    """Jobs queued back to back: from one script's last line to the next script's first."""
    job_ids = [submit(client, "bench_hello.py") for _ in range(gaps + 1)]
    for job_id in reversed(job_ids):  # one queue, one slot: they run in order
        wait_status(client, job_id, {"completed"}, interval=0.2)
    spans = [log_lines(client, job_id) for job_id in job_ids]
    starts = [float(lines[0]) for lines in spans]
    ends = [float(lines[-1].split()[1]) for lines in spans]
    wait_slot_idle(stack, job_ids[-1])
    return {"gaps": gaps, **stats_ms("gap", [s - e for s, e in zip(starts[1:], ends)])}


def wait_slot_idle(stack: Stack, job_id: str, timeout: float = 30) -> None:
    """Until the slot that ran `job_id` has finished with it (its lease reads "done"), so the
    next job measures an idle slot rather than the tail of the previous one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (stack.redis.get(lease_key(job_id, 1)) or "").startswith("done|"):
            time.sleep(UP_SECONDS)
            return
        time.sleep(0.05)
    raise TimeoutError(f"the slot did not finish with {job_id} in {timeout}s")


def spawn_floor(runs: int) -> dict:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return {"runs": runs, **stats_ms("spawn", times)}


# ---------------------------------------------------------------------------------------------
# c. epoch reports per second vs raw XADD


def epoch_rate(stack: Stack, client: ApiClient, epochs: int) -> dict:
    job_id = submit(client, "bench_epochs.py", [str(epochs)])
    wait_status(client, job_id, {"training", "completed"}, interval=0.05)
    poll(lambda: get(client, job_id), lambda j: (j["latest_metrics"] or {}).get("epoch") == epochs,
         interval=0.05)  # the cheap route first, then the one the figure is about
    _metrics, all_seen = poll(lambda: get(client, f"{job_id}/metrics")["metrics"],
                              lambda m: len(m) == epochs, interval=0.05)
    wait_status(client, job_id, {"completed"})
    lines = log_lines(client, job_id)
    first = float(lines[0])
    emitted = float(next(line for line in lines if line.startswith("emitted ")).split()[1])
    wait_slot_idle(stack, job_id)
    return {"epochs": epochs, "seconds": all_seen - first, "per_second": epochs / (all_seen - first),
            "script_emit_seconds": emitted - first, "after_last_print_seconds": all_seen - emitted}


def xadd_floor(redis: redis_lib.Redis, count: int) -> dict:
    """XADD of a real epoch event (same fields, same trimming) to a scratch stream."""
    from config.keys import EVENTS_MAXLEN
    from config.protocol import EventKind, encode_entry
    from workers.output import BATCH_LINES

    entry = encode_entry("job-0123456789abcdef", 1, EventKind.EPOCH,
                         {"epoch": 1, "total_epochs": count, "loss": 0.5, "accuracy": 0.5,
                          "extra": {}})
    try:
        started = time.perf_counter()
        for first in range(0, count, BATCH_LINES):
            pipe = redis.pipeline(transaction=False)
            for _ in range(min(BATCH_LINES, count - first)):
                pipe.xadd(FLOOR_STREAM, entry, maxlen=EVENTS_MAXLEN, approximate=True)
            pipe.execute()
        pipelined = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(count):
            redis.xadd(FLOOR_STREAM, entry, maxlen=EVENTS_MAXLEN, approximate=True)
        single = time.perf_counter() - started
    finally:
        redis.delete(FLOOR_STREAM)
    return {"entries": count, "pipelined_per_second": count / pipelined,
            "single_per_second": count / single, "batch": BATCH_LINES}


# ---------------------------------------------------------------------------------------------
# d. stop → cancelled vs SIGTERM → exit


def stop_latency(stack: Stack, client: ApiClient, runs: int) -> dict:
    samples = [one_stop(stack, client) for _ in range(runs)]
    return {"runs": runs, **stats_ms("cancelled", [s[0] for s in samples]),
            **stats_ms("stop_request", [s[1] for s in samples])}


def one_stop(stack: Stack, client: ApiClient) -> tuple[float, float]:
    """(seconds from POST stop to GET cancelled, seconds the POST itself took)."""
    job_id = submit(client, "bench_sleep.py", ["600"])
    wait_status(client, job_id, {"training"})
    poll(lambda: log_lines(client, job_id), lambda lines: "ready" in lines)
    started = time.perf_counter()
    response = client.request("POST", f"/api/v1/training/jobs/{job_id}/stop")
    answered = time.perf_counter()
    if response.status_code != 200:
        raise RuntimeError(f"stop failed: {response.status_code} {response.text[:300]}")
    poll(lambda: get(client, job_id), lambda j: j["status"] == "cancelled", timeout=30)
    done = time.perf_counter()
    wait_slot_idle(stack, job_id)
    return done - started, answered - started


def sigterm_floor(script: Path, runs: int) -> dict:
    times = []
    for _ in range(runs):
        proc = subprocess.Popen([sys.executable, str(script), "600"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        with proc:
            proc.stdout.readline()  # "ready": the handler is installed
            started = time.perf_counter()
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
            times.append(time.perf_counter() - started)
    return {"runs": runs, **stats_ms("exit", times)}


# ---------------------------------------------------------------------------------------------
# Where the CPU goes


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each service's process group (reaped children included), of the
    redis-server process behind --redis-url (0 if not on this host; shared with whoever else
    uses it) and of this benchmark process."""
    groups, by_pid = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid, _comm, fields in proc_stats():  # fields[2]: pgrp; [11:15]: utime stime cutime cstime
        by_pid[pid] = sum(int(v) for v in fields[11:15]) / tick
        groups[int(fields[2])] = groups.get(int(fields[2]), 0.0) + by_pid[pid]
    snap = {name: groups.get(s.proc.pid, 0.0) for name, s in stack.services.items()}
    own = os.times()
    return {**snap, "redis": by_pid.get(stack.redis_pid, 0.0), "bench": own.user + own.system}


@dataclass
class Profiler:
    stack: Stack
    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    def run(self, phase: str, fn, *args):
        before, started = cpu_snapshot(self.stack), time.perf_counter()
        result = fn(*args)
        after, wall = cpu_snapshot(self.stack), time.perf_counter() - started
        self.phases[phase] = {"wall": wall, **{k: after[k] - before[k] for k in after}}
        return result


# ---------------------------------------------------------------------------------------------
# Running and reporting


def run_all(stack: Stack, args) -> dict:
    profiler, client = Profiler(stack), stack.client()
    progress(f"a. {args.submissions} submissions from {args.clients} clients")
    sessions = logged_in_clients(stack, args.clients)
    results = {"submit": profiler.run("a. submit", submission_rate, sessions, args.submissions),
               "publish_floor": publish_floor(stack.env, args.submissions)}
    progress(f"a. {args.batch_jobs} jobs in batches of 1,000")
    results["batch"] = profiler.run("a. batch", batch_rate, client, args.batch_jobs)
    progress("b. waiting until the webhooks of a.'s jobs are delivered")
    results["webhook_drain_seconds"] = stack.wait_webhooks_delivered()
    progress(f"b. submit → script start, {args.latency_runs} runs (+1 warm-up), then "
             f"{turnaround_gaps(args)} jobs back to back")
    one_start(stack, client)  # warm-up: first spawn, first fork of a fresh pool process
    results["start"] = profiler.run("b. start", start_latency, stack, client, args.latency_runs)
    results["turnaround"] = profiler.run("b. back to back", turnaround, stack, client,
                                         turnaround_gaps(args))
    results["spawn_floor"] = spawn_floor(args.latency_runs)
    progress(f"c. {args.epochs} epoch reports")
    results["epochs"] = profiler.run("c. epochs", epoch_rate, stack, client, args.epochs)
    results["xadd_floor"] = xadd_floor(stack.redis, args.epochs)
    progress(f"c. {args.step_jobs} jobs × {args.steps} steps at once")
    results["steps"] = profiler.run("c. steps", step_rate, client, args.step_jobs, args.steps)
    progress(f"d. stop → cancelled, {args.stop_runs} runs")
    results["stop"] = profiler.run("d. stop", stop_latency, stack, client, args.stop_runs)
    results["sigterm_floor"] = sigterm_floor(stack.script_root / "bench_sleep.py", args.stop_runs)
    results["cpu_seconds"] = profiler.phases
    results["memory"] = idle_memory(stack.services)   # after all of the above, idle again
    return results


def curve_read(args) -> dict:
    """c. The metrics route's read of a job with many steps, downsampled to 1,000 points."""
    progress(f"c. a {args.curve_steps}-step curve read at ?points=1000, {args.reads} times")
    with tempfile.TemporaryDirectory(prefix="trainq-bench-") as tmp, \
            scratch_database(args.database_url, Path(tmp)) as database_url:
        return steps.measure(database_url, args.curve_steps, args.reads)


def placer_cycle(args) -> dict:
    """e. The placer's cycle on a scratch database and the same scratch Redis database, after
    the stack is gone (its own scheduler would otherwise place these jobs too)."""
    from app import schema
    from app.runtime import Runtime

    progress(f"e. placer cycle: {args.placer_pending} pending jobs, {args.placer_hosts} "
             f"simulated hosts, {args.placer_cycles} cycles")
    with tempfile.TemporaryDirectory(prefix="trainq-bench-") as tmp, \
            scratch_database(args.database_url, Path(tmp)) as database_url:
        env = {"TRAINQ_DATABASE_URL": database_url, "TRAINQ_REDIS_URL": args.redis_url,
               "TRAINQ_POOLS": "gpu=8", "TRAINQ_SECRET_KEY": secrets.token_hex(32),
               "TRAINQ_VAR_DIR": tmp, "TRAINQ_LEASE_SECONDS": "60"}
        settings = Settings.from_env(env)
        runtime = Runtime(settings)
        schema.upgrade(runtime.db)
        runtime.close()
        redis = flushed_redis(args.redis_url)
        try:
            return placer.measure(settings, args.placer_pending, args.placer_hosts,
                                  args.placer_cycles)
        finally:
            redis.flushdb()


def turnaround_gaps(args) -> int:
    """Each job costs the slot seconds of pool-process turnover, so fewer than in b.'s runs."""
    return max(3, args.latency_runs // 4)


def figure_rows(r: dict) -> list[tuple[str, str, str]]:
    s, st, e, x, sp = r["submit"], r["start"], r["epochs"], r["xadd_floor"], r["stop"]
    spawn = "python -c pass " + p50_p95(r["spawn_floor"], "spawn")
    api_cpu_ms = r["cpu_seconds"]["a. submit"]["api"] / s["submissions"] * 1000
    return [
        (f"a. API submissions ({s['clients']} clients, {s['submissions']} jobs)",
         f"{s['per_second']:.0f}/s (request p50 {s['request_p50_ms']:.0f} ms, "
         f"p95 {s['request_p95_ms']:.0f} ms; API CPU {api_cpu_ms:.1f} ms each)",
         f"Celery publish {r['publish_floor']['per_second']:.0f}/s (1 thread)"),
        (f"b. submit → script start, idle slot (K={st['runs']})",
         p50_p95(st, "script_start"), spawn),
        ("b. submit → API says training", p50_p95(st, "training_seen"), "(same floor)"),
        (f"b. queued back to back: script end → next start ({r['turnaround']['gaps']} gaps)",
         p50_p95(r["turnaround"], "gap"), "(same floor)"),
        (f"c. epoch reports → metrics route (M={e['epochs']})",
         f"{e['per_second']:.0f} epochs/s ({e['seconds']:.2f} s; the script printed them "
         f"in {e['script_emit_seconds']:.2f} s)",
         f"XADD {x['pipelined_per_second']:.0f}/s pipelined, {x['single_per_second']:.0f}/s single"),
        (f"d. stop → cancelled (K={sp['runs']})",
         p50_p95(sp, "cancelled") + f" (the POST: p50 {sp['stop_request_p50_ms']:.0f} ms)",
         "SIGTERM → exit " + p50_p95(r["sigterm_floor"], "exit")),
        *extra_rows(r),
    ]


def extra_rows(r: dict) -> list[tuple[str, str, str]]:
    b, p, m, h = r["batch"], r["placer"], r["memory"], r["history"]
    st, cu = r["steps"], r["curve"]
    return [
        (f"a. batch submissions ({b['jobs']} jobs, {b['size']} a request)",
         f"{b['per_second']:.0f} jobs/s (slowest request {b['request_max_ms']:.0f} ms)",
         "(same floor)"),
        ("a. then until every status webhook of a.'s jobs was delivered",
         f"{r['webhook_drain_seconds']:.1f} s", "-"),
        (f"c. step reports from {st['jobs']} jobs at once → metrics route "
         f"({st['steps']} each)", f"{st['per_second']:.0f} steps/s ({st['lost']} lost, "
         f"{st['doubled']} doubled)", f"XADD {r['xadd_floor']['single_per_second']:.0f}/s single"),
        (f"c. a {cu['steps']}-step curve at ?points=1000 ({cu['reads']} reads)",
         f"p50 {cu['p50_ms']:.1f} ms, p99 {cu['p99_ms']:.1f} ms (gc unfrozen: p99 "
         f"{cu['gc_p99_ms']:.1f} ms)", "-"),
        (f"e. placer cycle ({p['pending']} pending, {p['hosts']} hosts, {p['cycles']} cycles)",
         f"p50 {p['cycle_p50_ms']:.0f} ms, p99 {p['cycle_p99_ms']:.0f} ms",
         f"its snapshot read alone p50 {p['snapshot_p50_ms']:.0f} ms"),
        ("e. then its upkeep (preemption, queue board with every ETA, sweep share)",
         f"p50 {p['upkeep_p50_ms']:.0f} ms, p99 {p['upkeep_p99_ms']:.0f} ms", "-"),
        ("f. idle memory", f"worker host {m['worker_pss_mb']:.0f} MB PSS, API worker "
         f"{m['api_rss_mb']:.0f} MB, consumer {m['consumer_rss_mb']:.0f} MB, scheduler "
         f"{m['scheduler_rss_mb']:.0f} MB RSS", "-"),
        (f"g. job list, {h['jobs']} jobs (first page / deep page by cursor / each filter)",
         f"p99 {h['list_first_page_p99_ms']:.1f} / {h['list_deep_page_cursor_p99_ms']:.1f} / "
         f"{max(h[f'list_{k}_p99_ms'] for k in ('workspace', 'status', 'batch', 'member')):.1f}"
         " ms", f"deep page by offset p99 {h['list_deep_page_offset_p99_ms']:.1f} ms"),
        ("g. job detail / logs?lines=100",
         f"p99 {h['detail_p99_ms']:.1f} / {h['logs_100_p99_ms']:.1f} ms", "-"),
    ]


def print_report(results: dict, machine: dict, command: str) -> None:
    print()
    print(f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
          f"load average {machine['load_before']:.2f} before the run")
    print(f"stack:   {machine['database']}, Redis {machine['redis_url']}, "
          f"API {machine['api_workers']} gunicorn workers, scheduler, 1 one-slot cpu host, "
          "webhooks on (a receiver in the benchmark)")
    print(f"command: {command}")
    print()
    print_table(("figure", "value", "floor (same run)"), figure_rows(results))
    print()
    services = ("api", "scheduler", "consumer", "worker", "redis", "bench")
    rows = [(phase, f"{c['wall']:.1f}", *(f"{c[k]:.1f}" for k in services))
            for phase, c in results["cpu_seconds"].items()]
    print("CPU seconds during each measurement (worker includes its scripts; "
          "redis is the whole server process):")
    print_table(("phase", "wall s", *services), rows)
    print()
    print("issue 12's targets (same-run floors; --check fails a figure past its band):")
    print_table(("target", "figure", "target", "verdict"), targets.rows(results))


def print_table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def machine_info(args, load_before: float) -> dict:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor() or "unknown")
    from sqlalchemy.engine import make_url

    database = make_url(args.database_url).get_backend_name() if args.database_url else "sqlite"
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": model,
            "python": platform.python_version(), "database": database,
            "redis_url": args.redis_url, "api_workers": args.api_workers,
            "load_before": load_before}


def stats_ms(name: str, seconds: list[float]) -> dict:
    ordered = sorted(seconds)

    def rank(q: float) -> float:  # nearest-rank percentile
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000
    return {f"{name}_p50_ms": rank(0.50), f"{name}_p95_ms": rank(0.95),
            f"{name}_max_ms": ordered[-1] * 1000}


def p50_p95(data: dict, name: str) -> str:
    return f"p50 {data[name + '_p50_ms']:.0f} ms, p95 {data[name + '_p95_ms']:.0f} ms"



def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in a temporary "
                        "folder); for PostgreSQL a scratch database is created there and dropped")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help=f"Redis database to use; it is FLUSHed (default {DEFAULT_REDIS_URL})")
    parser.add_argument("--api-workers", type=int, default=2, help="gunicorn workers (2)")
    for name, default, help_text in COUNTS:
        parser.add_argument("--" + name.replace("_", "-"), type=int,
                            help=f"{help_text} (default {default}, --short {SHORT[name]}, "
                             f"--quick {QUICK[name]})")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--short", action="store_true", help="CI's counts (about 3 minutes)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a figure is past its "
                        "target by more than its noise band (scripts/benchlib/targets.py)")
    parser.add_argument("--strict", action="store_true",
                        help="with --check, also fail the targets not met yet")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else SHORT if args.short else None
    for name, default, _help in COUNTS:  # an explicit count wins over --quick and --short
        if getattr(args, name) is None:
            setattr(args, name, preset[name] if preset else default)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the stack is stopped too
    load_before = os.getloadavg()[0]  # other work on this machine skews every figure
    try:
        with running_stack(args) as stack:
            results = run_all(stack, args)
        results["placer"] = placer_cycle(args)
        results["curve"] = curve_read(args)
        progress(f"g. reads with {args.history_jobs} jobs in the database")
        results["history"] = history.measure(args.database_url or "sqlite://",
                                             args.history_jobs, args.reads)
    except KeyboardInterrupt:
        print("[bench] interrupted; the stack was stopped", file=sys.stderr)
        return 130
    machine = machine_info(args, load_before)
    print_report(results, machine, command)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "command": command,
                                               "options": vars(args), **results}, indent=2))
    failures = targets.check(results, args.strict) if args.check else []
    for failure in failures:
        print(f"[bench] FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
