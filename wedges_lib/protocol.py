"""The book's protocol: every chapter's declared checks, its repetitions, and the history of their changes.

``protocol.yml`` beside this module is the one machine-readable place where each chapter declares, before
its experiment runs, its checks (hypothesis, statistic, direction, threshold, kind — primary / control / toy /
sanity — and the claim each belongs to), the claims that make its headlines, the groups of checks its prose
reads as one row, the knobs whose value at the book's ``cpu`` scale fixes its seeds and repetitions, and its
**deviations**: every change to any of those after they were first declared, with the date, the reason and
the result under the old protocol where one was measured.

A chapter calls :func:`declare` (its checks, as :class:`~wedges_lib.verdicts.Claim` objects, thresholds
recorded), shows :func:`what_would_count` (the declaration and the deviations list), judges each check with
:func:`wedges_lib.verdicts.judge`, and hands the verdicts to :func:`conclude`: the groups, the headlines (each
from its claim's primary checks only, the least favourable after Holm's correction) and the sanity checks apart,
all recorded. ``tests/test_protocol.py`` replays the deviations backwards and compares the result with the frozen
first declaration (``tests/protocol_first_declared.json``): a check, threshold, kind, seed or repetition count
changed without a deviation entry fails the suite.
"""
from __future__ import annotations

import copy
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from . import verdicts
from .results import record
from .validation import check_arg
from .verdicts import Claim, Verdict

PATH = Path(__file__).with_name("protocol.yml")


@lru_cache(maxsize=4)
def _read(path: str) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def load(path: str | Path | None = None) -> dict[str, dict]:
    """The whole protocol, chapter stem -> section (a fresh copy), checked (:func:`problems`)."""
    protocol = copy.deepcopy(_read(str(path or PATH)))
    found = problems(protocol)
    if found:
        raise ValueError(f"{path or PATH}: " + "; ".join(found))
    return protocol


def section(chapter: str, path: str | Path | None = None) -> dict:
    """One chapter's section of the protocol (``chapter`` is its file's stem, e.g. '02_radius_and_subspaces').
    Used in :ref:`ch-ensembles`."""
    protocol = load(path)
    check_arg("chapter", chapter, chapter in protocol, f"one of {sorted(protocol)}")
    return protocol[chapter]


def problems(protocol: Mapping[str, Any]) -> list[str]:
    """What is malformed in ``protocol`` (empty when nothing): unknown kinds or directions, non-finite
    thresholds, checks naming an undeclared claim, groups of unknown or mixed-kind checks, bad deviations."""
    out = []
    for ch, sec in protocol.items():
        for key in ("unit", "knobs", "claims", "groups", "checks", "deviations"):
            if key not in sec:
                out.append(f"{ch}: no '{key}'")
        if out:
            continue
        for name, c in sec["checks"].items():
            if c.get("kind") not in verdicts.KINDS:
                out.append(f"{ch}.{name}: kind {c.get('kind')!r} is not one of {verdicts.KINDS}")
            if c.get("holds_if") not in (">", "<"):
                out.append(f"{ch}.{name}: holds_if {c.get('holds_if')!r} is not '>' or '<'")
            if not isinstance(c.get("threshold"), (int, float)) or not math.isfinite(c["threshold"]):
                out.append(f"{ch}.{name}: threshold {c.get('threshold')!r} is not a finite number")
            if name in sec["claims"] and [n for n, x in sec["checks"].items() if x.get("claim") == name
                                          and x.get("kind") == "primary"] != [name]:
                out.append(f"{ch}.{name}: a check named like a claim must be that claim's only primary check")
            if c.get("claim") not in sec["claims"]:
                out.append(f"{ch}.{name}: claim {c.get('claim')!r} is not one of {sorted(sec['claims'])}")
        for g, parts in sec["groups"].items():
            unknown = [p for p in parts if p not in sec["checks"]]
            kinds = {sec["checks"][p]["kind"] for p in parts if p in sec["checks"]}
            if unknown or len(kinds) > 1:
                out.append(f"{ch}: group {g} has unknown checks {unknown} or mixes kinds {sorted(kinds)}")
        for d in sec["deviations"]:
            for key in ("date", "changes", "reason", "old_result"):
                if key not in d:
                    out.append(f"{ch}: a deviation has no '{key}'")
            for c in d.get("changes", []):
                if set(c) != {"field", "from", "to"}:
                    out.append(f"{ch}: a change needs field, from and to: {c}")
    return out


