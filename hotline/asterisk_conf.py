"""A small reader for Asterisk's ``.conf`` format, enough to check the shipped samples.

Covers what ``config/asterisk/`` uses and what Asterisk's own parser accepts there:
``[section]`` headers with template options (``[name](!)``, ``[name](parent1,parent2)``),
``key = value`` and ``key => value`` lines, ``;`` comments, ``\\;`` for a literal
semicolon, ``;-- block --;`` comments and ``#include`` lines (recorded, not followed).
Sections may share a name (pjsip.conf's endpoint/auth/aor triplets), so a file is a list
of sections, not a dict. ``dialplan()`` turns extensions.conf's ``exten``/``same`` lines
into ordered steps with resolved priorities and labels; ``moh_classes()`` reads
musiconhold.conf and lists the files a ``mode = files`` class plays, as Asterisk finds
them. ``uncomment()`` makes a commented-out sample (pjsip.conf's trunk) live, as an
operator would, so the sample can be checked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


class AsteriskConfError(ValueError):
    """A line Asterisk would reject; the message starts with ``source:line:``."""


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int
    # True for ``key => value``: Asterisk treats both alike except for "object" semantics.
    arrow: bool = False


@dataclass
class Section:
    name: str
    line: int
    # Header options: "!" marks a template, other names are templates to inherit from.
    options: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)

    @property
    def is_template(self) -> bool:
        return "!" in self.options

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(opt for opt in self.options if opt != "!")

    def get(self, key: str, default: str | None = None) -> str | None:
        """Last value of ``key`` (later lines override earlier ones, as in Asterisk)."""
        values = self.getall(key)
        return values[-1] if values else default

    def getall(self, key: str) -> list[str]:
        """Every value of a repeatable key (``member``, ``allow``), in file order."""
        return [entry.value for entry in self.entries if entry.key == key]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(f"[{self.name}] has no {key!r}")
        return value

    def __contains__(self, key: object) -> bool:
        return any(entry.key == key for entry in self.entries)


@dataclass
class ConfFile:
    source: str
    sections: list[Section] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections)

    def named(self, name: str) -> list[Section]:
        return [section for section in self.sections if section.name == name]

    def section(self, name: str, type: str | None = None) -> Section:
        """The one non-template section called ``name`` (and of ``type=``, when given)."""
        found = [
            s
            for s in self.named(name)
            if not s.is_template and (type is None or s.get("type") == type)
        ]
        if not found:
            kind = f" of type={type}" if type else ""
            raise KeyError(f"{self.source}: no section [{name}]{kind}")
        if len(found) > 1:
            raise KeyError(f"{self.source}: section [{name}] defined {len(found)} times")
        return found[0]

    def of_type(self, type: str) -> list[Section]:
        """Non-template sections with ``type = <type>`` (pjsip.conf, ari.conf)."""
        return [s for s in self.sections if not s.is_template and s.get("type") == type]


_HEADER = re.compile(r"^\[(?P<name>[^\]]+)\]\s*(?:\((?P<opts>[^)]*)\))?\s*$")


def _strip_comment(line: str) -> str:
    """Drop a trailing ``;`` comment but keep escaped ``\\;`` as a literal semicolon."""
    out: list[str] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if char == ";":
            break
        out.append(char)
        i += 1
    return "".join(out).strip()


def parse_conf(text: str, source: str = "<string>") -> ConfFile:
    """Parse one file's text; templates are resolved into inheriting sections."""
    conf = ConfFile(source=source)
    current: Section | None = None
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_block:
            end = line.find("--;")
            if end < 0:
                continue
            line = line[end + 3 :]
            in_block = False
        start = line.find(";--")
        if start >= 0:
            end = line.find("--;", start + 3)
            if end < 0:
                in_block = True
                line = line[:start]
            else:
                line = line[:start] + line[end + 3 :]
        line = _strip_comment(line)
        if not line:
            continue
        if line.startswith("#"):
            directive, _, arg = line.partition(" ")
            if directive in ("#include", "#tryinclude"):
                conf.includes.append(arg.strip().strip('"'))
                continue
            if directive == "#exec":
                continue
            raise AsteriskConfError(f"{source}:{number}: unknown directive {directive!r}")
        header = _HEADER.match(line)
        if header:
            opts = header.group("opts")
            options = tuple(o.strip() for o in opts.split(",") if o.strip()) if opts else ()
            current = Section(name=header.group("name").strip(), line=number, options=options)
            _inherit(conf, current, source)
            conf.sections.append(current)
            continue
        if current is None:
            raise AsteriskConfError(f"{source}:{number}: setting outside any [section]")
        match = re.match(r"^(?P<key>[^=]+?)\s*(?P<op>=>|=)\s*(?P<value>.*)$", line)
        if not match:
            raise AsteriskConfError(f"{source}:{number}: expected 'key = value', got {line!r}")
        current.entries.append(
            Entry(
                key=match.group("key").strip(),
                value=match.group("value").strip(),
                line=number,
                arrow=match.group("op") == "=>",
            )
        )
    if in_block:
        raise AsteriskConfError(f"{source}: unterminated ';--' block comment")
    return conf


