"""Test-suite defaults: smoke scale, a private data/cache folder, one thread per op for stable timings."""
import os

import pytest
import torch

torch.set_num_threads(1)  # small tensors: one thread is as fast, and steadier when cores are shared
# ... and so for every kernel the tests start (papermill runs of the chapters): CI runs a second configuration beside
# them, and kernels of two threads each on two cores wait on each other's OpenMP barriers (wedges_lib.execution)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

os.environ.setdefault("WEDGES_SCALE", "smoke")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Every test session generates its own data cache, so no test depends on the user's ~/.cache."""
    if "WEDGES_DATA" not in os.environ:
        os.environ["WEDGES_DATA"] = str(tmp_path_factory.mktemp("wedges-data"))
    yield


@pytest.fixture(scope="session")
def smoke_data():
    """The smoke-scale MNIST-1D subset."""
    from wedges_lib import config, data

    cfg = config.resolve("smoke")
    return data.load(cfg.dataset, cfg.n_train)
