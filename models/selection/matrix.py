"""The model matrix: selection-frame columns as the correction's LightGBM sees them (categories fixed)."""

from __future__ import annotations

import pandas as pd

from daiyun.features.selection_frame import CATEGORICAL_FEATURES


def learn_categories(frame: pd.DataFrame, features: list[str]) -> dict[str, list[str]]:
    return {
        c: sorted(frame[c].astype(str).unique().tolist()) for c in features if c in CATEGORICAL_FEATURES
    }


def model_matrix(frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]]) -> pd.DataFrame:
    """Floats for numeric features; pandas categoricals (unseen values -> missing) for the others."""
    matrix = pd.DataFrame(index=frame.index)
    for column in features:
        if column in categories:
            matrix[column] = pd.Categorical(frame[column].astype(str), categories=categories[column])
        else:
            matrix[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return matrix