def _inherit(conf: ConfFile, section: Section, source: str) -> None:
    for parent_name in section.parents:
        # Asterisk inherits from the most recent section of that name above this one.
        parents = conf.named(parent_name)
        if not parents:
            raise AsteriskConfError(
                f"{source}:{section.line}: [{section.name}] inherits from unknown "
                f"template [{parent_name}]"
            )
        section.entries.extend(parents[-1].entries)


def load_conf(path: Path) -> ConfFile:
    return parse_conf(path.read_text(encoding="utf-8"), source=str(path))


# --- extensions.conf ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One dialplan priority: ``exten => 6000,n(fallback),Queue(hotline-fallback)``."""

    context: str
    extension: str
    priority: int
    label: str | None
    app: str
    args: str
    line: int


@dataclass
class Extension:
    context: str
    name: str
    steps: list[Step] = field(default_factory=list)

    def apps(self) -> list[str]:
        return [step.app for step in self.steps]

    def label_index(self, label: str) -> int:
        """Index in ``steps`` of the step carrying ``label``; KeyError when absent."""
        for index, step in enumerate(self.steps):
            if step.label == label:
                return index
        raise KeyError(f"[{self.context}] {self.name}: no label {label!r}")


_PRIORITY = re.compile(r"^(?P<prio>\d+|n|hint)(?:\((?P<label>[A-Za-z0-9_-]+)\))?$")
_APP = re.compile(r"^(?P<app>[A-Za-z][A-Za-z0-9_]*)\s*(?:\((?P<args>.*)\))?$")


def dialplan(conf: ConfFile) -> dict[str, dict[str, Extension]]:
    """``{context: {extension: Extension}}`` from extensions.conf's ``exten``/``same`` lines.

    Only the forms the samples use are accepted: numeric or ``n`` priorities with an
    optional ``(label)``, ``same => n,...`` continuing the previous extension, and
    ``hint`` lines (skipped). Anything else raises ``AsteriskConfError``.
    """
    contexts: dict[str, dict[str, Extension]] = {}
    for section in conf.sections:
        if section.name in ("general", "globals"):
            continue
        extensions = contexts.setdefault(section.name, {})
        last: Extension | None = None
        for entry in section.entries:
            if entry.key not in ("exten", "same"):
                continue
            where = f"{conf.source}:{entry.line}"
            if entry.key == "exten":
                name, _, rest = entry.value.partition(",")
                name = name.strip()
                if not rest:
                    raise AsteriskConfError(f"{where}: exten line needs a priority")
                last = extensions.setdefault(name, Extension(section.name, name))
            else:
                if last is None:
                    raise AsteriskConfError(f"{where}: 'same' with no extension before it")
                rest = entry.value
            prio_text, _, app_text = rest.partition(",")
            prio = _PRIORITY.match(prio_text.strip())
            if not prio:
                raise AsteriskConfError(f"{where}: bad priority {prio_text.strip()!r}")
            if prio.group("prio") == "hint":
                continue
            app = _APP.match(app_text.strip())
            if not app:
                raise AsteriskConfError(f"{where}: bad application call {app_text.strip()!r}")
            if prio.group("prio") == "n":
                if not last.steps:
                    raise AsteriskConfError(f"{where}: priority 'n' before priority 1")
                number = last.steps[-1].priority + 1
            else:
                number = int(prio.group("prio"))
            last.steps.append(
                Step(
                    context=section.name,
                    extension=last.name,
                    priority=number,
                    label=prio.group("label"),
                    app=app.group("app"),
                    args=app.group("args") or "",
                    line=entry.line,
                )
            )
    return contexts


