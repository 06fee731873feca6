"""Revenue recognition's writes: one function per business action (see the modules)."""
