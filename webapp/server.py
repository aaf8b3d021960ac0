"""The web app on a production WSGI server (cheroot, CherryPy's multi-threaded server),
run in a background thread of ``hotline run`` / ``hotline demo`` or on its own.

Why cheroot: pure Python (nothing to compile on a fresh machine), HTTP/1.1 keep-alive,
and it writes each chunk of a streamed response at once, which Server-Sent Events need
(waitress buffers small writes). Each open live page holds one worker thread, hence
``web.threads``.
"""

from __future__ import annotations

import logging
import threading

from cheroot import wsgi
from flask import Flask

log = logging.getLogger(__name__)


class WebServer:
    """``app`` served on ``host:port`` (port 0: any free port, see ``port`` once started)."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 64) -> None:
        self.app = app
        self._server = wsgi.Server(
            (host, port),
            app,
            numthreads=threads,
            server_name="hotline",
            # A slow or vanished browser must not hold a worker for long.
            timeout=30,
            shutdown_timeout=2,
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        bound = self._server.bind_addr
        assert isinstance(bound, tuple)
        return int(bound[1])

    @property
    def url(self) -> str:
        host = self._server.bind_addr[0] if isinstance(self._server.bind_addr, tuple) else ""
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://{shown}:{self.port}"

    def start(self) -> None:
        """Bind (raises OSError when the port is taken) and serve in a daemon thread."""
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="web-server", daemon=True)
        self._thread.start()
        log.info("web page on %s", self.url)

    def stop(self) -> None:
        from webapp.live import stop_watcher

        stop_watcher(self.app)  # ends open event streams, so workers can finish
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        from webapp import close_app

        close_app(self.app)  # no query of ours outlives the server
