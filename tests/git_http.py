"""A Git smart-HTTP server on 127.0.0.1 (``git http-backend`` behind Basic authentication), for credentialed URLs.

``serve_git(root, user, password)`` serves the bare repositories under ``root``
at ``http://user:password@127.0.0.1:PORT/<name>`` for the length of a ``with``
block; a request without those credentials gets 401, as a hosted Git would answer.
"""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GitHttp:
    url: str  # with the credentials in it
    authorizations: list[str] = field(default_factory=list)  # every Authorization header that came


def _handler_for(root: Path, expected: str, server: GitHttp) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            given = self.headers.get("Authorization") or ""
            server.authorizations.append(given)
            if given != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.run_backend(self.read_body())

        def read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b""
            while size := int(self.rfile.readline().strip() or b"0", 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return body

        def run_backend(self, body: bytes) -> None:
            url = urllib.parse.urlsplit(self.path)
            env = {
                **os.environ,
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": "tester",  # lets receive-pack (push) in
                "REQUEST_METHOD": self.command,
                "PATH_INFO": urllib.parse.unquote(url.path),
                "QUERY_STRING": url.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, check=False)
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode("latin-1").split("\r\n") if ":" in line]
            status = next((value.strip() for name, value in headers if name.lower() == "status"), "200 OK")
            self.send_response(int(status.split()[0]))
            for name, value in headers:
                if name.lower() != "status":
                    self.send_header(name, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_git(root: Path, user: str, password: str) -> Iterator[GitHttp]:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    server_state = GitHttp("")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(root, expected, server_state))
    server.daemon_threads = True
    quoted = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    server_state.url = f"http://{quoted}@127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
