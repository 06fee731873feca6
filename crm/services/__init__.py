"""Every CRM write: one function per business action, keyword-only, with an explicit actor."""
