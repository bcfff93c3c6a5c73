"""How each family trains: the training half of the one family table.

The names (and their order) are `daiyun.models.registry.FAMILIES`, which the service reads too;
this adds, per name, the trainer module, the metric its champion gate compares and the run's main
plot. The CLI, the cluster and the notebooks' workbench all find a family's trainer here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from daiyun.features.errors import RequestError
from daiyun.models.registry import FAMILIES


@dataclass(frozen=True)
class Family:
    """Where a family trains and what its gate compares (read from the trainer module itself)."""

    name: str
    metric_attr: str
    lower_is_better: bool
    main_plot: str  # the run artifact a notebook shows first

    @property
    def module(self) -> str:
        return f"daiyun.training.trainers.{self.name}"

    @property
    def trainer(self) -> ModuleType:
        # imported on use: `daiyun --help` and a Dask worker training one family load only that one
        return importlib.import_module(self.module)

    @property
    def train_family(self) -> Callable:
        return self.trainer.train_family

    @property
    def metric(self) -> str:
        return getattr(self.trainer, self.metric_attr)

    @property
    def experiment(self) -> str:
        return self.trainer.EXPERIMENT


TRAINING = {
    "forecast": Family("forecast", "METRIC", True, "plots/events_actual_vs_forecast.png"),
    "budget": Family("budget", "METRIC", True, "plots/response_curves.png"),
    "selection": Family("selection", "GATE_METRIC", False, "plots/captured_revenue_vs_k.png"),
}
if tuple(TRAINING) != FAMILIES:  # checked at import: a family the service knows must be trainable
    raise RuntimeError(f"families.py trains {tuple(TRAINING)}; the registry's families are {FAMILIES}")


def family(name: str) -> Family:
    """The family called `name`; one clear error naming the known ones otherwise."""
    if name not in TRAINING:
        raise RequestError("family", f"family must be one of {', '.join(FAMILIES)}, got '{name}'",
                           "name one of them (or `all` on `daiyun train`)")
    return TRAINING[name]


def chosen(name: str) -> list[Family]:
    """`all` or one family's name, as `daiyun train` takes it."""
    return [TRAINING[n] for n in FAMILIES] if name == "all" else [family(name)]
