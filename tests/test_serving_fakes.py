"""Tiny stand-ins for the three family bundles (same methods and errors as the real ones), so the
service's HTTP behaviour is tested in seconds. A module of its own so a `bentoml serve` subprocess
can unpickle them (the tests put this folder on its PYTHONPATH).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import pytest
from starlette.testclient import TestClient

from daiyun.features.errors import NotFoundError, RequestError


class FakeForecastBundle:
    """mean = 10 + SKU index per day, x1.5 on promotion days; p-quantiles spread around it."""

    def __init__(self, brand: str, skus: int = 3, platforms: tuple[str, ...] = ("tmall", "jd")) -> None:
        self.brand = brand
        self.series_ = pd.DataFrame(
            [
                {"platform": p, "sku_id": f"{brand}-sku{i}", "category": "cat" + str(i % 2)}
                for p in platforms
                for i in range(skus)
            ]
        )
        self.metrics = {"wape": 0.2}

    def series(self) -> pd.DataFrame:
        return self.series_.copy()

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.forecast(frame["start"].iloc[0], frame["end"].iloc[0])

    def forecast(self, start, end, promotions=None, quantiles=(0.1, 0.5, 0.9), sku_ids=None,
                 platforms=None, level="sku") -> pd.DataFrame:
        series = self.series_
        if sku_ids is not None and "boom" in sku_ids:
            raise ZeroDivisionError("a bug inside the model")  # stands for any model failure
        if sku_ids is not None:
            for sku in sku_ids:
                if sku not in set(series["sku_id"]):
                    raise NotFoundError("sku_id", sku, sorted(set(series["sku_id"])))
            series = series[series["sku_id"].isin(sku_ids)]
        if platforms is not None:
            for platform in platforms:
                if platform not in set(series["platform"]):
                    raise NotFoundError("platform", platform, sorted(set(series["platform"])))
            series = series[series["platform"].isin(platforms)]
        dates = pd.date_range(start, end, freq="D")
        frame = series.merge(pd.DataFrame({"date": dates}), how="cross")
        frame["mean"] = 10.0 + frame["sku_id"].str.extract(r"(\d+)$")[0].astype(float)
        if promotions is not None and len(promotions):
            for row in promotions.itertuples():
                hit = (
                    frame["platform"].eq(row.platform) & frame["sku_id"].eq(row.sku_id)
                    & frame["date"].between(row.start, row.end)
                )
                frame.loc[hit, "mean"] *= 1.5
                if getattr(row, "display", 0.0) == 1.0:  # an extra promotion flag reached the model
                    frame.loc[hit, "mean"] *= 2.0
        for q in quantiles:
            frame[f"p{round(q * 100, 6):g}"] = frame["mean"] * (0.5 + q)
        frame["brand"] = self.brand
        frame["cold_start"] = False
        if level == "sku":
            return frame
        keys = {"category": ["category"], "platform": ["platform"], "brand": []}[level]
        values = [c for c in frame.columns if c == "mean" or c.startswith("p")]
        values = [c for c in values if c != "platform"]
        grouped = frame.groupby(["brand", *keys, "date"], as_index=False)[values].sum()
        return grouped


class FakeBudgetBundle:
    """revenue of a channel = weight * sqrt(spend); the optimum spends in proportion to weight^2."""

    def __init__(self, brand: str, weights: dict[str, float] | None = None) -> None:
        self.brand = brand
        self.weights = weights or {"tmall_ztc": 3.0, "jd_kuaiche": 2.0, "douyin_qianchuan": 1.0}

    def channels(self) -> list[str]:
        return list(self.weights)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame([self.recommend(frame["start"].iloc[0], frame["end"].iloc[0], 100.0)])

    def recommend(self, start, end, total_budget, objective="max_revenue", target_roi=None, channels=None,
                  max_shift=None, breakeven_roi=None):
        limits = {c["channel"]: c for c in channels or []}
        for name in limits:
            if name not in self.weights:
                raise NotFoundError("channel", name, self.channels())
        fixed = sum(c.get("fixed", 0) or 0 for c in limits.values())
        floor = sum(c.get("min", 0) or 0 for c in limits.values())
        if fixed + floor > total_budget:
            raise RequestError(
                "channels",
                f"fixed and minimum spends add up to {fixed + floor:g}, above total_budget {total_budget:g}",
                "lower the minimums or raise total_budget",
            )
        free = {n: w for n, w in self.weights.items() if "fixed" not in limits.get(n, {})}
        left = total_budget - fixed
        norm = sum(w * w for w in free.values())
        rows = []
        for name, weight in self.weights.items():
            fixed_spend = limits.get(name, {}).get("fixed")
            spend = fixed_spend if fixed_spend is not None else left * weight * weight / norm
            revenue = weight * spend ** 0.5
            rows.append({
                "channel": name, "spend": spend, "expected_revenue": revenue,
                "roi": revenue / spend if spend else None,
                "marginal_roi": weight / (2 * spend ** 0.5) if spend else None,
            })
        total = sum(r["expected_revenue"] for r in rows)
        return {
            "channels": rows,
            "totals": {
                "spend": total_budget, "expected_revenue": total, "low": total * 0.9, "high": total * 1.1
            },
            "current_mix": {"expected_revenue": total * 0.9},
            "uplift": {"expected_revenue": total * 0.1},
        }


class FakeSelectionBundle:
    def __init__(self, brand: str, skus: int = 4) -> None:
        self.brand = brand
        self.skus = [f"{brand}-sku{i}" for i in range(skus)]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.score(frame["as_of"].iloc[0], 30)

    def score(self, as_of, horizon_days, sku_ids=None, platform=None, top_k=None, scope="platform",
              forecast=None) -> pd.DataFrame:
        if platform is not None and platform != "tmall":
            raise NotFoundError("platform", platform, ["tmall"])
        skus = self.skus
        if sku_ids is not None:
            for sku in sku_ids:
                if sku not in skus:
                    raise NotFoundError("sku_id", sku, skus)
            skus = [s for s in skus if s in sku_ids]
        rows = []
        for i, sku in enumerate(reversed(skus)):
            rows.append({
                "platform": "tmall", "sku_id": sku, "rank": i + 1, "score": 1.0 / (i + 1),
                "expected_revenue": 100.0 * horizon_days / (i + 1), "new_sku": i == 0,
                "reasons": [
                    {"feature": f"f{k}", "value": k, "contribution": 1.0 / (k + 1), "direction": "up",
                     "text": f"reason {k}"}
                    for k in range(5)
                ],
            })
        frame = pd.DataFrame(rows)
        return frame.head(top_k) if top_k else frame


class AnswerlessSelectionBundle(FakeSelectionBundle):
    """Loads fine, fails every question: a champion pickled before a code change it cannot follow."""

    data_end = pd.Timestamp("2026-10-15")

    def score(self, *args, **kwargs) -> pd.DataFrame:
        raise AttributeError("'SelectionRegressor' object has no attribute 'objective'")


class BrokenBundle:
    """Registers fine, cannot be loaded back: stands for a champion whose code or file broke."""

    def __init__(self, brand: str) -> None:
        self.brand = brand

    def __setstate__(self, state):
        raise RuntimeError("this bundle cannot be unpickled")

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame


def register(family: str, bundle, metric_value: float = 0.25) -> str:
    """Log and register `bundle` through training.registry in the active store; returns its version."""
    import mlflow

    from daiyun.training.registry import log_bundle, register_and_gate
    from daiyun.training.tracking import use_experiment

    use_experiment("daiyun-serving-tests")
    with mlflow.start_run() as run:
        mlflow.log_metric("wape", metric_value)
        uri = log_bundle(bundle)
    decision = register_and_gate(family, bundle.brand, uri, run.info.run_id, metric_value, "wape", "fake")
    return decision.version


def register_fake_champions(brands: list[str], broken: list[str] = ()) -> None:
    """Every family for `brands`; a forecast champion that cannot be loaded for each of `broken`."""
    for brand in brands:
        register("forecast", FakeForecastBundle(brand))
        register("budget", FakeBudgetBundle(brand))
        register("selection", FakeSelectionBundle(brand))
    for brand in broken:
        register("forecast", BrokenBundle(brand))
        register("selection", AnswerlessSelectionBundle(brand))


class Harness:
    """One ASGI app per process (BentoML registers its Prometheus metrics once), started and
    stopped as needed: every start runs the service's `__init__` again with the current env."""

    app = None

    def __init__(self) -> None:
        from daiyun.serving.service import Daiyun

        if Harness.app is None:
            Harness.app = Daiyun.to_asgi()
        self._client: TestClient | None = None

    @property
    def client(self) -> TestClient:
        assert self._client is not None
        return self._client

    def start(self) -> TestClient:
        self._client = TestClient(app=Harness.app, raise_server_exceptions=False)
        self._client.__enter__()
        return self._client

    def stop(self) -> None:
        if self._client is not None:
            self._client.__exit__(None, None, None)
            self._client = None


@contextmanager
def serving_beauty(keys: str) -> Iterator[Harness]:
    """beauty's three fake champions handed straight to the service (loading them from a registry is
    test_serving's subject, and logging models to MLflow would take most of a test's time), behind
    the API keys `keys`; yields the started Harness."""
    from daiyun.serving import service as service_module
    from daiyun.serving.champions import Champion, ChampionSet

    champions = [
        Champion(family, "beauty", f"daiyun-{family}-beauty", "1", f"run-{family}", {"wape": 0.25}, bundle)
        for family, bundle in (
            ("forecast", FakeForecastBundle("beauty")),
            ("budget", FakeBudgetBundle("beauty")),
            ("selection", FakeSelectionBundle("beauty")),
        )
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENTOML_DO_NOT_TRACK", "1")
        patch.setenv("DAIYUN_CHAMPIONS_SOURCE", "registry")
        patch.delenv("DAIYUN_API_KEYS_FILE", raising=False)
        patch.setenv("DAIYUN_API_KEYS", keys)
        patch.setattr(service_module, "load_from_registry", lambda: ChampionSet(champions, [], "registry"))
        running = Harness()
        running.start()
        try:
            yield running
        finally:
            running.stop()
