"""Where training writes runs (experiments, artifact root) and how a run ends when its process does.

Where the store is (`MLFLOW_TRACKING_URI`, else `mlflow/` under `DAIYUN_HOME` or the working
directory) and how MLflow is quietened belong to the registry's read side,
`daiyun.models.registry`, because the service needs them too.

Run lifecycle (`watch_runs`, called by `use_experiment`, so by every trainer):
- every run this process starts is tagged with its owner (`daiyun.owner` = pid:start time of the
  training process) and host; every worker it starts (process pools, joblib/loky, a local Dask
  cluster) inherits the owner in `DAIYUN_RUN_OWNER`;
- SIGTERM / SIGHUP: the workers are stopped, the owner's RUNNING runs end as KILLED, exit 128+N;
- SIGKILL cannot be caught: the next training start on the host marks RUNNING runs whose owner is
  gone as KILLED and stops the workers such an owner left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from daiyun.models.registry import quiet, tracking_uri

logger = logging.getLogger(__name__)

OWNER_ENV = "DAIYUN_RUN_OWNER"
OWNER_TAG = "daiyun.owner"
HOST_TAG = "daiyun.host"
ENDED_TAG = "daiyun.ended"
LOCK_TIMEOUT_S = 1800.0  # a gate that re-scores a champion holds the lock for one backtest
_watching = False


def artifact_root() -> str:
    """Artifacts sit beside the SQLite file unless the team server decides (then it is empty)."""
    explicit = os.environ.get("DAIYUN_ARTIFACT_ROOT")
    if explicit:
        return explicit
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return ""  # file stores keep artifacts inside themselves; a server decides its own


def use_experiment(name: str) -> str:
    """Point MLflow at our store and make sure the experiment exists (before any parallel worker)."""
    import mlflow

    quiet()
    mlflow.set_tracking_uri(tracking_uri())
    watch_runs()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        root = artifact_root()
        experiment_id = mlflow.create_experiment(
            name, artifact_location=f"{root}/{name}" if root else None
        )
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


# ---------------------------------------------------------------------------- the champion lock


def lock_dir() -> Path:
    """Beside the SQLite file or inside a file store (every process using that store sees it);
    for a tracking server, under the daiyun home (this machine only: the gate's compare-and-set
    covers writers elsewhere)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent / "locks"
    if uri.startswith("file:"):
        return Path(uri.removeprefix("file://").removeprefix("file:")) / "locks"
    if "://" not in uri:
        return Path(uri) / "locks"
    from daiyun.models.registry import home

    return home() / "mlflow" / "locks"


@contextlib.contextmanager
def store_lock(name: str, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive lock on `name` for every process and thread on this machine (flock: released
    by the kernel when its holder dies, so a killed run never leaves it held)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the gate's compare-and-set still applies
        yield
        return
    directory = lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.lock"
    deadline = time.monotonic() + timeout
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{path}: held by another run for over {timeout:.0f}s; if no daiyun run is "
                        "training this model, delete the file"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------- run lifecycle


def _owner_of(process: Any) -> str:
    return f"{process.pid}:{process.create_time():.2f}"


def _owner_alive(owner: str) -> bool:
    import psutil

    pid, _, _ = owner.partition(":")
    try:
        return _owner_of(psutil.Process(int(pid))) == owner
    except psutil.AccessDenied:
        return True  # someone else's process: never judged dead
    except (psutil.NoSuchProcess, ValueError):
        return False


def watch_runs() -> str:
    """Once per process: tag runs with their owner, end them KILLED on SIGTERM/SIGHUP, and clean
    up after owners that died without a word (SIGKILL, OOM). Returns the owner."""
    global _watching
    import psutil

    # a process that trains owns its runs, even when started by another that does (a notebook, a
    # pool): the owner its starter gave it stays in its /proc environ, which is what marks it an
    # orphan if that starter dies without stopping it
    owner = _owner_of(psutil.Process())
    if _watching:
        return owner
    _watching = True
    os.environ[OWNER_ENV] = owner  # workers started from now on belong to this owner
    context = json.loads(os.environ.get("MLFLOW_RUN_CONTEXT") or "{}")
    context.update({OWNER_TAG: owner, HOST_TAG: socket.gethostname()})
    os.environ["MLFLOW_RUN_CONTEXT"] = json.dumps(context)  # MLflow adds these tags to every new run
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _on_signal)
    try:
        reap_dead_owners()
    except Exception:  # noqa: BLE001 - cleaning up after others must never stop this run
        logger.warning("could not check for runs left RUNNING by killed processes", exc_info=True)
    return owner


def _on_signal(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once
    stop_workers()
    end_runs(os.environ.get(OWNER_ENV, ""), f"the training process received {name}")
    raise SystemExit(128 + signum)


def stop_workers(grace: float = 3.0) -> list[int]:
    """Terminate every process this one started (pools, loky, Dask), then kill what is left."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return [child.pid for child in children]


def end_runs(owner: str, why: str, status: str = "KILLED") -> list[str]:
    """End the owner's RUNNING runs (this thread's active runs first, so MLflow's own exit handlers
    find nothing left to end as FINISHED or FAILED)."""
    import mlflow

    ended = []
    while (run := mlflow.active_run()) is not None:
        with contextlib.suppress(Exception):
            mlflow.MlflowClient().set_tag(run.info.run_id, ENDED_TAG, why)
        mlflow.end_run(status)
        ended.append(run.info.run_id)
    if owner:
        for run in _running_runs(f"tags.`{OWNER_TAG}` = '{owner}'"):
            _terminate(run.info.run_id, status, why)
            ended.append(run.info.run_id)
    return ended


def reap_dead_owners(owners: set[str] | None = None) -> dict[str, list]:
    """RUNNING runs of this host whose owner process is gone -> KILLED; workers such an owner left
    behind (they carry its DAIYUN_RUN_OWNER) are stopped. `owners`: only these (tests)."""
    import psutil

    def dead(owner: str) -> bool:
        return bool(owner) and (owners is None or owner in owners) and not _owner_alive(owner)

    host = socket.gethostname()
    marked = []
    for run in _running_runs(f"tags.`{HOST_TAG}` = '{host}'"):
        owner = run.data.tags.get(OWNER_TAG, "")
        if dead(owner):
            _terminate(run.info.run_id, "KILLED", f"marked at the next start: its process ({owner}) was gone")
            marked.append(run.info.run_id)
    orphans = []
    me = os.getpid()
    for process in psutil.process_iter(["pid", "uids"]):
        if process.pid == me or process.info["uids"] is None or process.info["uids"].real != os.getuid():
            continue
        with contextlib.suppress(psutil.Error):
            if dead(process.environ().get(OWNER_ENV, "")):
                process.terminate()
                orphans.append(process)
    _, alive = psutil.wait_procs(orphans, timeout=3.0)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if marked or orphans:
        logger.warning("marked %d run(s) KILLED and stopped %d orphan worker(s) of killed runs",
                       len(marked), len(orphans))
    return {"runs": marked, "workers": [p.pid for p in orphans]}


def _running_runs(filter_string: str) -> list:
    import mlflow

    client = mlflow.MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    return list(client.search_runs(experiments, f"attributes.status = 'RUNNING' and {filter_string}",
                                   max_results=10_000))


def _terminate(run_id: str, status: str, why: str) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    client.set_tag(run_id, ENDED_TAG, why)
    client.set_terminated(run_id, status)
