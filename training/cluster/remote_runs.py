"""Per-brand training on Dask workers with one MLflow writer: workers compute, the client logs.

A SQLite tracking store must not be written by many processes (and a worker on another machine
cannot reach the file at all). So a worker runs the family's own `train_family` for ONE brand
against a private MLflow store in its temp dir (emptied after each task), handing it a
`RecordingRegistry` whose `log_bundle` and `register_and_gate` record instead of execute. It hands
back everything the run produced: params, metric histories, tags, status, artifacts as bytes
(plots, backtest tables), nested runs (Optuna trials), the fitted bundle and the gate's arguments.
The client process then *replays* each brand into the real store: the same runs, then
`log_bundle` and `register_and_gate` for real, one brand at a time. Exactly one writer, so no lost
or duplicated runs; a task Dask retries after a worker died is replayed once, because only its
final result reaches the client.

The trainers' printed line carries placeholders for the version and the champion decision, which
the replay fills in with the real ones.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from daiyun.models.registry import load_champion, quiet, tracking_uri
from daiyun.training import families
from daiyun.training.registry import GateDecision, log_bundle, register_and_gate
from daiyun.training.tracking import artifact_root, use_experiment
from daiyun.training.trainers.brands import failure_line

VERSION_TOKEN = "\u27e8version\u27e9"
REASON_TOKEN = "\u27e8decided when the client logs the run\u27e9"
CAPTURED_URI = "daiyun-captured:"
# one brand at a time per worker process: the private store is chosen through process-wide state
_WORKER_LOCK = threading.Lock()
logger = logging.getLogger("daiyun.training")


@dataclass
class RunRecord:
    """One MLflow run as data: enough to recreate it in another store."""

    run_id: str
    experiment: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[tuple[str, float, int, int]]  # key, value, timestamp, step
    artifacts: dict[str, bytes]


@dataclass
class GateCall:
    """The arguments `register_and_gate` was called with on the worker."""

    family: str
    brand: str
    model_uri: str
    run_id: str
    kwargs: dict[str, Any]


@dataclass
class BrandResult:
    family: str
    brand: str
    lines: list[str]
    runs: list[RunRecord]
    bundles: dict[str, Any]
    gates: list[GateCall]
    seconds: float
    worker: str
    peak_rss_mb: float
    cpu_seconds: float = 0.0
    error: str | None = None
    replayed: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------- on the worker
def train_brand_task(family: str, brand_data: object, brand: str, tune: int = 0, promote: bool = True,
                     shared_uri: str | None = None, shared_artifact_root: str | None = None,
                     options: dict | None = None) -> BrandResult:
    """Run the family's `train_family(brand_data, brands=[brand], ...)` on this worker; see module doc."""
    from daiyun.training.cluster.executor import joblib_sequential

    started, cpu_started = time.perf_counter(), cpu_seconds()
    with _WORKER_LOCK, _private_store() as private_uri:
        captured = RecordingRegistry(shared_uri, shared_artifact_root, private_uri)
        with joblib_sequential():
            train_family = families.family(family).train_family
            lines = list(train_family(brand_data, brands=[brand], tune=tune, promote=promote,
                                      registry=captured, **(options or {})))
        runs = export_runs(private_uri)
    return BrandResult(
        family=family, brand=brand, lines=lines, runs=runs, bundles=captured.bundles,
        gates=captured.gates, seconds=time.perf_counter() - started, worker=_worker_name(),
        peak_rss_mb=peak_rss_mb(), cpu_seconds=cpu_seconds() - cpu_started,
    )


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (Prophet's cmdstan runs as a child)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, because ru_maxrss survives fork+exec: a spawned
    worker would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_PRIVATE_DIR: list[str] = []  # one private store per worker process, reused by its tasks


def _private_dir() -> Path:
    if not _PRIVATE_DIR:
        import atexit
        import shutil

        # creating a SQLite store runs MLflow's migrations (seconds): do it once per worker process
        directory = tempfile.mkdtemp(prefix="daiyun-worker-mlflow-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _PRIVATE_DIR.append(directory)
    return Path(_PRIVATE_DIR[0])


@contextmanager
def _private_store() -> Iterator[str]:
    """This worker's own MLflow store, empty of runs when a task starts and when it ends."""
    import mlflow

    keys = ("MLFLOW_TRACKING_URI", "DAIYUN_ARTIFACT_ROOT")
    saved = {k: os.environ.get(k) for k in keys}
    directory = _private_dir()
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["DAIYUN_ARTIFACT_ROOT"] = (directory / "artifacts").as_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        _forget_runs(uri)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        mlflow.set_tracking_uri(tracking_uri())


def _forget_runs(uri: str) -> None:
    """Delete this task's runs and their files from the private store (already exported, or failed)."""
    import shutil

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id], max_results=50000):
            client.delete_run(run.info.run_id)
            shutil.rmtree(url2pathname(urlparse(run.info.artifact_uri).path), ignore_errors=True)


