"""One code path, two executors: the same per-brand and per-series work runs in this process or on Dask.

    with executor_from(option) as executor:           # --dask ADDRESS, else DAIYUN_DASK_SCHEDULER
        results = executor.map(train_one, brands)     # local: in order, here; dask: on the workers
        with executor.joblib():                       # Prophet's per-series fits follow the executor
            forecaster.fit(history)

`LocalExecutor()` runs each call at once in this process (what daiyun always did);
`LocalExecutor(processes=N)` uses a process pool; `DaskExecutor(address)` wraps a
`distributed.Client`. ADDRESS is a scheduler address (`tcp://10.0.0.5:8786`) or `local[:N]`, which
starts a private LocalCluster of N single-threaded worker processes for a one-machine run.
A scheduler that does not answer is one `RequestError` naming `--dask`, never a traceback.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from daiyun.features.errors import RequestError

ENV_SCHEDULER = "DAIYUN_DASK_SCHEDULER"
ENV_TIMEOUT = "DAIYUN_DASK_TIMEOUT"
DEFAULT_TIMEOUT = 10.0


class Executor:
    """`submit(fn, *args)` -> future, `map(fn, items)` -> results in item order, `as_completed(futures)`."""

    name = "executor"
    is_distributed = False

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def map(self, fn: Callable, items: Iterable, **kwargs: Any) -> list:
        futures = [self.submit(fn, item, **kwargs) for item in items]
        return [future.result() for future in futures]

    def as_completed(self, futures: Iterable) -> Iterator:
        yield from concurrent.futures.as_completed(list(futures))

    def joblib(self):  # noqa: ANN201 - a context manager
        """Where joblib work (Prophet's per-series fits) goes inside the block; local: unchanged."""
        return nullcontext()

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """In this process, one call after another (processes=0), or on a pool of `processes` processes."""

    name = "local"

    def __init__(self, processes: int = 0) -> None:
        self.processes = processes
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if self.processes and self.processes > 0:
            if self._pool is None:
                import multiprocessing

                # spawn: forking a process that holds LightGBM/OpenMP threads can deadlock the child
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool.submit(fn, *args, **kwargs)
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(error)
        return future

    def describe(self) -> str:
        return f"local ({self.processes} processes)" if self.processes else "local (this process)"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """A `distributed.Client` on the scheduler at `address` (or an existing Client / LocalCluster)."""

    name = "dask"
    is_distributed = True

    def __init__(self, address: object, timeout: float | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        self._owns_client = True
        timeout = float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT)) if timeout is None else timeout
        if isinstance(address, Client):
            self.client, self._owns_client = address, False
        elif isinstance(address, LocalCluster):
            self.client = Client(address)
        elif isinstance(address, str) and (address == "local" or address.startswith("local:")):
            workers = _local_workers(address)
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        else:
            self.client = _connect(str(address), timeout)
        self.address = self.client.scheduler.address

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        # pure=False: a retrain of the same brand must run again, never be served from a cached key
        return self.client.submit(on_worker, fn, *args, pure=False, **kwargs)

    def scatter(self, value: object) -> Any:
        """Send a big object (a bundle) to every worker once; pass the returned future to `submit`."""
        return self.client.scatter(value, broadcast=True)

    def as_completed(self, futures: Iterable) -> Iterator:
        from distributed import as_completed

        yield from as_completed(list(futures))

    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def joblib(self):  # noqa: ANN201
        return joblib_on_dask(self.client)

    def describe(self) -> str:
        return f"dask at {self.address} ({self.workers()} workers)"

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _local_workers(address: str) -> int:
    _, _, count = address.partition(":")
    try:
        workers = int(count) if count else max(1, (os.cpu_count() or 2))
    except ValueError:
        workers = 0
    if workers < 1:
        raise RequestError("--dask", f"'{address}' is not a local cluster size",
                           "use local:N with N >= 1 workers, or a scheduler address like tcp://host:8786")
    return workers


def _connect(address: str, timeout: float) -> Any:
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=True)
    except (OSError, TimeoutError, ValueError) as error:
        raise RequestError(
            "--dask",
            f"no Dask scheduler answered at '{address}' within {timeout:g}s ({type(error).__name__})",
            "start one with `dask scheduler` and workers with `dask worker ADDRESS`, check the address "
            f"(tcp://host:8786) or unset {ENV_SCHEDULER}; leave --dask out to run locally",
        ) from None
    try:  # a scheduler without workers would accept the brands and never train them
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise RequestError(
            "--dask", f"the Dask scheduler at '{address}' has no workers (waited {timeout:g}s)",
            f"start workers with `dask worker {address} --nthreads 1`",
        ) from None
    return client


def executor_from(option: str | None = None, processes: int = 0) -> Executor:
    """`--dask ADDRESS` wins, then DAIYUN_DASK_SCHEDULER; with neither, this process as before."""
    address = (option or os.environ.get(ENV_SCHEDULER, "")).strip()
    if not address:
        return LocalExecutor(processes=processes)
    return DaskExecutor(address)


def on_worker(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """A task on a worker: the worker process is the unit of parallelism, so joblib stays in it."""
    with joblib_sequential():
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------- joblib
@contextmanager
def joblib_on_dask(client: object | None = None) -> Iterator[None]:
    """Route joblib work inside the block to the Dask cluster (`parallel_config(backend="dask")`).

    Prophet's per-series fits ask joblib for `backend="loky"` explicitly, and an explicit backend
    beats any `parallel_config`; so inside the block Prophet's `Parallel` is one that leaves the
    backend and n_jobs to the active configuration. (Asked of the Prophet module's owner: drop the
    explicit backend, then this bridge is a no-op.)
    """
    import joblib

    extra = {"client": client} if client is not None else {}  # else Dask's default client
    with joblib.parallel_config(backend="dask", n_jobs=-1, **extra), _prophet_follows_joblib_config():
        yield


@contextmanager
def joblib_sequential() -> Iterator[None]:
    """Inside a worker task: the worker is the unit of parallelism, so joblib runs in the task itself."""
    import joblib

    with joblib.parallel_config(backend="sequential", n_jobs=1), _prophet_follows_joblib_config():
        yield


@contextmanager
def _prophet_follows_joblib_config() -> Iterator[None]:
    try:
        import daiyun.models.forecast.prophet_model as prophet_model
    except ImportError:  # pragma: no cover - prophet is a hard dependency
        yield
        return
    import joblib

    original = prophet_model.Parallel

    def follow_config(*args: Any, backend: object = None, n_jobs: object = None, **kwargs: Any) -> Any:
        return joblib.Parallel(*args, **kwargs)

    prophet_model.Parallel = follow_config
    try:
        yield
    finally:
        prophet_model.Parallel = original
