"""Which cutoffs the pipeline uses, derived from params and the data's time range."""

from __future__ import annotations

import pandas as pd

from features.labels import KeyAccountRule
from features.spine import monthly_cutoffs
from pipeline.config import Params
from pipeline.errors import ConfigError


def data_end(transactions: pd.DataFrame) -> pd.Timestamp:
    """Exclusive end of observed time: midnight after the last transaction."""
    return pd.Timestamp(transactions["timestamp"].max()).normalize() + pd.Timedelta(days=1)


def labelled_cutoffs(params: Params, transactions: pd.DataFrame) -> list[pd.Timestamp]:
    """Monthly cutoffs from features.first_cutoff whose outcome window is fully observed."""
    last = data_end(transactions) - pd.DateOffset(months=params.labels.horizon_months)
    cutoffs = monthly_cutoffs(pd.Timestamp(params.features.first_cutoff), last, params.features.cutoff_every_months)
    if not cutoffs:
        raise ConfigError(
            f"no cutoff between features.first_cutoff={params.features.first_cutoff} and {last.date()} "
            f"(data ends {data_end(transactions).date()}, horizon {params.labels.horizon_months} months)"
        )
    return cutoffs


def key_account_rule(params: Params) -> KeyAccountRule:
    """The key-account rule from params.labels.key_account."""
    ka = params.labels.key_account
    return KeyAccountRule(ka.rule, ka.revenue_share, ka.top_share, ka.absolute_amount)
