#!/usr/bin/env python3
"""Measurements of ops/bench/live against a running `latent serve` (see that script).

latency: produces rating events at a steady rate for many existing and new users; a sample of
    them are probes whose effect on the user's list is known in advance (an existing user rates
    the movie at the top of their list, so it must leave it; a new user rates a movie, so they
    must get a list without it). A separate connection polls `latent.recommendations` for the
    outstanding probes only (one small indexed query per poll) and records when each change
    became visible. Latency = start of the first poll that saw the change - time the event was
    handed to the producer (so it includes the producer's linger, the broker, ingest's batch
    delay and commit, the live refresh and its commit); the poll interval bounds the error.
ingest: consumes a backlog of N events with the server idle, then another of N while a
    training run is in progress (POST /retrain), and reports both rates and their ratio. Each
    backlog is produced whole while ingest's writes wait on a lock, so the rate is the
    consumer's (fetch, parse, write, commit), not the producer's.
"""
import argparse
import json
import random
import re
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg
from confluent_kafka import Producer


def log(message):
    print(f"[live {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fetch(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def metric(text, name, labels=()):
    """Sum of the samples of `name` whose labels contain every one of `labels`."""
    total = None
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if not rest or rest[0] not in " {":
            continue
        label_text = rest[1:rest.index("}")] if rest[0] == "{" else ""
        if all(label in label_text for label in labels):
            total = (total or 0.0) + float(rest.split()[-1])
    return total


def histogram(text, name):
    """Cumulative buckets [(le, count)], count and sum of a Prometheus histogram."""
    buckets = []
    for match in re.finditer(rf'^{name}_bucket{{[^}}]*le="([^"]+)"[^}}]*}} (\S+)$', text, re.M):
        buckets.append((float("inf") if match.group(1) == "+Inf" else float(match.group(1)), float(match.group(2))))
    return sorted(buckets), metric(text, name + "_count") or 0.0, metric(text, name + "_sum") or 0.0


def bucket_quantile(buckets, count, q):
    """The upper bound of the bucket holding quantile q (Prometheus-style, no interpolation)."""
    for le, cumulative in buckets:
        if count and cumulative >= q * count:
            return le
    return float("nan")


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


class Probes:
    """Outstanding probes (user -> (movie, produced_at)) and the latencies seen."""

    def __init__(self):
        self.lock = threading.Lock()
        self.outstanding = {}
        self.latencies = []
        self.kinds = {}
        self.by_kind = {"existing": [], "new": []}
        self.polls = 0
        self.poll_seconds = 0.0

    def add(self, user, movie, kind, produced_at):
        with self.lock:
            self.outstanding[user] = (movie, produced_at)
            self.kinds[user] = kind

    def snapshot(self):
        with self.lock:
            return dict(self.outstanding)

    def seen(self, users, at):
        with self.lock:
            for user in users:
                entry = self.outstanding.pop(user, None)
                if entry:
                    latency = at - entry[1]
                    self.latencies.append(latency)
                    self.by_kind[self.kinds[user]].append(latency)


def poller(url, probes, interval, stop):
    """Polls for the outstanding probes until `stop` is set and none is left (or stop is final)."""
    with psycopg.connect(url, autocommit=True) as connection:
        query = """
            select p.u from unnest(%s::bigint[], %s::bigint[]) as p(u, m)
            where exists (select 1 from latent.recommendations r where r.user_id = p.u)
              and not exists (select 1 from latent.recommendations r where r.user_id = p.u and r.movie_id = p.m)
        """
        next_poll = time.monotonic()
        while not stop.is_set():
            pending = probes.snapshot()
            started = time.monotonic()
            if pending:
                users = list(pending)
                rows = connection.execute(query, (users, [pending[u][0] for u in users])).fetchall()
                probes.polls += 1
                probes.poll_seconds += time.monotonic() - started
                probes.seen([row[0] for row in rows], started)
            next_poll = max(next_poll + interval, time.monotonic())
            time.sleep(max(0.0, next_poll - time.monotonic()))


def latency(args):
    random.seed(args.seed)
    base = args.http
    with psycopg.connect(args.database, autocommit=True) as connection:
        serving = connection.execute("select model from latent.serving where purpose = 'lists'").fetchone()
        # Probe users among the existing ones: each rates the movie at the top of their list once.
        tops = connection.execute(
            "select user_id, movie_id from latent.recommendations where rank = 1 and user_id <= %s order by random() limit %s",
            (args.users, args.probe_users)).fetchall()
    log(f"serving model: {serving[0] if serving else 'none'}; {len(tops)} existing users kept for probes")
    probe_existing = list(tops)
    probe_set = {u for u, _ in tops}
    new_probe_user = args.new_user_base + 5_000_000
    new_user = args.new_user_base
    producer = Producer({"bootstrap.servers": args.brokers, "linger.ms": args.linger_ms})
    probes = Probes()
    stop = threading.Event()
    thread = threading.Thread(target=poller, args=(args.database, probes, args.poll_ms / 1000, stop), daemon=True)
    before = fetch(base + "/metrics")
    thread.start()

    events = 0
    probe_count = 0
    started = time.monotonic()
    next_probe = started + args.probe_every
    ts = int(time.time())
    log(f"producing {args.rate:g} events/s for {args.duration:g} s, a probe every {args.probe_every:g} s")
    while True:
        now = time.monotonic()
        if now - started >= args.duration:
            break
        due = started + events / args.rate
        if due > now:
            time.sleep(due - now)
        if time.monotonic() >= next_probe:
            next_probe += args.probe_every
            kind = "existing" if probe_count % 2 == 0 and probe_existing else "new"
            if kind == "existing":
                user, movie = probe_existing.pop()
            else:
                user, movie = new_probe_user, random.randint(1, args.movies)
                new_probe_user += 1
            payload = json.dumps({"user_id": user, "movie_id": movie, "rating": 5, "ts": ts})
            produced_at = time.monotonic()
            probes.add(user, movie, kind, produced_at)
            producer.produce(args.topic, key=str(user), value=payload)
            probe_count += 1
        else:
            if random.random() < args.new_share:
                user = new_user
                new_user += 1 if random.random() < 0.5 else 0  # new users rate one or more movies
            else:
                user = random.randint(1, args.users)
                if user in probe_set:
                    continue
            payload = json.dumps({"user_id": user, "movie_id": random.randint(1, args.movies),
                                  "rating": random.randint(1, 10) / 2, "ts": ts})
            producer.produce(args.topic, key=str(user), value=payload)
        events += 1
        producer.poll(0)
    elapsed = time.monotonic() - started
    producer.flush(30)
    deadline = time.monotonic() + 15
    while probes.snapshot() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join()
    after = fetch(base + "/metrics")

    lat = probes.latencies
    missing = len(probes.snapshot())
    result = {
        "events": events, "seconds": round(elapsed, 2), "rate": round(events / elapsed, 1), "probes": probe_count,
        "seen": len(lat), "not_seen_within_15s": missing, "poll_ms": args.poll_ms,
        "mean_poll_query_ms": round(1000 * probes.poll_seconds / max(probes.polls, 1), 2),
    }
    for name, values in [("all", lat)] + list(probes.by_kind.items()):
        result[name] = {q: round(percentile(values, p), 4) for q, p in
                        [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)]} | {"count": len(values)}
    b0, c0, s0 = histogram(before, "latent_live_refresh_seconds")
    b1, c1, s1 = histogram(after, "latent_live_refresh_seconds")
    delta = [(le, n - dict(b0).get(le, 0.0)) for le, n in b1]
    refreshes = c1 - c0
    result["refresh_histogram"] = {
        "refreshes": refreshes, "mean": round((s1 - s0) / refreshes, 4) if refreshes else None,
        "p50_bucket": bucket_quantile(delta, refreshes, 0.5), "p99_bucket": bucket_quantile(delta, refreshes, 0.99),
        "users_refreshed": (metric(after, "latent_live_users_refreshed_total") or 0) - (metric(before, "latent_live_users_refreshed_total") or 0),
        "refresh_failures": (metric(after, "latent_live_refresh_failures_total") or 0) - (metric(before, "latent_live_refresh_failures_total") or 0),
    }
    bd = histogram(after, "latent_ingest_batch_duration_seconds"), histogram(before, "latent_ingest_batch_duration_seconds")
    batches = bd[0][1] - bd[1][1]
    result["ingest_batches"] = batches
    result["mean_batch_write_seconds"] = round((bd[0][2] - bd[1][2]) / batches, 4) if batches else None
    return result


