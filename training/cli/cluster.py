"""`daiyun backtest --dask` and `daiyun forecast --dask`: their per-brand and per-series work on the executor.

Nothing here logs to MLflow, so workers simply return their results: backtests one brand per task,
SKU-level forecasts one chunk of SKUs per task (the bundle is sent to every worker once).
"""

from __future__ import annotations

import pandas as pd

from daiyun.features.forecast_terms import DEFAULT_QUANTILES


def backtests(executor: object, dataset: object, brands: list[str], config: object) -> dict[str, object]:
    """brand -> future of `run_backtest(dataset.for_brand(brand), brand, config)` (one task per brand)."""
    from daiyun.training.trainers.backtest import run_backtest

    return {brand: executor.submit(run_backtest, dataset.for_brand(brand), brand, config) for brand in brands}


def _forecast_chunk(bundle: object, start: str, end: str, promotions: pd.DataFrame | None, quantiles: tuple,
                    sku_ids: list[str]) -> pd.DataFrame:
    return bundle.forecast(start, end, promotions=promotions, quantiles=quantiles, sku_ids=sku_ids,
                           level="sku")


def forecast(executor: object, bundle: object, start: str, end: str, promotions: pd.DataFrame | None = None,
             quantiles: tuple = DEFAULT_QUANTILES, level: str = "sku", chunks_per_worker: int = 2
             ) -> pd.DataFrame:
    """`bundle.forecast(...)`; at SKU level on a cluster, chunks of SKUs go to the workers.

    Other levels sum SKU forecasts with the brand's error correlation, so they are answered in one
    piece here (they are cheap next to the SKU forecasts they sum).
    """
    if not getattr(executor, "is_distributed", False) or level != "sku":
        return bundle.forecast(start, end, promotions=promotions, quantiles=quantiles, level=level)
    skus = sorted(bundle.series()["sku_id"].astype(str).unique())
    # a bad request (dates, quantiles, plan) fails here as one clear error, before any work is sent
    _forecast_chunk(bundle, start, end, promotions, tuple(quantiles), skus[:1])
    parts = max(1, min(len(skus), executor.workers() * chunks_per_worker))
    chunks = [skus[k::parts] for k in range(parts)]
    shared = executor.scatter(bundle)
    futures = [executor.submit(_forecast_chunk, shared, start, end, promotions, tuple(quantiles), chunk)
               for chunk in chunks if chunk]
    rows = pd.concat([future.result() for future in futures], ignore_index=True)
    # the order a single call returns: series in the bundle's order, then dates
    order = bundle.series()[["platform", "sku_id"]].reset_index(drop=True)
    order["_series"] = range(len(order))
    rows = rows.merge(order, on=["platform", "sku_id"], how="left", validate="many_to_one")
    return rows.sort_values(["_series", "date"], kind="stable").drop(columns="_series").reset_index(drop=True)