def declare(chapter: str, path: str | Path | None = None) -> dict[str, Claim]:
    """A chapter's checks from the protocol, declared (thresholds recorded) before its experiment runs.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    checks = section(chapter, path)["checks"]
    return verdicts.declare(*(Claim(name, c["hypothesis"], c["statistic"], c["holds_if"], c["threshold"],
                                    c["kind"], c["claim"]) for name, c in checks.items()))


def _value(x: Any) -> str:
    return "—" if x is None else f"`{x}`"


def deviations_text(chapter: str, path: str | Path | None = None) -> str:
    """The chapter's deviations from its protocol as a MyST admonition (Markdown text)."""
    sec = section(chapter, path)
    if not sec["deviations"]:
        return (":::{admonition} Deviations from the protocol\n:class: note\nNone: every check, threshold, seed "
                "and repetition count is as first declared.\n:::\n")
    items = []
    for d in sec["deviations"]:
        changes = "; ".join(f"`{c['field']}` {_value(c['from'])} → {_value(c['to'])}" for c in d["changes"])
        items.append(f"* **{d['date']}** — {changes + '. ' if changes else ''}{d['reason']} "
                     f"*Under the old protocol:* {d['old_result']}")
    return (":::{admonition} Deviations from the protocol\n:class: warning\nChanges since the checks were first "
            "declared, oldest first (the tests fail on any change without an entry here).\n\n"
            + "\n".join(items) + "\n:::\n")


