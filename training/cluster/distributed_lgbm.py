"""LightGBM for a brand too large for one worker: `lightgbm.dask` data-parallel training, a local booster out.

    with large_fits_on_dask(client, min_rows=2_000_000) as routed:
        forecaster.fit(history)      # LGBMForecaster's lgb.train runs on the workers when the frame is big
    routed                           # training-frame sizes that went to the cluster

The forecaster builds its training frame and calls `lightgbm.train(params, Dataset, rounds)`. Inside
the block a frame of at least `min_rows` rows is split into one partition per worker and trained by
`DaskLGBMRegressor` with the same parameters (objective, offsets as `init_score`, seed, monotone
constraints); `.to_local()` turns the result into an ordinary `Booster`, so the bundle, its
pickling and serving are unchanged. Smaller frames train locally as before. Data-parallel
LightGBM builds histograms from every partition's bins, so its trees differ slightly from the
single-machine trees: metrics agree closely, not bit for bit (see tests/test_dask.py).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

ENV_MIN_ROWS = "DAIYUN_DASK_LGBM_ROWS"
DEFAULT_MIN_ROWS = 2_000_000  # below this a single worker trains faster than the network round trips


def min_rows_default() -> int:
    return int(os.environ.get(ENV_MIN_ROWS, DEFAULT_MIN_ROWS))


def train_booster(params: dict, features: pd.DataFrame, label: np.ndarray, init_score: np.ndarray | None,
                  num_boost_round: int, client: object, partitions: int | None = None) -> object:
    """A `lightgbm.Booster` trained by `DaskLGBMRegressor` across the client's workers."""
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMRegressor

    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    parts = max(1, partitions or workers)
    frame = features.reset_index(drop=True)
    # same index, same npartitions: the label and offset partitions line up with the feature rows
    dx = dd.from_pandas(frame, npartitions=parts, sort=True)
    dy = dd.from_pandas(pd.Series(np.asarray(label, dtype=float), name="label"), npartitions=parts, sort=True)
    fit_kwargs = {}
    if init_score is not None:
        fit_kwargs["init_score"] = dd.from_pandas(
            pd.Series(np.asarray(init_score, dtype=float), name="init_score"), npartitions=parts, sort=True
        )
    # rounds are n_estimators here; threads are the worker's (lightgbm.dask ignores n_jobs and says so)
    dropped = ("num_iterations", "n_estimators", "num_boost_round", "num_threads", "n_jobs")
    settings = {k: v for k, v in params.items() if k not in dropped}
    model = DaskLGBMRegressor(client=client, n_estimators=int(num_boost_round), **settings)
    with warnings.catch_warnings():  # it always says so, even when no thread count was asked for
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(dx, dy, **fit_kwargs)
    return model.to_local().booster_


@contextmanager
def large_fits_on_dask(client: object, min_rows: int | None = None) -> Iterator[list[int]]:
    """Inside the block, `lightgbm.train` on a DataFrame of >= min_rows rows runs on the cluster."""
    import lightgbm

    threshold = min_rows_default() if min_rows is None else int(min_rows)
    original = lightgbm.train
    routed: list[int] = []

    def train(params: dict, train_set: object, num_boost_round: int = 100, *args: object, **kwargs: object):  # noqa: ANN202
        data = getattr(train_set, "data", None)
        plain = not args and not kwargs  # validation sets, callbacks: leave those to the local trainer
        if plain and isinstance(data, pd.DataFrame) and len(data) >= threshold:
            routed.append(len(data))
            return train_booster(params, data, np.asarray(train_set.label), train_set.init_score,
                                 num_boost_round, client)
        return original(params, train_set, num_boost_round, *args, **kwargs)

    lightgbm.train = train
    try:
        yield routed
    finally:
        lightgbm.train = original
