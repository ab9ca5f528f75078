"""Security headers on every response (an ASGI middleware, so bodies stream untouched).

No inline script or style is allowed (the pages use none), no framing, no referrer: a page
whose URL carries a token (an approval or sign-in link) never leaks it to another site.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "CSP"]

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    """Add CSP, framing, sniffing, referrer and caching headers; HSTS behind HTTPS."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        fixed = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                 (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                 (b"cross-origin-opener-policy", b"same-origin"),
                 (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]
        if hsts:
            fixed.append((b"strict-transport-security", b"max-age=31536000"))
        self.fixed = fixed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in self.fixed if pair[0] not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
