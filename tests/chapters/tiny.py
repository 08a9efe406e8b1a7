# %% [markdown]
# A stand-in chapter for the sweep tests: records its parameters, fails when lr > 1.

# %% tags=["parameters"]
scale = None
lr = None
seed = None

# %%
import time

import wedges_lib
from wedges_lib import config

cfg = config.resolve(scale, lr=lr, seed=seed)
time.sleep(1.0)
if cfg.lr > 1:
    raise RuntimeError(f"lr {cfg.lr} is too large for this stand-in")
wedges_lib.record("twice_lr", 2 * cfg.lr)