def consumed(base):
    return metric(fetch(base + "/metrics"), "latent_ingest_events_consumed_total") or 0.0


def make_backlog(path, count, users, user_base, movies, seed):
    rng = random.Random(seed)
    with open(path, "w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for i in range(count):
            out.write(f"{user_base + rng.randrange(users)},{rng.randint(1, movies)},{rng.randint(1, 10) / 2},{1_600_000_000 + i}\n")


def drain(args, path, label, connection, training_run=None):
    """Consumer throughput on a backlog: ingest's writes are held back (a SHARE lock on
    latent.ratings lets reads, so a training snapshot, go on) while the whole backlog is
    produced; then the lock is released and the consumed counter is sampled until it is in."""
    base = args.http
    blocker = psycopg.connect(args.database)
    blocker.execute("lock table latent.ratings in share mode")
    produced = subprocess.run([args.latent, "produce", "ratings", path, "--brokers", args.brokers, "--ratings-topic", args.topic],
                              check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    start_count = consumed(base)
    target = start_count + args.backlog
    released = time.monotonic()
    blocker.commit()
    blocker.close()
    samples = []  # (time, consumed, training still running)
    deadline = released + args.drain_timeout
    while time.monotonic() < deadline:
        count = consumed(base)
        running = None
        if training_run is not None:
            status = connection.execute("select status from latent.model_runs where run_id = %s", (training_run,)).fetchone()
            running = bool(status) and status[0] == "running"
        samples.append((time.monotonic(), count, running))
        if count >= target:
            break
        time.sleep(0.05)
    counted = [s for s in samples if training_run is None or s[2]]
    if not counted or counted[-1][1] <= start_count:
        return {"label": label, "error": "nothing consumed" + (" while the training run was in progress" if training_run else "")}
    last = counted[-1]
    return {
        "label": label, "events": int(last[1] - start_count), "seconds": round(last[0] - released, 2),
        "rate": round((last[1] - start_count) / (last[0] - released), 1), "drained": samples[-1][1] >= target,
        "share_during_training": round((last[1] - start_count) / args.backlog, 3) if training_run is not None else None,
        "producer": produced,
    }


def ingest(args):
    base = args.http
    idle_path, busy_path = f"{args.work}/backlog-idle.csv", f"{args.work}/backlog-training.csv"
    make_backlog(idle_path, args.backlog, args.backlog_users, 40_000_000, args.movies, 1)
    make_backlog(busy_path, args.backlog, args.backlog_users, 50_000_000, args.movies, 2)
    with psycopg.connect(args.database, autocommit=True) as connection:
        log(f"ingest while idle: {args.backlog} events")
        idle = drain(args, idle_path, "idle", connection)
        log(f"idle: {idle}")
        newest = connection.execute("select coalesce(max(run_id), 0) from latent.model_runs").fetchone()[0]
        fetch(base + "/retrain", method="POST")
        deadline = time.monotonic() + 300
        run = None
        while run is None and time.monotonic() < deadline:
            row = connection.execute(
                "select run_id from latent.model_runs where run_id > %s and status = 'running' order by run_id limit 1",
                (newest,)).fetchone()
            run = row[0] if row else None
            if run is None:
                time.sleep(0.1)
        if run is None:
            return {"idle": idle, "training": {"error": "no training run started within 300 s"}}
        log(f"training run {run} is fitting; ingest while training: {args.backlog} events")
        busy = drain(args, busy_path, "training", connection, training_run=run)
        log(f"training: {busy}")
        while time.monotonic() < deadline + 3600:
            row = connection.execute("select status, durations::text from latent.model_runs where run_id = %s", (run,)).fetchone()
            if row[0] != "running":
                break
            time.sleep(0.5)
        busy["training_run"] = {"run_id": run, "status": row[0], "durations": json.loads(row[1]) if row[1] else None}
    ratio = busy["rate"] / idle["rate"] if "rate" in busy and "rate" in idle else None
    return {"idle": idle, "training": busy, "ratio": round(ratio, 3) if ratio else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["latency", "ingest"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", default="ratings")
    parser.add_argument("--http", required=True, help="base URL of latent serve")
    parser.add_argument("--latent", help="the latent binary (ingest phase)")
    parser.add_argument("--work", default=".")
    parser.add_argument("--users", type=int, required=True, help="existing users are 1...USERS")
    parser.add_argument("--movies", type=int, required=True)
    # Tuning knobs: the default's type is the option's type.
    for flag, default in [
        ("--rate", 500.0), ("--duration", 40.0), ("--probe-every", 0.1), ("--probe-users", 2000),
        ("--poll-ms", 10.0), ("--linger-ms", 5), ("--new-share", 0.2), ("--new-user-base", 10_000_000),
        ("--backlog", 500_000), ("--backlog-users", 20_000), ("--drain-timeout", 600.0), ("--seed", 1),
    ]:
        parser.add_argument(flag, type=type(default), default=default)
    args = parser.parse_args()
    result = latency(args) if args.phase == "latency" else ingest(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
