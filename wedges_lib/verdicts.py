"""Verdicts a referee can sign: checks declared before the run, judged against seed noise, in four states.

A chapter's checks are declared in the book's protocol (:mod:`wedges_lib.protocol`) before its experiment runs,
each a :class:`Claim` with a *kind*: ``primary`` (tests the paper's statement; only primary checks make a claim's
headline), ``control`` (tells how to read a primary one), ``toy`` (supports the model, never lifts a network
claim) or ``sanity`` (fixed by construction, or cannot plausibly fail: it guards the code). After the run,
:func:`judge` takes the check's statistic measured once per seed (or per independent repetition) and returns
a :class:`Verdict` in one of four states, from the 95 % Student-t interval of the mean:

* ``reproduced`` ✔ — the whole interval lies on the claimed side of the threshold;
* ``inconclusive`` ◐ — the interval crosses the threshold, the mean on the claimed side;
* ``not reproduced`` ✘ — the interval crosses the threshold, the mean on the other side (or nothing measured);
* ``contradicted`` ✖ — the whole interval lies on the other side: the data say the opposite.

A claim of several parts (:func:`combine`) takes the *least favourable* of its parts after Holm's correction
over them (each part's one-sided p-values, for "holds" and for "fails", adjusted step-down over the k parts), and
its summary counts the parts by state. Values that could not be measured are never dropped silently: the
summary says "n of N measured", and a value replaced by a bound (a threshold dimension never reached: the
largest dimension tried) is counted as censored.

Nothing here raises for a scientific outcome: a verdict is data. Every verdict is recorded
(:func:`wedges_lib.results.record`) as ``{name}_verdict`` (the state), ``{name}_badge`` (the state with its
icon), ``{name}_kind``, ``{name}_mean``, ``{name}_lo``, ``{name}_hi``, ``{name}_n``, ``{name}_margin`` (how far
the decision lies from flipping, as a fraction of the interval's width: :func:`margin`) and
``{name}_summary`` (the number, its interval, the scale and the repetitions, in words), so the prose, the
book's intro and the tests read them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .results import record
from .validation import check_arg

STATES = ("reproduced", "inconclusive", "not reproduced", "contradicted")  # most to least favourable
ICONS = {"reproduced": "✔", "inconclusive": "◐", "not reproduced": "✘", "contradicted": "✖"}
KINDS = ("primary", "control", "toy", "sanity")
LEVEL = 0.95  # the confidence level of every interval
ALPHA = (1 - LEVEL) / 2  # the one-sided level of each decision ("holds", "fails")


@dataclass(frozen=True)
class Claim:
    """One check, declared before the experiment: it holds when ``statistic`` is ``holds_if`` ('>' or '<')
    ``threshold``, judged on its value per seed. ``kind`` is one of ``KINDS``; ``claim`` names the headline
    it belongs to (a primary check counts towards that headline).

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """

    name: str
    hypothesis: str
    statistic: str
    holds_if: str
    threshold: float
    kind: str = "primary"
    claim: str = ""

    def __post_init__(self):
        check_arg("holds_if", self.holds_if, self.holds_if in (">", "<"), "'>' or '<'")
        check_arg("threshold", self.threshold, isinstance(self.threshold, (int, float))
                  and math.isfinite(self.threshold), "a finite number")
        check_arg("kind", self.kind, self.kind in KINDS, f"one of {KINDS}")

    @property
    def rule(self) -> str:
        """The decision rule, in words."""
        return f"{self.statistic} {self.holds_if} {self.threshold:g}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: its state, the mean of the statistic and its interval over ``n`` repetitions (of
    ``n_total`` run), its kind, its one-sided p-values (``p_holds``: the claim's side; ``p_fails``: the other)
    and, for a claim of several parts, the parts (:func:`combine`).

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
    kind: str = "primary"
    threshold: float = math.nan
    holds_if: str = ">"
    p_holds: float = math.nan
    p_fails: float = math.nan
    parts: tuple = field(default=(), repr=False)

    @property
    def badge(self) -> str:
        """The state with its icon, e.g. '✔ reproduced'."""
        return f"{ICONS[self.state]} {self.state}"


def declare(*claims: Claim) -> dict[str, Claim]:
    """Checks declared before the experiment: each threshold is recorded (glued as ``{name}_threshold``) and the
    claims are returned by name. The book's chapters declare through :func:`wedges_lib.protocol.declare`.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    names = [c.name for c in claims]
    check_arg("claims", names, len(set(names)) == len(names), "claims with distinct names")
    for c in claims:
        record(f"{c.name}_threshold", c.threshold)
    return {c.name: c for c in claims}


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, no line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def what_would_count(claims: dict[str, Claim] | Iterable[Claim], unit: str = "seed"):
    """The declared checks as a MyST "What would count" admonition (an IPython Markdown object), grouped by kind;
    ``unit`` names one repetition (a seed, a pair, a set, ...).

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    from IPython.display import Markdown

    items = sorted(claims.values() if isinstance(claims, dict) else claims, key=lambda c: KINDS.index(c.kind))
    rows = "\n".join(f"| `{c.name}` | {c.kind} | {_cell(c.hypothesis)} | {_cell(c.statistic)} | "
                     f"{'&gt;' if c.holds_if == '>' else '&lt;'} {c.threshold:g} |" for c in items)
    return Markdown(f""":::{{admonition}} What would count