def goto_if_targets(args: str) -> tuple[str, str, str]:
    """Split ``GotoIf`` arguments into (condition, target if true, target if false)."""
    condition, _, targets = args.rpartition("?")
    if_true, _, if_false = targets.partition(":")
    return condition.strip(), if_true.strip(), if_false.strip()


# --- commented-out samples ----------------------------------------------------------

# A setting or section header commented out for the operator to enable: ";" directly
# before it (";[trunk]", ";type = endpoint"). Prose comments have a space after the ";".
_COMMENTED_SETTING = re.compile(r"^;(?=\[[^\]]+\]|[A-Za-z0-9_.-]+\s*=)")


def uncomment(text: str) -> str:
    """``text`` with every commented-out setting and section header made live: the ``;``
    that starts ``;[name]`` or ``;key = value`` removed, everything else left alone."""
    return "\n".join(_COMMENTED_SETTING.sub("", line) for line in text.splitlines()) + "\n"


# --- musiconhold.conf ---------------------------------------------------------------


@dataclass(frozen=True)
class MohClass:
    """One music-on-hold class of musiconhold.conf."""

    name: str
    mode: str
    directory: str | None
    line: int

    def folder(self, data_dir: Path) -> Path:
        """Where Asterisk reads the class's files: a relative ``directory`` is taken from
        its data directory (``astdatadir``: /var/lib/asterisk, Debian /usr/share/asterisk)."""
        if self.directory is None:
            raise AsteriskConfError(f"[{self.name}] (line {self.line}) names no directory")
        path = Path(self.directory)
        return path if path.is_absolute() else data_dir / path

    def files(self, data_dir: Path) -> list[Path]:
        """The sound files of a ``mode = files`` class, found the way res_musiconhold scans
        the folder: regular files (symlinks followed) whose name has an extension, is at
        least four characters long and does not start with a dot; sorted by name. [] when
        the folder does not exist (Asterisk then refuses the class)."""
        folder = self.folder(data_dir)
        if not folder.is_dir():
            return []
        return sorted(
            path
            for path in folder.iterdir()
            if len(path.name) >= 4
            and not path.name.startswith(".")
            and "." in path.name
            and path.is_file()
        )


def moh_classes(conf: ConfFile) -> dict[str, MohClass]:
    """musiconhold.conf's classes by name (every section but ``[general]``).

    Raises AsteriskConfError, naming the line, for what Asterisk would refuse to load: a
    class without ``mode``, a ``mode = files`` class without ``directory``, a class twice.
    """
    classes: dict[str, MohClass] = {}
    for section in conf.sections:
        if section.name == "general" or section.is_template:
            continue
        where = f"{conf.source}:{section.line}"
        if section.name in classes:
            raise AsteriskConfError(f"{where}: music on hold class [{section.name}] twice")
        mode = section.get("mode")
        if mode is None:
            raise AsteriskConfError(f"{where}: [{section.name}] has no mode")
        directory = section.get("directory")
        if mode == "files" and not directory:
            raise AsteriskConfError(f"{where}: [{section.name}] mode = files needs a directory")
        classes[section.name] = MohClass(section.name, mode, directory, section.line)
    return classes
