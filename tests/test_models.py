import pytest
import torch

from wedges_lib import models, params


@pytest.mark.parametrize("name, shape",
                         [("mlp", (40,)), ("cnn1d", (40,)), ("cifar_cnn", (3, 32, 32)), ("resnet", (3, 32, 32))])
def test_every_model_runs_and_init_is_seeded(name, shape):
    a = models.make(name, shape, 10, width=0.5, seed=3)
    b = models.make(name, shape, 10, width=0.5, seed=3)
    c = models.make(name, shape, 10, width=0.5, seed=4)
    assert torch.equal(params.flatten(a), params.flatten(b))
    assert not torch.equal(params.flatten(a), params.flatten(c))
    assert a(torch.randn(2, *shape)).shape == (2, 10)
    assert not any(True for _ in a.buffers()), "models must be pure functions of their parameters"


def test_width_multiplier_scales_parameter_count():
    small = params.flatten(models.make("mlp", (40,), 10, width=0.5)).numel()
    big = params.flatten(models.make("mlp", (40,), 10, width=2.0)).numel()
    assert big > 8 * small


def test_make_does_not_change_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    models.make("mlp", (40,), 10, seed=9)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="vgg", input_shape=(40,)), "'model'.*'vgg'"),
    (dict(name="mlp", input_shape=(40,), width=0.0), "'width'"),
    (dict(name="resnet", input_shape=(40,)), "'model'.*images"),
])
def test_bad_model_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.make(n_classes=10, **kwargs)
