"""The fund report as CSV, for a spreadsheet: one figure per line."""

import csv
import io
from dataclasses import asdict

from ssa.outlets.statement import euros
from ssa.reports.service import Report

COLUMNS = ("period", "figure", "category", "value")


def report_csv(report: Report) -> str:
    """Amounts in euros (`12.50`), counts and ratios as they are, then the spending by
    category (only the categories the report shows: small groups stay hidden)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for figure, value in asdict(report).items():
        if figure in ("period", "spending_by_category"):
            continue
        if figure.endswith("_cents"):
            writer.writerow((report.period, figure.removesuffix("_cents"), "", euros(value)))
        else:
            writer.writerow((report.period, figure, "", "" if value is None else value))
    for row in report.spending_by_category:
        writer.writerow((report.period, "households", row["category"], row["households"]))
        writer.writerow((report.period, "spent", row["category"], euros(row["spent_cents"])))
    return out.getvalue()
