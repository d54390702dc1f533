"""BG/NBD + Gamma-Gamma expected spend: the classic buy-till-you-die baseline.

Library: PyMC-Marketing's CLV module (`pymc_marketing.clv`). It is maintained (PyMC Labs), it is the successor of
`lifetimes` (unmaintained since 2020; the predictive formulas are ported from it) and it fits by MAP
(`pymc.find_MAP`, L-BFGS from a fixed starting point): fast and deterministic, no MCMC. The library's default priors
are kept: flat for Gamma-Gamma (MAP = maximum likelihood, as `lifetimes` fitted it), weakly informative for BG/NBD,
which keeps the fit finite on degenerate histories (e.g. every customer buying at the same pace) where the
maximum-likelihood estimate runs off to infinity; on thousands of customers the two agree.
"""

from __future__ import annotations

import warnings

import pandas as pd
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary

# pip's PyTensor finds no BLAS; these two small models do no matrix algebra, so the warning is noise in a stage log
_NO_BLAS_WARNING = "PyTensor could not link to a BLAS installation"


def purchase_summary(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per customer with a purchase before `cutoff`: frequency (repeat purchases), recency, T (days) and
    monetary_value (mean value of the repeat purchases, 0 for one-time customers).

    A purchase is a day whose net amount over the customer's lines is positive; rows at or after the cutoff are
    ignored. T runs from the first purchase day to the cutoff."""
    history = transactions.loc[transactions["timestamp"] < cutoff]
    days = (history.assign(day=history["timestamp"].dt.floor("D"))
            .groupby(["customer_id", "day"], as_index=False, observed=True)["amount"].sum())
    purchases = days.loc[days["amount"] > 0]
    return rfm_summary(purchases, "customer_id", "day", "amount", observation_period_end=cutoff)


def bgnbd_expected_spend(transactions: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int,
                         customer_ids: pd.Index | None = None) -> pd.Series:
    """Expected net spend in [cutoff, cutoff + horizon_days): BG/NBD expected purchases times the Gamma-Gamma
    expected purchase value, both fitted by MAP on the history before the cutoff.

    `transactions` has columns customer_id, timestamp and amount (net line amounts). Indexed by customer_id: the
    customers with a purchase before the cutoff, or `customer_ids` (those without one get 0)."""
    summary = purchase_summary(transactions, cutoff)
    repeat = summary.loc[summary["frequency"] > 0]  # purchase days are positive, so their mean value is too
    if repeat.empty:
        raise ValueError(f"no customer with a repeat purchase before {cutoff}: BG/NBD and Gamma-Gamma cannot be fitted")

    purchase_model, value_model = BetaGeoModel(), GammaGammaModel()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_BLAS_WARNING, category=UserWarning)
        purchase_model.fit(data=summary, method="map", progressbar=False)
        value_model.fit(data=repeat, method="map", progressbar=False)
    if float(value_model.fit_result["q"].squeeze()) <= 1:
        raise ValueError("Gamma-Gamma fit has q <= 1: the expected purchase value is not finite")

    purchases = purchase_model.expected_purchases(future_t=horizon_days)
    value = value_model.expected_customer_spend(data=summary)  # one-time customers get the population mean
    spend = (purchases * value).squeeze(("chain", "draw"), drop=True).to_series()
    spend = spend.set_axis(pd.Index(spend.index, dtype=transactions["customer_id"].dtype, name="customer_id"))
    spend = spend.sort_index()
    if customer_ids is not None:
        spend = spend.reindex(customer_ids, fill_value=0.0)
    return spend.rename("bgnbd_expected_spend")
