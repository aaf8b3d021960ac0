"""The shipped Asterisk samples (config/asterisk/) hang together and hold no secret.

The samples are read with hotline.asterisk_conf, whose own behaviour is checked first on
small inline texts, so a sample test failing means the sample is wrong, not the parser.
"""

from __future__ import annotations

import sys
import wave
from array import array
from pathlib import Path

import pytest
import yaml

from hotline.asterisk_conf import (
    AsteriskConfError,
    ConfFile,
    Extension,
    dialplan,
    goto_if_targets,
    load_conf,
    moh_classes,
    parse_conf,
    uncomment,
)
from kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "config" / "asterisk"
PLACEHOLDER = "CHANGE_ME"


def conf(name: str) -> ConfFile:
    return load_conf(SAMPLES / name)


# --- the parser -----------------------------------------------------------------------


def test_parser_reads_sections_values_arrows_and_comments() -> None:
    parsed = parse_conf(
        "; leading comment\n"
        "[general]\n"
        "enabled = yes ; trailing comment\n"
        "motd = a\\;b\n"
        ";-- a block\n"
        "hidden = 1\n"
        "--;\n"
        "inline = ;-- gone --; kept\n"
        "[q]\n"
        "member => PJSIP/1\n"
        "member => PJSIP/2\n"
        "#include extra.conf\n"
    )
    general = parsed.section("general")
    assert general["enabled"] == "yes"
    assert general["motd"] == "a;b"
    assert "hidden" not in general
    assert general["inline"] == "kept"
    queue = parsed.section("q")
    assert queue.getall("member") == ["PJSIP/1", "PJSIP/2"]
    assert all(entry.arrow for entry in queue.entries)
    assert parsed.includes == ["extra.conf"]


