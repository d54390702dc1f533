"""The generating process of the demo world, shared by the simulator (which draws from it) and the oracle
(which takes its expectations): the latent parameters of every customer and what they make of a month.
The process is described in demo/simulator.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25
# Mean-one monthly profile: summer dip, year-end peak. Scaled per customer by seasonality_amplitude.
_RAW_PROFILE = np.array([0.95, 0.98, 1.05, 1.0, 1.0, 0.97, 0.82, 0.74, 1.04, 1.08, 1.15, 1.22])
SEASONAL_PROFILE = _RAW_PROFILE / _RAW_PROFILE.mean()
ORDER_VALUE_EXPONENT = 0.45
TRIAL_ORDER_SHRINK = 0.6  # pilot orders are smaller: mean order value * (1 - 0.6 * pilot * (1 - progress))
DECLINE_DEPTH = 0.7  # spend rate falls to 30 % by the churn date
PILOT_RAMP_DAYS = 60.0
DECLINE_MIN_DAYS, DECLINE_MAX_DAYS = 60.0, 240.0


def to_day(ts: pd.Timestamp) -> np.datetime64:
    """The day of a timestamp as datetime64[D] (the time of day dropped)."""
    return np.datetime64(pd.Timestamp(ts).normalize().date(), "D")


def as_days(values: pd.Series | np.ndarray) -> np.ndarray:
    """datetime-like values -> datetime64[D] (NaT kept)."""
    return np.asarray(pd.Series(values).to_numpy(dtype="datetime64[us]")).astype("datetime64[D]")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, 3x^2 - 2x^3 in between (an S-shaped ramp without tails)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def month_starts(first: np.datetime64, stop: np.datetime64) -> np.ndarray:
    """Starts of the calendar months overlapping [first, stop) plus the start of the month after."""
    m0 = first.astype("datetime64[M]")
    m1 = (stop - np.timedelta64(1, "D")).astype("datetime64[M]")
    return np.arange(m0, m1 + np.timedelta64(2, "M")).astype("datetime64[D]")


@dataclass(frozen=True)
class Latent:
    """Numpy view of the ground-truth parameters that drive the monthly process."""

    wallet: np.ndarray
    wallet_ref: np.ndarray  # datetime64[D]
    wallet_growth: np.ndarray
    share_initial: np.ndarray
    share_max: np.ndarray
    onset: np.ndarray  # datetime64[D]
    ramp_days: np.ndarray
    pilot_days: np.ndarray  # length of the pilot phase before the onset (0: no pilot)
    pilot_share: np.ndarray
    decline_from: np.ndarray  # datetime64[D], NaT: no pre-churn decline
    decline_days: np.ndarray
    season_amp: np.ndarray
    order_value_scale: np.ndarray
    active_from: np.ndarray  # datetime64[D]
    active_until: np.ndarray  # datetime64[D]
    return_share: np.ndarray

    @classmethod
    def from_frame(cls, gt: pd.DataFrame) -> Latent:
        """The parameters of a ground-truth table (one row per customer)."""

        def num(col: str) -> np.ndarray:
            return gt[col].to_numpy(dtype="float64")

        return cls(
            wallet=num("wallet"),
            wallet_ref=as_days(gt["wallet_ref_date"]),
            wallet_growth=num("wallet_growth"),
            share_initial=num("share_initial"),
            share_max=num("share_max"),
            onset=as_days(gt["adoption_onset"]),
            ramp_days=num("adoption_ramp_days"),
            pilot_days=num("pilot_days"),
            pilot_share=num("pilot_share"),
            decline_from=as_days(gt["decline_from"]),
            decline_days=num("decline_days"),
            season_amp=num("seasonality_amplitude"),
            order_value_scale=num("order_value_scale"),
            active_from=as_days(gt["active_from"]),
            active_until=as_days(gt["active_until"]),
            return_share=num("expected_return_share"),
        )

    def progress(self, when: np.ndarray) -> np.ndarray:
        """Adoption progress at the given dates, shape (customers, dates)."""
        days = (when[None, :] - self.onset[:, None]).astype("float64")
        return _smoothstep(days / self.ramp_days[:, None])

    def pilot(self, when: np.ndarray) -> np.ndarray:
        """Pilot intensity: 0 before onset - pilot_days, then rising linearly to 1 within PILOT_RAMP_DAYS (0 without
        pilot)."""
        days = (when[None, :] - self.onset[:, None]).astype("float64") + self.pilot_days[:, None]
        return np.clip(days / PILOT_RAMP_DAYS, 0.0, 1.0) * (self.pilot_days > 0)[:, None]

    def decline(self, when: np.ndarray) -> np.ndarray:
        """Pre-churn factor on the spend rate: 1 until decline_from, falling linearly to 1 - DECLINE_DEPTH at churn."""
        days = (when[None, :] - self.decline_from[:, None]).astype("float64")  # NaN where no decline
        fall = np.clip(days / self.decline_days[:, None], 0.0, 1.0)
        return 1.0 - DECLINE_DEPTH * np.nan_to_num(fall, nan=0.0)

    def yearly_rate(
        self, when: np.ndarray, progress: np.ndarray, trial: np.ndarray, decline: np.ndarray
    ) -> np.ndarray:
        """wallet(t) * share(t) * decline(t): expected yearly spend rate before seasonality, shape (customers,
        dates); `trial` = pilot(t) * (1 - progress(t))."""
        years = (when[None, :] - self.wallet_ref[:, None]).astype("float64") / DAYS_PER_YEAR
        wallet = self.wallet[:, None] * np.exp(self.wallet_growth[:, None] * years)
        engaged = progress + self.pilot_share[:, None] * trial
        share = self.share_initial[:, None] + (self.share_max - self.share_initial)[:, None] * engaged
        return wallet * share * decline

    def month_parts(self, starts: np.ndarray, lo: np.datetime64, hi: np.datetime64) -> dict[str, np.ndarray]:
        """Per (customer, month) quantities for months starts[:-1] restricted to [lo, hi)."""
        ms, me = starts[:-1], starts[1:]
        mid = ms + (me - ms) // 2
        progress = self.progress(mid)
        pilot = self.pilot(mid)
        trial = pilot * (1.0 - progress)
        yearly = self.yearly_rate(mid, progress, trial, self.decline(mid))
        month_no = ms.astype("datetime64[M]").astype(np.int64) % 12
        season = 1.0 + self.season_amp[:, None] * (SEASONAL_PROFILE[month_no] - 1.0)[None, :]
        full_month = yearly / 12.0 * season
        a_lo = np.maximum(np.maximum(ms[None, :], self.active_from[:, None]), lo)
        a_hi = np.minimum(np.minimum(me[None, :], self.active_until[:, None]), hi)
        a_hi = np.maximum(a_hi, a_lo)
        active_days = np.busday_count(a_lo, a_hi)
        month_days = np.busday_count(ms, me)
        gross = full_month * (active_days / month_days[None, :])
        return {
            "gross": gross,
            "yearly": yearly,
            "progress": progress,
            "pilot": pilot,
            "trial": trial,
            "lo": a_lo,
            "active_days": active_days,
        }

    def mean_order_value(self, yearly: np.ndarray, trial: np.ndarray) -> np.ndarray:
        """Mean order value per (customer, month): larger with the spend rate, smaller while piloting."""
        size = self.order_value_scale[:, None] * np.power(np.maximum(yearly, 1e-9), ORDER_VALUE_EXPONENT)
        return size * (1.0 - TRIAL_ORDER_SHRINK * trial)

