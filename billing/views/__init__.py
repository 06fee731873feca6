"""Browser pages of billing, one module per concept. Views check the role, parse the input with a form,
call one service or selector, and render; the rules live in `billing.services`."""
