"""bench/redis_bench.py — redis-server under each allocator, measured in
alternating bursts (used by bench/run).

One redis-server per allocator runs for the whole measurement, all of them
on CPU 0 and the load generator on CPU 1 (when there are two CPUs and
taskset exists; REDIS_PIN=0 turns that off).  After one uncounted warm-up
burst per test and server, every round gives each server one burst of each
test — `redis-benchmark -t TEST -P 16 -n REQUESTS -r KEYSPACE` — the servers
back to back in the order given, rotated by one every two rounds and
reversed every other round, so that each server takes every position and
every two neighbours run in both orders equally often.

Why bursts and not one long run per allocator: on a shared VM the machine's
speed drifts by tens of percent within seconds, so two long runs made a
minute apart measure the machine as much as the allocator.  Bursts of two
servers a second apart see nearly the same machine; the per-round ratio
cancels the drift, and many rounds give its median a narrow confidence
interval (paired_ratio below).

Every server receives the same load, so the figures read at the end are
comparable: used_memory_rss after the load and after MEMORY PURGE, the
allocator_* fields of INFO memory (mallctl "stats.*"), the first line of
MEMORY MALLOC-STATS (malloc_stats_print) and MEMORY PURGE's answer
(mallctl "arena.4096.purge").  Only 127.0.0.1 is used; every server is shut
down on every exit path.
"""
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

TESTS = ("set", "get", "lpush")
HOST = "127.0.0.1"


def _pins():
    if os.environ.get("REDIS_PIN", "1") == "1" and shutil.which("taskset") \
            and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    return [], []


def _free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One redis-server under one allocator (preload None: redis's own link;
    conf: its MALLOC_CONF, None: unset)."""

    def __init__(self, name, preload, env, pin, workdir, conf=None):
        self.name, self.port = name, _free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        env = dict(env)
        if preload:
            env["LD_PRELOAD"] = preload
        if conf:
            env["MALLOC_CONF"] = conf
        self.proc = subprocess.Popen(
            pin + ["redis-server", "--port", str(self.port), "--bind", HOST,
                   "--save", "", "--appendonly", "no", "--dir", self.dir,
                   "--logfile", os.path.join(self.dir, "server.log")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cli(self, *args):
        p = subprocess.run(["redis-cli", "-h", HOST, "-p", str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=30)
        return p.stdout.replace("\r", "")

    def wait_up(self, seconds=10.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.proc.poll() is None:
            if self.cli("ping").strip() == "PONG":
                return True
            time.sleep(0.05)
        return False

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return " | ".join(f.read().splitlines()[-5:])
        except OSError:
            return "no log"

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.cli("shutdown", "nosave")
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _burst(server, test, requests, keyspace, pin):
    """Requests per second of one redis-benchmark burst, or None."""
    p = subprocess.run(pin + ["redis-benchmark", "-h", HOST, "-p", str(server.port),
                              "-t", test, "-P", "16", "-n", str(requests),
                              "-r", str(keyspace), "-q"],
                       capture_output=True, text=True, timeout=300)
    rps = None
    for line in p.stdout.replace("\r", "\n").splitlines():
        head, _, rest = line.partition(": ")
        if head == test.upper() and "requests per second" in rest:
            rps = float(rest.split()[0])
    return rps if p.returncode == 0 else None


def _final_figures(server):
    def info():
        return dict(line.split(":", 1) for line in server.cli("info", "memory").splitlines()
                    if ":" in line)

    def kb(fields, key):
        v = fields.get(key, "0")
        return int(v) // 1024 if v.isdigit() else 0

    before = info()
    stats = server.cli("memory", "malloc-stats")
    first = next((line.strip() for line in stats.splitlines() if line.strip()), "")
    version = next((line.strip() for line in stats.splitlines() if line.startswith("Version:")), "")
    purge = server.cli("memory", "purge").strip()
    after = info()
    keys = server.cli("dbsize").strip()
    return {"rss_kb": kb(before, "used_memory_rss"),
            "rss_after_purge_kb": kb(after, "used_memory_rss"),
            "used_memory_kb": kb(before, "used_memory"),
            "allocator_allocated_kb": kb(before, "allocator_allocated"),
            "allocator_active_kb": kb(before, "allocator_active"),
            "allocator_resident_kb": kb(before, "allocator_resident"),
            "mem_allocator": before.get("mem_allocator", ""),
            "keys": int(keys) if keys.isdigit() else 0,
            "purge": purge, "malloc_stats_bytes": len(stats),
            "malloc_stats_first": first, "malloc_stats_version": version}


def run(preloads, env, rounds, requests, keyspace, log, confs=None):
    """preloads: allocator name -> library to preload (None: none); confs:
    allocator name -> MALLOC_CONF for its server (absent: unset).  Returns
    {"rps": {name: {test: [per round]}}, "final": {name: figures},
    "errors": {name: text}}; a burst that failed is None in its list."""
    pin_server, pin_client = _pins()
    names = list(preloads)
    out = {"rps": dict((a, dict((t, []) for t in TESTS)) for a in names),
           "final": {}, "errors": {}}
    workdir = tempfile.mkdtemp(prefix="strata-redis.")
    servers = {}
    try:
        for a in names:
            servers[a] = Server(a, preloads[a], env, pin_server, workdir,
                                (confs or {}).get(a))
        for a in names:
            if not servers[a].wait_up():
                out["errors"][a] = "redis-server did not come up: " + servers[a].log_tail()
        live = [a for a in names if a not in out["errors"]]
        for t in TESTS:
            for a in live:
                _burst(servers[a], t, requests, keyspace, pin_client)
        t0 = time.monotonic()
        for r in range(rounds):
            k = (r // 2) % len(live) if live else 0
            order = live[k:] + live[:k]
            if r % 2:
                order.reverse()
            for t in TESTS:
                for a in order:
                    out["rps"][a][t].append(_burst(servers[a], t, requests, keyspace, pin_client))
            log("[%4.0fs] redis round %d/%d: %s" % (
                time.monotonic() - t0, r + 1, rounds,
                " ".join("%s %s" % (a, "/".join("%.0fk" % (out["rps"][a][t][-1] / 1e3)
                                                if out["rps"][a][t][-1] else "failed"
                                                for t in TESTS)) for a in live)))
        for a in live:
            if servers[a].proc.poll() is not None:
                out["errors"][a] = "redis-server exited: " + servers[a].log_tail()
            else:
                out["final"][a] = _final_figures(servers[a])
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def paired_ratio(xs, ys, resamples=4000):
    """Median over rounds of xs[i] / ys[i], with a 95 % bootstrap confidence
    interval for that median (fixed seed: the same data give the same
    interval).  Rounds where either burst failed are skipped.  Returns
    (median, low, high) or None."""
    r = [x / y for x, y in zip(xs, ys) if x and y]
    if not r:
        return None
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(r, k=len(r))) for _ in range(resamples))
    return (statistics.median(r), meds[int(0.025 * resamples)],
            meds[int(math.ceil(0.975 * resamples)) - 1])
