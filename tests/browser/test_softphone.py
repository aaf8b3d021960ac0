"""The demo softphone in a real browser against the whole running site: dial the hotline,
see (and fetch) the prompt that plays, press a key on the keypad, hang up; and a person
playing agent 8001 answers their own desk phone when the queue rings it, while their
agent page pops the caller."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserSite
from tests.browser.helpers import login, wait_until
from ticketdb import call_log

CALLER = "+8613700000003"


def _record(site: BrowserSite, channel_id: str) -> object:
    with site.sessions() as s:
        return call_log.get_call(s, site.site.settings.node.name, channel_id)


def test_dial_hear_the_menu_press_a_key_and_hang_up(page: Page, browser_site: BrowserSite) -> None:
    site = browser_site
    login(page, site, "agent2")
    page.goto(f"{site.url}/softphone")
    expect(page.locator("#call-state")).to_have_text("Not on a call")
    expect(page.locator("#key-1")).to_be_disabled()
    page.fill("#caller-number", CALLER)
    # The page fetches the WAV the simulator plays to this caller.
    with page.expect_response(lambda r: "/softphone/audio/" in r.url, timeout=15_000) as wav:
        page.click("#dial")
    assert wav.value.status in (200, 206)  # a media element asks for byte ranges
    assert wav.value.headers["content-type"] == "audio/wav"
    # The menu's first prompt, in its default language (Chinese).
    expect(page.locator("#now-playing")).to_contain_text("Playing zh/custom/tts/")
    expect(page.locator("#call-state")).to_have_text("In the hotline")
    channel_id = page.locator("#softphone").get_attribute("data-channel-id")
    assert channel_id

    page.click("#key-2")  # English
    expect(page.locator("#keys-pressed")).to_have_text("2")
    expect(page.locator("#now-playing")).to_contain_text("Playing en/custom/tts/", timeout=15_000)
    expect(page.locator("#heard-log li").first).to_contain_text("zh/custom/tts/")

    page.click("#hangup")
    expect(page.locator("#call-state")).to_have_text("Call ended")
    expect(page.locator("#now-playing")).to_have_text("You hung up.")
    expect(page.locator("#dial")).to_be_enabled()
    expect(page.locator("#key-2")).to_be_disabled()

    def complete() -> bool:
        rec = _record(site, channel_id)
        return rec is not None and bool(getattr(rec, "is_complete", False))

    wait_until(complete, what="the call's complete record")
    rec = _record(site, channel_id)
    path = getattr(rec, "menu_path", [])
    assert [e["key"] for e in path if "key" in e][:1] == ["2"], path
    assert getattr(rec, "hangup_side", None) == "caller"


def test_a_person_playing_an_agent_answers_their_desk_phone_and_sees_the_pop(
    page: Page, new_page: Callable[[], Page], browser_site: BrowserSite
) -> None:
    site = browser_site
    # Agent 8001: the desk in one tab, the softphone (their desk phone) in another.
    login(page, site, "agent")
    page.goto(f"{site.url}/agent")
    expect(page.locator("body")).to_have_attribute("data-live", "open", timeout=10_000)
    page.click("#status-available")
    expect(page.locator("#seat-state")).to_have_attribute("data-state", "available")
    phone = page.context.new_page()
    phone.goto(f"{site.url}/softphone")
    phone.check("#take-phone")
    expect(phone.locator("#desk-phone")).to_have_attribute("data-mine", "true")

    # Someone else calls and asks for a person (0) at the language menu.
    caller = new_page()
    login(caller, site, "agent2")
    caller.goto(f"{site.url}/softphone")
    caller.fill("#caller-number", CALLER)
    caller.click("#dial")
    expect(caller.locator("#now-playing")).to_contain_text("Playing", timeout=15_000)
    caller.click("#key-0")

    ringing = phone.locator("#desk-calls li[data-state=ringing]")
    expect(ringing).to_be_visible(timeout=15_000)
    expect(ringing).to_contain_text("+86137****0003")  # masked for an agent
    ringing.locator(".desk-answer").click()
    expect(caller.locator("#call-state")).to_have_text("Talking to agent 8001", timeout=10_000)
    expect(phone.locator("#desk-calls li[data-state=up]")).to_be_visible()
    # The screen pop on the agent's desk.
    expect(page.locator("#pop")).to_be_visible(timeout=5_000)
    expect(page.locator("#pop-number")).to_contain_text("0003")

    phone.locator("#desk-calls li[data-state=up] .desk-hangup").click()
    expect(caller.locator("#call-state")).to_have_text("Call ended", timeout=10_000)
    expect(phone.locator("#desk-idle")).to_be_visible()
