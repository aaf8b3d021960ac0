"""The Prometheus registry and its text format (0.0.4), checked against the format's
grammar line by line, as a scraper reads it."""

from __future__ import annotations

import math
import re
import threading

import pytest

from monitoring.metrics import (
    CONTENT_TYPE,
    Counter,
    Family,
    Gauge,
    Histogram,
    Registry,
    family,
    render,
)

# The exposition format 0.0.4: comments, and samples "name{labels} value".
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(
    rf"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{(?P<labels>{_LABEL}(?:,{_LABEL})*)?\}})? "
    r"(?P<value>[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$"
)
_COMMENT = re.compile(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$")


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition; fails on any line a scraper would reject."""
    assert text.endswith("\n")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        comment = _COMMENT.match(line)
        if comment:
            if comment.group(1) == "TYPE":
                assert comment.group(2) not in types, f"TYPE twice for {comment.group(2)}"
                assert comment.group(3) in ("counter", "gauge", "histogram", "summary", "untyped")
                types[comment.group(2)] = comment.group(3)
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a valid sample line: {line!r}"
        labels = tuple(
            (k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
            for k, v in re.findall(
                r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m["labels"] or ""
            )
        )
        key = (m["name"], labels)
        assert key not in samples, f"sample twice: {key}"
        raw = m["value"]
        samples[key] = float(raw.replace("Inf", "inf"))
        base = re.sub(r"_(bucket|sum|count)$", "", m["name"])
        assert m["name"] in types or base in types, f"sample {m['name']} without TYPE"
    return samples


def test_content_type_is_the_text_format_version_scrapers_expect() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_counter_renders_help_type_and_labelled_samples() -> None:
    reg = Registry()
    calls = reg.counter("hotline_test_calls_total", "Calls\nhandled \\ here", ("queue",))
    calls.inc(queue="sales")
    calls.inc(2, queue="sales")
    calls.inc(queue='say "hi"\n')
    text = reg.render()
    assert "# HELP hotline_test_calls_total Calls\\nhandled \\\\ here\n" in text
    assert "# TYPE hotline_test_calls_total counter\n" in text
    assert 'hotline_test_calls_total{queue="sales"} 3\n' in text
    samples = parse(text)
    assert samples[("hotline_test_calls_total", (("queue", 'say "hi"\n'),))] == 1


def test_counter_only_goes_up_and_is_named_total() -> None:
    counter = Counter("x_total", "x")
    with pytest.raises(ValueError):
        counter.inc(-1)
    with pytest.raises(ValueError):
        Counter("x", "a counter without _total")
    with pytest.raises(ValueError):
        Counter("x_total", "bad label", ("le",))
    with pytest.raises(ValueError):
        Counter("1x_total", "bad name")
    with pytest.raises(ValueError):
        counter.inc(queue="unexpected label")


def test_gauge_goes_both_ways() -> None:
    g = Gauge("hotline_test_level", "level")
    g.set(5)
    g.inc(2)
    g.dec(4.5)
    assert g.value() == 2.5
    assert parse(render([g.collect()]))[("hotline_test_level", ())] == 2.5


def test_histogram_buckets_are_cumulative_with_le_inclusive_bounds() -> None:
    h = Histogram("hotline_test_seconds", "latency", (0.01, 0.1, 1.0))
    for value in (0.005, 0.01, 0.05, 0.1, 0.5, 3.0):
        h.observe(value)
    samples = parse(render([h.collect()]))

    def bucket(le: str) -> float:
        return samples[("hotline_test_seconds_bucket", (("le", le),))]

    # A value equal to a bound is counted in that bound's bucket ("less or equal").
    assert bucket("0.01") == 2
    assert bucket("0.1") == 4
    assert bucket("1") == 5
    assert bucket("+Inf") == 6
    assert samples[("hotline_test_seconds_count", ())] == 6
    assert samples[("hotline_test_seconds_sum", ())] == pytest.approx(3.665)
    assert h.count() == 6


def test_histogram_with_labels_and_bad_buckets() -> None:
    h = Histogram("hotline_test_h", "h", (1.0, 2.0), ("kind",))
    h.observe(1.5, kind="a")
    samples = parse(render([h.collect()]))
    assert samples[("hotline_test_h_bucket", (("kind", "a"), ("le", "1")))] == 0
    assert samples[("hotline_test_h_bucket", (("kind", "a"), ("le", "2")))] == 1
    with pytest.raises(ValueError):
        Histogram("hotline_test_bad", "b", (2.0, 1.0))
    with pytest.raises(ValueError):
        Histogram("hotline_test_bad", "b", ())


def test_values_are_formatted_as_prometheus_numbers() -> None:
    fam = family(
        "hotline_test_values",
        "gauge",
        "values",
        {("int",): 3.0, ("float",): 0.25, ("inf",): math.inf, ("nan",): math.nan},
        ("v",),
    )
    text = render([fam])
    assert 'hotline_test_values{v="int"} 3\n' in text
    assert 'hotline_test_values{v="float"} 0.25\n' in text
    assert 'hotline_test_values{v="inf"} +Inf\n' in text
    assert 'hotline_test_values{v="nan"} NaN\n' in text
    parse(text)


def test_a_failing_collector_is_left_out_and_the_rest_still_render(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reg = Registry()
    reg.gauge("hotline_test_up", "up").set(1)

    def broken() -> list[Family]:
        raise ConnectionError("database down")

    reg.add_collector(broken)
    reg.add_collector(lambda: [family("hotline_test_other", "gauge", "other", 7)])
    samples = parse(reg.render())
    assert samples[("hotline_test_up", ())] == 1
    assert samples[("hotline_test_other", ())] == 7
    assert "database down" in caplog.text


def test_a_name_is_registered_once_and_rendered_once() -> None:
    reg = Registry()
    reg.gauge("hotline_test_dup", "first")
    with pytest.raises(ValueError):
        reg.gauge("hotline_test_dup", "second")
    reg.add_collector(lambda: [family("hotline_test_dup", "gauge", "from a collector", 9)])
    samples = parse(reg.render())
    assert samples[("hotline_test_dup", ())] == 0


def test_counts_from_many_threads_are_exact() -> None:
    reg = Registry()
    counter = reg.counter("hotline_test_threads_total", "t")
    hist = reg.histogram("hotline_test_threads_seconds", "t", (0.5,))

    def work() -> None:
        for _ in range(5000):
            counter.inc()
            hist.observe(0.1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples = parse(reg.render())
    assert samples[("hotline_test_threads_total", ())] == 40000
    assert samples[("hotline_test_threads_seconds_count", ())] == 40000
