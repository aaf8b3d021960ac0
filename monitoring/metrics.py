"""A small Prometheus registry: counters, gauges, fixed-bucket histograms, and collectors
read at scrape time, rendered in the text exposition format 0.0.4.

Our own rather than ``prometheus_client``: a few dozen lines cover what the hotline
exports, with no process-global default registry (tests and several nodes in one process
each keep their own) and no new dependency.

Two ways to feed a registry:

* metric objects (``Counter``, ``Gauge``, ``Histogram``) updated where things happen;
* collectors, functions called at each scrape that return ``Family`` values built from
  counters the code keeps anyway (the record writer's ``applied``) or from the database
  (queue lengths). A collector that fails is logged and left out of that scrape, so one
  unreachable source never hides the rest.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Kind = Literal["counter", "gauge", "histogram"]
LabelValues = tuple[str, ...]

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True, slots=True)
class Family:
    """One metric as exposed: its name, type, help text and samples."""

    name: str
    kind: Kind
    help: str
    samples: tuple[Sample, ...]


Collector = Callable[[], Iterable[Family]]


def _check_names(name: str, labelnames: Sequence[str]) -> None:
    if not _NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    for label in labelnames:
        if not _LABEL.match(label) or label.startswith("__") or label == "le":
            raise ValueError(f"invalid label name {label!r} for {name}")


def family(
    name: str,
    kind: Literal["counter", "gauge"],
    help: str,
    values: float | Mapping[LabelValues, float],
    labelnames: Sequence[str] = (),
) -> Family:
    """A counter or gauge family from plain values: one number, or one per label tuple."""
    _check_names(name, labelnames)
    if isinstance(values, int | float):
        if labelnames:
            raise ValueError(f"{name}: labelled metric needs a value per label tuple")
        return Family(name, kind, help, (Sample(name, (), float(values)),))
    samples = []
    for label_values, value in sorted(values.items()):
        if len(label_values) != len(labelnames):
            raise ValueError(f"{name}: expected labels {tuple(labelnames)}, got {label_values}")
        samples.append(Sample(name, tuple(zip(labelnames, label_values, strict=True)), value))
    return Family(name, kind, help, tuple(samples))


class _Metric:
    kind: Kind

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        _check_names(name, labelnames)
        if self.kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(
                f"{self.name}: expected labels {self.labelnames}, got {sorted(labels)}"
            )
        return tuple(str(labels[n]) for n in self.labelnames)

    def _labels(self, key: LabelValues) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self.labelnames, key, strict=True))

    def collect(self) -> Family:
        raise NotImplementedError


class Counter(_Metric):
    """Only goes up (until the process restarts; Prometheus' rate() copes with that)."""

    kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[LabelValues, float] = {} if labelnames else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def collect(self) -> Family:
        with self._lock:
            items = sorted(self._values.items())
        samples = tuple(Sample(self.name, self._labels(k), v) for k, v in items)
        return Family(self.name, self.kind, self.help, samples)


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[LabelValues, float] = {} if labelnames else {(): 0.0}

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def collect(self) -> Family:
        with self._lock:
            items = sorted(self._values.items())
        samples = tuple(Sample(self.name, self._labels(k), v) for k, v in items)
        return Family(self.name, self.kind, self.help, samples)


class Histogram(_Metric):
    """Observations counted into fixed, ascending upper bounds (``le``), plus +Inf."""

    kind = "histogram"

    def __init__(
        self, name: str, help: str, buckets: Sequence[float], labelnames: Sequence[str] = ()
    ) -> None:
        super().__init__(name, help, labelnames)
        bounds = [float(b) for b in buckets if not math.isinf(b)]
        if not bounds or bounds != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be ascending and distinct")
        self.buckets = tuple(bounds)
        # Per label tuple: per-bucket (not cumulative) counts with +Inf last, and the sum.
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}
        if not labelnames:
            self._counts[()] = [0] * (len(bounds) + 1)
            self._sums[()] = 0.0

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels) if labels or self.labelnames else ()
        # bisect_left: a value equal to a bound belongs to that bucket (le = "≤").
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = [0] * (len(self.buckets) + 1)
                self._sums[key] = 0.0
            counts[index] += 1
            self._sums[key] += value

    def count(self, **labels: str) -> int:
        key = self._key(labels) if labels or self.labelnames else ()
        with self._lock:
            return sum(self._counts.get(key, ()))

    def collect(self) -> Family:
        with self._lock:
            items = sorted((k, list(c), self._sums[k]) for k, c in self._counts.items())
        samples: list[Sample] = []
        for key, counts, total in items:
            labels = self._labels(key)
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = (("le", _number(bound)),)
                samples.append(Sample(f"{self.name}_bucket", labels + le, running))
            samples.append(Sample(f"{self.name}_sum", labels, total))
            samples.append(Sample(f"{self.name}_count", labels, running))
        return Family(self.name, self.kind, self.help, tuple(samples))


class Registry:
    def __init__(self) -> None:
        self._metrics: list[_Metric] = []
        self._collectors: list[Collector] = []
        self._lock = threading.Lock()

    def register(self, metric: _Metric) -> None:
        with self._lock:
            if any(m.name == metric.name for m in self._metrics):
                raise ValueError(f"metric {metric.name} registered twice")
            self._metrics.append(metric)

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help, labelnames)
        self.register(metric)
        return metric

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Gauge:
        metric = Gauge(name, help, labelnames)
        self.register(metric)
        return metric

    def histogram(
        self, name: str, help: str, buckets: Sequence[float], labelnames: Sequence[str] = ()
    ) -> Histogram:
        metric = Histogram(name, help, buckets, labelnames)
        self.register(metric)
        return metric

    def add_collector(self, collector: Collector) -> None:
        with self._lock:
            self._collectors.append(collector)

    def collect(self) -> list[Family]:
        """Every family, metrics first; a name already seen is dropped (and logged)."""
        with self._lock:
            metrics, collectors = list(self._metrics), list(self._collectors)
        families = [m.collect() for m in metrics]
        for collector in collectors:
            try:
                families.extend(collector())
            except Exception as exc:  # one failing source must not blank the page
                log.warning("metrics collector %s failed: %s", _name_of(collector), exc)
        seen: set[str] = set()
        unique = []
        for fam in families:
            if fam.name in seen:
                log.warning("metric %s reported twice; keeping the first", fam.name)
                continue
            seen.add(fam.name)
            unique.append(fam)
        return unique

    def render(self) -> str:
        return render(self.collect())


def render(families: Iterable[Family]) -> str:
    """The text exposition format 0.0.4."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for s in fam.samples:
            if s.labels:
                inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in s.labels)
                lines.append(f"{s.name}{{{inner}}} {_number(s.value)}")
            else:
                lines.append(f"{s.name} {_number(s.value)}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _name_of(collector: Collector) -> str:
    return getattr(collector, "__qualname__", None) or repr(collector)
