"""Verdicts a referee can trust: claims declared before the run, judged against seed noise, in three states.

A chapter declares its checks as :class:`Claim` objects in one cell before its experiment runs
(:func:`declare` records each threshold and shows them as a "What would count" box). After the run,
:func:`judge` takes the claim's statistic measured once per seed (or per independent repetition) and
returns a :class:`Verdict`:

* ``reproduced`` — the whole confidence interval of the mean (95 %, Student t over the repetitions) lies
  on the claimed side of the threshold: the effect is clear of the seed-to-seed noise;
* ``partly reproduced`` — the mean is on the claimed side but the interval reaches across the threshold
  (the effect is inside the noise), or, for a claim of several parts (:func:`combine`), some parts hold;
* ``not reproduced`` — the mean is on the wrong side (or nothing could be measured).

Nothing here raises for a scientific outcome: a verdict is data. Every verdict is recorded
(:func:`wedges_lib.results.record`) as ``{name}_verdict`` (the state), ``{name}_badge`` (the state with an
icon), ``{name}_mean``, ``{name}_lo``, ``{name}_hi``, ``{name}_n`` and ``{name}_summary`` (the number, its
interval, the scale and the number of seeds, in words), so the prose and the book's intro glue them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from .results import record
from .validation import check_arg

STATES = ("reproduced", "partly reproduced", "not reproduced")
ICONS = {"reproduced": "✔", "partly reproduced": "◐", "not reproduced": "✘"}
LEVEL = 0.95  # the confidence level of every interval


@dataclass(frozen=True)
class Claim:
    """One check, declared before the experiment: the claim holds when ``statistic`` is ``holds_if`` ('>' or
    '<') ``threshold``, judged on its value per seed.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """

    name: str
    hypothesis: str
    statistic: str
    holds_if: str
    threshold: float

    def __post_init__(self):
        check_arg("holds_if", self.holds_if, self.holds_if in (">", "<"), "'>' or '<'")
        check_arg("threshold", self.threshold, isinstance(self.threshold, (int, float))
                  and math.isfinite(self.threshold), "a finite number")

    @property
    def rule(self) -> str:
        """The decision rule, in words."""
        return f"{self.statistic} {self.holds_if} {self.threshold:g}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a claim: its state, the mean of the statistic and its interval over ``n`` repetitions.

    Used in :ref:`ch-benchmarks` (and returned by :func:`judge` everywhere).
    """

    name: str
    state: str
    mean: float
    lo: float
    hi: float
    n: int
    reason: str
    summary: str = ""

    @property
    def badge(self) -> str:
        """The state with its icon, e.g. '✔ reproduced'."""
        return f"{ICONS[self.state]} {self.state}"


def declare(*claims: Claim) -> dict[str, Claim]:
    """A chapter's checks, declared in one place before its experiment: each threshold is recorded (glued as
    ``{name}_threshold``) and the claims are returned by name. Show them with :func:`what_would_count`.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    names = [c.name for c in claims]
    check_arg("claims", names, len(set(names)) == len(names), "claims with distinct names")
    for c in claims:
        record(f"{c.name}_threshold", c.threshold)
    return {c.name: c for c in claims}


def what_would_count(claims: dict[str, Claim] | Iterable[Claim], unit: str = "seed"):
    """The declared checks as a MyST "What would count" admonition (an IPython Markdown object); ``unit`` names
    one repetition (a seed, a pair, a set, ...).

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    from IPython.display import Markdown

    items = claims.values() if isinstance(claims, dict) else claims
    rows = "\n".join(f"| `{c.name}` | {c.hypothesis} | {c.statistic} | {c.holds_if} {c.threshold:g} |"
                     for c in items)
    return Markdown(f""":::{{admonition}} What would count
:class: tip
Declared before the experiment runs. Each statistic is measured once per {unit}; a check is **reproduced**
when the whole {LEVEL:.0%} interval of its mean lies beyond the threshold, **partly reproduced** when only
the mean does (the effect is inside the seed noise), **not reproduced** otherwise.

| check | hypothesis | statistic (per {unit}) | holds if |
|---|---|---|---|
{rows}
:::
""")


def interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float, int]:
    """Mean of the finite ``values`` and its Student-t confidence interval: (mean, lo, hi, n).

    One value gives an unbounded interval (no estimate of the noise); no finite value gives NaNs.

    >>> m, lo, hi, n = interval([1.0, 2.0, 3.0])
    >>> (m, round(lo, 3), round(hi, 3), n)
    (2.0, -0.484, 4.484, 3)
    """
    from scipy import stats

    v = [float(x) for x in values if math.isfinite(float(x))]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = sum(v) / n
    if n == 1:
        return mean, -math.inf, math.inf, 1
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, n


def interval_text(values, digits: int = 3, missing: str = "n/a") -> str:
    """'mean [lo, hi]' of the finite ``values`` (a sequence or a tensor) over their :func:`interval`; the mean
    alone for one value, ``missing`` for none. The one way the book writes a mean and its interval.

    >>> interval_text([1.0, 2.0, 3.0, float("nan")])
    '2 [-0.484, 4.48]'

    Used in :ref:`ch-hyperparameters`.
    """
    values = values.flatten().tolist() if hasattr(values, "flatten") else values
    mean, lo, hi, n = interval([float(v) for v in values])
    return missing if n == 0 else f"{mean:.{digits}g}" + (f" [{lo:.{digits}g}, {hi:.{digits}g}]" if n > 1 else "")


def _state(claim: Claim, mean: float, lo: float, hi: float) -> str:
    if not math.isfinite(mean):
        return "not reproduced"
    above = claim.holds_if == ">"
    side = mean > claim.threshold if above else mean < claim.threshold
    clear = lo > claim.threshold if above else hi < claim.threshold
    return "reproduced" if clear else ("partly reproduced" if side else "not reproduced")


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else ("∞" if x > 0 else "−∞" if x < 0 else "n/a")


def _record(v: Verdict) -> Verdict:
    for key, value in dict(verdict=v.state, badge=v.badge, mean=v.mean, lo=v.lo, hi=v.hi, n=v.n,
                           summary=v.summary).items():
        record(f"{v.name}_{key}", value)
    print(f"check {v.name}: {v.state} — {v.reason}")
    return v


def judge(claim: Claim, values: Sequence[float], scale: str, *, unit: str = "seeds") -> Verdict:
    """The verdict of ``claim`` from its statistic measured once per seed (``values``), recorded; never raises.

    ``scale`` and ``unit`` (what one value is: 'seeds', 'pairs', ...) go into the recorded summary.
    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.

    >>> c = Claim("demo", "the effect is positive", "effect", ">", 0.0)
    >>> judge(c, [1.0, 1.1, 0.9], "smoke").state
    check demo: reproduced — effect = 1 [0.752, 1.25] over 3 seeds (95% interval); holds if > 0
    'reproduced'
    """
    values = list(values)
    mean, lo, hi, n = interval(values)
    state = _state(claim, mean, lo, hi)
    dropped = len(values) - n
    reason = (f"{claim.statistic} = {_fmt(mean)} [{_fmt(lo)}, {_fmt(hi)}] over {n} {unit} "
              f"({LEVEL:.0%} interval){f', {dropped} not measured' if dropped else ''}; "
              f"holds if {claim.holds_if} {claim.threshold:g}")
    summary = f"{_fmt(mean)} [{_fmt(lo)}, {_fmt(hi)}] ({scale}, {n} {unit})"
    return _record(Verdict(claim.name, state, mean, lo, hi, n, reason, summary))


def combine(name: str, parts: Sequence[Verdict]) -> Verdict:
    """A claim of several parts: reproduced when every part is, not reproduced when none is even partly,
    partly reproduced otherwise. Recorded like a part; its summary lists each part's numbers (or, for a part
    that is itself combined, its state) and icon.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles` and :ref:`ch-benchmarks`.
    """
    check_arg("parts", len(parts), len(parts) >= 1, "at least one part")
    states = [p.state for p in parts]
    if all(s == "reproduced" for s in states):
        state = "reproduced"
    elif all(s == "not reproduced" for s in states):
        state = "not reproduced"
    else:
        state = "partly reproduced"
    reason = "; ".join(f"{p.name}: {p.state}" for p in parts)
    short = [p.name.removeprefix(name + "_") for p in parts]
    summary = "; ".join(f"{s}: {p.summary} {ICONS[p.state]}" if math.isfinite(p.mean) else f"{s}: {p.badge}"
                        for s, p in zip(short, parts))
    return _record(Verdict(name, state, math.nan, math.nan, math.nan, len(parts), reason, summary))
