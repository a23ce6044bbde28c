"""Load on a real `roofline web` server on 127.0.0.1 (nothing else is ever contacted).

Three modes, each reporting requests/s, p50/p99 latency, answers by status and the server's
resident memory (RSS, from /proc) before and after:

  mixed     2,000 requests, 50 concurrent clients: valid estimates and catalog reads mixed with
            invalid ones (unknown names, refused configs, non-finite numbers, deep or oversized
            bodies, caps exceeded, a foreign Host header)
  configs   2,000 estimates, each with a distinct inline config.json (does memory grow per config?)
  heavy     8 clients asking for charts and reports while one client times cheap estimates
            (target: the cheap estimate's p99 under 100 ms)

    python benchmarks/load.py                 # all three
    python benchmarks/load.py mixed --requests 500 --clients 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from importlib import resources
from pathlib import Path

HOST = "127.0.0.1"  # the benchmark only ever talks to a server it started on this machine
MAX_REQUESTS = 20_000
MAX_CLIENTS = 200
MODES = ("mixed", "configs", "heavy")
LLAMA = json.loads((resources.files("roofline") / "data" / "models" / "llama-2-7b.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Server:
    """`roofline web` in a child process, as a user starts it."""

    def __init__(self):
        self.port = free_port()
        exe = str(Path(sys.executable).with_name("roofline"))
        self.proc = subprocess.Popen([exe, "web", "--host", HOST, "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the server did not start: {self.proc.stderr.read().decode()[-500:]}")
                time.sleep(0.1)
        raise SystemExit("the server did not start within 60 s")

    @property
    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# (method, path, body bytes or None, extra headers)
def mixed_requests(n: int, seed: int = 0) -> list[tuple]:
    rng = random.Random(seed)
    js = lambda doc: json.dumps(doc).encode()  # noqa: E731
    valid = [
        lambda: ("POST", "/api/estimate", js({"model": rng.choice(["llama-2-7b", "mixtral-8x7b", "llama-3.1-8b", "deepseek-v3"]),
                                              "gpu": rng.choice(["a100", "h100", "l40s", "h100,h200"]),
                                              "batch_size": rng.randint(1, 64), "input_len": rng.randint(16, 8192)}), {}),
        lambda: ("POST", "/api/estimate", js({"config": {**LLAMA, "num_hidden_layers": rng.randint(1, 80)}, "gpu": "h100"}), {}),
        lambda: ("GET", "/api/gpus", None, {}),
        lambda: ("GET", "/api/models?q=llama", None, {}),
        lambda: ("GET", "/api/models/mixtral-8x7b", None, {}),
    ]
    invalid = [
        lambda: ("POST", "/api/estimate", js({"model": "no-such-model", "gpu": "a100"}), {}),  # 404
        lambda: ("POST", "/api/estimate", js({"config": {**LLAMA, "num_key_value_heads": 3}}), {}),  # 422
        lambda: ("POST", "/api/estimate", js({"model": "llama-2-7b", "batch_size": -1}), {}),  # 422
        lambda: ("POST", "/api/estimate", b'{"config": {"num_hidden_layers": Infinity}}', {}),  # 400
        lambda: ("POST", "/api/estimate", b'{"a": ' * 2000 + b"1" + b"}" * 2000, {}),  # 400
        lambda: ("POST", "/api/estimate", b'{"model": "\xff"}', {}),  # 400
        lambda: ("POST", "/api/estimate", js({"model": "llama-2-7b", "num_gpus": 8192}), {}),  # 413
        lambda: ("POST", "/api/estimate", js({"config": {**LLAMA, "x": "y" * 70_000}}), {}),  # 413
        lambda: ("GET", "/api/limits", None, {"Host": "rebound.attacker.example"}),  # 421
        lambda: ("GET", "/api/nothing-here", None, {}),  # 404
    ]
    return [rng.choice(valid)() if rng.random() < 0.6 else rng.choice(invalid)() for _ in range(n)]


def distinct_config_requests(n: int) -> list[tuple]:
    """Every config differs (MLP width and layer count), as many users pasting their own models."""
    out = []
    for i in range(n):
        cfg = {**LLAMA, "intermediate_size": 8192 + 64 * i, "num_hidden_layers": 8 + i % 64}
        out.append(("POST", "/api/estimate", json.dumps({"config": cfg, "gpu": "h100", "batch_size": 1 + i % 32}).encode(), {}))
    return out


def send(conn: http.client.HTTPConnection, request: tuple) -> int:
    method, path, body, headers = request
    h = {"content-type": "application/json", **headers} if body is not None else dict(headers)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 400 and not r.getheader("content-type", "").startswith("application/json"):
        raise AssertionError(f"{r.status} without JSON on {method} {path}: {data[:200]!r}")
    return r.status


def drive(port: int, requests: list[tuple], clients: int) -> tuple[list[float], Counter, float]:
    """Send `requests` over `clients` keep-alive connections; latency per request and statuses."""
    lock = threading.Lock()
    todo = list(reversed(requests))
    latencies: list[float] = []
    statuses: Counter = Counter()

    def client():
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        while True:
            with lock:
                if not todo:
                    break
                request = todo.pop()
            start = time.perf_counter()
            try:
                status = send(conn, request)
            except (OSError, http.client.HTTPException) as e:  # a dropped connection counts, then reconnect
                status = f"connection error ({type(e).__name__})"
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))] if s else float("nan")


def report(title: str, latencies: list[float], statuses: Counter, wall: float, rss: tuple[int, int]) -> None:
    print(f"\n{title}")
    print(f"  requests        {len(latencies):,} in {wall:.1f} s = {len(latencies) / wall:,.0f} requests/s")
    print(f"  latency         p50 {percentile(latencies, 50) * 1e3:.1f} ms   p99 {percentile(latencies, 99) * 1e3:.1f} ms   "
          f"max {max(latencies) * 1e3:.1f} ms")
    print("  answers         " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))
    before, after = rss
    print(f"  server RSS      {before / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB after "
          f"(growth {(after - before) / 2**20:+.1f} MiB)")


def warm(port: int) -> None:
    """First requests import numpy, the catalogs and plotting; memory is measured after them."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    for r in mixed_requests(40, seed=99) + distinct_config_requests(3):
        send(conn, r)
    conn.close()


