"""The billing REST API: runs, invoices, credit notes and tax codes under /api/v1/."""
