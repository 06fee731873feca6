"""The ledger's reports as CSV tables: a header row, then one row per report line, totals last."""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from core.money import quantize
from ledger.reports.aging import BUCKETS

Table = tuple[Sequence[str], Iterable[Sequence]]

# A spreadsheet runs a cell starting with one of these as a formula; text cells get a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(table: Table) -> str:
    """The table as CSV text (RFC 4180, CRLF line ends)."""
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def trial_balance_table(report: dict) -> Table:
    header = ["account", "code", "name", "type", "debit", "credit", "balance"]
    rows = [
        [
            row["account_id"],
            row["code"],
            row["name"],
            row["type"],
            row["debit"],
            row["credit"],
            row["balance"],
        ]
        for row in report["rows"]
    ]
    totals = report["totals"]
    rows.append([None, None, "Total", None, totals["debit"], totals["credit"], None])
    return header, rows


def aging_table(report: dict) -> Table:
    amounts = [*BUCKETS, "unapplied", "total"]
    header = ["client", "client_name", "currency", *amounts]
    rows = [
        [
            row["client_id"],
            row["client_name"],
            row["currency"],
            *(quantize(row[name], row["currency"]) for name in amounts),
        ]
        for row in [*report["rows"], *report["totals"]]
    ]
    return header, rows


def profit_and_loss_table(report: dict) -> Table:
    header = ["section", "account", "code", "name", "amount"]
    rows = []
    for section, key in (("revenue", "revenue"), ("expenses", "expenses")):
        rows += [[section, row["account_id"], row["code"], row["name"], row["amount"]] for row in report[key]]
        rows.append([section, None, None, f"Total {section}", report["totals"][key]])
    rows.append(["net_income", None, None, "Net income", report["totals"]["net_income"]])
    return header, rows


def balance_sheet_table(report: dict) -> Table:
    header = ["section", "account", "code", "name", "amount"]
    totals = report["totals"]
    rows = []
    for section in ("assets", "liabilities", "equity"):
        rows += [
            [section, row["account_id"], row["code"], row["name"], row["amount"]] for row in report[section]
        ]
        if section == "equity":
            rows.append([section, None, None, "Current-year earnings", report["current_year_earnings"]])
            rows.append([section, None, None, "Prior years' earnings", report["prior_years_earnings"]])
        rows.append([section, None, None, f"Total {section}", totals[section]])
    rows.append(
        [
            "liabilities_and_equity",
            None,
            None,
            "Total liabilities and equity",
            totals["liabilities_and_equity"],
        ]
    )
    return header, rows


def general_ledger_table(report: dict) -> Table:
    header = [
        "date", "entry_number", "memo", "source_type", "source_id", "client", "project",
        "transaction_currency", "transaction_debit", "transaction_credit", "debit", "credit", "balance",
    ]  # fmt: skip
    start, end = report["start"], report["end"]
    rows = [[start, None, "Opening balance", *[None] * 9, report["opening_balance"]]]
    rows += [
        [
            line["date"],
            line["entry_number"],
            line["line_memo"] or line["memo"],
            line["source_type"],
            line["source_id"],
            line["client_name"],
            line["project_id"],
            line["transaction_currency"],
            line["transaction_debit"],
            line["transaction_credit"],
            line["debit"],
            line["credit"],
            line["balance"],
        ]  # fmt: skip
        for line in report["lines"]
    ]
    rows.append(
        [
            end,
            None,
            "Closing balance",
            *[None] * 7,
            report["debit"],
            report["credit"],
            report["closing_balance"],
        ]
    )
    return header, rows


def dso_table(report: dict) -> Table:
    header = ["legal_entity", "as_of", "currency", "ar_balance", "dso_countback", "dso_simple"]
    row = [report["legal_entity_id"], report["as_of"], report["currency"], report["ar_balance"]]
    return header, [[*row, report["dso_countback"], report["dso_simple"]]]


def statement_table(report: dict) -> Table:
    header = [
        "currency",
        "date",
        "type",
        "reference",
        "description",
        "due_date",
        "amount",
        "applied",
        "balance",
    ]
    rows = []
    for section in report["currencies"]:
        currency = section["currency"]
        rows.append([currency, report["start"], None, None, "Opening balance", None, None, None,
                     section["opening_balance"]])  # fmt: skip
        for line in section["lines"]:
            applied = line["applied"]
            rows.append(
                [
                    currency,
                    line["date"],
                    line["type"],
                    line["reference"],
                    line["description"],
                    line["due_date"],
                    quantize(line["amount"], currency),
                    applied,
                    line["balance"],
                ]  # fmt: skip
            )
        rows.append([currency, report["end"], None, None, "Closing balance", None, None, None,
                     section["closing_balance"]])  # fmt: skip
    return header, rows
