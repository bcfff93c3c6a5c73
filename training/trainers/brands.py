"""The one failure policy every family trains under: a failed brand is reported, the others go on,
and no champion moves.

A brand trains inside `brand_run` (its MLflow run, `<family>-<brand>`): when it raises, the run
ends FAILED with the error tagged as `daiyun.error`. `train_brands` logs the error with its
traceback and yields the brand's line saying it failed, then goes on with the next brand. The
champion gate is each brand's last step, so a brand that failed never reached it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("daiyun.training")


def failure_line(family: str, brand: str, error: BaseException) -> str:
    return f"[red]{family} {brand}: failed ({type(error).__name__}: {error}); champion unchanged[/]"


@contextmanager
def brand_run(family: str, brand: str) -> Iterator[Any]:
    """The brand's MLflow run; an error inside ends it FAILED with the error tagged, then propagates."""
    import mlflow

    with mlflow.start_run(run_name=f"{family}-{brand}") as run:
        try:
            yield run
        except Exception as error:
            mlflow.set_tag("daiyun.error", f"{type(error).__name__}: {error}"[:500])
            mlflow.end_run(status="FAILED")
            raise


def train_brands(family: str, brands: Iterable[str], train_brand: Callable[[str], str]) -> Iterator[str]:
    """`train_brand(brand)` for each brand in turn, under the failure policy above."""
    for brand in brands:
        try:
            line = train_brand(brand)
        except Exception as error:  # noqa: BLE001 - the policy: report the brand, go on with the others
            logger.exception("%s %s: training failed", family, brand)
            yield failure_line(family, brand, error)
            continue
        yield line
