"""The pages' frame: the login form (CSRF, throttling, safe redirects), the role checks
of HTML pages, the language switch, JSON errors with stable ids."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.webapp.conftest import PASSWORD, make_agent
from ticketdb.models import Agent, LoginAttempt

HTML = {"Accept": "text/html"}


def form_token(http: FlaskClient, path: str = "/login") -> str:
    page = http.get(path, headers=HTML)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def form_login(http: FlaskClient, staff: str, password: str, **extra: str) -> object:
    token = form_token(http)
    data = {"staff_number": staff, "password": password, "csrf_token": token, **extra}
    return http.post("/login", data=data, headers=HTML)


def test_logged_out_pages_redirect_to_the_login_form(app: Flask) -> None:
    http = app.test_client()
    answer = http.get("/", headers=HTML)
    assert answer.status_code == 302 and answer.location.endswith("/login")
    form = http.get("/login", headers=HTML)
    assert form.status_code == 200 and 'name="staff_number"' in form.get_data(as_text=True)


def test_the_login_form_needs_its_csrf_token(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    http = app.test_client()
    form_token(http)  # the session now holds a token
    missing = http.post("/login", data={"staff_number": "8001", "password": PASSWORD})
    assert missing.status_code == 400
    wrong = http.post(
        "/login", data={"staff_number": "8001", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    ok = form_login(http, "8001", PASSWORD)
    assert ok.status_code == 302  # type: ignore[attr-defined]


def test_login_redirects_only_within_the_site(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    for target, expected in [
        ("/welcome", "/welcome"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
    ]:
        http = app.test_client()
        answer = form_login(http, "8001", PASSWORD, next=target)
        location = answer.location  # type: ignore[attr-defined]
        assert "evil" not in location
        if expected != "/":
            assert location.endswith(expected)


def test_failed_logins_are_throttled_per_staff_number(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    make_agent(sessions, "8001")
    make_agent(sessions, "8002")
    http = app.test_client()
    for _ in range(5):
        bad = http.post("/api/login", json={"staff_number": "8001", "password": "nope"})
        assert bad.status_code == 401
    locked = http.post("/api/login", json={"staff_number": "8001", "password": PASSWORD})
    assert locked.status_code == 429 and locked.get_json()["error_id"] == "too_many_requests"
    # Another staff number from the same address is not locked by these five.
    other = http.post("/api/login", json={"staff_number": "8002", "password": PASSWORD})
    assert other.status_code == 200
    with sessions() as s:
        rows = s.scalars(select(LoginAttempt).where(LoginAttempt.staff_number == "8001")).all()
        assert [r.succeeded for r in rows] == [False] * 5


def test_a_success_clears_earlier_failures(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    http = app.test_client()
    for _ in range(4):
        http.post("/api/login", json={"staff_number": "8001", "password": "nope"})
    assert (
        http.post("/api/login", json={"staff_number": "8001", "password": PASSWORD}).status_code
        == 200
    )
    for _ in range(4):
        http.post("/api/login", json={"staff_number": "8001", "password": "nope"})
    assert (
        http.post("/api/login", json={"staff_number": "8001", "password": PASSWORD}).status_code
        == 200
    )


def test_the_language_is_stored_on_the_user(app: Flask, sessions: sessionmaker[Session]) -> None:
    make_agent(sessions, "8001")
    http = app.test_client()
    form_login(http, "8001", PASSWORD)
    token = form_token(http, "/welcome")
    answer = http.post(
        "/language", data={"language": "zh", "csrf_token": token, "next": "/welcome"}
    )
    assert answer.status_code == 302 and answer.location.endswith("/welcome")
    assert "退出" in http.get("/welcome", headers=HTML).get_data(as_text=True)
    with sessions() as s:
        agent = s.scalars(select(Agent).where(Agent.staff_number == "8001")).one()
        assert agent.ui_language == "zh"
    bad = http.post("/language", data={"language": "fr", "csrf_token": token})
    assert bad.status_code == 400


def test_api_errors_are_json_with_a_stable_id_and_pages_get_html(app: Flask) -> None:
    http = app.test_client()
    api = http.get("/api/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error_id"] == "not_found"
    page = http.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.mimetype == "text/html"
