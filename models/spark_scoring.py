"""Batch scoring on Spark: the combined model applied partition by partition, ranks and reasons on the driver.

The model travels to the executors as its part files' text (the trees as LightGBM text, the spec, calibrator and
prior as JSON: data, never pickled code) and each Python worker builds it once with the installed
`KeyAccountModel.from_files`. Only (customer_id, cutoff, raw score, probability) come back to the driver, where
the ranking, a global step, is made as single-node scoring makes it; the top rows' features are then fetched for
their SHAP reasons (`models.explain`).
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as sf

from features.catalogue import FeatureDef
from models.combined import KeyAccountModel
from models.scoring import assign_tiers, rank_scores, score_1_99

KEYS = ["customer_id", "cutoff"]
SCORE_SCHEMA = "customer_id string, cutoff timestamp, raw_score double, probability double"


def model_parts(model: KeyAccountModel) -> dict[str, str]:
    """The text of each part file of the model (what `KeyAccountModel.from_files` reads)."""
    with tempfile.TemporaryDirectory(prefix="kap-model-") as folder:
        files = model.write_files(Path(folder))
        return {part: Path(path).read_text(encoding="utf-8") for part, path in files.items()}


@functools.cache
def _model_from_parts(parts: tuple[tuple[str, str], ...], digest: str) -> KeyAccountModel:
    """The model built from its parts' text, once per worker process and model (`digest` names the model)."""
    with tempfile.TemporaryDirectory(prefix=f"kap-model-{digest[:12]}-") as folder:
        files = {}
        for part, text in parts:
            files[part] = str(Path(folder) / part)
            Path(files[part]).write_text(text, encoding="utf-8")
        return KeyAccountModel.from_files(files)


def score_on_spark(features: SparkFrame, model: KeyAccountModel, catalogue: list[FeatureDef],
                   explain_top: int, top_reasons: int = 3, capacity: int = 100, tier_b_share: float = 0.10,
                   tier_c_share: float = 0.30) -> pd.DataFrame:
    """Rank every row of `features` (a Spark DataFrame of feature snapshots: customer_id, cutoff, the model's
    columns; one cutoff) with `model` in the executors, give every row its 1–99 score and tier (`assign_tiers`
    with an overall capacity: per-owner capacity needs the owners, which the features do not hold) and the
    `explain_top` best ranked their reasons (`reason_codes`, whose "typical" is then among those rows). Columns
    customer_id, cutoff, raw_score, probability, rank, score, tier, reason_1..; reasons are empty below the top."""
    parts = tuple(sorted(model_parts(model).items()))
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    shared = features.sparkSession.sparkContext.broadcast(parts)
    columns = [*KEYS, *model.spec.columns]

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = _model_from_parts(shared.value, digest)
        for batch in batches:
            raw = scorer.raw_score(batch)
            yield pd.DataFrame({"customer_id": batch["customer_id"], "cutoff": batch["cutoff"],
                                "raw_score": raw.to_numpy(), "probability": scorer.probability(raw).to_numpy()})

    scores = features.select(*columns).mapInPandas(score, SCORE_SCHEMA).toPandas()
    shared.unpersist()
    ranked = rank_scores(scores).reset_index(drop=True)
    ranked["score"] = score_1_99(ranked["raw_score"])
    ranked["tier"] = assign_tiers(ranked, capacity, None, tier_b_share, tier_c_share)
    top_ids = features.sparkSession.createDataFrame(ranked.loc[: explain_top - 1, ["customer_id"]])
    top = (features.join(sf.broadcast(top_ids), on="customer_id").toPandas()
           .set_index("customer_id").loc[ranked["customer_id"].iloc[:explain_top]].reset_index())
    from models.explain import reason_codes, shap_explanation  # on the driver only: the workers need no shap

    X = model.spec.conform(top)
    explanation = shap_explanation(model.booster, X, model.prior)
    reasons = reason_codes(pd.DataFrame(explanation.values, columns=list(model.spec.columns), index=X.index),
                           top, catalogue, top_reasons)
    return ranked.join(reasons).fillna({column: "" for column in reasons.columns})
