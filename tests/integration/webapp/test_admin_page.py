"""The admin pages through the Flask test client, on both databases: who may open them,
adding and changing users (audited, hashed), editing skills against the queues file,
queues with live lengths, the menu diagram from the live file (and a broken file's
message instead), the shift rules and the configuration checks."""

from __future__ import annotations

import html
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash

from agents.queue_store import enqueue
from agents.seat_store import agent_by_staff_number, skills_of
from tests.integration.webapp.conftest import PASSWORD, Client, make_agent, settings_for
from ticketdb.audit import entries_for
from ticketdb.migrate import upgrade
from webapp import close_app, create_app
from webapp.db import resources

REPO = Path(__file__).resolve().parents[3]
PAGES = ("/admin", "/admin/agents", "/admin/queues", "/admin/menus", "/admin/shifts",
         "/admin/checks")  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The shipped menus, queues and calendar, copied so a test may break them."""
    (tmp_path / "menus").mkdir()
    for name in ("telecom", "dairy"):
        shutil.copy(REPO / "menus" / f"{name}.yaml", tmp_path / "menus")
    shutil.copy(REPO / "config" / "queues.yaml", tmp_path / "queues.yaml")
    shutil.copy(REPO / "config" / "calendar.yaml", tmp_path / "calendar.yaml")
    return tmp_path


@pytest.fixture
def app(db_url: str, site: Path) -> Iterator[Flask]:
    upgrade(db_url)
    base = settings_for(db_url, site, secrets.token_hex(32))
    paths = base.paths.model_copy(
        update={
            "menus_dir": site / "menus",
            "queues_file": site / "queues.yaml",
            "calendar_file": site / "calendar.yaml",
        }
    )
    app = create_app(base.model_copy(update={"paths": paths}))
    app.config["TESTING"] = True
    yield app
    close_app(app)


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    return resources(app).sessions


@pytest.fixture
def admin(app: Flask, sessions: sessionmaker[Session]) -> Client:
    make_agent(sessions, "9901", "admin")
    return Client(app, "9901")


def form(client: Client, path: str, **fields: str) -> Any:
    """An HTML form post, as the page sends it (CSRF in the form)."""
    return client.http.post(path, data={"csrf_token": client.csrf, **fields})


def page(client: Client, path: str) -> str:
    answer = client.http.get(path, headers={"Accept": "text/html"})
    assert answer.status_code == 200, answer.status_code
    text: str = answer.get_data(as_text=True)
    return text


@pytest.mark.parametrize("role", ["agent", "lead"])
def test_only_admins_may_open_or_change_anything(
    app: Flask, sessions: sessionmaker[Session], role: str
) -> None:
    make_agent(sessions, "8001", role)
    client = Client(app, "8001")
    for path in PAGES:
        assert client.http.get(path, headers={"Accept": "text/html"}).status_code == 403, path
    added = form(client, "/admin/users", staff_number="7001", name="X", role="admin",
                 password="long enough pw")  # fmt: skip
    assert added.status_code == 403
    assert form(client, "/admin/users/8001/role", role="admin").status_code == 403
    assert client.http.get("/live/admin/queues").status_code == 403
    with sessions() as s:
        assert agent_by_staff_number(s, "7001") is None
        user = agent_by_staff_number(s, "8001")
        assert user is not None and user.role == role


def test_logged_out_goes_to_the_login_form(app: Flask) -> None:
    answer = app.test_client().get("/admin/menus", headers={"Accept": "text/html"})
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/admin/menus")


def test_admin_adds_a_user_who_can_then_log_in(
    app: Flask, admin: Client, sessions: sessionmaker[Session]
) -> None:
    assert '<a href="/admin" data-nav="admin"' in page(admin, "/admin/checks")
    answer = form(admin, "/admin/users", staff_number="8123", name="Li <b>Na</b>",
                  role="lead", team="hotline", endpoint="", password="lead password 1")  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin"
    listing = page(admin, "/admin")
    assert "User 8123 (Li &lt;b&gt;Na&lt;/b&gt;) added." in listing
    assert "<b>Na</b>" not in listing
    assert 'data-staff-number="8123"' in listing

    with sessions() as s:
        user = agent_by_staff_number(s, "8123")
        assert user is not None
        assert (user.role, user.team, user.endpoint) == ("lead", "hotline", "PJSIP/8123")
        assert user.password_hash is not None and "lead password 1" not in user.password_hash
        assert check_password_hash(user.password_hash, "lead password 1")
        (entry,) = entries_for(s, "user", "8123")
        assert (entry.actor, entry.role, entry.action) == ("9901", "admin", "change")
        assert entry.detail == "added as lead, team hotline"
    assert "added as lead, team hotline" in listing  # the recent changes list

    Client(app, "8123", "lead password 1")  # asserts the login succeeds


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"staff_number": "8001", "role": "agent", "password": "short"}, 422, "8-256 characters"),
        ({"staff_number": "8001", "role": "boss", "password": "long enough"}, 422, "role must be"),
        ({"staff_number": "bad id", "role": "agent", "password": "long enough"}, 422,
         "bad staff number"),
        ({"staff_number": "9901", "role": "agent", "password": "long enough"}, 409,
         "already exists"),
    ],
)  # fmt: skip
def test_a_refused_user_is_not_stored_and_the_page_says_why(
    admin: Client,
    sessions: sessionmaker[Session],
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    answer = form(admin, "/admin/users", name="Someone", **fields)
    assert answer.status_code == status
    text = answer.get_data(as_text=True)
    assert 'id="admin-error"' in text and message in text
    assert 'value="Someone"' in text  # the form keeps what was typed
    with sessions() as s:
        assert agent_by_staff_number(s, "8001") is None
        assert entries_for(s, "user", fields["staff_number"].strip()) == []


def test_a_form_without_the_csrf_token_is_refused(
    admin: Client, sessions: sessionmaker[Session]
) -> None:
    answer = admin.http.post(
        "/admin/users",
        data={"staff_number": "8001", "name": "X", "role": "agent", "password": "long enough"},
    )
    assert answer.status_code == 400
    with sessions() as s:
        assert agent_by_staff_number(s, "8001") is None


def test_role_disable_enable_and_password_reset(
    app: Flask, admin: Client, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001")
    assert form(admin, "/admin/users/8001/role", role="lead").status_code == 303
    assert form(admin, "/admin/users/8001/role", role="king").status_code == 422
    assert form(admin, "/admin/users/8001/active", active="0").status_code == 303
    refused = app.test_client().post(
        "/api/login", json={"staff_number": "8001", "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert form(admin, "/admin/users/8001/active", active="1").status_code == 303
    assert form(admin, "/admin/users/8001/password", password="tiny").status_code == 422
    assert form(admin, "/admin/users/8001/password", password="brand new pw").status_code == 303
    Client(app, "8001", "brand new pw")
    assert form(admin, "/admin/users/nobody/role", role="lead").status_code == 404
    with sessions() as s:
        user = agent_by_staff_number(s, "8001")
        assert user is not None and user.role == "lead" and user.active
        details = [e.detail for e in entries_for(s, "user", "8001")]
    assert details == ["role agent → lead", "disabled", "enabled", "password set"]


def test_an_admin_cannot_demote_or_disable_themself(
    admin: Client, sessions: sessionmaker[Session]
) -> None:
    assert form(admin, "/admin/users/9901/role", role="agent").status_code == 403
    answer = form(admin, "/admin/users/9901/active", active="0")
    assert answer.status_code == 403
    assert "your own account" in answer.get_data(as_text=True)
    with sessions() as s:
        me = agent_by_staff_number(s, "9901")
        assert me is not None and me.role == "admin" and me.active


def test_skills_are_edited_against_the_queues_file(
    admin: Client, sessions: sessionmaker[Session], site: Path
) -> None:
    agent_id = make_agent(sessions, "8001", skills={"general": 1})
    assert 'value="general:1"' in page(admin, "/admin/agents")
    saved = form(admin, "/admin/agents/8001/skills", skills="general:2, mobile complaints:5")
    assert saved.status_code == 303
    with sessions() as s:
        assert skills_of(s, agent_id) == {"complaints": 5, "general": 2, "mobile": 1}
        (entry,) = entries_for(s, "user", "8001")
        assert entry.detail == "skills general:1 → complaints:5 general:2 mobile:1"

    unknown = form(admin, "/admin/agents/8001/skills", skills="general cooking:3")
    assert unknown.status_code == 422
    assert "unknown skill(s) cooking" in unknown.get_data(as_text=True)
    assert form(admin, "/admin/agents/8001/skills", skills="general:9").status_code == 422

    (site / "queues.yaml").write_text("skills: [general]\nqueues: {q: {skills: [nope]}}\n")
    broken = form(admin, "/admin/agents/8001/skills", skills="general")
    assert broken.status_code == 422
    assert "queues.yaml:2" in broken.get_data(as_text=True)
    with sessions() as s:
        assert skills_of(s, agent_id) == {"complaints": 5, "general": 2, "mobile": 1}


def test_queues_show_their_settings_and_live_lengths(
    admin: Client, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001", skills={"general": 1})
    now = datetime.now(UTC)
    with sessions() as s:
        for n in range(2):
            enqueue(s, node="n1", channel_id=f"c{n}", queue="operator", tier="general",
                    arrived_at=now, now=now)  # fmt: skip
    text = page(admin, "/admin/queues")
    row = text.split('data-queue="operator"', 1)[1].split("</tr>", 1)[0]
    assert '<td data-live="waiting">2</td>' in row
    assert "1 qualified, 0 available" in row
    assert "callback offered after 120 s" in row

    stream = admin.http.get("/live/admin/queues", buffered=False)
    try:
        assert stream.status_code == 200
        assert stream.mimetype == "text/event-stream"
        body = ""
        for chunk in stream.response:
            body += chunk.decode() if isinstance(chunk, bytes) else chunk
            if "event: lengths" in body:
                break
        assert '"operator":{"waiting":2,"callbacks":0' in body
    finally:
        stream.close()


def test_the_menu_diagram_follows_the_live_file(admin: Client, site: Path) -> None:
    text = page(admin, "/admin/menus")
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="menu-diagram"' in text
    assert 'class="box menu" data-box="main"' in text and 'data-box="consult"' in text
    assert "telecom (live)" in text

    live = site / "menus" / "telecom.yaml"
    good = live.read_text(encoding="utf-8")
    # An edit shows at the next load, escaped.
    live.write_text(good.replace("Telecom service hotline", "Tele<com> & co"), encoding="utf-8")
    assert "Tele&lt;com&gt; &amp; co" in page(admin, "/admin/menus")

    live.write_text(good.replace("{menu: consult}", "{menu: nowhere}"), encoding="utf-8")
    broken = page(admin, "/admin/menus")
    assert "menu-diagram" not in broken
    assert 'id="menu-problems"' in broken
    line = next(i for i, t in enumerate(good.splitlines(), 1) if "{menu: consult}" in t)
    assert f"{live}:{line}: " in broken and "nowhere" in broken
    assert "Traceback" not in broken
    assert 'id="config-problems"' in broken

    live.write_text("menu: telecom\nnodes: [\n", encoding="utf-8")
    assert f"{live}:" in page(admin, "/admin/menus")
    live.write_text(good, encoding="utf-8")
    assert 'data-node="main"' in page(admin, "/admin/menus")

    dairy = page(admin, "/admin/menus?menu=dairy")
    assert "menu-diagram" in dairy and 'data-menu="dairy" aria-current=page' in dairy
    outside = admin.http.get("/admin/menus?menu=../queues", headers={"Accept": "text/html"})
    assert outside.status_code == 404


def test_shift_rules_and_their_errors(admin: Client, site: Path) -> None:
    text = page(admin, "/admin/shifts")
    assert "At most 1 seat(s) away at once" in text
    assert 'data-shift="always"' in text
    assert "00:00–24:00" in text and "on post" in text
    assert "always: on post 00:00–24:00" in text  # now, in the one all-day period

    (site / "shifts.yaml").write_text("timezone: Mars/Base\nteams: {}\nshifts: {}\n")
    broken = page(admin, "/admin/shifts")
    assert 'id="shifts-problems"' in broken
    assert "shifts.yaml:1: timezone: unknown time zone 'Mars/Base'" in html.unescape(broken)


def test_checks_list_every_file_and_its_problems(admin: Client, site: Path) -> None:
    text = page(admin, "/admin/checks")
    assert 'data-check="menu" data-status="ok"' in text
    assert 'data-check="shifts" data-status="ok"' in text
    assert "config-problems" not in text

    (site / "queues.yaml").write_text("skills: [general]\nqueues:\n  q: {skills: [nope]}\n")
    broken = page(admin, "/admin/checks")
    assert 'data-check="queues" data-status="error"' in broken
    assert "queues.yaml:3: queues.q.skills" in broken
    # The banner shows on every tab while a file is broken.
    assert 'id="config-problems"' in page(admin, "/admin")


def test_the_pages_follow_the_users_language(admin: Client) -> None:
    assert form(admin, "/language", language="zh", next="/admin/menus").status_code == 302
    text = page(admin, "/admin/menus")
    assert "语音菜单" in text
    assert "entry · 判断" in text  # the diagram's own words too
    assert "请按" in text  # and the prompts in Chinese
    assert "用户" in page(admin, "/admin")
