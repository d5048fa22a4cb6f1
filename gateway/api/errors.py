"""JSON error responses of the local API."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from adapters import Problem


class ApiError(Exception):
    """Raised by handlers; turned into a JSON response by the middleware."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        problems: Sequence[Problem | tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.problems = [
            {"location": p.location, "message": p.message}
            if isinstance(p, Problem)
            else {"location": p[0], "message": p[1]}
            for p in problems
        ]
        self.headers = headers or {}

    def response(self) -> web.Response:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.problems:
            body["problems"] = self.problems
        return web.json_response({"error": body}, status=self.status, headers=self.headers)
