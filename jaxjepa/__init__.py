"""jaxjepa: DVD-JEPA in JAX/Flax. A JEPA world model of a logo bouncing in a 16x16 box.

from jaxjepa import get_config, make_train, load_run
train = jax.jit(make_train(get_config()))             # one pure function of a key
result = train(jax.random.key(0))
run = load_run("runs/seed0"); z = run.encode(obs)      # obs [..., 2, 16, 16]
"""

from jaxjepa.api import Run, load_run
from jaxjepa.checkpoint import RunError, save_run
from jaxjepa.config import VARIANTS, Config, get_config
from jaxjepa.ema import EmaState, ema_target
from jaxjepa.runner import train_seeds
from jaxjepa.trainer import TrainResult, make_train, seed_keys

__all__ = [
    "Config",
    "EmaState",
    "Run",
    "RunError",
    "TrainResult",
    "VARIANTS",
    "ema_target",
    "get_config",
    "load_run",
    "make_train",
    "save_run",
    "seed_keys",
    "train_seeds",
]
