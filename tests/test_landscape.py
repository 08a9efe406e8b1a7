"""wedges_lib.landscape: the loss at distances along random directions, a network's batched products against
the vmapped functional_call they replace."""

import torch

from wedges_lib import landscape, models, params


def test_loss_at_distances_of_a_network_matches_the_vmapped_loss():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 40, generator=gen), torch.randint(0, 10, (300,), generator=gen)  # two data batches
    model = models.make("mlp", (40,), 10, width=0.1, seed=0)
    theta = params.flatten(model)
    with torch.no_grad():
        vmapped = landscape.loss_at_distances(torch.func.vmap(params.loss_fn(model, x, y)), theta, [0.03, 0.3],
                                              n=9, seed=4)  # 18 points: two chunks
        batched = landscape.loss_at_distances(model, theta, [0.03, 0.3], n=9, seed=4, x=x, y=y)
    assert batched.shape == (2, 9)
    torch.testing.assert_close(batched, vmapped)
