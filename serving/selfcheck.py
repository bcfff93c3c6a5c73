"""Ask every loaded champion one small question at start; one that cannot answer is not served.

A bundle is pickled by reference to its classes, so a champion trained before a code change can
load fine and still fail on every request (an attribute the new code expects, say). Such a
champion is moved to the failures, so /readyz and /models name it and its brand gets a 503 that
says why, instead of a 500 on every call. A `RequestError` counts as an answer: the model works
and only disliked the question.
"""

from __future__ import annotations

import logging

import pandas as pd

from daiyun.features.errors import RequestError
from daiyun.serving.champions import Champion, ChampionSet, LoadFailure, describe_error

logger = logging.getLogger("bentoml.daiyun")


def _ask(champion: Champion) -> None:
    bundle = champion.bundle
    end = champion.history_end
    after = pd.Timestamp(end) + pd.Timedelta(days=1) if end is not None else None
    if champion.family == "forecast":
        bundle.forecast(after, after)  # every series, so every member model is asked
    elif champion.family == "budget":
        bundle.recommend(after, after + pd.Timedelta(days=6), 1000.0)
    elif champion.family == "selection":
        bundle.score(pd.Timestamp(end), 7, top_k=1)


def self_check(champion_set: ChampionSet) -> list[LoadFailure]:
    """Check every champion (in place); returns the ones that failed."""
    failed: list[LoadFailure] = []
    for champion in champion_set.champions:
        if champion.history_end is None:
            continue  # nothing to ask it about; served as loaded
        try:
            _ask(champion)
        except RequestError:
            continue
        except Exception as error:  # noqa: BLE001 - the point is to catch whatever it would raise
            logger.exception("%s v%s loaded but could not answer", champion.name, champion.version)
            failed.append(
                LoadFailure(
                    champion.family, champion.brand, champion.name, champion.version,
                    f"loaded but failed its first question: {describe_error(error)}",
                )
            )
    for failure in failed:
        champion_set.discard(failure)
    return failed
