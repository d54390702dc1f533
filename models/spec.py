"""Feature spec: the ordered columns, dtypes and category levels a model was trained on.

It travels with the model; scoring conforms its input to it and refuses input that does not match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


class SpecMismatchError(ValueError):
    """Input columns or dtypes do not match the model's feature spec."""


@dataclass(frozen=True)
class FeatureSpec:
    columns: tuple[str, ...]
    categorical: tuple[str, ...] = ()
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str], categorical: list[str]) -> FeatureSpec:
        """Spec from training data: category levels are the sorted values seen in training."""
        levels = {c: tuple(sorted(frame[c].dropna().astype("str").unique())) for c in categorical}
        return cls(tuple(columns), tuple(categorical), levels)

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Model input in spec order: numbers as float64, categories with the training levels.

        Unknown category values become missing (the model treats them like an unseen level).
        Raises SpecMismatchError naming missing columns or non-numeric values.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise SpecMismatchError(f"input lacks feature column(s) {missing} required by the model")
        out = {}
        for column in self.columns:
            values = frame[column]
            if column in self.categorical:
                levels = list(self.categories[column])
                text = values.astype("str").where(values.notna())
                out[column] = pd.Categorical(text.where(text.isin(levels)), categories=levels)
            else:
                if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
                    raise SpecMismatchError(f"feature '{column}' must be numeric, got dtype {values.dtype}")
                out[column] = values.astype("float64")
        return pd.DataFrame(out, index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = {k: list(v) for k, v in self.categories.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            tuple(data["columns"]),
            tuple(data.get("categorical", ())),
            {k: tuple(v) for k, v in data.get("categories", {}).items()},
        )
