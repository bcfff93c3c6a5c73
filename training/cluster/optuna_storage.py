"""An Optuna storage every worker can reach, and trials of one study spread over the workers.

    storage = study_storage()                         # JournalStorage on a file (default, no server)
    storage = study_storage("postgresql://u:p@db/optuna")   # or any RDB URL SQLAlchemy knows
    study = optimize_on_cluster(executor, objective, "forecast-glowlab", n_trials=40, storage=storage)

A journal file works for workers that share a filesystem (one machine, NFS); on a cluster without
one, use a database URL. Each worker runs `study.optimize` on the same study name; the storage
hands out trial numbers, so every trial is counted once and TPE sees the finished trials of all
workers. `DAIYUN_OPTUNA_STORAGE` (path or URL) sets the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

ENV_STORAGE = "DAIYUN_OPTUNA_STORAGE"
DEFAULT_JOURNAL = Path(__file__).resolve().parents[1] / "mlflow" / "optuna-journal.log"


def study_storage(target: str | os.PathLike | None = None) -> object:
    """`JournalStorage(JournalFileBackend(path))` for a path, an RDBStorage for a database URL."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    target = str(target or os.environ.get(ENV_STORAGE) or DEFAULT_JOURNAL)
    if "://" in target:
        return optuna.storages.RDBStorage(target)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def _run_trials(objective: Callable, study_name: str, storage_target: str, n_trials: int, seed: int) -> int:
    """On a worker: reopen the shared study, run `n_trials` of it; returns how many it ran."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=study_storage(storage_target),
                              sampler=optuna.samplers.TPESampler(seed=seed))
    before = len(study.trials)
    study.optimize(objective, n_trials=n_trials, gc_after_trial=True)
    return len(study.trials) - before


def optimize_on_cluster(executor: object, objective: Callable, study_name: str, n_trials: int,
                        storage: str | os.PathLike | None = None, direction: str = "minimize",
                        seed: int = 0, workers: int | None = None) -> object:
    """Run `n_trials` trials of `objective` split over the executor's workers; returns the study.

    Each worker samples with its own seed (seed + k), so they do not propose identical trials.
    """
    import optuna

    target = str(storage or os.environ.get(ENV_STORAGE) or DEFAULT_JOURNAL)
    optuna.create_study(study_name=study_name, storage=study_storage(target), direction=direction,
                        load_if_exists=True)
    if workers is None:
        workers = executor.workers() if hasattr(executor, "workers") else 1
    workers = max(1, min(int(workers), n_trials))
    shares = [n_trials // workers + (1 if k < n_trials % workers else 0) for k in range(workers)]
    futures = [executor.submit(_run_trials, objective, study_name, target, share, seed + k)
               for k, share in enumerate(shares) if share]
    for future in futures:
        future.result()
    return optuna.load_study(study_name=study_name, storage=study_storage(target))
