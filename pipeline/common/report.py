"""The sales report of a scoring run: one self-contained HTML page (`report.html`) with every eligible customer,
paged, sortable and filterable in the browser, a detail view per customer and the run's charts.

The page works offline: scripts, styles and charts are inline, and its Content-Security-Policy forbids every fetch.
Data travel as one JSON block (arrays of rows) that the page's script renders as text only; every string from the
data is escaped in the HTML and in the JSON, and control characters (bidirectional ones too) are shown as "[U+202E]".
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import pandas as pd
from markupsafe import Markup

from models.rankings import MODEL, SPEND_RANK, ranking_description
from models.scoring import issued_list
from pipeline.common.artifacts import PROSPECTS_FILE, REPORT_FILE, SPEND_BY_MONTH_FILE
from pipeline.common.errors import DataError
from pipeline.common.io import read_json, read_parquet, safe_text_frame, show_control_characters, write_text
from pipeline.common.runs import MANIFEST_FILE

PAGE_SIZE = 50
REASON_PREFIX, EFFECT_PREFIX = "reason_", "effect_"
# the fragment keys the page reads and writes: report.html#owner=Jane%20Doe&tier=A
FILTER_KEYS = ("owner", "industry", "region", "tier", "q")
URI_SAFE = "!*'()"  # besides letters, digits and "_.-~", what encodeURIComponent leaves as it is
MANIFEST_KEYS = ("as_of", "data_through", "model_name", "model_version", "currency")
# the row layout of the embedded JSON (the page's script reads it by these positions)
ROW_FIELDS = ("rank", "customer_id", "company_name", "industry", "region", "country", "account_owner", "spend_12m",
              "score", "tier", "previous_rank", "previous_tier", "previous_score", "probability", "reasons", "months")
# fields with few distinct values travel as positions in the data's "labels" list (a fifth of the size saved)
LABELLED_FIELDS = ("industry", "region", "country", "account_owner", "tier", "previous_tier")
TEXT_FIELDS = ("customer_id", "company_name", "industry", "region", "country", "account_owner", "tier",
               "previous_tier")
REQUIRED_COLUMNS = ("rank", "customer_id", "spend_12m", "score", "tier", "previous_rank")


def key_accounts_reached(metrics: dict, k: int, n_positive: float) -> int:
    """Future key accounts among a ranking's top `k`, from its recall_at_<k>."""
    return round(metrics[f"recall_at_{k}"] * n_positive)


def track_record(test_cutoff: str, horizon_months: int, k: int, metrics: dict[str, dict], strongest_at_k: str) -> str:
    """Plain words for sales leads: how many future key accounts the model's top `k` held on its test cutoff,
    against ranking by 365-day spend (what sales do without it) and against the strongest simple baseline at that
    capacity, named. `metrics` holds each ranking's metrics by name: the model's n_positive, n_rows and
    recall_at_<k>, the others' recall_at_<k>."""
    model = metrics[MODEL]
    positives = model["n_positive"]

    def reached(name: str) -> int:
        return key_accounts_reached(metrics[name], k, positives)

    today = f"{ranking_description(SPEND_RANK)}, as without the model"
    compared = (f"{today} and the strongest simple rule at that capacity, {reached(SPEND_RANK)}"
                if strongest_at_k == SPEND_RANK else
                f"{today}, {reached(SPEND_RANK)}; the strongest simple rule at that capacity "
                f"({strongest_at_k}: {ranking_description(strongest_at_k)}), {reached(strongest_at_k)}")
    return (f"On the test cutoff {test_cutoff}, {positives:,.0f} of the {model['n_rows']:,.0f} eligible customers "
            f"became key accounts within {horizon_months} months. A team calling the model's top {k} would have "
            f"reached {reached(MODEL)} of them; {compared}.")


def filter_fragment(filters: dict[str, str | None]) -> str:
    """The URL fragment that opens the report filtered, e.g. {"owner": "Jane Doe", "tier": "A"} →
    "#owner=Jane%20Doe&tier=A"; an owner of None selects the customers without one ("owner="). Encoded as the
    page's script encodes (encodeURIComponent), keys in the page's order."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"unknown report filters {sorted(unknown)}; known: {', '.join(FILTER_KEYS)}")
    parts = [f"{key}={quote(filters[key] or '', safe=URI_SAFE)}" for key in FILTER_KEYS if key in filters]
    return "#" + "&".join(parts)


def embedded_json(data: Any) -> Markup:
    """`data` as compact JSON that is safe inside <script type="application/json">: "<", ">" and "&" as \\u
    escapes (no "</script>" or "<!--" can end the block), U+2028/U+2029 escaped too; NaN is refused."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return Markup(text)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text_or_none(value: Any) -> str | None:
    return None if _missing(value) or value == "" else str(value)