class RecordingRegistry:
    """The registry a worker's trainer writes to: `log_bundle` and `register_and_gate` are recorded
    for the client to replay, not executed; champion reads go to the shared store."""

    def __init__(self, shared_uri: str | None, shared_artifact_root: str | None, private_uri: str) -> None:
        self.shared_uri, self.private_uri = shared_uri, private_uri
        self.shared_artifact_root = shared_artifact_root
        self.bundles: dict[str, Any] = {}
        self.gates: list[GateCall] = []

    def log_bundle(self, bundle: Any, name: str = "model") -> str:
        uri = f"{CAPTURED_URI}{len(self.bundles)}"
        self.bundles[uri] = bundle
        return uri

    def register_and_gate(self, family: str, brand: str, model_uri: str, run_id: str, score: float,
                          metric: str, backtest_key: str, **kwargs: Any) -> GateDecision:
        arguments = {"score": score, "metric": metric, "backtest_key": backtest_key, **kwargs}
        self.gates.append(GateCall(family, brand, model_uri, run_id, arguments))
        return GateDecision(promoted=False, version=VERSION_TOKEN, reason=REASON_TOKEN,
                            challenger_score=score, champion_score=None, champion_version=None)

    def load_champion(self, family: str, brand: str) -> tuple[Any, Any]:
        # read-only, so safe beside the single writer; a store this worker cannot reach has no champion
        if not _reachable(self.shared_uri):
            raise LookupError(f"brand '{brand}' has no {family} champion reachable from this worker")
        with _environment({"MLFLOW_TRACKING_URI": self.shared_uri,
                           "DAIYUN_ARTIFACT_ROOT": self.shared_artifact_root}):
            try:
                return load_champion(family, brand)
            finally:
                import mlflow

                mlflow.set_tracking_uri(self.private_uri)


def _reachable(uri: str | None) -> bool:
    if not uri:
        return False
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()  # never create an empty store here
    return "://" in uri


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def export_runs(uri: str) -> list[RunRecord]:
    """Every run of every experiment in the store at `uri`, parents before their nested runs."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    records = []
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id], max_results=50000):
            metrics = []
            for key in run.data.metrics:
                for m in client.get_metric_history(run.info.run_id, key):
                    metrics.append((m.key, float(m.value), int(m.timestamp), int(m.step)))
            # the private store is on this worker's disk: read its files, no download round trip
            local = Path(url2pathname(urlparse(run.info.artifact_uri).path))
            artifacts = {str(p.relative_to(local)): p.read_bytes() for p in local.rglob("*") if p.is_file()}
            records.append(RunRecord(
                run_id=run.info.run_id, experiment=experiment.name, name=run.info.run_name or "",
                status=run.info.status, start_time=int(run.info.start_time or 0),
                end_time=int(run.info.end_time) if run.info.end_time else None,
                params=dict(run.data.params), tags=dict(run.data.tags), metrics=metrics, artifacts=artifacts,
            ))
    parents = {r.run_id: r.tags.get("mlflow.parentRunId") for r in records}

    def depth(run_id: str) -> int:
        level = 0
        while parents.get(run_id):
            run_id, level = parents[run_id], level + 1
        return level

    return sorted(records, key=lambda r: (depth(r.run_id), r.start_time))


# ----------------------------------------------------------------------------------- on the client
def replay(result: BrandResult, promote: bool = True) -> list[str]:
    """Write a worker's runs into the real store, log and gate its bundle; returns the final lines."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    quiet()
    mlflow.set_tracking_uri(tracking_uri())
    client = MlflowClient()
    new_ids: dict[str, str] = {}
    decisions = {}
    for record in result.runs:
        experiment_id = use_experiment(record.experiment)
        tags = dict(record.tags)
        parent = tags.pop("mlflow.parentRunId", None)
        if parent:
            tags["mlflow.parentRunId"] = new_ids.get(parent, parent)
        tags["daiyun.executor"] = f"dask worker {result.worker}"
        run = client.create_run(experiment_id, start_time=record.start_time or None, tags=tags,
                                run_name=record.name or None)
        run_id = run.info.run_id
        new_ids[record.run_id] = run_id
        params = [Param(k, v) for k, v in record.params.items()]
        metrics = [Metric(k, v, ts, step) for k, v, ts, step in record.metrics]
        for chunk in range(0, max(len(params), len(metrics), 1), 100):
            client.log_batch(run_id, metrics=metrics[chunk:chunk + 100], params=params[chunk:chunk + 100])
        if record.artifacts:
            with tempfile.TemporaryDirectory() as tmp:
                for relative, data in record.artifacts.items():
                    path = Path(tmp) / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                client.log_artifacts(run_id, tmp)
        for gate in (g for g in result.gates if g.run_id == record.run_id):
            bundle = result.bundles[gate.model_uri]
            if getattr(bundle, "run_id", None) == record.run_id:
                bundle.run_id = run_id  # the bundle names the run it came from: the real one
            with mlflow.start_run(run_id=run_id):
                model_uri = log_bundle(bundle)
            kwargs = dict(gate.kwargs)
            kwargs["promote"] = kwargs.get("promote", promote)
            decisions[record.run_id] = register_and_gate(gate.family, gate.brand, model_uri, run_id, **kwargs)
            if hasattr(bundle, "model_version"):
                bundle.model_version = decisions[record.run_id].version
        client.set_terminated(run_id, status=record.status, end_time=record.end_time)
    result.replayed = list(new_ids.values())
    decision = next(iter(decisions.values()), None)
    return [fill_line(line, decision) for line in result.lines]


