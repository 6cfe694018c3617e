"""The explorer's HTTP server: a ``ThreadingHTTPServer`` serving the page, its vendored scripts and the API.

Routes (JSON in and out unless said otherwise; see :mod:`musicneurons.explore.session`)::

    GET  /                  the page (static/index.html); /static/... its scripts and styles
    GET  /api/info          model shape, neuron ranks, music/noise cut, study roles
    GET  /api/melodies      the corpus windows to pick from
    POST /api/encode        {"window"} -> {"mu", "sigma", "order", "n_music"}
    POST /api/decode        {"z"} -> {"window", "notes"}
    POST /api/interpolate   {"a", "b", "steps"} -> {"t", "z", "windows", "notes"}
    POST /api/traverse      {"z", "dim"} -> {"values", "windows", "notes"}
    POST /api/upload        a MIDI file -> {"windows", "qpm"}
    POST /api/midi          {"window"} -> a MIDI file (audio/midi)

Bad input gets ``{"error": "..."}`` with a 4xx status; a bug in a handler gets a 500 with the same shape and
is logged; the server keeps running either way. Bodies over :data:`MAX_BODY` bytes are refused unread (413).
Slider requests carry ``{"channel", "seq"}``: one that waited while a newer one of its channel arrived is
answered ``{"stale": true}`` without running the model (latest wins).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from musicneurons.explore import session as api

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 2 * 1024 * 1024  # bytes: a 16-bar z or window is ~10 KB of JSON, a melody MIDI file a few KB
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}

JSON_ROUTES: dict[str, Callable[[api.Session, dict[str, Any]], dict[str, Any]]] = {
    "/api/encode": api.api_encode,
    "/api/decode": api.api_decode,
    "/api/interpolate": api.api_interpolate,
    "/api/traverse": api.api_traverse,
}


class ExploreServer(ThreadingHTTPServer):
    """A threading HTTP server holding one :class:`~musicneurons.explore.session.Session`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: api.Session) -> None:
        super().__init__(address, ExploreHandler)
        self.session = session

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}/"


class ExploreHandler(BaseHTTPRequestHandler):
    server: ExploreServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, the body waits for the client's delayed ACK
    # (~40 ms on Linux), which alone would double a slider's latency
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # ------------------------------------------------------------------ GET
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        session = self.server.session
        try:
            if path == "/api/info":
                self._json(HTTPStatus.OK, api.api_info(session))
            elif path == "/api/melodies":
                self._json(HTTPStatus.OK, api.api_melodies(session))
            elif path in ("/", "/index.html"):
                self._static("index.html")
            elif path.startswith("/static/"):
                self._static(path.removeprefix("/static/"))
            elif path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        except Exception:  # a bug: answer and keep serving
            log.exception("GET %s failed", path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the server log)")

    def _static(self, name: str) -> None:
        file = (STATIC_DIR / name).resolve()
        if not file.is_relative_to(STATIC_DIR) or not file.is_file():
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        kind = (
            CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
        self._send(HTTPStatus.OK, file.read_bytes(), kind)

    # ------------------------------------------------------------------ POST
    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        session = self.server.session
        try:
            data = self._body()
            if data is None:
                return
            if path == "/api/upload":
                self._json(HTTPStatus.OK, api.api_upload(session, data))
            elif path == "/api/midi":
                self._send(HTTPStatus.OK, api.midi_bytes(session, _parse_json(data)), "audio/midi")
            elif path in JSON_ROUTES:
                self._json(HTTPStatus.OK, JSON_ROUTES[path](session, _parse_json(data)))
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such API: {path}")
        except api.ApiError as exc:
            self._error(exc.status, exc.message)
        except Exception:
            log.exception("POST %s failed", path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the server log)")

    def _body(self) -> bytes | None:
        """The request body, or None after answering 411 / 413 (a body too large is not read)."""
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None or not length.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header (no chunked bodies)")
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY} bytes")
            return None
        return self.rfile.read(int(length))

    # ------------------------------------------------------------------ replies
    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _parse_json(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise api.ApiError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise api.ApiError(400, "the body must be a JSON object")
    return body


def start_server(session: api.Session, host: str = "127.0.0.1", port: int = 8765) -> ExploreServer:
    """Bind the server (``port=0``: any free port) and serve in a daemon thread; returns it (``.url``).

    Stop it with ``server.shutdown(); server.server_close()``.
    """
    server = ExploreServer((host, port), session)
    threading.Thread(target=server.serve_forever, name="musicneurons-explore", daemon=True).start()
    return server