:class: tip
Declared before the experiment runs. Each statistic is measured once per {unit}. **✔ reproduced**: the whole
{LEVEL:.0%} interval of its mean lies beyond the threshold; **◐ inconclusive**: the interval crosses it, the mean
on the claimed side; **✘ not reproduced**: the mean on the other side; **✖ contradicted**: the whole interval on the
other side. Only *primary* checks make a claim's headline (the least favourable after Holm's correction over
them); *control* checks tell how to read them, *toy* checks support the model, *sanity* checks guard the code.

| check | kind | hypothesis | statistic (per {unit}) | holds if |
|---|---|---|---|---|
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


def p_values(values: Sequence[float], holds_if: str, threshold: float) -> tuple[float, float]:
    """One-sided p-values of the finite ``values``' mean against ``threshold`` (Student t, n − 1 degrees of
    freedom): (p that the claim does not hold, p that it does not fail). Small ``p_holds``: the mean is clearly on
    the claimed side. No noise estimate (n < 2) gives 1 for both; zero spread gives 0 for the side the mean is on.

    >>> [round(p, 4) for p in p_values([1.0, 1.1, 0.9], ">", 0.0)]
    [0.0017, 0.9983]
    """
    from scipy import stats

    v = [float(x) for x in values if math.isfinite(float(x))]
    n = len(v)
    if n < 2:
        return 1.0, 1.0
    mean = sum(v) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    sign = 1.0 if holds_if == ">" else -1.0
    if sd == 0:
        d = sign * (mean - threshold)
        return (0.0 if d > 0 else 1.0), (0.0 if d < 0 else 1.0)
    t = sign * (mean - threshold) / (sd / math.sqrt(n))
    return float(stats.t.sf(t, n - 1)), float(stats.t.cdf(t, n - 1))


def _state(holds_if: str, threshold: float, mean: float, lo: float, hi: float) -> str:
    if not math.isfinite(mean):
        return "not reproduced"
    above = holds_if == ">"
    side = mean > threshold if above else mean < threshold
    clear = lo > threshold if above else hi < threshold
    wrong = hi < threshold if above else lo > threshold
    return ("reproduced" if clear else "contradicted" if wrong else
            "inconclusive" if side else "not reproduced")


