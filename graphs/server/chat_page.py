"""The web chat page that ``ponder serve`` shows at ``/`` and ``/chat``.

The page is one self-contained HTML file (``static/chat.html``: no CDN, no build step)
that talks to the server's own ``/v1/chat/completions`` with ``stream: true``. Serving it
needs no key: it holds no data, and every request it makes is authorized like any
other client's.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

__all__ = ["chat_page_html", "router"]

router = APIRouter()
"""Routes ``GET /`` and ``GET /chat`` to the chat page."""


@cache
def chat_page_html() -> str:
    """The chat page's HTML, read from the installed package once, on first request."""
    return resources.files("ponder.graphs.server").joinpath("static/chat.html").read_text("utf-8")


@router.get("/", include_in_schema=False)
@router.get("/chat", include_in_schema=False)
async def chat_page() -> HTMLResponse:
    """The chat page."""
    return HTMLResponse(chat_page_html(), headers={"Cache-Control": "no-cache"})
