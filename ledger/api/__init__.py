"""The ledger REST API: master data, journal, AR and reports under /api/v1/."""