def what_would_count(chapter: str, claims: Mapping[str, Claim], path: str | Path | None = None):
    """The chapter's "What would count" box (:func:`wedges_lib.verdicts.what_would_count`) followed by its
    "Deviations from the protocol" list, as one Markdown object.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    from IPython.display import Markdown

    sec = section(chapter, path)
    box = verdicts.what_would_count(claims, unit=sec["unit"]).data
    return Markdown(box + "\n" + deviations_text(chapter, path))


def conclude(chapter: str, judged: Mapping[str, Verdict], path: str | Path | None = None) -> dict[str, Verdict]:
    """From a chapter's judged checks: each group (its parts combined), each claim's headline (its primary
    checks only, the least favourable after Holm's correction: :func:`wedges_lib.verdicts.combine`), all recorded,
    and the chapter's tally (``protocol_tally``: checks per kind and state, read by the book's intro). Returns
    the checks, groups and headlines by name; never raises for an outcome.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`,
    :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
    sec = section(chapter, path)
    missing = [n for n in sec["checks"] if n not in judged]
    check_arg("judged", missing, not missing, "a verdict for every declared check")
    out = dict(judged)
    for g, parts in sec["groups"].items():
        kind = sec["checks"][parts[0]]["kind"]
        out[g] = verdicts.combine(g, [judged[p] for p in parts], kind=kind)
    for claim in sec["claims"]:
        primary = [judged[n] for n, c in sec["checks"].items() if c["claim"] == claim and c["kind"] == "primary"]
        if len(primary) == 1 and primary[0].name == claim:  # a claim that is its own single check
            out[claim] = primary[0]
        elif primary:
            out[claim] = verdicts.combine(claim, primary, what="primary parts")
        else:  # a claim with no primary check (the appendices' sanity checks): its checks, by their own kind
            parts = [judged[n] for n, c in sec["checks"].items() if c["claim"] == claim]
            out[claim] = verdicts.combine(claim, parts, kind=parts[0].kind, what=f"{parts[0].kind} checks")
    tally = {k: {s: 0 for s in verdicts.STATES} for k in verdicts.KINDS}
    for n, c in sec["checks"].items():
        tally[c["kind"]][judged[n].state] += 1
    record("protocol_tally", json.dumps(tally))
    return out


def sanity_list(chapter: str, judged: Mapping[str, Verdict], path: str | Path | None = None):
    """The chapter's sanity checks apart from its claims, as Markdown: each with its state and numbers.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-pairs`, :ref:`ch-sets`,
    :ref:`ch-ensembles` and :ref:`ch-your-model`.
    """
    from IPython.display import Markdown

    sec = section(chapter, path)
    rows = [f"* `{n}` ({c['statistic']} {c['holds_if']} {c['threshold']:g}): **{judged[n].badge}** — "
            f"{judged[n].summary}" for n, c in sec["checks"].items() if c["kind"] == "sanity"]
    body = "\n".join(rows) if rows else "None in this chapter."
    return Markdown(":::{admonition} Sanity checks\n:class: note\nFixed by construction, or unable to fail "
                    "plausibly: they guard the code and count for no claim.\n\n" + body.replace("|", "\\|")
                    + "\n:::\n")


OVERVIEW_HEAD = "| {} | chapter | measured: mean [95 % interval] (scale, repetitions) | verdict |\n|---|---|---|---|\n"
OVERVIEW_TABLES = {  # the intro's tables: which rows each holds, and the title of its first column
    "claims": "claim (headline)", "primary": "primary check or group", "others": "check (kind)",
    "sanity": "sanity check"}


def _rows(sec: dict, kinds: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, text, kind) of each group of one of ``kinds`` and each check of those kinds in no group, in the
    section's order."""
    grouped = {p: g for g, parts in sec["groups"].items() for p in parts}
    out, seen = [], set()
    for name, c in sec["checks"].items():
        if c["kind"] not in kinds:
            continue
        row = grouped.get(name, name)
        if row in seen:
            continue
        seen.add(row)
        parts = sec["groups"].get(row, [row])
        out.append((row, "; ".join(sec["checks"][p]["hypothesis"] for p in parts), c["kind"]))
    return out


def overview(which: str, labels: Mapping[str, str], path: str | Path | None = None) -> str:
    """One of the book intro's tables (``OVERVIEW_TABLES``: 'claims' — the headlines —, 'primary', 'others' —
    controls and toy checks — or 'sanity') as MyST Markdown, one row per claim, group or check of the chapters in
    ``labels`` (chapter stem -> its page's label), every number and verdict a cross-document glue reference to
    what the chapter records; nothing in it is typed by hand, so it follows the protocol."""
    check_arg("which", which, which in OVERVIEW_TABLES, f"one of {sorted(OVERVIEW_TABLES)}")
    lines = []
    for chapter, sec in load(path).items():
        if chapter not in labels:
            continue
        if which == "claims":
            rows = [(c, text, "primary") for c, text in sec["claims"].items()
                    if any(x["claim"] == c and x["kind"] == "primary" for x in sec["checks"].values())]
        else:
            rows = _rows(sec, {"primary": ("primary",), "others": ("control", "toy"), "sanity": ("sanity",)}[which])
        for name, text, kind in rows:
            text = ((f"*{kind}* — " if which == "others" else "") + f"{text} (`{name}`)").replace("|", r"\|")
            summary, badge = (f"{{glue:text}}`{chapter}.py::{name}_{part}:s`" for part in ("summary", "badge"))
            lines.append(f"| {text} | {{ref}}`{labels[chapter]}` | {summary} | {badge} |")
    return OVERVIEW_HEAD.format(OVERVIEW_TABLES[which]) + "\n".join(lines) + "\n"
