"""Out-of-time split of a stacked (customer × cutoff) panel: never random rows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class TimeSplit:
    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    test: pd.Timestamp
    # from the first training cutoff through validation: every outcome window ends by the test cutoff, so a
    # model can be refitted on all of them once early stopping has chosen its number of rounds
    refit: tuple[pd.Timestamp, ...] = ()


def time_split(
    cutoffs: list[pd.Timestamp],
    horizon_months: int,
    test_cutoff: pd.Timestamp | None = None,
    validation_cutoff: pd.Timestamp | None = None,
    validation_gap_months: int | None = None,
) -> TimeSplit:
    """Test = the last (or given) cutoff; validation = the latest cutoff whose outcome window ends by the
    test cutoff; training = every cutoff at least `validation_gap_months` (default: the horizon) before the
    validation cutoff. No training or validation outcome window overlaps the test's; with the default gap
    none of training overlaps validation's either. A shorter gap (for short histories) lets training windows
    overlap the validation window: the validation score then rewards memorising the shared outcome months, so
    early stopping (and a search) picks too many rounds; keep the gap as long as the history allows."""
    horizon = pd.DateOffset(months=horizon_months)
    gap = pd.DateOffset(months=horizon_months if validation_gap_months is None else validation_gap_months)
    cutoffs = sorted(pd.Timestamp(c) for c in cutoffs)
    if not cutoffs:
        raise ValueError("no cutoffs to split")
    test = pd.Timestamp(test_cutoff) if test_cutoff is not None else cutoffs[-1]
    if test not in cutoffs:
        raise ValueError(f"test cutoff {test.date()} is not one of the feature cutoffs")
    if validation_cutoff is None:
        candidates = [c for c in cutoffs if c + horizon <= test]
        if not candidates:
            raise ValueError(f"no cutoff ends its {horizon_months}-month outcome window by the test cutoff "
                             f"{test.date()}: use more history or a shorter horizon")
        validation = candidates[-1]
    else:
        validation = pd.Timestamp(validation_cutoff)
        if validation not in cutoffs or validation + horizon > test:
            raise ValueError(f"validation cutoff {validation.date()} must be a cutoff at least "
                             f"{horizon_months} months before the test cutoff {test.date()}")
    train = tuple(c for c in cutoffs if c + gap <= validation and c < validation and c + horizon <= test)
    if not train:
        raise ValueError(f"no training cutoff ends its outcome window by the validation cutoff "
                         f"{validation.date()}: move features.first_cutoff earlier or shorten the horizon")
    return TimeSplit(train, validation, test, tuple(c for c in cutoffs if train[0] <= c <= validation))
