"""Browser pages of revenue recognition, one module per concept. Views check the role, parse the input with a
form, call one service, selector or report, and render; the rules live in `revrec.services`."""
