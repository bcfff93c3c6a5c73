"""Load on the inference API: requests per second and p50/p99 latency per endpoint, at 1 and 8
concurrent clients, against a real `bentoml serve` on 127.0.0.1, with the service's own trivial
`/ping` endpoint measured in the same run as the framework's ceiling.

    daiyun sample data/demo --size demo && daiyun train all --data data/demo   # champions
    .venv/bin/python benchmarks/serving.py [--url http://127.0.0.1:3000] [--workers 1]

Without --url it starts the server itself (on a free port, on the champions of
MLFLOW_TRACKING_URI or mlflow/) and stops it at the end. Every loop sends a fixed number of
requests and stops by itself. Single-SKU forecasts rotate over the brand's series, so they are
not one request repeated. Writes benchmarks/results/serving.md.

`--only recommend_budget` measures just the endpoints whose row names contain the word (and the
`/ping` ceiling, measured alongside as always); their rows and target lines replace the same ones
in the existing report, whose other rows are kept as they were measured, and the report's header
says which rows were re-measured when.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "serving.md"
KEY = "daiyun-benchmark-key"
CONCURRENCY = (1, 8)
ROUNDS = 4


# ------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def started_server(workers: int, timeout: float = 300) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "DAIYUN_API_KEYS": f"{KEY}:*",  # the benchmark pays for the key check like any caller
        "DAIYUN_WORKERS": str(workers),
        "OMP_NUM_THREADS": "1",
        "BENTOML_DO_NOT_TRACK": "1",
    }
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"daiyun-bench-serve-{port}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", "daiyun.serving.service:Daiyun", "--port", str(port),
             "--host", "127.0.0.1", "--working-dir", str(REPO)],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"the server stopped; see {log_path}")
                status, body = request(url, "GET", "/readyz")
                if status == 200:
                    break
                if status == 503 and '"loaded"' in body:
                    state = json.loads(body)
                    if not state["loaded"]:
                        raise SystemExit(f"no champions are served: {body}\n(train them first: "
                                         f"`daiyun train all --data DIR`; log: {log_path})")
                    # some brand's model failed: the benchmark measures one brand that is served
                    print(f"warning: not every model is served: {state['failed']}", flush=True)
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not get ready in {timeout:.0f}s; see {log_path}")
                time.sleep(0.5)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def request(
    url: str, method: str, path: str, body: dict | None = None, key: str | None = None
) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except OSError as error:
        return 0, str(error)
    finally:
        connection.close()


# ------------------------------------------------------------------ load


@dataclass
class Result:
    name: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    first_error: str = ""

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rps(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def absorb(self, part: Result) -> None:
        self.latencies += part.latencies
        self.errors += part.errors
        self.wall += part.wall
        self.first_error = self.first_error or part.first_error

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def run_load(url: str, name: str, path: str, bodies: Callable[[int], dict], total: int, concurrency: int,
             warmup: int = 3) -> Result:
    """`total` POSTs spread over `concurrency` threads, each on its own keep-alive connection."""
    parts = urllib.parse.urlsplit(url)
    result = Result(name, concurrency)
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "X-API-Key": KEY}
    for number in range(warmup):
        request(url, "POST", path, bodies(number), KEY)

    def client(worker: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        mine = range(worker, total, concurrency)
        for number in mine:
            payload = json.dumps(bodies(number))
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=payload, headers=headers)
                response = connection.getresponse()
                text = response.read()
                status = response.status
            except OSError as error:
                status, text = 0, str(error).encode()
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or f"{status}: {text[:200]!r}"
        connection.close()

    threads = [threading.Thread(target=client, args=(worker,), daemon=True) for worker in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # short joins keep Ctrl+C (and SIGTERM) able to stop the run
            thread.join(0.5)
    result.wall = time.perf_counter() - started
    return result


# ------------------------------------------------------------------ the scenarios


def scenarios(url: str, scale: float) -> tuple[str, list[tuple[str, str, Callable[[int], dict], int]], dict]:
    status, body = request(url, "GET", "/models", key=KEY)
    if status != 200:
        raise SystemExit(f"/models answered {status}: {body}")
    served = json.loads(body)["models"]
    families: dict[str, set[str]] = {}
    history_end: dict[tuple[str, str], str] = {}
    for model in served:
        if model["status"] == "loaded":
            families.setdefault(model["brand"], set()).add(model["family"])
            history_end[(model["brand"], model["family"])] = model.get("history_end")
    if not families:
        raise SystemExit("no champions are served; train them first: `daiyun train all --data DIR`")
    brand = max(sorted(families), key=lambda b: len(families[b]))
    have = families[brand]
    info: dict = {"brand": brand, "families": sorted(have)}
    plan: list[tuple[str, str, Callable[[int], dict], int]] = [
        ("/ping (ceiling)", "/ping", lambda number: {}, 600)
    ]

    def n(count: int) -> int:
        return max(8, int(count * scale))

    if "forecast" in have:
        origin = date.fromisoformat(history_end[(brand, "forecast")])
        start = (origin + _days(1)).isoformat()
        end = (origin + _days(30)).isoformat()
        status, whole = request(url, "POST", "/forecast", {"brand": brand, "start": start, "end": start}, KEY)
        if status != 200:
            raise SystemExit(f"/forecast answered {status}: {whole[:300]}")
        series = sorted({(row["platform"], row["sku_id"]) for row in json.loads(whole)["rows"]})
        info |= {"series": len(series), "start": start, "end": end}

        def one_sku(number: int) -> dict:
            platform_, sku = series[(number * 7919) % len(series)]
            return {"brand": brand, "start": start, "end": end, "sku_ids": [sku], "platforms": [platform_]}

        def scenario(number: int) -> dict:
            body = one_sku(number)
            body["promotions"] = [{"platform": body["platforms"][0], "sku_id": body["sku_ids"][0],
                                   "start": start, "end": (origin + _days(7)).isoformat(), "discount": 0.2}]
            return body

        plan += [
            ("/forecast 1 SKU x 30 days", "/forecast", one_sku, n(400)),
            ("/forecast 1 SKU x 30 days, promotion scenario", "/forecast", scenario, n(40)),
            (f"/forecast whole brand ({len(series)} series) x 30 days", "/forecast",
             lambda number: {"brand": brand, "start": start, "end": end}, n(16)),
            ("/forecast brand total x 30 days", "/forecast",
             lambda number: {"brand": brand, "start": start, "end": end, "level": "brand"}, n(16)),
        ]
    else:
        start, end = None, None
    if "budget" in have:
        budgets = [20_000, 50_000, 100_000, 200_000, 400_000]
        b_start = start or "2026-10-16"
        b_end = end or "2026-11-14"
        plan.append(("/recommend_budget 30 days", "/recommend_budget",
                     lambda number: {"brand": brand, "start": b_start, "end": b_end,
                                     "total_budget": budgets[number % len(budgets)]}, n(120)))
    if "selection" in have:
        as_of = history_end[(brand, "selection")]
        plan.append(("/score_products top 20, 30 days", "/score_products",
                     lambda number: {"brand": brand, "as_of": as_of, "horizon_days": 30, "top_k": 20}, n(40)))
    return brand, plan, info


def _days(count: int) -> timedelta:
    return timedelta(days=count)


# ------------------------------------------------------------------ report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    loads = " / ".join(f"{value:.1f}" for value in load)
    return f"{os.cpu_count()} CPU(s), {cpu}; load average at start {loads}"


def report(results: list[Result], info: dict, workers: int, started_at: str, host: str) -> str:
    by = {(r.name, r.concurrency): r for r in results}
    period = ""
    if "series" in info:
        period = f", {info['series']} series, forecast {info['start']} .. {info['end']}"
    lines = [
        "# Serving benchmark",
        "",
        f"- date: {started_at}; machine: {host}",
        f"- server: `bentoml serve daiyun.serving.service:Daiyun` on 127.0.0.1, {workers} worker(s), "
        "OMP_NUM_THREADS=1, API key checked on every request; client: Python threads with keep-alive "
        "connections on the same machine",
        f"- champions: brand `{info['brand']}` ({', '.join(info['families'])}){period}",
        "",
        "| endpoint | clients | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.concurrency} | {result.count} | {result.errors} | {result.rps:.1f} | "
            f"{result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} |"
        )
    lines += ["", "## Targets", ""]
    for concurrency in CONCURRENCY:
        ceiling = by.get(("/ping (ceiling)", concurrency))
        one = by.get(("/forecast 1 SKU x 30 days", concurrency))
        if one and ceiling:
            ratio = one.rps / ceiling.rps if ceiling.rps else float("nan")
            lines.append(
                f"- /forecast 1 SKU x 30 days, {concurrency} client(s): p99 {one.percentile(0.99):.1f} ms "
                f"(target <= 100: {'met' if one.percentile(0.99) <= 100 else 'MISSED'}); "
                f"{ratio:.0%} of the ceiling's throughput "
                f"(target >= 50%: {'met' if ratio >= 0.5 else 'MISSED'})"
            )
        budget = by.get(("/recommend_budget 30 days", concurrency))
        if budget:
            lines.append(
                f"- /recommend_budget, {concurrency} client(s): p99 {budget.percentile(0.99):.1f} ms "
                f"(target <= 200: {'met' if budget.percentile(0.99) <= 200 else 'MISSED'})"
            )
    whole = [r for r in results if r.name.startswith("/forecast whole brand")]
    for result in whole:
        worst = max(result.latencies) * 1000 if result.latencies else float("nan")
        lines.append(
            f"- whole-brand forecast, {result.concurrency} client(s): slowest {worst:.0f} ms "
            f"(target < 2000: {'met' if worst < 2000 else 'MISSED'})"
        )
    errors = sum(r.errors for r in results)
    lines.append(f"- errors under load: {errors} (target 0: {'met' if errors == 0 else 'MISSED'})")
    for result in results:
        if result.errors:
            lines.append(f"  - {result.name} x{result.concurrency}: first error {result.first_error}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help=f"a running service that accepts the key '{KEY}' for every brand")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (when started here)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the request counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORD",
        help="measure only the endpoints whose row name contains WORD (repeatable; /ping always) "
        "and update their rows in the existing report",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    server = started_server(args.workers) if not args.url else _existing(args.url)
    with server as url:
        brand, plan, info = scenarios(url, args.scale)
        if args.only:
            plan = [row for row in plan if row[0] == "/ping (ceiling)" or any(w in row[0] for w in args.only)]
            if len(plan) == 1:
                raise SystemExit(f"--only {args.only}: no served endpoint matches")
        results = []
        for concurrency in CONCURRENCY:
            merged = {name: Result(name, concurrency) for name, *_ in plan}
            # Each endpoint's requests are split into ROUNDS chunks run in turn with the others',
            # so a change in the machine's background load hits every row alike.
            for number in range(ROUNDS):
                for name, path, bodies, total in plan:
                    chunk = max(concurrency, total // ROUNDS)
                    part = run_load(url, name, path, _shifted(bodies, number * chunk), chunk, concurrency,
                                    warmup=3 if number == 0 else 0)
                    merged[name].absorb(part)
            for result in merged.values():
                print(f"{result.name:<55} x{concurrency}: {result.rps:8.1f} req/s  "
                      f"p50 {result.percentile(0.5):7.1f} ms  p99 {result.percentile(0.99):7.1f} ms  "
                      f"errors {result.errors}", flush=True)
                results.append(result)
    text = report(results, info, args.workers, started_at, host)
    text += _context()
    if args.only and args.out.exists():
        text = merged_report(args.out.read_text(encoding="utf-8"), text, started_at, host, args.only)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".md.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.rename(args.out)
    print(f"wrote {args.out}")


def merged_report(old: str, new: str, started_at: str, host: str, only: list[str]) -> str:
    """The existing report with the rows and target lines `new` measured put in place of the same
    ones (by endpoint and clients), the rest kept, and a header line saying what was re-measured."""
    fresh_rows = {_row_key(line): line for line in new.splitlines() if _row_key(line)}
    fresh_targets = {_target_key(line): line for line in new.splitlines() if _target_key(line)}
    names = list(dict.fromkeys(name for name, _ in fresh_rows))
    tail = "; the other rows are from the date above"
    notes = [f"- re-measured {started_at} (`--only {' '.join(only)}`; machine: {host}): "
             f"{', '.join(names)}{tail}"]
    for line in old.splitlines():
        if line.startswith("- re-measured"):
            # an earlier partial run's note keeps the rows this run did not measure again
            head, _, listed = line.removesuffix(tail).rpartition("): ")
            # every endpoint name starts with "/" and may itself hold ", "
            kept = [name for name in re.split(r", (?=/)", listed) if name not in names]
            if kept:
                notes.append(f"{head}): {', '.join(kept)}{tail}")
    lines = []
    for line in old.splitlines():
        if line.startswith("- re-measured"):
            continue
        row, target = _row_key(line), _target_key(line)
        if row in fresh_rows:
            line = fresh_rows[row]
        elif target in fresh_targets:
            line = fresh_targets[target]
        lines.append(line)
        if line.startswith("- date:"):
            lines += notes
    return "\n".join(lines) + "\n"


def _row_key(line: str) -> tuple[str, str] | None:
    """(endpoint, clients) of a table row."""
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return (cells[0], cells[1]) if line.startswith("| /") and len(cells) > 2 else None


def _target_key(line: str) -> str | None:
    """'- /recommend_budget, 1 client(s)' of a target line."""
    return line.split(":", 1)[0] if line.startswith("- /") and "client(s)" in line else None


def _shifted(bodies: Callable[[int], dict], offset: int) -> Callable[[int], dict]:
    return lambda number: bodies(number + offset)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the started server is stopped on the way out


@contextmanager
def _existing(url: str) -> Iterator[str]:
    yield url.rstrip("/")


def _context() -> str:
    return "\n".join([
        "",
        "## What dominates",
        "",
        "- `/ping` is the framework's own cost (routing, JSON, the key check, metrics, access log) "
        "measured by the same client: the other rows are read against it.",
        "- A forecast without a promotion scenario, with the default quantiles and within "
        "the first 60 days after the history is answered from forecasts the service precomputed at start "
        "(serving/precompute.py; a test checks they equal the bundle's answer byte for byte); what remains "
        "is JSON. A promotion scenario, other quantiles or an aggregate level runs the forecast bundle "
        "(feature grid, LightGBM with one thread, baselines, intervals): mostly pandas work per request.",
        "- The budget answer is the optimiser over the brand's response curves plus bootstrap intervals. The "
        "bootstrap-averaged curves and their revenue on a wide spend grid depend on the period only, so the "
        "first request for a period builds them (a few hundred ms) and every later one, whatever its budget "
        "or constraints, reuses them for the split, the break-even search and the do-no-harm check; what "
        "remains per request is the bisection, Newton polish and the answer's intervals and curve points. "
        "The selection answer rebuilds the SKU-period features from the stored history on every request.",
        "- One worker process: at 8 clients a request waits for the ones ahead of it, so an endpoint's "
        "latency at 8 clients is about 8 x its latency at 1 (the budget optimisation's tens of ms become "
        "hundreds); more workers (`--workers`, DAIYUN_WORKERS) trade memory (every champion in every "
        "worker) for that queue.",
        "- The worker freezes its loaded champions out of the garbage collector (gc.freeze): before that a "
        "full collection walked ~400k objects in ~220 ms and set every endpoint's p99.",
        "- Client and server share the machine's cores (and, here, the machine was shared with other jobs: "
        "see the load average above), so each endpoint's requests run in 4 rounds interleaved with the "
        "others', and every row, the ceiling included, sees the same background load.",
        "",
    ])


if __name__ == "__main__":
    main()