def _int_or_none(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _round_or_none(value: Any, digits: int) -> float | None:
    return None if _missing(value) else round(float(value), digits)


def _numbered_columns(frame: pd.DataFrame, prefix: str) -> list[str]:
    numbered = [c for c in frame.columns if c.startswith(prefix) and c[len(prefix):].isdigit()]
    return sorted(numbered, key=lambda c: int(c[len(prefix):]))


def _check_inputs(prospects: pd.DataFrame, manifest: dict) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in prospects.columns]
    if missing:
        raise DataError(PROSPECTS_FILE, missing[0], f"missing column(s) {', '.join(missing)} for the sales report")
    absent = [key for key in MANIFEST_KEYS if key not in manifest]
    if absent:
        raise DataError(MANIFEST_FILE, None, f"missing key(s) {', '.join(absent)} for the sales report")


def _rows(prospects: pd.DataFrame, spend_by_month: pd.DataFrame) -> list[list]:
    """The prospects as JSON-ready arrays in ROW_FIELDS order: missing values None, spend to 2 decimals, effects to
    3, probability to 4, the months' spend in whole currency units (a sparkline needs no cents)."""
    frame = safe_text_frame(prospects)
    n = len(frame)

    def column(name: str) -> list:
        return frame[name].tolist() if name in frame.columns else [None] * n

    values = {name: [_text_or_none(v) for v in column(name)] for name in TEXT_FIELDS}
    for name in ("rank", "score", "previous_rank", "previous_score"):
        values[name] = [_int_or_none(v) for v in column(name)]
    values["spend_12m"] = [_round_or_none(v, 2) for v in column("spend_12m")]
    values["probability"] = [_round_or_none(v, 4) for v in column("probability")]
    pairs = [(column(name), column(EFFECT_PREFIX + name[len(REASON_PREFIX):]))
             for name in _numbered_columns(frame, REASON_PREFIX)]
    values["reasons"] = [[[texts[i], _round_or_none(effects[i], 3)] for texts, effects in pairs
                          if isinstance(texts[i], str) and texts[i]] for i in range(n)]
    months = spend_by_month.reindex(frame["customer_id"].astype(str).tolist())
    known = months.notna().all(axis=1).tolist() if months.shape[1] else [False] * n
    monthly = months.fillna(0.0).round(0).astype("int64").to_numpy().tolist()
    values["months"] = [row if ok else None for row, ok in zip(monthly, known, strict=True)]
    return [list(row) for row in zip(*[values[name] for name in ROW_FIELDS], strict=True)]


def _labelled(rows: list[list]) -> tuple[list[list], list[str]]:
    """`rows` with each LABELLED_FIELDS value replaced by its position in the returned list of distinct labels."""
    labels: dict[str, int] = {}
    positions = [ROW_FIELDS.index(name) for name in LABELLED_FIELDS]
    encoded = [list(row) for row in rows]
    for row in encoded:
        for i in positions:
            if row[i] is not None:
                row[i] = labels.setdefault(row[i], len(labels))
    return encoded, list(labels)


CHART_WIDTH, CHART_HEIGHT = 360, 200  # the plotting area of the summary charts, in SVG units
HISTOGRAM_BIN = 5  # percentage points of chance per bar of its distribution
DRIVER_LABEL_WIDTH, DRIVER_BAR_WIDTH = 300, 120  # the drivers chart: labels right-aligned left of the bars


def gains_chart(gains: list[dict]) -> dict | None:
    """Polyline points of the cumulative gains (share of future key accounts found against share contacted) of the
    model and of the spend ranking, in a CHART_WIDTH × CHART_HEIGHT box; None when the manifest holds none."""
    if not gains:
        return None
    ordered = sorted(gains, key=lambda point: point["share_contacted"])
    start = [{"share_contacted": 0.0, "model": 0.0, "spend_rank": 0.0}] if ordered[0]["share_contacted"] > 0 else []

    def points(key: str) -> str:
        return " ".join(f"{p['share_contacted'] * CHART_WIDTH:.1f},{(1 - p[key]) * CHART_HEIGHT:.1f}"
                        for p in start + ordered)

    at = min(ordered, key=lambda p: abs(p["share_contacted"] - 0.1))  # the reading sales ask for: calling 10%
    return {"model": points("model"), "spend_rank": points("spend_rank"),
            "reading": f"Calling the top {at['share_contacted']:.0%} finds {at['model']:.0%} of the future key "
                       f"accounts with the model, {at['spend_rank']:.0%} by spend."}


def probability_histogram(probability: pd.Series) -> list[dict]:
    """Bars of the distribution of the calibrated chance (HISTOGRAM_BIN percentage points each), heights on a
    square-root scale up to CHART_HEIGHT, so the few likely customers stay visible beside the many unlikely ones.
    The 1–99 score is a percentile, evenly spread by construction; the chance shows how many are real prospects."""
    points = (pd.to_numeric(probability, errors="coerce").dropna() * 100).clip(0, 99.999)
    per_bin = (points // HISTOGRAM_BIN).astype(int).value_counts().reindex(range(100 // HISTOGRAM_BIN),
                                                                           fill_value=0)
    tallest = max(int(per_bin.max()), 1)
    width = CHART_WIDTH / len(per_bin)
    bars = []
    for position, count in per_bin.items():
        low = position * HISTOGRAM_BIN
        height = math.sqrt(count / tallest) * CHART_HEIGHT
        bars.append({"x": round(position * width, 1), "width": round(width - 1, 1),
                     "y": round(CHART_HEIGHT - height, 1), "height": round(height, 1),
                     "label": f"chance {low}–{low + HISTOGRAM_BIN}%: {count:,} customers"})
    return bars


