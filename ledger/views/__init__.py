"""Browser pages of the ledger, one module per concept. Views check the role, parse the input with a form,
call one service or report, and render; the rules live in `ledger.services`."""
