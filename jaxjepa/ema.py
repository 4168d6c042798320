"""The EMA target encoder as an optax-style transform.

    ema = ema_target(decay)
    state = ema.init(online_params)           # the target starts as a copy
    state = ema.update(online_params, state)  # after every optimiser step
    state.params                              # the target's parameters

Why an EMA and a stop-gradient: the prediction target must not be something the gradient can move
towards the prediction. A slowly trailing, gradient-free copy gives targets that change only as fast
as the encoder genuinely improves. decay = 0 gives a plain stop-gradient copy; decay = 1 freezes it.
In the collapse ablation (RESULTS.md) the stop-gradient is what keeps the latent from collapsing: a plain copy
(decay 0) without the variance hinge keeps its spread too. The averaging keeps the latent's scale steadier across
seeds and gives a better position probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax


class EmaState(NamedTuple):
    params: Any  # the target's parameters
    count: jax.Array  # how many updates so far


class EmaTransform(NamedTuple):
    init: Callable[[Any], EmaState]
    update: Callable[[Any, EmaState], EmaState]


def ema_target(decay: float) -> EmaTransform:
    def init(online_params) -> EmaState:
        return EmaState(
            jax.tree_util.tree_map(lambda p: jax.lax.stop_gradient(p) + 0, online_params),
            jax.numpy.zeros((), jax.numpy.int32),
        )

    def update(online_params, state: EmaState) -> EmaState:
        # incremental_update(new, old, step_size) = step_size * new + (1 - step_size) * old
        target = optax.incremental_update(jax.lax.stop_gradient(online_params), state.params, 1.0 - decay)
        return EmaState(target, state.count + 1)

    return EmaTransform(init, update)