def test_parser_keeps_same_named_sections_apart_and_resolves_templates() -> None:
    parsed = parse_conf(
        "[phone](!)\ntype = endpoint\nallow = ulaw\n"
        "[7001](phone)\ncontext = agents\n"
        "[7001]\ntype = aor\n"
    )
    assert parsed.section("7001", type="endpoint")["context"] == "agents"
    assert parsed.section("7001", type="endpoint")["allow"] == "ulaw"
    assert parsed.section("7001", type="aor")["type"] == "aor"
    assert [s.name for s in parsed.of_type("endpoint")] == ["7001"]  # template excluded
    with pytest.raises(KeyError):
        parsed.section("7001")  # ambiguous without a type


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("enabled = yes\n", ":1: setting outside any [section]"),
        ("[a]\njust words\n", ":2: expected 'key = value'"),
        ("[a](missing)\n", "unknown template [missing]"),
        ("[a]\n;-- open\n", "unterminated"),
    ],
)
def test_parser_rejects_malformed_lines_with_their_line(text: str, message: str) -> None:
    with pytest.raises(AsteriskConfError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_conf(text, source="x.conf")


def test_dialplan_resolves_priorities_labels_and_apps() -> None:
    plan = dialplan(
        parse_conf(
            "[ctx]\n"
            "exten => 100,1,Answer()\n"
            " same => n(again),Playback(hello)\n"
            " same => n,Goto(again)\n"
            "exten => 100,hint,PJSIP/100\n"
            "exten => _2XX,1,Hangup\n"
        )
    )
    ext = plan["ctx"]["100"]
    assert [(s.priority, s.label, s.app, s.args) for s in ext.steps] == [
        (1, None, "Answer", ""),
        (2, "again", "Playback", "hello"),
        (3, None, "Goto", "again"),
    ]
    assert ext.label_index("again") == 1
    assert plan["ctx"]["_2XX"].apps() == ["Hangup"]
    with pytest.raises(AsteriskConfError, match="'same' with no extension"):
        dialplan(parse_conf("[c]\nsame => n,Hangup()\n"))
    assert goto_if_targets('$["${X}" = "A?"]?yes:no') == ('$["${X}" = "A?"]', "yes", "no")


def test_uncomment_enables_commented_settings_only() -> None:
    text = ";[trunk]\n;type = endpoint ; why\n; prose = kept\n;-- block --;\nlive = 1\n"
    assert uncomment(text).splitlines() == [
        "[trunk]",
        "type = endpoint ; why",
        "; prose = kept",
        ";-- block --;",
        "live = 1",
    ]
    assert parse_conf(uncomment(text)).section("trunk")["type"] == "endpoint"


def test_moh_classes_and_the_files_asterisk_would_play(tmp_path: Path) -> None:
    classes = moh_classes(
        parse_conf(
            "[general]\n"
            "[default]\nmode = files\ndirectory = hotline-moh\n"
            "[abs]\nmode = files\ndirectory = /srv/moh\n"
            "[stream]\nmode = custom\napplication = /usr/bin/streamer\n"
        )
    )
    assert sorted(classes) == ["abs", "default", "stream"]
    default = classes["default"]
    assert default.folder(tmp_path) == tmp_path / "hotline-moh"
    assert classes["abs"].folder(tmp_path) == Path("/srv/moh")
    assert default.files(tmp_path) == []  # no folder: Asterisk refuses the class
    folder = tmp_path / "hotline-moh"
    folder.mkdir()
    for name in ("b.wav", "a.ulaw", ".a.wav.1234.tmp", ".gitkeep", "noext", "x.s"):
        (folder / name).write_bytes(b"")
    (folder / "sub.wav").mkdir()
    assert [p.name for p in default.files(tmp_path)] == ["a.ulaw", "b.wav"]
    for text, problem in (
        ("[c]\ndirectory = x\n", "has no mode"),
        ("[c]\nmode = files\n", "needs a directory"),
        ("[c]\nmode = files\ndirectory = x\n[c]\nmode = files\ndirectory = y\n", "twice"),
    ):
        with pytest.raises(AsteriskConfError, match=problem):
            moh_classes(parse_conf(text))


# --- the samples ----------------------------------------------------------------------


def test_every_sample_parses() -> None:
    names = sorted(p.name for p in SAMPLES.glob("*.conf"))
    assert names == [
        "ari.conf",
        "extensions.conf",
        "http.conf",
        "musiconhold.conf",
        "pjsip.conf",
        "queues.conf",
    ]
    for name in names:
        assert conf(name).sections, name


def test_http_server_is_enabled_where_the_controller_expects_it() -> None:
    general = conf("http.conf").section("general")
    assert general["enabled"] == "yes"
    assert general["bindaddr"] == "127.0.0.1"
    assert general["bindport"] == "8088"
    assert Settings().ari.url == f"http://{general['bindaddr']}:{general['bindport']}"


def test_ari_defines_the_hotline_user() -> None:
    ari = conf("ari.conf")
    assert ari.section("general")["enabled"] == "yes"
    user = ari.section(Settings().ari.username)
    assert user.name == "hotline"
    assert user["type"] == "user"
    assert user["read_only"] == "no"  # the controller answers, plays and bridges
    assert user["password_format"] == "plain"
    assert [s.name for s in ari.of_type("user")] == ["hotline"]


def _from_callers_6000() -> Extension:
    return dialplan(conf("extensions.conf"))["from-callers"]["6000"]


def test_extension_6000_enters_the_stasis_application() -> None:
    steps = _from_callers_6000().steps
    stasis = [s for s in steps if s.app == "Stasis"]
    assert [s.args for s in stasis] == [Settings().ari.app] == ["hotline"]
    # The controller answers; an Answer() before Stasis would hide the ringing phase.
    assert "Answer" not in [s.app for s in steps[: steps.index(stasis[0])]]


def test_stasis_failure_falls_back_to_a_queue_instead_of_dropping_the_caller() -> None:
    ext = _from_callers_6000()
    apps = ext.apps()
    after_stasis = ext.steps[apps.index("Stasis") + 1 :]
    checks = [
        s
        for s in after_stasis
        if s.app == "GotoIf" and "STASISSTATUS" in s.args and "FAILED" in s.args
    ]
    assert len(checks) == 1, "a GotoIf on ${STASISSTATUS} = FAILED must follow Stasis()"
    condition, target, _ = goto_if_targets(checks[0].args)
    assert '"${STASISSTATUS}" = "FAILED"' in condition
    branch = ext.steps[ext.label_index(target) :]
    branch_apps = [s.app for s in branch]
    until_hangup = branch_apps[: branch_apps.index("Hangup")]
    assert "Queue" in until_hangup, f"fallback branch only does {until_hangup}"
    queue_name = branch[branch_apps.index("Queue")].args.split(",")[0]
    assert conf("queues.conf").section(queue_name).getall("member")


def test_fallback_prompts_are_system_prompts() -> None:
    keys = set(yaml.safe_load((ROOT / "config" / "prompts.yaml").read_text())["prompts"])
    played = [s.args for s in _from_callers_6000().steps if s.app == "Playback"]
    assert played
    for args in played:
        assert args.startswith("custom/")
        assert args.removeprefix("custom/") in keys


def test_agent_phones_can_dial_the_hotline() -> None:
    plan = dialplan(conf("extensions.conf"))
    goto = plan["agents"]["6000"].steps[0]
    assert goto.app == "Goto"
    context, exten, priority = goto.args.split(",")
    assert plan[context][exten].steps[0].priority == int(priority)
    assert plan[context][exten] is plan["from-callers"]["6000"]


def test_pjsip_endpoints_have_their_aor_auth_and_a_real_context() -> None:
    pjsip = conf("pjsip.conf")
    contexts = dialplan(conf("extensions.conf"))
    transport = pjsip.section("transport-udp", type="transport")
    assert (transport["protocol"], transport["bind"].rsplit(":", 1)[1]) == ("udp", "5060")
    endpoints = {s.name: s for s in pjsip.of_type("endpoint")}
    assert set(endpoints) == {"caller1", "8001", "8002"}
    for name, endpoint in endpoints.items():
        for aor in endpoint["aors"].split(","):
            assert pjsip.section(aor.strip(), type="aor")
        auth = pjsip.section(endpoint["auth"], type="auth")
        assert auth["username"] == name
        assert pjsip.section(endpoint["transport"], type="transport")
        assert endpoint["context"] in contexts
    assert endpoints["caller1"]["context"] == "from-callers"
    assert endpoints["8001"]["context"] == endpoints["8002"]["context"] == "agents"


def test_queue_members_are_existing_endpoints() -> None:
    endpoints = {s.name for s in conf("pjsip.conf").of_type("endpoint")}
    members = conf("queues.conf").section("hotline-fallback").getall("member")
    interfaces = [member.split(",")[0].strip() for member in members]
    assert interfaces == ["PJSIP/8001", "PJSIP/8002"]
    for interface in interfaces:
        tech, _, name = interface.partition("/")
        assert tech == "PJSIP"
        assert name in endpoints


def test_no_sample_holds_a_real_password() -> None:
    secret_keys = {"password", "secret", "md5_cred", "remotesecret"}
    seen = 0
    for path in SAMPLES.glob("*.conf"):
        for section in load_conf(path):
            for entry in section.entries:
                if entry.key.lower() in secret_keys:
                    seen += 1
                    assert entry.value == PLACEHOLDER, f"{path.name}:{entry.line}"
    assert seen == 4  # ari user + three SIP auths: the check really looked at them


def test_menu_transfers_have_a_context_to_go_to() -> None:
    from ivr.menus.schema import Defaults

    plan = dialplan(conf("extensions.conf"))
    context = Defaults().transfer_context
    assert context in plan, f"menus transfer into [{context}], which extensions.conf lacks"
    patterns = set(plan[context])
    assert {"_800X", "_+X.", "_X."} <= patterns  # agents, E.164 and national numbers
    for ext in plan[context].values():
        assert ext.steps[0].app == "Dial"


def test_agents_context_has_test_agents_that_answer_without_a_phone() -> None:
    # Local/9001@agents as an agent's endpoint: answered in the dialplan, no SIP phone.
    test_agent = dialplan(conf("extensions.conf"))["agents"]["_900X"]
    assert test_agent.apps() == ["Answer", "Echo", "Hangup"]


# --- music on hold --------------------------------------------------------------------


def test_music_on_hold_default_class_plays_generated_8khz_mono_files(tmp_path: Path) -> None:
    from ivr.prompts.moh import MOH_CLASS, build_moh

    classes = moh_classes(conf("musiconhold.conf"))
    assert MOH_CLASS == "default" and set(classes) == {"default"}
    default = classes["default"]
    assert default.mode == "files"
    assert default.directory is not None and not Path(default.directory).is_absolute()
    # Asterisk's data directory with the folder the class names linked to paths.moh_dir,
    # as docs/asterisk.md says, after what `hotline prompts build` does there.
    data_dir, moh_dir = tmp_path / "asterisk", tmp_path / "recordings" / "moh"
    data_dir.mkdir()
    default.folder(data_dir).symlink_to(moh_dir, target_is_directory=True)
    assert default.files(data_dir) == []
    built = build_moh(moh_dir)
    assert [f.status for f in built] == ["built"]
    files = default.files(data_dir)
    assert [f.name for f in files] == [f.path.name for f in built]
    for path in files:
        assert path.suffix == ".wav"
        with wave.open(str(path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getcomptype() == "NONE"
            seconds = wav.getnframes() / wav.getframerate()
            frames = wav.readframes(wav.getnframes())
        assert 4 <= seconds <= 30  # a loop of a few seconds
        samples = array("h", frames)
        if sys.byteorder != "little":
            samples.byteswap()
        peak = max(abs(s) for s in samples)
        assert 32767 * 10 ** (-20 / 20) < peak < 32767 * 10 ** (-6 / 20)  # audible, not loud
    # The file is made by code: the same bytes again, so a second build leaves it alone.
    assert [f.status for f in build_moh(moh_dir)] == ["cached"]
    assert sorted(p.name for p in moh_dir.iterdir()) == [f.name for f in files]


def test_every_queue_music_class_is_defined() -> None:
    from agents.queue_config import load_queues

    catalog = load_queues(ROOT / "config" / "queues.yaml")
    used = {catalog.config(name).music_on_hold for name in catalog.queues}
    assert used and used <= set(moh_classes(conf("musiconhold.conf")))


# --- the carrier trunk (a commented-out sample) ---------------------------------------


def test_trunk_sample_defines_the_endpoint_callbacks_and_transfers_dial() -> None:
    from ivr.menus.schema import Defaults

    # acd.callback_endpoint's default: PJSIP/{number}@<endpoint>.
    tech, _, rest = Settings().acd.callback_endpoint.partition("/")
    assert tech == "PJSIP" and rest.startswith("{number}@")
    name = rest.removeprefix("{number}@")
    assert name == "trunk"
    # Shipped commented out: it needs the carrier's details first.
    assert name not in {s.name for s in conf("pjsip.conf").of_type("endpoint")}

    pjsip = parse_conf(uncomment((SAMPLES / "pjsip.conf").read_text(encoding="utf-8")))
    endpoints = {s.name: s for s in pjsip.of_type("endpoint")}
    assert set(endpoints) == {"caller1", "8001", "8002", name}
    trunk = endpoints[name]
    assert pjsip.section(trunk["transport"], type="transport")
    [aor] = [pjsip.section(a.strip(), type="aor") for a in trunk["aors"].split(",")]
    assert aor.name == name and aor["contact"].startswith("sip:")
    auth = pjsip.section(trunk["outbound_auth"], type="auth")
    assert auth["password"] == PLACEHOLDER
    [identify] = pjsip.of_type("identify")
    assert identify["endpoint"] == name and identify["match"]
    [registration] = pjsip.of_type("registration")
    assert registration["outbound_auth"] == trunk["outbound_auth"]
    assert registration["transport"] == trunk["transport"]
    plan = dialplan(conf("extensions.conf"))
    # Calls from the carrier reach the hotline extension.
    assert registration["contact_user"] in plan[trunk["context"]]
    assert plan[trunk["context"]][registration["contact_user"]] is plan["from-callers"]["6000"]
    # Transfers to outside numbers dial the same endpoint.
    outside = [
        ext.steps[0].args.split(",")[0]
        for pattern, ext in plan[Defaults().transfer_context].items()
        if pattern in ("_+X.", "_X.")
    ]
    assert len(outside) == 2
    for target in outside:
        assert target.startswith("PJSIP/") and target.endswith(f"@{name}")
