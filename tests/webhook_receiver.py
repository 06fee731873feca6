"""A local HTTP endpoint for webhook tests, on 127.0.0.1 only."""

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A local HTTP endpoint that records each request and answers from a script (200 once it runs out)."""

    def __init__(self):
        self.requests = []
        self.script = deque()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, stall = receiver.script.popleft() if receiver.script else (200, 0)
                if stall:
                    receiver.release.wait(stall)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", f"{receiver.url}/elsewhere")
                    payload = b"ok" if status < 300 else f"nope {status}".encode()
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def respond_with(self, *statuses: int) -> None:
        self.script.extend((status, 0) for status in statuses)

    def stall(self, seconds: float) -> None:
        """Make the next request wait `seconds` before answering 200, to outlast the client's timeout."""
        self.script.append((200, seconds))