def drivers_chart(drivers: list[dict], top: int = 10) -> list[dict]:
    """Bars of the strongest `top` drivers (mean |contribution|), widths scaled to CHART_WIDTH."""
    shown = drivers[:top]
    strongest = max((float(d["importance"]) for d in shown), default=0.0) or 1.0
    return [{"label": show_text(d["feature"]), "y": i * 20,
             "width": round(float(d["importance"]) / strongest * DRIVER_BAR_WIDTH, 1),
             "value": f"{float(d['importance']):.3f}"} for i, d in enumerate(shown)]


def show_text(value: Any) -> str:
    """A manifest value as display text: "—" when missing, control characters shown."""
    return "—" if _missing(value) or value == "" else show_control_characters(str(value))


def _days_between(earlier: str, later: str) -> int | None:
    try:
        return (pd.Timestamp(later) - pd.Timestamp(earlier)).days
    except (TypeError, ValueError):
        return None


def _asset(name: str) -> str:
    return resources.files("pipeline").joinpath("templates", name).read_text(encoding="utf-8")


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("pipeline", "templates"), autoescape=True,
                                undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def sales_report_html(prospects: pd.DataFrame, spend_by_month: pd.DataFrame, manifest: dict) -> str:
    """The self-contained sales page of one scoring run: `prospects` (one row per eligible customer, by rank),
    `spend_by_month` (index customer_id, one column per month, oldest first) and the run's `manifest` (run.json)."""
    _check_inputs(prospects, manifest)
    currency = show_text(manifest["currency"])
    rows = _rows(prospects, spend_by_month)
    owners = Counter(row[ROW_FIELDS.index("account_owner")] for row in rows)
    owner_links = [{"owner": owner or "unassigned", "count": owners[owner], "href": filter_fragment({"owner": owner})}
                   for owner in sorted(owners, key=lambda name: (name is None, (name or "").casefold()))]
    encoded, labels = _labelled(rows)
    data = {"fields": list(ROW_FIELDS), "labelled": list(LABELLED_FIELDS), "labels": labels, "rows": encoded,
            "months": [str(month) for month in spend_by_month.columns], "currency": currency,
            "previous_as_of": _text_or_none(manifest.get("previous_as_of")), "page_size": PAGE_SIZE}
    script, style = _asset("report.js"), _asset("report.css")
    trust = [show_text(sentence) for sentence in manifest.get("trust") or []]
    return _TEMPLATES.get_template("report.html.j2").render(
        as_of=show_text(manifest["as_of"]), data_through=show_text(manifest["data_through"]),
        data_age_days=_days_between(str(manifest["data_through"]), str(manifest["as_of"])),
        model_name=show_text(manifest["model_name"]), model_version=show_text(manifest["model_version"]),
        currency=currency, previous_as_of=show_text(manifest.get("previous_as_of")),
        has_previous=_text_or_none(manifest.get("previous_as_of")) is not None,
        eligible=len(prospects), tiers={show_text(k): v for k, v in (manifest.get("tiers") or {}).items()},
        trust=trust, owner_links=owner_links, gains=gains_chart(manifest.get("gains") or []),
        histogram=probability_histogram(prospects["probability"]), drivers=drivers_chart(manifest.get("drivers") or []),
        chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT, driver_label_width=DRIVER_LABEL_WIDTH,
        driver_bar_width=DRIVER_BAR_WIDTH, data=embedded_json(data), script=Markup(script),
        style=Markup(style), csp=f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; "
                                "img-src data:; base-uri 'none'; form-action 'none'")


def write_sales_report(run_dir: Path) -> Path:
    """Render `run_dir`/report.html from the run folder's prospects, monthly spend and manifest, atomically; a missing
    or unreadable file is a DataError naming it."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(str(run_dir), None, "no such scoring run folder (has `kap score` run for that date?)")
    prospects = issued_list(read_parquet(run_dir / PROSPECTS_FILE))
    spend_by_month = read_parquet(run_dir / SPEND_BY_MONTH_FILE)
    manifest = read_json(run_dir / MANIFEST_FILE)
    if not isinstance(manifest, dict):
        raise DataError(str(run_dir / MANIFEST_FILE), None, "is not a JSON object")
    try:
        page = sales_report_html(prospects, spend_by_month, manifest)
    except DataError as exc:
        raise DataError(str(run_dir / exc.file), exc.column, exc.problem) from None
    return write_text(page, run_dir / REPORT_FILE)
