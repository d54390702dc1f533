"""SHAP explanations: global importance and per-customer reasons in plain words."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap

from features.catalogue import FeatureDef
from features.families.wallet import PEER_SIZE_BANDS
from models.estimator import LogisticPrior

POPULATION = "eligible customers"  # what the rows explained are: a reason's "typical" is theirs
MIN_YARDSTICK_ROWS = 30  # known values a comparison needs: the rows of a cutoff, or a peer group at it
MIN_SHOWN_MULTIPLE = 0.1  # a smaller multiple of the peers' median reads as a standing instead


def shap_explanation(model: lgb.Booster, X: pd.DataFrame, prior: LogisticPrior | None = None) -> shap.Explanation:
    """SHAP values (log-odds contributions) of every feature for every row of X; with the `prior` the trees
    were boosted from, its exact contributions are added to its features' (SHAP values are additive over the
    sum of two models)."""
    explanation = shap.TreeExplainer(model)(X)
    if explanation.values.ndim == 3:  # some shap versions return one slice per class
        explanation = explanation[:, :, 1]
    if prior is None:
        return explanation
    values = np.array(explanation.values, dtype="float64")
    values[:, [X.columns.get_loc(c) for c in prior.columns]] += prior.contributions(X)
    return shap.Explanation(values, base_values=np.asarray(explanation.base_values) + prior.reference_log_odds(),
                            data=explanation.data, feature_names=explanation.feature_names)


def mean_abs_shap(explanation: shap.Explanation) -> pd.DataFrame:
    """Global importance: mean |SHAP| per feature, largest first."""
    values = np.abs(np.asarray(explanation.values)).mean(axis=0)
    table = pd.DataFrame({"feature": list(explanation.feature_names), "mean_abs_shap": values})
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


def _format_values(values: pd.Series, unit: str) -> pd.Series:
    """Human-readable text for one feature column."""
    missing = values.isna()
    if unit == "text":
        text = values.astype("str")
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        if unit in ("ratio", "share"):
            sign = "+" if unit == "ratio" else ""
            text = numbers.map(lambda v: f"{v:{sign}.0%}")
        elif unit == "multiple":
            text = numbers.map(_times)
        elif unit == "days":
            text = numbers.map(lambda v: f"{v:,.0f} days")
        elif unit == "years":
            text = numbers.map(lambda v: f"{v:,.0f} years")
        else:
            text = numbers.map(lambda v: f"{v:,.0f}")
    return text.where(~missing, "unknown")


def _times(multiple: float) -> str:
    """A multiple in as few digits as read well: "12×", "3×", "1.5×", "0.07×"."""
    if multiple >= 9.95:
        return f"{multiple:,.0f}×"
    if multiple >= 0.095:
        return f"{multiple:.1f}".removesuffix(".0") + "×"
    return f"{multiple:.1g}×"


def _phrases(feature: FeatureDef, features: pd.DataFrame) -> pd.Series:
    """"label: value" (", up from earlier" where the feature has an earlier counterpart) for these rows."""
    text = feature.label + ": " + _format_values(features[feature.name], feature.unit)
    if feature.compare_to and feature.compare_to in features.columns:
        earlier = _format_values(features[feature.compare_to], feature.unit)
        now, before = features[feature.name].astype("float64"), features[feature.compare_to].astype("float64")
        direction = np.select([now > before, now < before], ["up from ", "down from "], "same as ")
        text = text + ", " + pd.Series(direction, index=features.index) + earlier
    return text


def reason_codes(
    shap_values: pd.DataFrame, features: pd.DataFrame, catalogue: list[FeatureDef], top_n: int = 3, *,
    population: pd.DataFrame | None = None, with_effects: bool = False,
) -> pd.DataFrame:
    """The `top_n` strongest reasons per row, one per fact, in plain words with what is typical, e.g.
    "orders in last 90 days: 14, up from 5 (highest 8% of eligible customers) — raises".

    - One measure, one reason: the windows of a measure (spend in the last 90 and 365 days) add up their SHAP
      values and are shown by the window contributing most in that direction.
    - One fact once: a measure shown by a window ending at the cutoff that holds no orders is the fact "no
      orders in the last 30 days" (one per window, however many measures read it); one that holds exactly one
      order is the fact "one order in the last 365 days: 910" (one per row: such windows are nested, so they all
      hold the row's last order; spend joins only when it shows that order's value, i.e. no credit note changed
      it). See `FeatureDef.orders_feature`. A fact's SHAP value is the sum of its measures'; facts are ranked
      by it, so a merged fact frees its slots for the next distinct ones.
    - Compared with typical (`FeatureDef.typical`), among the rows of the same `cutoff` (all rows when
      `features` has no cutoff column), which are taken to be the eligible customers there: the standing
      ("highest 8%", "lowest 20%", "around the median"), or the multiple of the median of the rows of the same
      industry and size band ("3× the median of its industry and size", bands as in the wallet family); order
      facts by how many share them ("like 45% of eligible customers"). A comparison needs MIN_YARDSTICK_ROWS
      known values; text and unknown values get none. Only features are used.

    - `population` (default `features`): the rows what is typical is measured among, holding every row of
      `features` by index; pass all eligible customers when only some of them are explained.

    Columns reason_1..reason_n (n = top_n, at most the number of measures), index of `features`; a row with
    fewer distinct facts gets "" in the last columns. Every reason ends in " — raises" or " — lowers". With
    `with_effects`, also effect_1..effect_n: each reason's SHAP total (NaN where there is no reason).
    """
    defs = {d.name: d for d in catalogue}
    columns = list(shap_values.columns)
    contributions = shap_values.to_numpy(dtype="float64")
    measures = pd.Index([defs[name].measure for name in columns])
    measure_of = measures.unique().get_indexer(measures)  # per column, its measure's position
    n_measures = measure_of.max(initial=-1) + 1
    members = [np.flatnonzero(measure_of == g) for g in range(n_measures)]
    totals = np.column_stack([contributions[:, cols].sum(axis=1) for cols in members])
    direction = np.where(totals >= 0, 1.0, -1.0)
    shown = np.column_stack([cols[np.argmax(contributions[:, cols] * direction[:, [g]], axis=1)]
                             for g, cols in enumerate(members)])  # per row and measure: the column shown
    facts = _OrderFacts(features, defs, columns, measure_of, shown)
    fact_totals, present = facts.totals(totals)

    rows = np.arange(len(features))[:, None]
    top = np.argsort(np.where(present, -np.abs(fact_totals), 1.0), axis=1, kind="stable")[:, :min(top_n, n_measures)]
    stated = present[rows, top]
    text = np.full(top.shape, "", dtype=object)
    population = features if population is None else population
    typical = _Typical(population, population.index.get_indexer(features.index))
    top_columns = np.where(stated & (top < n_measures), shown[rows, np.minimum(top, n_measures - 1)], -1)
    for j, name in enumerate(columns):  # phrase only the cells that were chosen
        hit_rows, slots = np.nonzero(top_columns == j)
        if len(hit_rows):
            read = [name, *(c for c in [defs[name].compare_to] if c in features.columns)]
            text[hit_rows, slots] = _with_typical(_phrases(defs[name], features[read].iloc[hit_rows]).to_numpy(),
                                                  typical.of(defs[name], hit_rows))
    for fact in range(n_measures, fact_totals.shape[1]):
        hit_rows, slots = np.nonzero(stated & (top == fact))
        if len(hit_rows):
            text[hit_rows, slots] = facts.phrases(fact, hit_rows, totals, shown, typical)
    effect = np.where(fact_totals[rows, top] >= 0, " — raises", " — lowers")
    slots = range(1, top.shape[1] + 1)
    reasons = pd.DataFrame(np.where(stated, text + effect, ""), index=features.index,
                           columns=[f"reason_{i}" for i in slots])
    if not with_effects:
        return reasons
    effects = pd.DataFrame(np.where(stated, fact_totals[rows, top], np.nan), index=features.index,
                           columns=[f"effect_{i}" for i in slots])
    return pd.concat([reasons, effects], axis=1)


def _with_typical(phrases: np.ndarray, typical: np.ndarray) -> np.ndarray:
    """"phrase (typical)", or the phrase alone where nothing typical is known."""
    return np.where(typical == "", phrases, phrases + " (" + typical.astype(object) + ")")


def _percent(shares: np.ndarray, *, ceil: bool) -> np.ndarray:
    """Shares as whole percents, at least 1% (ceil: never rounded into a smaller, more flattering group)."""
    percents = 100 * np.nan_to_num(shares)
    whole = np.ceil(np.round(percents, 6)) if ceil else np.round(percents)
    return np.char.add(np.maximum(whole, 1).astype(int).astype(str), "%")


class _Typical:
    """What is typical among the rows explained: per cutoff, and per peer group (cutoff, industry, size band;
    unknown size a band of its own, unknown industry no group)."""

    def __init__(self, features: pd.DataFrame, explained: np.ndarray):
        """`features`: the population; `explained`: the positions in it of the rows being explained, which the
        `rows` arguments below index."""
        self.features, self.explained = features, explained
        cutoff = features["cutoff"] if "cutoff" in features.columns else pd.Series(0, index=features.index)
        self.cohort = pd.factorize(cutoff)[0]
        self.cohorts = [np.flatnonzero(self.cohort == c) for c in range(self.cohort.max(initial=-1) + 1)]
        self.peer = None
        if {"firm_industry", "firm_employees"} <= set(features.columns):
            employees = features["firm_employees"].to_numpy(dtype="float64", na_value=np.nan)
            band = np.where(np.isnan(employees), -1, np.searchsorted(PEER_SIZE_BANDS, employees, "right"))
            industry = pd.factorize(features["firm_industry"])[0]  # -1 where unknown
            group = (self.cohort * (industry.max(initial=0) + 1) + industry) * (len(PEER_SIZE_BANDS) + 2) + band + 1
            self.peer = np.where(industry >= 0, group, -1)

    def of(self, feature: FeatureDef, rows: np.ndarray) -> np.ndarray:
        """Per row of `rows` (positions among the explained rows), how its value of `feature` compares ("" where
        it cannot)."""
        if feature.typical is None:
            return np.full(len(rows), "")
        values = pd.to_numeric(self.features[feature.name], errors="coerce").to_numpy(dtype="float64",
                                                                                      na_value=np.nan)
        rows = self.explained[rows]
        standing = self.standing(values, rows)
        if feature.typical == "rank":
            return standing
        multiple = self.peer_multiple(values, rows)
        return np.where(multiple == "", standing, multiple)

    def standing(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """"highest 8% of eligible customers" (8% have this value or more), "lowest 20% ...", or "around the
        median ..." when both are above half; "" for an unknown value or too few known values at its cutoff."""
        high, low = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
        cohort = self.cohort[rows]
        for c, members in enumerate(self.cohorts):
            at = np.flatnonzero(cohort == c)
            pool = np.sort(values[members])
            pool = pool[~np.isnan(pool)]
            if len(at) and len(pool) >= MIN_YARDSTICK_ROWS:
                value = values[rows[at]]
                low[at] = np.searchsorted(pool, value, "right") / len(pool)
                high[at] = (len(pool) - np.searchsorted(pool, value, "left")) / len(pool)
        text = np.select([high <= 0.5, low <= 0.5], [np.char.add("highest ", _percent(high, ceil=True)),
                                                     np.char.add("lowest ", _percent(low, ceil=True))],
                         "around the median")
        known = ~np.isnan(high) & ~np.isnan(values[rows])
        return np.where(known, np.char.add(text, f" of {POPULATION}"), "")

    def peer_multiple(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """"3× the median of its industry and size" (the rows of its peer group at its cutoff); "" without a
        group of MIN_YARDSTICK_ROWS known values with a positive median, or below MIN_SHOWN_MULTIPLE."""
        if self.peer is None:
            return np.full(len(rows), "")
        grouped = (self.peer >= 0) & ~np.isnan(values)
        stats = pd.Series(values[grouped]).groupby(self.peer[grouped]).agg(["median", "size"])
        median = stats["median"].reindex(self.peer[rows]).to_numpy()
        size = stats["size"].reindex(self.peer[rows]).to_numpy(dtype="float64", na_value=0.0)
        multiple = values[rows] / np.where(median > 0, median, np.nan)
        shown = (size >= MIN_YARDSTICK_ROWS) & (multiple >= MIN_SHOWN_MULTIPLE)
        text = np.full(len(rows), "", dtype=object)
        text[shown] = [_times(m) for m in multiple[shown]]
        return np.where(shown, text + " the median of its industry and size", "").astype(str)

    def share_like(self, count_column: str, count: int, rows: np.ndarray) -> np.ndarray:
        """"like 45% of eligible customers": per row of `rows` (positions among the explained rows), the share of
        the population at its cutoff whose `count_column` equals `count`."""
        holds = self.features[count_column].to_numpy(dtype="float64", na_value=np.nan) == count
        share = np.array([holds[m].mean() if len(m) >= MIN_YARDSTICK_ROWS else np.nan for m in self.cohorts])
        at_cutoff = share[self.cohort[self.explained[rows]]]
        return np.where(np.isnan(at_cutoff), "", np.char.add(np.char.add("like ", _percent(at_cutoff, ceil=False)),
                                                                f" of {POPULATION}"))


class _OrderFacts:
    """The facts about the orders of windows ending at the cutoff (see `reason_codes`). Fact ids per (row,
    measure): a measure that is a fact of its own keeps its position g; "no orders in window k" is n_measures + k
    (windows by length), "one order" n_measures + K."""

    def __init__(self, features: pd.DataFrame, defs: dict[str, FeatureDef], columns: list[str],
                 measure_of: np.ndarray, shown: np.ndarray):
        self.features, self.defs, self.columns = features, defs, columns
        window_of = {d.orders_feature: d for d in defs.values() if d.orders_feature in features.columns}
        self.counts = sorted(window_of, key=lambda name: window_of[name].window_days)  # the windows, by length
        self.words = [window_of[name].window_words for name in self.counts]
        self.n_measures = shown.shape[1]
        self.one_order = self.n_measures + len(self.counts)
        self.amount = np.full(len(features), np.nan)  # the row's last order's value, where a window holds only it
        for d in defs.values():
            if d.order_value and d.name in features.columns and d.orders_feature in window_of:
                only = (self._values(d.orders_feature) == 1) & np.isnan(self.amount)
                self.amount[only] = self._values(d.name)[only]
        self.ids = np.broadcast_to(np.arange(self.n_measures), shown.shape).copy()
        self.widest = np.full(len(features), -1)  # per row, the longest window (index of counts) holding one order
        for j, name in enumerate(columns):
            d = defs[name]
            if d.orders_feature not in window_of:
                continue
            k, g = self.counts.index(d.orders_feature), measure_of[j]
            count, value = self._values(d.orders_feature), self._values(name)
            unknown, is_shown = np.isnan(value), shown[:, g] == j
            none = is_shown & (count == 0) & (unknown | (value == 0))
            if d.order_value or d.name == d.orders_feature:
                the_order = np.ones(len(value), dtype=bool)
            else:  # a money amount equal to the order's value as shown (net spend without a credit note)
                the_order = (d.unit == "money") & (np.round(value) == np.round(self.amount))
            one = is_shown & (count == 1) & (unknown | the_order)
            self.ids[none, g] = self.n_measures + k
            self.ids[one, g] = self.one_order
            self.widest[one] = np.maximum(self.widest[one], k)

    def _values(self, name: str) -> np.ndarray:
        return self.features[name].to_numpy(dtype="float64", na_value=np.nan)

    def totals(self, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row and fact, its SHAP total (the sum of its measures') and whether the row has that fact."""
        own = self.ids == np.arange(self.n_measures)
        member = [self.ids == fact for fact in range(self.n_measures, self.one_order + 1)]
        fact_totals = np.column_stack([np.where(own, totals, 0.0),
                                       *(np.where(m, totals, 0.0).sum(axis=1) for m in member)])
        present = np.column_stack([own, *(m.any(axis=1) for m in member)])
        return fact_totals, present

    def phrases(self, fact: int, rows: np.ndarray, totals: np.ndarray, shown: np.ndarray,
                typical: _Typical) -> np.ndarray:
        """The phrases of an order fact for these rows (positions): "no orders in the last 30 days" (and the
        earlier value its strongest measure compares with), or "one order in the last 365 days: 910" (the
        longest such window; the value where a feature states it); with the share of rows alike."""
        if fact == self.one_order:
            amount = self.amount[rows]
            value = np.where(np.isnan(amount), "",
                             ": " + _format_values(pd.Series(amount), "money").to_numpy(dtype=object))
            text, alike = np.empty(len(rows), dtype=object), np.full(len(rows), "", dtype=object)
            for k, words in enumerate(self.words):
                at = self.widest[rows] == k
                text[at] = f"one order {words}"
                alike[at] = typical.share_like(self.counts[k], 1, rows[at])
            return _with_typical(text + value, alike)
        k = fact - self.n_measures
        text = np.full(len(rows), f"no orders {self.words[k]}", dtype=object)
        members = self.ids[rows] == fact
        strongest = np.argmax(np.where(members, np.abs(totals[rows]), -1.0), axis=1)
        lead = shown[rows, strongest]  # the column of the measure contributing most to the fact
        for j in np.unique(lead):
            earlier = self.defs.get(self.defs[self.columns[j]].compare_to or "")
            if earlier is not None and earlier.name in self.features.columns:
                at = lead == j
                values = _format_values(self.features[earlier.name].iloc[rows[at]], earlier.unit).to_numpy()
                text[at] = text[at] + f", {earlier.label}: " + values
        return _with_typical(text, typical.share_like(self.counts[k], 0, rows))
