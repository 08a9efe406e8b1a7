import re
import subprocess
import sys
from pathlib import Path

import pytest

from wedges_lib import config, notebook

BOOK = Path(__file__).resolve().parents[1] / "book"


def test_resolve_fills_from_preset_and_applies_overrides():
    cfg = config.resolve("smoke", lr=0.3, steps=None)
    assert cfg.lr == 0.3 and cfg.steps == config.PRESETS["smoke"]["steps"] and cfg.scale == "smoke"


def test_int_is_accepted_for_float_and_coerced():
    assert isinstance(config.resolve("smoke", lr=1).lr, float)


def test_default_scale_from_environment(monkeypatch):
    monkeypatch.setenv("WEDGES_SCALE", "cpu")
    assert config.resolve().scale == "cpu"
    monkeypatch.setenv("WEDGES_SCALE", "huge")
    with pytest.raises(ValueError, match="WEDGES_SCALE.*smoke"):
        config.resolve()


@pytest.mark.parametrize("kwargs, match", [
    (dict(scale="huge"), r"'scale'.*'huge'.*'smoke', 'cpu', 'paper'"),
    (dict(lr=-1.0), r"'lr'.*-1.0.*> 0"),
    (dict(lr=0.0), r"'lr'.*> 0"),
    (dict(no_such=1), r"unknown parameter 'no_such'.*valid parameters: .*lr"),
    (dict(steps="10"), r"'steps'.*str.*int"),
    (dict(steps=2.5), r"'steps'.*float.*int"),
    (dict(steps=True), r"'steps'.*bool"),
    (dict(model="vgg"), r"'model'.*'vgg'.*'mlp'"),
    (dict(momentum=1.5), r"'momentum'.*<= 0.999"),
    (dict(lr=float("nan")), r"'lr'"),
])
def test_bad_input_names_the_parameter_and_valid_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        config.resolve(**kwargs)


def test_config_is_read_only():
    cfg = config.resolve("smoke")
    with pytest.raises(TypeError):
        cfg["lr"] = 1.0
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        cfg.nope


def test_importing_config_alone_fills_the_whole_registry():
    """One registry: a fresh interpreter that imports only wedges_lib.config sees every chapter's knobs."""
    code = ("import sys, wedges_lib.config as c; "
            "print(len(c.SPECS), sorted(m for m in sys.modules if m.startswith('wedges_lib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    n, mods = out.split(" ", 1)
    assert int(n) == len(config.SPECS)
    assert "toy_D" in config.SPECS and "curve_steps" in config.SPECS and "n_members" in config.SPECS
    assert "wedges_lib.toy" not in mods and "wedges_lib.connect" not in mods  # no import side effects
    for scale in config.SCALES:
        assert set(config.PRESETS[scale]) == set(config.SPECS) - {"scale"}, scale


@pytest.mark.parametrize("chapter", sorted(BOOK.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_every_knob_a_chapter_reads_is_in_its_parameters_cell(chapter):
    """cfg.NAME / cfg["NAME"] in a chapter must be declared in its parameters cell, so papermill can set it."""
    declared = set(notebook.parameters(chapter))
    assert declared <= set(config.SPECS), declared - set(config.SPECS)
    text = chapter.read_text()
    read = set(re.findall(r"\bcfg\.(\w+)", text)) | set(re.findall(r"\bcfg\[\"(\w+)\"\]", text))
    read &= set(config.SPECS)  # cfg also has methods (cfg.get, ...)
    assert read <= declared, f"{chapter.name} reads {sorted(read - declared)} without declaring them"


def test_tuple_params_check_every_element():
    p = config.Param(tuple, "radii", low=0, low_open=True)
    assert p.check("radii", [1, 2.0]) == (1, 2.0)
    with pytest.raises(ValueError, match="'radii'"):
        p.check("radii", (1.0, -2.0))


CODE_WIDTH = 100  # characters: a code line of a chapter fits the rendered page at this width


@pytest.mark.parametrize("chapter", sorted(BOOK.glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_chapters_are_thin(chapter):
    """At most 200 lines of code cells (prose not counted); code lines within the page; the parameters cell
    collapsed in the HTML; the configuration resolved with the chapter's own presets."""
    import jupytext

    lines = chapter.read_text().splitlines()
    code = sum(len(c.source.splitlines()) for c in jupytext.read(chapter).cells if c.cell_type == "code")
    assert code <= 200, f"{chapter.name}: {code} lines of code cells"
    wide = [i for i, line in enumerate(lines, 1) if len(line) > CODE_WIDTH and not line.startswith("#")]
    assert not wide, f"{chapter.name}: code lines over {CODE_WIDTH} characters: {wide}"
    assert '# %% tags=["parameters", "hide-input"]' in lines, "the parameters cell is tagged hide-input"
    assert "config.resolve_cell(globals(), CHAPTER)" in chapter.read_text()


@pytest.mark.parametrize("dataset, model", [("mnist1d", "resnet"), ("mnist1d", "cifar_cnn"), ("cifar10", "cnn1d"),
                                            ("fashion_mnist", "cifar_cnn")])
def test_a_model_that_cannot_take_the_data_fails_before_anything_runs(dataset, model):
    with pytest.raises(ValueError, match=rf"parameters 'dataset' and 'model': model '{model}' takes .*dataset "
                                         rf"'{dataset}' is .*use a model among"):
        config.resolve("smoke", dataset=dataset, model=model)


@pytest.mark.parametrize("dataset, model", [("mnist1d", "cnn1d"), ("cifar10", "mlp"), ("cifar100", "resnet"),
                                            ("fashion_mnist", "resnet"), ("cifar10", "cifar_cnn")])
def test_every_pair_the_table_allows_builds_and_runs(dataset, model):
    """config's table agrees with models.make: what it lets through builds and takes the data's input shape."""
    import torch

    from wedges_lib import models

    cfg = config.resolve("smoke", dataset=dataset, model=model)
    shape = {"mnist1d": (40,), "fashion_mnist": (1, 28, 28)}.get(dataset, (3, 32, 32))
    net = models.make(cfg.model, shape, 10, width=0.25)
    assert net(torch.zeros(2, *shape)).shape == (2, 10)
