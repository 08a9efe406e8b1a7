"""The book's protocol (wedges_lib/protocol.yml): well formed, read by every chapter, and every change since the
first declaration explained by a dated deviation entry (tests/protocol_first_declared.json is that declaration,
frozen: it is never rewritten, only the deviations grow)."""
import copy
import json
import re
from pathlib import Path
from typing import Any, Mapping

import pytest
import yaml

from wedges_lib import config, presets, protocol

ROOT = Path(__file__).resolve().parents[1]
FIRST = json.loads((Path(__file__).parent / "protocol_first_declared.json").read_text())
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.py"))
LOCKED = ("kind", "claim", "statistic", "holds_if", "threshold")  # the fields of a check a change must explain
SCALE = "cpu"  # the scale whose knob values are the protocol (the rendered book's)


# --- the record: what was first declared, and every change since ------------------------------------------

def locked(protocol: Mapping[str, Any]) -> dict[str, dict]:
    """The part of ``protocol`` a change must explain: per chapter, each check's :data:`LOCKED` fields and the
    value of each knob at the ``cpu`` scale (seeds, repetitions, grids)."""
    out = {}
    for ch, sec in protocol.items():
        cfg = config.resolve(SCALE, ch)  # with the chapter's own seeds and budget
        out[ch] = {"checks": {n: {k: c[k] for k in LOCKED} for n, c in sec["checks"].items()},
                   "knobs": {k: _plain(cfg[k]) for k in sec["knobs"]}}
    return out


def _plain(x: Any) -> Any:
    return list(x) if isinstance(x, tuple) else x


def _set(record_: dict, field: str, value: Any) -> None:
    """Set ``field`` ('checks.NAME.KEY', 'checks.NAME' or 'knobs.NAME') in a :func:`locked` record; None
    removes it (a check or knob that did not exist then)."""
    keys = field.split(".")
    assert keys[0] in ("checks", "knobs") and len(keys) in (2, 3), f"field {field!r}: 'checks.NAME[.KEY]', 'knobs.NAME'"
    node = record_[keys[0]]
    if len(keys) == 3:
        node.setdefault(keys[1], {})[keys[2]] = _plain(value)
    elif value is None:
        node.pop(keys[1], None)
    else:
        node[keys[1]] = _plain(value)


def as_first_declared(protocol: Mapping[str, Any]) -> dict[str, dict]:
    """The :func:`locked` record with every deviation undone, newest first: what was first declared. Each
    change's 'to' must be what the record holds when it is undone, or the history does not explain the present."""
    out = locked(protocol)
    for ch, sec in protocol.items():
        for d in reversed(sec["deviations"]):
            for c in reversed(d["changes"]):
                keys = c["field"].split(".")
                node = out[ch]
                for k in keys:
                    node = node.get(k) if isinstance(node, dict) else None
                if node != _plain(c["to"]):
                    raise ValueError(f"{ch}: deviation of {d['date']} says {c['field']} became {c['to']!r}, "
                                     f"but it is {node!r} there")
                _set(out[ch], c["field"], c["from"])
    return out


def unexplained(protocol: Mapping[str, Any], first: Mapping[str, Any]) -> list[str]:
    """The differences between the first declaration ``first`` and ``protocol`` that no deviation explains."""
    try:
        now = as_first_declared(protocol)
    except ValueError as e:
        return [str(e)]
    out = []
    for ch in sorted(set(now) | set(first)):
        a, b = first.get(ch, {}), now.get(ch, {})
        for part in ("checks", "knobs"):
            for name in sorted(set(a.get(part, {})) | set(b.get(part, {}))):
                if a.get(part, {}).get(name) != b.get(part, {}).get(name):
                    out.append(f"{ch}: {part}.{name} is {b.get(part, {}).get(name)!r} with the deviations undone, "
                               f"first declared {a.get(part, {}).get(name)!r}: add a deviation entry")
    return out


def test_the_protocol_is_well_formed_and_covers_every_chapter():
    p = protocol.load()
    assert protocol.problems(p) == []
    assert sorted(p) == sorted(c.stem for c in CHAPTERS)
    for ch, sec in p.items():
        assert set(sec["knobs"]) <= set(presets.SPECS), f"{ch}: unknown knobs"
        for claim in sec["claims"]:
            kinds = {c["kind"] for c in sec["checks"].values() if c["claim"] == claim}
            assert kinds, f"{ch}: claim {claim} has no check"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_each_chapter_declares_its_checks_from_its_own_section(chapter):
    text = chapter.read_text()
    assert re.search(rf'^CHAPTER = "{chapter.stem}"', text, re.M), f"{chapter.name} names no protocol section"
    assert "protocol.declare(CHAPTER)" in text and "protocol.conclude(CHAPTER" in text
    assert "verdicts.declare(" not in text and "Claim(" not in text, "checks are declared in the protocol only"


def test_every_change_since_the_first_declaration_has_a_deviation_entry():
    assert unexplained(protocol.load(), FIRST) == []


def _scratch(tmp_path, edit) -> Path:
    p = yaml.safe_load(protocol.PATH.read_text())
    edit(p)
    path = tmp_path / "protocol.yml"
    path.write_text(yaml.safe_dump(p, allow_unicode=True))
    return path


