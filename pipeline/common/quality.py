"""The data-quality report of the validate stage: what was read, kept, dropped and repaired, and what the
data looks like (date range, customers, revenue concentration, nulls, duplicated ids, outliers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.common.ingest import RawPart
from pipeline.common.io import markdown_cell

OUTLIER_FACTOR = 10  # a line is an outlier when |amount| exceeds this many times the 99.9th percentile
FILE_REPAIRS = ("ids_normalised", "timezone_aware_converted", "non_iso_dates_inferred", "bands_converted",
                "invoice_ids_derived", "repeated_headers_dropped")  # counted per file while reading
EXAMPLE_COLUMNS = ["_file", "invoice_id", "customer_id", "timestamp", "amount"]


def _line_examples(lines: pd.DataFrame | None) -> list[dict]:
    """Up to five lines as text records (file, invoice, customer, timestamp, amount)."""
    if lines is None or lines.empty:
        return []
    shown = lines[[c for c in EXAMPLE_COLUMNS if c in lines.columns]].head(5).rename(columns={"_file": "file"})
    return shown.astype("str").to_dict("records")


def top_share(spend: pd.Series, share_of_customers: float = 0.2) -> float:
    """Share of revenue made by the top `share_of_customers` of customers with positive spend."""
    positive = np.sort(spend[spend > 0].to_numpy())[::-1]
    if len(positive) == 0:
        return float("nan")
    n = max(1, int(np.ceil(share_of_customers * len(positive))))
    return float(positive[:n].sum() / positive.sum())


def quality_report(parts: dict[str, list[RawPart]], transactions: pd.DataFrame, customers: pd.DataFrame,
                   counts: dict[str, int], conflicts: pd.DataFrame, currency: str) -> dict:
    """The report as a JSON-ready dict."""
    last_year = transactions["timestamp"] >= transactions["timestamp"].max() - pd.DateOffset(months=12)
    spend_last_year = transactions.loc[last_year].groupby("customer_id")["amount"].sum()
    amounts = transactions["amount"].abs()
    threshold = float(amounts.quantile(0.999)) * OUTLIER_FACTOR if len(amounts) else float("nan")
    outliers = transactions.loc[amounts > threshold]
    buying = set(transactions["customer_id"])
    return {
        "files": [{"table": p.table, "path": p.path, "rows_read": p.rows_read, **p.conversions}
                  for table_parts in parts.values() for p in table_parts],
        "rows_read": {table: sum(p.rows_read for p in table_parts) for table, table_parts in parts.items()},
        "rows_kept": {"transactions": len(transactions), "customers": len(customers)},
        "transaction_lines_dropped": counts["dropped"],
        "repairs": {
            "cancellation_lines_netted": counts.get("cancellation_lines_netted", 0),
            "unknown_customers_added": counts.get("unknown_customers_added", 0),
            "conflicting_duplicate_customers_kept_last": counts.get("conflicting_duplicate_customers", 0),
            "customer_rows_without_id_dropped": counts.get("customer_rows_without_id_dropped", 0),
            **{name: sum(p.conversions.get(name, 0) for ps in parts.values() for p in ps) for name in FILE_REPAIRS},
            "implausible_days_to_pay_blanked": counts.get("implausible_days_to_pay_blanked", 0),
        },
        "conflicting_customer_examples": conflicts.drop(columns="_file", errors="ignore").astype("str")
        .to_dict("records"),
        "stray_line_examples": _line_examples(counts.get("stray_examples")),
        "unknown_customer_examples": list(counts.get("unknown_examples", [])),
        "first_timestamp": str(transactions["timestamp"].min()),
        "last_timestamp": str(transactions["timestamp"].max()),
        "customers": {"total": len(customers), "with_transactions": len(buying),
                      "without_transactions": int((~customers["customer_id"].isin(buying)).sum())},
        "currency": currency,
        "revenue": {"net": float(transactions["amount"].sum()),
                    "credited": float(transactions.loc[transactions["amount"] < 0, "amount"].abs().sum()),
                    "top_20pct_customers_share_last_12_months": top_share(spend_last_year)},
        "nulls": {"transactions": {c: int(n) for c, n in transactions.isna().sum().items() if n},
                  "customers": {c: int(n) for c, n in customers.isna().sum().items() if n}},
        "duplicated_customer_ids": int(customers["customer_id"].duplicated().sum()),
        "outliers": {"rule": f"|amount| > {OUTLIER_FACTOR} x 99.9th percentile ({threshold:,.2f})",
                     "lines": len(outliers),
                     "examples": outliers.head(5)[["invoice_id", "customer_id", "timestamp", "amount"]]
                     .astype("str").to_dict("records")},
    }


def quality_markdown(report: dict) -> str:
    """The report for people."""
    dropped = report["transaction_lines_dropped"]
    lines = [
        "# Data-quality report",
        "",
        f"Transactions {report['first_timestamp']} to {report['last_timestamp']}; "
        f"currency {report['currency']}.",
        "",
        "| file | table | rows read | ids normalised | time-zone aware converted | non-ISO dates inferred |",
        "|---|---|---|---|---|---|",
        *[f"| {markdown_cell(f['path'])} | {f['table']} | {f['rows_read']:,} | {f['ids_normalised']:,} | "
          f"{f['timezone_aware_converted']:,} | {f['non_iso_dates_inferred']:,} |" for f in report["files"]],
        "",
        f"Kept {report['rows_kept']['transactions']:,} transaction lines and "
        f"{report['rows_kept']['customers']:,} customers.",
        "",
        "| transaction lines dropped because | lines |",
        "|---|---|",
        *[f"| {reason.replace('_', ' ')} | {n:,} |" for reason, n in dropped.items()],
        "",
        "| repair | count |",
        "|---|---|",
        *[f"| {name.replace('_', ' ')} | {n:,} |" for name, n in report["repairs"].items()],
        "",
        f"Customers: {report['customers']['total']:,} ({report['customers']['with_transactions']:,} with "
        f"transactions, {report['customers']['without_transactions']:,} without).",
        f"Net revenue {report['revenue']['net']:,.2f}, credited {report['revenue']['credited']:,.2f}; the top "
        f"20% of customers made {report['revenue']['top_20pct_customers_share_last_12_months']:.1%} of the last "
        "12 months' revenue.",
        "",
        *(["Stray lines (cut off from the bulk of the timeline), e.g.: "
           + "; ".join(markdown_cell(f"{e['timestamp']} {e.get('invoice_id', '')} {e.get('customer_id', '')}")
                       for e in report["stray_line_examples"]), ""] if report.get("stray_line_examples") else []),
        *(["Customers of transactions missing from the customer file, e.g.: "
           + ", ".join(markdown_cell(str(c)) for c in report["unknown_customer_examples"]), ""]
          if report.get("unknown_customer_examples") else []),
        f"Outliers ({report['outliers']['rule']}): {report['outliers']['lines']:,} lines.",
        "",
        "Missing values: " + ", ".join(f"{table}.{column} {n:,}" for table, columns in report["nulls"].items()
                                       for column, n in columns.items()),
    ]
    return "\n".join(lines) + "\n"
