"""The live menu and its hot reload.

``MenuRegistry`` holds the current good ``Menu``. ``reload_if_changed`` (run from a
worker thread every few seconds) re-reads the live file when its contents change:
a good edit replaces the menu for **new** calls — calls in progress keep the ``Menu``
object they started with — and a bad one is logged, naming file and line, while the
last good menu stays in force.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from agents.queue_config import QueueCatalog
from ivr.menus.loader import load_menu
from ivr.menus.model import Menu, MenuInvalid, PromptResolver

log = logging.getLogger(__name__)


class MenuRegistry:
    def __init__(
        self,
        path: Path,
        resolver: PromptResolver,
        queues: Callable[[], QueueCatalog | None] = lambda: None,
        calendars: Callable[[], Iterable[str] | None] = lambda: None,
    ) -> None:
        self.path = path
        self.resolver = resolver
        self.queues = queues
        self.calendars = calendars
        self._current: Menu | None = None
        self._seen_digest: str | None = None
        self._pending_digest: str | None = None
        self._lock = threading.Lock()
        self.reloads = 0
        self.rejected = 0
        self.last_error: str | None = None

    @property
    def current(self) -> Menu:
        menu = self._current
        if menu is None:
            raise RuntimeError("MenuRegistry.load() was not called")
        return menu

    def load(self) -> Menu:
        """First load: an invalid live menu is an error (``MenuInvalid``)."""
        text = self._read()
        menu = self._build(text)
        with self._lock:
            self._current, self._seen_digest = menu, _digest(text)
        log.info("menu %s (version %s) loaded from %s", menu.name, menu.version, self.path)
        return menu

    def reload_if_changed(self) -> bool:
        """Swap in an edited menu if it is valid; True when a new version went live.

        A change is taken up on the second poll that sees it unchanged.
        """
        try:
            text = self._read()
        except MenuInvalid as exc:
            return self._reject(str(exc), None)
        digest = _digest(text)
        if digest == self._seen_digest:
            self._pending_digest = None
            return False
        if digest != self._pending_digest:
            # Act only on contents that stayed the same for one poll: an editor (or
            # `cp`) writing the file in place must not be caught half-way through.
            self._pending_digest = digest
            return False
        self._pending_digest = None
        try:
            menu = self._build(text)
        except MenuInvalid as exc:
            return self._reject(str(exc), digest)
        with self._lock:
            self._current, self._seen_digest = menu, digest
        self.reloads += 1
        self.last_error = None
        log.info("menu %s reloaded: version %s is live for new calls", menu.name, menu.version)
        return True

    def _reject(self, error: str, digest: str | None) -> bool:
        if error != self.last_error:
            log.error(
                "menu edit rejected, version %s stays live:\n%s",
                self._current.version if self._current else "-",
                error,
            )
            self.rejected += 1  # counted once reported: watchers of the count see the log
        self.last_error = error
        if digest is not None:
            self._seen_digest = digest  # don't re-report the same bad file every poll
        return False

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _unreadable(self.path, exc) from None

    def _build(self, text: str) -> Menu:
        menu = load_menu(self.path, self.queues(), self.calendars(), text=text)
        menu.resolve_prompts(self.resolver)
        return menu


def _unreadable(path: Path, exc: Exception) -> MenuInvalid:
    from ivr.menus.model import Problem

    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
    return MenuInvalid([Problem(str(path), 1, f"cannot read: {reason}")])


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