def fill_line(line: str, decision: object | None) -> str:
    """Put the real version and champion decision where the worker's line has placeholders."""
    if decision is None:
        return line
    line = line.replace(VERSION_TOKEN, str(decision.version))
    verdict = re.compile(r"(kept champion|kept)(\W{1,3})" + re.escape(REASON_TOKEN))
    if verdict.search(line):
        return verdict.sub(lambda m: ("champion" if decision.promoted else m.group(1)) + m.group(2)
                           + decision.reason.replace("\\", "\\\\"), line)
    return line.replace(REASON_TOKEN, decision.reason)


# -------------------------------------------------------------------------------------- the driver
ENV_LARGE_BRAND_ROWS = "DAIYUN_DASK_LARGE_BRAND_ROWS"
DEFAULT_LARGE_BRAND_ROWS = 20_000_000  # sales rows: about 10,000 SKUs x 2 platforms x 3 years of days


def train_on_cluster(executor: object, dataset: object, family: str, brands: list[str], tune: int = 0,
                     promote: bool = True, options: dict | None = None,
                     on_result: Callable[[BrandResult], None] | None = None,
                     large_brand_rows: int | None = None) -> Iterator[str]:
    """Every brand's pipeline on the cluster; this process is the only MLflow writer.

    A brand with at least `large_brand_rows` sales rows is too large for one worker: it is driven
    from this process (logging directly) with its Prophet fits spread over the workers through
    joblib and its LightGBM trained by `lightgbm.dask`. It goes first, while the workers are free
    (a distributed LightGBM waits for every worker). Every other brand is one task on a worker,
    replayed into MLflow as it completes.
    """
    if large_brand_rows is None:
        large_brand_rows = int(os.environ.get(ENV_LARGE_BRAND_ROWS, DEFAULT_LARGE_BRAND_ROWS))
    rows = dataset.sales["brand"].value_counts()
    large = [b for b in brands if int(rows.get(b, 0)) >= large_brand_rows]
    for brand in large:
        from daiyun.training.cluster.distributed_lgbm import large_fits_on_dask

        with executor.joblib(), large_fits_on_dask(executor.client) as routed:
            train_family = families.family(family).train_family
            for line in train_family(dataset.for_brand(brand), brands=[brand], tune=tune, promote=promote,
                                     **(options or {})):
                # parentheses, not brackets: rich would read "[...]" as markup and drop it
                frames = ", ".join(f"{n:,} rows" for n in routed) or "none"
                yield f"{line} (driven from the client; LightGBM frames on the cluster: {frames})"

    shared_uri, shared_root = tracking_uri(), artifact_root() or None
    futures = {}
    for brand in (b for b in brands if b not in large):
        future = executor.submit(train_brand_task, family, dataset.for_brand(brand), brand, tune, promote,
                                 shared_uri, shared_root, options)
        futures[future] = brand
    for future in executor.as_completed(list(futures)):
        brand = futures[future]
        try:
            result = future.result()
        except Exception as error:  # a worker lost mid-brand: the one failure policy, said from here
            logger.exception("%s %s: failed on the cluster", family, brand)
            yield failure_line(family, brand, error)
            continue
        lines = replay(result, promote=promote)
        if on_result is not None:
            on_result(result)
        for line in lines:
            yield f"{line} (on worker {result.worker})"