def test_a_threshold_changed_without_a_deviation_entry_fails(tmp_path):
    def move(p):
        p["04_pairs_of_solutions"]["checks"]["pairs_curves_bezier"]["threshold"] = 0.2

    found = unexplained(protocol.load(_scratch(tmp_path, move)), FIRST)
    assert len(found) == 1 and "pairs_curves_bezier" in found[0] and "add a deviation entry" in found[0]

    def move_and_explain(p):
        move(p)
        p["04_pairs_of_solutions"]["deviations"].append(
            {"date": "2026-12-07", "reason": "a looser bar", "old_result": "a result",
             "changes": [{"field": "checks.pairs_curves_bezier.threshold", "from": 0.1, "to": 0.2}]})

    scratch = tmp_path / "explained"
    scratch.mkdir()
    assert unexplained(protocol.load(_scratch(scratch, move_and_explain)), FIRST) == []


@pytest.mark.parametrize("edit", [
    lambda p: p["02_radius_and_subspaces"]["checks"]["radius_slope_bias"].update(kind="control"),
    lambda p: p["06_ensembles"]["checks"].pop("ens_distinct"),
    lambda p: p["03_hyperparameters"]["knobs"].remove("n_seeds"),
], ids=["kind", "a check removed", "a repetition knob dropped"])
def test_other_unexplained_changes_fail(tmp_path, edit):
    assert unexplained(protocol.load(_scratch(tmp_path, edit)), FIRST)


def test_a_seed_count_changed_in_the_presets_fails(monkeypatch):
    mine = copy.deepcopy(presets.CHAPTER_PRESETS["02_radius_and_subspaces"])
    mine["cpu"]["n_seeds"] = 6
    monkeypatch.setitem(presets.CHAPTER_PRESETS, "02_radius_and_subspaces", mine)
    found = unexplained(protocol.load(), FIRST)
    assert found and "knobs.n_seeds" in found[0] and "02_radius" in found[0]


def test_a_deviation_whose_to_is_not_the_present_is_refused(tmp_path):
    def wrong(p):
        p["02_radius_and_subspaces"]["deviations"][0]["changes"][0]["to"] = 3

    assert "became 3" in unexplained(protocol.load(_scratch(tmp_path, wrong)), FIRST)[0]


def test_malformed_sections_are_refused_with_the_field_named(tmp_path):
    def bad(p):
        p["00_quickstart"]["checks"]["quickstart_monotonic"]["kind"] = "evidence"

    with pytest.raises(ValueError, match="quickstart_monotonic: kind 'evidence'"):
        protocol.load(_scratch(tmp_path, bad))


def test_deviations_render_with_date_change_and_old_result(tmp_path):
    text = protocol.deviations_text("03_hyperparameters")
    assert "2026-11-30" in text and "`knobs.l2s`" in text and "−0.099 [−0.135, −0.063]" in text

    def none(p):
        p["91_benchmarks"]["deviations"] = []

    assert "None" in protocol.deviations_text("91_benchmarks", _scratch(tmp_path, none))


# --- the intro's tables: written from the protocol at build time -------------------------------------------

TABLE_OF_KIND = {"primary": "primary", "control": "others", "toy": "others", "sanity": "sanity"}


def test_the_intro_tables_are_written_from_the_protocol_with_every_check_in_its_table():
    from wedges_lib import notebook

    intro = (ROOT / "book" / "intro.md").read_text()
    assert all(f"```{{protocol-table}} {which}\n```" in intro for which in protocol.OVERVIEW_TABLES)
    labels = notebook.chapter_labels(ROOT / "book")
    p = protocol.load()
    assert set(p) == set(labels), "every chapter with a protocol section has a labelled page"
    tables = {which: protocol.overview(which, labels) for which in protocol.OVERVIEW_TABLES}
    for ch, sec in p.items():
        for name, c in sec["checks"].items():
            row = next((g for g, parts in sec["groups"].items() if name in parts), name)
            assert f"`{ch}.py::{row}_badge:s`" in tables[TABLE_OF_KIND[c["kind"]]], (ch, name)
        for claim in sec["claims"]:
            has_primary = any(c["claim"] == claim and c["kind"] == "primary" for c in sec["checks"].values())
            assert (f"`{ch}.py::{claim}_badge:s`" in tables["claims"]) == has_primary, (ch, claim)
    rows = sum(t.count("\n| ") for t in tables.values())
    assert rows == sum(len(t.splitlines()) - 2 for t in tables.values())  # one line per row, all rows well formed


def test_an_intro_table_escapes_pipes_and_refuses_an_unknown_table(tmp_path):
    def piped(p):
        p["00_quickstart"]["checks"]["quickstart_monotonic"]["hypothesis"] = "a | b"

    table = protocol.overview("primary", {"00_quickstart": "ch-quickstart"}, _scratch(tmp_path, piped))
    assert "a \\| b (`quickstart_monotonic`)" in table and table.count("\n") == 4
    with pytest.raises(ValueError, match="parameter 'which'.*'claims'"):
        protocol.overview("headlines", {})
