"""Who may talk to the page: the served address only (Host and Origin, against DNS rebinding), and for the API
the per-launch token, which the printed URL carries once and a cookie keeps."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.responses import PlainTextResponse, RedirectResponse

COOKIE = "gitexp_ui_token"
HEADER = "x-gitexp-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass
class Guard:
    """ASGI middleware: refuses a foreign Host or Origin (403), and an API request without the token (403)."""

    app: object
    host: str
    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def hosts(self) -> set[str]:
        """The Host headers of this server's own addresses (every address of the machine for a wildcard bind)."""
        if self.host in LOOPBACK_NAMES:
            names = set(LOOPBACK_NAMES)
        elif self.host in WILDCARDS:
            names = {*LOOPBACK_NAMES, *machine_names()}
        else:
            names = {self.host}
        names = {f"[{name}]" if ":" in name else name for name in names}
        return {f"{name}:{self.port}" for name in names}

    @property
    def origins(self) -> set[str]:
        return {f"http://{host}" for host in self.hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        problem = self.refusal(scope, headers)
        if problem:
            return await PlainTextResponse(problem, status_code=403)(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["path"] == "/" and query.get("token") == [self.token]:
            # The token leaves the address bar (and the history) for a cookie only this origin's scripts send.
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    def refusal(self, scope, headers: dict[str, str]) -> str | None:
        if headers.get("host") not in self.hosts:
            return "refused: the Host header names another site (open the URL gitexp ui printed)"
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return "refused: a page of another origin sent this request"
        if scope["path"].startswith("/api/") and not self.carries_token(headers):
            return "refused: no valid token (open the URL gitexp ui printed, which carries it)"
        return None

    def carries_token(self, headers: dict[str, str]) -> bool:
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header carries no token
            return False
        given = cookie[COOKIE].value if COOKIE in cookie else headers.get(HEADER, "")
        return secrets.compare_digest(given.encode(), self.token.encode())


def machine_names() -> set[str]:
    """This machine's name and the addresses it resolves to."""
    name = socket.gethostname()
    try:
        _, aliases, addresses = socket.gethostbyname_ex(name)
    except OSError:
        aliases, addresses = [], []
    return {name, socket.getfqdn(), *aliases, *addresses}
