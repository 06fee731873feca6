"""HTML printed to PDF by WeasyPrint, one document at a time per process.

WeasyPrint does not promise thread safety, and its font subsetting (fontTools) parses with
`ast.literal_eval`: on the CPython 3.11 we run, two threads building ASTs at once can fail with
"SystemError: AST constructor recursion depth mismatch" (seen once under the fuzzing suite's threaded
gunicorn, sending an invoice). A process-wide lock serialises the printing only; the rest of each request
still runs in parallel.
"""

import threading

from weasyprint import HTML

_PRINTING = threading.Lock()


def print_pdf(html: str) -> bytes:
    with _PRINTING:
        return HTML(string=html).write_pdf()
