"""Revenue reports as CSV tables (header row, one row per report line, totals last), written out by the
ledger's CSV writer."""

from ledger.reports.csv import Table


def waterfall_table(report: dict) -> Table:
    header = ["client", "service", "name", "currency", "month", "recognized", "scheduled"]
    rows = [
        [
            row["client"],
            row["service"],
            row["name"],
            row["currency"],
            cell["month"],
            cell["recognized"],
            cell["scheduled"],
        ]  # fmt: skip
        for row in report["rows"]
        for cell in row["months"]
    ]
    rows += [
        [None, None, "Total", total["currency"], cell["month"], cell["recognized"], cell["scheduled"]]
        for total in report["totals"]
        for cell in total["months"]
    ]
    return header, rows


def rollforward_table(report: dict) -> Table:
    columns = ["opening", "billed", "recognized", "reclassified", "other", "closing"]
    return ["currency", *columns], [
        [row["currency"], *(row[name] for name in columns)] for row in report["rows"]
    ]


def unbilled_table(report: dict) -> Table:
    header = ["contract", "number", "client", "client_name", "currency", "recognized", "billed", "unbilled",
              "since", "age_days"]  # fmt: skip
    rows = [[row[name] for name in header] for row in report["rows"]]
    rows += [[None, "Total", None, None, total["currency"], None, None, total["unbilled"], None, None]
             for total in report["totals"]]  # fmt: skip
    return header, rows


def rpo_table(report: dict) -> Table:
    amounts = ["within_12_months", "after_12_months", "total"]
    header = ["contract", "number", "client", "client_name", "currency", *amounts]
    rows = [[row[name] for name in header] for row in report["rows"]]
    rows += [
        [None, "Total", None, None, total["currency"], *(total[name] for name in amounts)]
        for total in report["totals"]
    ]
    return header, rows


def contract_table(report: dict) -> Table:
    header = [
        "obligation",
        "description",
        "method",
        "status",
        "currency",
        "allocated",
        "recognized",
        "remaining",
    ]
    currency = report["currency"]
    rows = [
        [
            row["id"],
            row["description"],
            row["method"],
            row["status"],
            currency,
            row["allocated"],
            row["recognized"],
            row["remaining"],
        ]  # fmt: skip
        for row in report["obligations"]
    ]
    rows.append(
        [None, "Total", None, None, currency, report["allocated"], report["recognized"], report["backlog"]]
    )
    rows.append([None, "Billed", None, None, currency, None, report["billed"], None])
    rows.append(
        [None, "Net position (billed − recognised)", None, None, currency, None, report["net_position"], None]
    )
    return header, rows
