"""Model families with a width multiplier and a deterministic initialisation from a seed.

``mlp``, ``mlp_gelu`` (its smooth twin: GELU instead of ReLU), ``mlp_invariant`` (its scale-invariant twin)
and ``cnn1d`` are for MNIST-1D (inputs of shape
(40,)); ``cifar_cnn`` and ``resnet`` for 32x32 images at the paper scale. Normalisation layers are
GroupNorm (no running statistics), so a model is a pure function of its parameter vector and vmapping
over many parameter vectors is exact.
"""
from __future__ import annotations

import torch
from torch import nn

MODELS = ("mlp", "cnn1d", "cifar_cnn", "resnet", "mlp_invariant", "mlp_gelu")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def _w(base: int, width: float) -> int:
    return max(1, round(base * width))


def mlp(in_dim: int, n_classes: int, width: float = 1.0, hidden: tuple[int, ...] = (256, 256),
        activation: str = "relu") -> nn.Module:
    """MLP in_dim -> hidden*width (``activation``: 'relu' or 'gelu', a smooth one that is not positively
    homogeneous) -> n_classes; flattens its input."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"parameter 'activation': got {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = [nn.Flatten()]
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, _w(h, width)), ACTIVATIONS[activation]()]
        d = _w(h, width)
    return nn.Sequential(*layers, nn.Linear(d, n_classes))


class LogitNorm(nn.Module):
    """Logits standardised per example (zero mean, unit standard deviation over the classes) times a fixed
    ``gain``; no eps, so multiplying its input by any c > 0 leaves the output unchanged (bit for bit when c
    is a power of two)."""

    def __init__(self, gain: float = 2.0):
        super().__init__()
        self.gain = gain

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits z (N, C) -> gain · (z − mean) / std over the classes, (N, C)."""
        z = z - z.mean(-1, keepdim=True)
        return self.gain * z / z.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-30)


def mlp_invariant(in_dim: int, n_classes: int, width: float = 1.0, hidden: tuple[int, ...] = (256, 256),
                  gain: float = 2.0) -> nn.Module:
    """The MLP with no biases and :class:`LogitNorm` on its logits: f(c·theta) = f(theta) for every c > 0
    (bias-free ReLU layers are positively homogeneous; the normalisation removes the scale), so the weights'
    scale sets no softmax temperature: that is ``gain``, fixed."""
    layers: list[nn.Module] = [nn.Flatten()]
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, _w(h, width), bias=False), nn.ReLU()]
        d = _w(h, width)
    return nn.Sequential(*layers, nn.Linear(d, n_classes, bias=False), LogitNorm(gain))


def cnn1d(length: int, n_classes: int, width: float = 1.0) -> nn.Module:
    """Small 1D CNN for sequences (N, length): three conv layers of 32*width channels, then a linear head."""
    c = _w(32, width)
    return nn.Sequential(
        nn.Unflatten(1, (1, length)),
        nn.Conv1d(1, c, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(c * ((length + 7) // 8), n_classes))


def cifar_cnn(in_channels: int, n_classes: int, width: float = 1.0) -> nn.Module:
    """The usual small CIFAR CNN: conv(32w)-conv(64w)-conv(128w) with max-pooling, then 2 linear layers."""
    c1, c2, c3 = _w(32, width), _w(64, width), _w(128, width)
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c3 * 16, _w(256, width)), nn.ReLU(), nn.Linear(_w(256, width), n_classes))


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(min(8, cout), cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.GroupNorm(min(8, cout), cout))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.GroupNorm(min(8, cout), cout)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def resnet(in_channels: int, n_classes: int, width: float = 1.0) -> nn.Module:
    """A small ResNet (3 stages x 2 basic blocks, 16w/32w/64w channels, GroupNorm), ~0.3M parameters at w=1."""
    c = [_w(16, width), _w(32, width), _w(64, width)]
    layers: list[nn.Module] = [nn.Conv2d(in_channels, c[0], 3, 1, 1, bias=False), nn.GroupNorm(min(8, c[0]), c[0]),
                               nn.ReLU()]
    cin = c[0]
    for i, cout in enumerate(c):
        layers += [_Block(cin, cout, 1 if i == 0 else 2), _Block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_classes))


def make(name: str, input_shape: tuple[int, ...], n_classes: int, *, width: float = 1.0, seed: int = 0) -> nn.Module:
    """Model ``name`` for inputs of ``input_shape``, PyTorch's default init drawn from ``seed``.

    >>> model = make("mlp", (40,), 10, width=0.5)  # MNIST-1D: inputs (40,), 10 classes
    >>> [tuple(p.shape) for p in model.parameters()]
    [(128, 40), (128,), (128, 128), (128,), (10, 128), (10,)]
    >>> torch.equal(model[1].weight, make("mlp", (40,), 10, width=0.5)[1].weight)  # same seed, same init
    True
    """
    if name not in MODELS:
        raise ValueError(f"parameter 'model': got {name!r}; expected one of {', '.join(MODELS)}")
    if not width > 0:
        raise ValueError(f"parameter 'width': got {width!r}; expected a float > 0")
    image = len(input_shape) == 3  # the MLPs flatten any input; the convolutional nets take one kind
    if (name == "cnn1d" and len(input_shape) != 1) or (name in ("cifar_cnn", "resnet") and not image):
        kind = "images (C, H, W)" if name in ("cifar_cnn", "resnet") else "sequences (L,)"
        raise ValueError(f"parameter 'model': {name!r} takes {kind}, but the data has input shape {input_shape}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name in ("mlp", "mlp_gelu"):
            return mlp(int(torch.tensor(input_shape).prod()), n_classes, width,
                       activation="gelu" if name == "mlp_gelu" else "relu")
        if name == "mlp_invariant":
            return mlp_invariant(int(torch.tensor(input_shape).prod()), n_classes, width)
        if name == "cnn1d":
            return cnn1d(input_shape[0], n_classes, width)
        return (cifar_cnn if name == "cifar_cnn" else resnet)(input_shape[0], n_classes, width)