def run_mode(mode: str, requests: int, clients: int) -> None:
    server = Server()
    try:
        warm(server.port)
        before = server.rss
        if mode == "mixed":
            lat, st, wall = drive(server.port, mixed_requests(requests), clients)
            report(f"mixed: {requests:,} requests (60% valid), {clients} concurrent clients", lat, st, wall, (before, server.rss))
        elif mode == "configs":
            lat, st, wall = drive(server.port, distinct_config_requests(requests), clients)
            report(f"configs: {requests:,} estimates, each with a distinct inline config, {clients} clients",
                   lat, st, wall, (before, server.rss))
        else:
            heavy_mode(server, before)
    finally:
        server.stop()


def heavy_mode(server: Server, before: int, heavy_clients: int = 8, cheap: int = 200) -> None:
    chart = json.dumps({"model": "llama-3.1-70b", "gpu": "a100,h100", "tp": 4}).encode()  # as the page asks
    heavy = [("POST", f"/api/plot/{k}", chart, {}) for k in ("batch", "prefill", "crossover", "memory")] * 10
    heavy += [("POST", "/api/report", json.dumps({"model": "mixtral-8x7b", "gpu": "h100", "tp": 2}).encode(), {})] * 8
    random.Random(1).shuffle(heavy)
    done = threading.Event()
    heavy_stats: Counter = Counter()

    def hammer():
        while not done.is_set():
            lat, st, _ = drive(server.port, heavy[:heavy_clients], heavy_clients)
            heavy_stats.update(st)

    hammer_thread = threading.Thread(target=hammer)
    hammer_thread.start()
    time.sleep(1.0)  # let the heavy requests take their slots and queue
    estimate = ("POST", "/api/estimate", json.dumps({"model": "llama-2-7b", "gpu": "h100", "batch_size": 8}).encode(), {})
    lat, st, wall = drive(server.port, [estimate] * cheap, 1)
    done.set()
    hammer_thread.join()
    report(f"heavy: {cheap} cheap estimates (one client) while {heavy_clients} clients ask for charts and reports",
           lat, st, wall, (before, server.rss))
    print("  heavy answers   " + ", ".join(f"{k}: {v:,}" for k, v in sorted(heavy_stats.items(), key=lambda kv: str(kv[0]))))
    print(f"  target          cheap p99 < 100 ms: {'met' if percentile(lat, 99) < 0.1 else 'NOT met'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modes", nargs="*", metavar="MODE", help="mixed, configs, heavy (default: all three)")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()
    if any(m not in MODES for m in args.modes):
        ap.error(f"modes are {', '.join(MODES)}")
    if not (1 <= args.requests <= MAX_REQUESTS and 1 <= args.clients <= MAX_CLIENTS):
        ap.error(f"--requests in 1..{MAX_REQUESTS:,}, --clients in 1..{MAX_CLIENTS}")
    print(f"roofline web on {HOST}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for mode in args.modes or MODES:
        run_mode(mode, args.requests, args.clients)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
