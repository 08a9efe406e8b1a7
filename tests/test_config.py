import pytest

from wedges_lib import config


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


def test_register_checks_presets_and_conflicts():
    spec = {"test_knob": config.Param(int, "a test knob", low=1)}
    with pytest.raises(ValueError, match="presets for scales"):
        config.register(spec, {"smoke": {"test_knob": 1}})
    config.register(spec, {s: {"test_knob": 2} for s in config.SCALES})
    assert config.resolve("cpu").test_knob == 2
    with pytest.raises(ValueError, match="already registered"):
        config.register({"test_knob": config.Param(float, "other")}, {s: {"test_knob": 1.0} for s in config.SCALES})


def test_tuple_params_check_every_element():
    p = config.Param(tuple, "radii", low=0, low_open=True)
    assert p.check("radii", [1, 2.0]) == (1, 2.0)
    with pytest.raises(ValueError, match="'radii'"):
        p.check("radii", (1.0, -2.0))
