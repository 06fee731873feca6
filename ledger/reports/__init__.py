"""Read-only ledger reports (AR aging, DSO, customer statements): set-based queries, no writes."""