def margin(threshold: float, mean: float, lo: float, hi: float) -> float:
    """How far a verdict lies from flipping to a neighbouring state: the smallest distance of the interval's ends
    and its mean from ``threshold``, as a fraction of the interval's width (inf for an exact or unbounded
    interval off the threshold; NaN when nothing was measured). The tests call a verdict with a small margin
    *fragile*: CPU kernels alone can move it across.

    >>> margin(0.0, 1.0, 0.5, 1.5)
    0.5
    """
    if not math.isfinite(mean):
        return math.nan
    ends = [x for x in (lo, mean, hi) if math.isfinite(x)]
    nearest = min(abs(x - threshold) for x in ends)
    width = hi - lo
    if not math.isfinite(width) or width <= 0:
        return 0.0 if nearest == 0 else math.inf
    return nearest / width


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else ("∞" if x > 0 else "−∞" if x < 0 else "n/a")


def _record(v: Verdict, margin_: float) -> Verdict:
    for key, value in dict(verdict=v.state, badge=v.badge, kind=v.kind, mean=v.mean, lo=v.lo, hi=v.hi, n=v.n,
                           margin=margin_, summary=v.summary).items():
        record(f"{v.name}_{key}", value)
    print(f"check {v.name}: {v.state} — {v.reason}")
    return v


def judge(claim: Claim, values: Sequence[float], scale: str, *, unit: str = "seeds",
          censored: int = 0) -> Verdict:
    """The verdict of ``claim`` from its statistic measured once per seed (``values``; NaN: not measured),
    recorded; never raises. ``censored`` says how many of the values are bounds standing in for a value that
    could not be reached (e.g. the largest dimension tried); the summary says so.

    ``scale`` and ``unit`` (what one value is: 'seeds', 'pairs', ...) go into the recorded summary.
    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets` and :ref:`ch-ensembles`.

    >>> c = Claim("demo", "the effect is positive", "effect", ">", 0.0)
    >>> judge(c, [1.0, 1.1, 0.9], "smoke").state
    check demo: reproduced — effect = 1 [0.752, 1.25] over 3 of 3 seeds (95% interval); holds if > 0
    'reproduced'
    """
    values = [float(x) for x in values]
    mean, lo, hi, n = interval(values)
    state = _state(claim.holds_if, claim.threshold, mean, lo, hi)
    p_holds, p_fails = p_values(values, claim.holds_if, claim.threshold)
    count = f"{n} of {len(values)} {unit}" + (f", {censored} censored at a bound" if censored else "")
    reason = (f"{claim.statistic} = {_fmt(mean)} [{_fmt(lo)}, {_fmt(hi)}] over {count} "
              f"({LEVEL:.0%} interval); holds if {claim.holds_if} {claim.threshold:g}")
    measured = f"{n} {unit}" if n == len(values) else f"{n} of {len(values)} {unit} measured"
    summary = (f"{_fmt(mean)} [{_fmt(lo)}, {_fmt(hi)}] ({scale}, {measured}"
               f"{f'; {censored} censored' if censored else ''})")
    v = Verdict(claim.name, state, mean, lo, hi, n, reason, summary, claim.kind, claim.threshold, claim.holds_if,
                p_holds, p_fails)
    return _record(v, margin(claim.threshold, mean, lo, hi))


def exact(claim: Claim, value: float, *, label: str = "", why: str = "") -> Verdict:
    """A part measured exactly once, with no noise to judge it against (e.g. a benchmark's agreement with its
    reference): reproduced on the claimed side, contradicted on the other, not reproduced when NaN. Not recorded
    (a part of :func:`combine`). Used in :ref:`ch-benchmarks` and :ref:`ch-your-model`."""
    value = float(value)
    side = (value > claim.threshold) if claim.holds_if == ">" else (value < claim.threshold)
    state = "not reproduced" if not math.isfinite(value) else ("reproduced" if side else "contradicted")
    p = (0.0, 1.0) if side else (1.0, 0.0) if math.isfinite(value) else (1.0, 1.0)
    return Verdict(label or claim.name, state, value, value, value, int(math.isfinite(value)), why or _fmt(value),
                   why or _fmt(value), claim.kind, claim.threshold, claim.holds_if, *p)


