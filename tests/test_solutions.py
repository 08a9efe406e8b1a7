"""wedges_lib.solutions: independently trained networks from fresh seeds, divergence flagged per member."""
import torch

from wedges_lib import config, solutions, train


def test_independent_networks_start_from_the_solution_seeds(smoke_data):
    cfg = config.resolve("smoke", steps=5, solution_seed=7)
    model, sol = solutions.independent(cfg, smoke_data, 3)
    _, theta0 = train.init(cfg, smoke_data, [7, 8, 9])
    assert torch.equal(sol["theta0"], theta0) and sol["theta"].shape == theta0.shape
    assert sol["diverged"].shape == (3,) and sol["diverged"].dtype == torch.bool and not sol["diverged"].any()
    assert not torch.equal(sol["theta"][0], sol["theta"][1])  # independent, not copies


def test_a_diverging_member_is_flagged_not_dropped(smoke_data):
    cfg = config.resolve("smoke", steps=20, lr=50.0)
    _, sol = solutions.independent(cfg, smoke_data, 2)
    assert sol["diverged"].shape == (2,) and bool(sol["diverged"].all())
    assert torch.isfinite(sol["theta"]).all()  # frozen where it diverged
