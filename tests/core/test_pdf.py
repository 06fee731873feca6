"""PDF printing is serialised per process (core/pdf.py says why)."""

import threading
import time

from core import pdf


def test_documents_are_printed_one_at_a_time(monkeypatch):
    inside, most = 0, 0
    guard = threading.Lock()

    class SlowHTML:
        def __init__(self, string):
            self.string = string

        def write_pdf(self):
            nonlocal inside, most
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with guard:
                inside -= 1
            return self.string.encode()

    monkeypatch.setattr(pdf, "HTML", SlowHTML)
    printed = []
    threads = [
        threading.Thread(target=lambda i=i: printed.append(pdf.print_pdf(f"doc {i}"))) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert sorted(printed) == [b"doc 0", b"doc 1", b"doc 2", b"doc 3"]
