"""Data in, model inputs out: the contract, loading, validation, calendar, simulator, feature frames."""

from daiyun.features.dataset import Dataset
from daiyun.features.errors import ContractError, NotFoundError, RequestError


def load(directory, brands=None):  # noqa: ANN001, ANN201 - thin re-export, typed in features.load
    from daiyun.features.load import load as _load

    return _load(directory, brands=brands)


__all__ = ["Dataset", "ContractError", "NotFoundError", "RequestError", "load"]
