"""jaxjepa: DVD-JEPA in JAX/Flax. A JEPA world model of a logo bouncing in a 16x16 box.

from jaxjepa import get_config, make_train, load_run
train = jax.jit(make_train(get_config()))             # one pure function of a key
result = train(jax.random.key(0))
run = load_run("runs/seed0"); z = run.encode(obs)      # obs [..., 2, 16, 16]
"""

import importlib

# Where each name of the package lives. They are imported when first used, not with the package, so that
# `from jaxjepa import cli` imports no JAX: a command takes its Ctrl-C handling from there before its slow imports
# (cli.starting).
_HOMES = {
    "Config": "jaxjepa.config",
    "EmaState": "jaxjepa.ema",
    "Run": "jaxjepa.api",
    "RunError": "jaxjepa.checkpoint",
    "TrainResult": "jaxjepa.trainer",
    "VARIANTS": "jaxjepa.config",
    "ema_target": "jaxjepa.ema",
    "get_config": "jaxjepa.config",
    "load_run": "jaxjepa.api",
    "make_train": "jaxjepa.trainer",
    "save_run": "jaxjepa.checkpoint",
    "seed_keys": "jaxjepa.trainer",
    "train_seeds": "jaxjepa.runner",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """A name of the package, or a module of it (`import jaxjepa; jaxjepa.models`), imported at its first use."""
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":  # the module exists, and something it imports is missing
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