def _leaves(parts: Sequence[Verdict]) -> list[Verdict]:
    out = []
    for p in parts:
        out.extend(_leaves(p.parts) if p.parts else [p])
    return out


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (capped at 1), in the order given.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    k = len(p)
    order = sorted(range(k), key=lambda i: p[i])
    out, running = [1.0] * k, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p[i]))
        out[i] = running
    return [round(x, 12) for x in out]


def corrected(parts: Sequence[Verdict]) -> list[tuple[Verdict, str, float]]:
    """Each part's state after Holm's correction over ``parts`` (both one-sided decisions adjusted), with the
    margin of that corrected decision (:func:`margin` on the interval widened to the part's Holm level)."""
    from scipy import stats

    k = len(parts)
    ph, pf = holm([p.p_holds for p in parts]), holm([p.p_fails for p in parts])
    rank = {id(p): r for r, p in enumerate(sorted(parts, key=lambda p: min(p.p_holds, p.p_fails)))}
    out = []
    for p, a, b in zip(parts, ph, pf):
        if p.n == 0 or not math.isfinite(p.mean):
            out.append((p, "not reproduced", math.nan))
            continue
        side = p.mean > p.threshold if p.holds_if == ">" else p.mean < p.threshold
        state = ("reproduced" if a < ALPHA else "contradicted" if b < ALPHA else
                 "inconclusive" if side else "not reproduced")
        lo, hi = p.lo, p.hi
        if p.n > 1 and math.isfinite(p.hi - p.lo) and p.hi > p.lo:  # the interval at the part's Holm level
            level = 1 - 2 * ALPHA / (k - rank[id(p)])
            t95, t = (float(stats.t.ppf(0.5 + q / 2, p.n - 1)) for q in (LEVEL, level))
            half = (p.hi - p.lo) / 2 * t / t95
            lo, hi = p.mean - half, p.mean + half
        out.append((p, state, margin(p.threshold, p.mean, lo, hi)))
    return out


def counts_text(states: Sequence[str], what: str = "parts") -> str:
    """'2 ✔, 1 ◐, 1 ✖ of 4 parts': the parts by state, most favourable first."""
    n = {s: list(states).count(s) for s in STATES}
    what = what.removesuffix("s") if len(states) == 1 else what
    return ", ".join(f"{n[s]} {ICONS[s]}" for s in STATES if n[s]) + f" of {len(states)} {what}"


def combine(name: str, parts: Sequence[Verdict], *, kind: str = "primary", what: str = "parts") -> Verdict:
    """A claim of several parts: the least favourable of its parts' states after Holm's correction over them
    (a part that is itself combined counts with its own parts). Recorded like a part; its summary counts the parts
    by state ("2 ✔, 1 ◐ of 3 parts") and lists each part's numbers and icon. Its margin is the smallest of the
    parts that set its state (those in the least favourable state): only they can move it.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    parts = _leaves(parts)
    check_arg("parts", len(parts), len(parts) >= 1, "at least one part")
    adjusted = corrected(parts)
    states = [s for _, s, _ in adjusted]
    state = max(states, key=STATES.index)
    note = " (Holm-corrected)" if len(parts) > 1 else ""
    reason = "; ".join(f"{p.name}: {s}" for p, s, _ in adjusted)
    short = [p.name.removeprefix(name + "_") for p in parts]
    listed = "; ".join(f"{s}: {p.summary} {ICONS[a]}" for s, (p, a, _) in zip(short, adjusted))
    summary = f"{counts_text(states, what)}{note} — {listed}"
    m = min((x for _, s, x in adjusted if s == state and not math.isnan(x)), default=math.nan)
    v = Verdict(name, state, math.nan, math.nan, math.nan, len(parts), reason, summary, kind, parts=tuple(parts))
    return _record(v, m)
