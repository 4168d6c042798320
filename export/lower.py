"""Lower a JAX function to plain TensorFlow ops by walking its jaxpr, one primitive at a time.

Why not `jax2tf.convert`: it emits native serialization only, a single `XlaCallModule` op carrying
StableHLO, which TensorFlow.js cannot run. Our networks use a handful of primitives
(dot_general, add, mul, tanh, logistic, integer_pow, reshape, broadcast_in_dim, wrapped in `jit`),
each of which has a plain TF op that TF.js does run (MatMul, AddV2, Mul, Tanh, Sigmoid, Reshape...).
So we trace the very apply function we trained with `jax.make_jaxpr` and evaluate the jaxpr with TF
ops inside a `tf.function`. Anything we do not know how to lower stops the export with a clear
error naming the primitive, never a silently different graph.

A leading batch dimension may be symbolic (`jax.export.symbolic_shape`); shapes that mention it are
resolved from the runtime shape of the input that carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.extend.core as jcore
import numpy as np
import tensorflow as tf

from export.destination import ExportError  # every export error is this one class


def trace(fn: Callable, *example_args: Any) -> jcore.ClosedJaxpr:
    """The jaxpr of `fn` at these example arguments (arrays or jax.ShapeDtypeStruct, any pytree)."""
    return jax.make_jaxpr(fn)(*example_args)


class _Dims:
    """Resolves jaxpr shapes, which may hold symbolic dimensions, to what TF ops accept."""

    def __init__(self) -> None:
        self.symbols: dict[str, tf.Tensor] = {}

    def bind(self, aval_shape: Sequence[Any], value: tf.Tensor) -> None:
        for axis, dim in enumerate(aval_shape):
            if not _is_static(dim) and str(dim) not in self.symbols:
                self.symbols[str(dim)] = tf.shape(value)[axis]

    def static_or_minus_one(self, shape: Sequence[Any]) -> list[int] | None:
        """A Python shape with at most one unknown dimension written -1; None if that is impossible."""
        unknown = [i for i, d in enumerate(shape) if not _is_static(d)]
        if len(unknown) > 1:
            return None
        return [-1 if i in unknown else int(d) for i, d in enumerate(shape)]

    def tensor(self, shape: Sequence[Any]) -> tf.Tensor | list[int]:
        """The shape as a list (all static) or a 1-D int32 tensor (some symbolic)."""
        if all(_is_static(d) for d in shape):
            return [int(d) for d in shape]
        parts = []
        for dim in shape:
            if _is_static(dim):
                parts.append(tf.constant(int(dim), tf.int32))
            elif str(dim) in self.symbols:
                parts.append(tf.cast(self.symbols[str(dim)], tf.int32))
            else:
                raise ExportError(
                    f"cannot lower the shape expression {dim!s}: only plain symbolic "
                    "dimensions that an input carries are supported"
                )
        return tf.stack(parts)


def _is_static(dim: Any) -> bool:
    return isinstance(dim, (int, np.integer))


# --- rules: (eqn params, input tensors, dims, input shapes from the jaxpr) -> output tensor(s) ---------


def _elementwise(tf_op: Callable) -> Callable:
    return lambda params, args, dims, in_shapes: tf_op(*args)


def _integer_pow(params, args, dims, in_shapes):
    """x ** y by repeated multiplication, as XLA does: no Pow op, so no precision surprise."""
    (x,), power = args, int(params["y"])
    if power == 0:
        return tf.ones_like(x)
    result, base, remaining = None, x, abs(power)
    while remaining:  # square-and-multiply over the bits of the exponent (a trace-time loop)
        if remaining & 1:
            result = base if result is None else result * base
        remaining >>= 1
        if remaining:
            base = base * base
    return tf.math.reciprocal(result) if power < 0 else result


def _dot_general(params, args, dims, in_shapes):
    lhs, rhs = args
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = params["dimension_numbers"]
    if lhs_batch or rhs_batch:
        return _batched_dot(lhs, rhs, lhs_contract, rhs_contract, lhs_batch, rhs_batch)
    if lhs.shape.rank == 2 and rhs.shape.rank == 2 and len(lhs_contract) == 1:
        # The common case, one MatMul: pick transposes so that lhs's contracted axis is its last.
        return tf.linalg.matmul(
            lhs, rhs, transpose_a=tuple(lhs_contract) == (0,), transpose_b=tuple(rhs_contract) == (1,)
        )
    return tf.tensordot(lhs, rhs, axes=[list(lhs_contract), list(rhs_contract)])


def _batched_dot(lhs, rhs, lhs_contract, rhs_contract, lhs_batch, rhs_batch):
    # dot_general's output order is (batch, lhs free, rhs free); einsum spells that exactly.
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    lhs_names = [next(letters) for _ in range(lhs.shape.rank)]
    rhs_names = [next(letters) for _ in range(rhs.shape.rank)]
    for l_axis, r_axis in [*zip(lhs_contract, rhs_contract), *zip(lhs_batch, rhs_batch)]:
        rhs_names[r_axis] = lhs_names[l_axis]
    batch = [lhs_names[a] for a in lhs_batch]
    lhs_free = [n for a, n in enumerate(lhs_names) if a not in lhs_contract and a not in lhs_batch]
    rhs_free = [n for a, n in enumerate(rhs_names) if a not in rhs_contract and a not in rhs_batch]
    spec = f"{''.join(lhs_names)},{''.join(rhs_names)}->{''.join(batch + lhs_free + rhs_free)}"
    return tf.einsum(spec, lhs, rhs)


def _reshape(params, args, dims, in_shapes):
    (x,) = args
    if params.get("dimensions") is not None:
        raise ExportError("cannot lower reshape with `dimensions` (a transposing reshape)")
    shape = dims.static_or_minus_one(params["new_sizes"])
    return tf.reshape(x, shape if shape is not None else dims.tensor(params["new_sizes"]))


def _broadcast_in_dim(params, args, dims, in_shapes):
    """Insert size-1 axes where the operand has none, then broadcast only if a size must grow."""
    (x,), (operand_shape,) = args, in_shapes
    out_shape, kept = tuple(params["shape"]), tuple(params["broadcast_dimensions"])
    ranked = tuple(operand_shape[kept.index(axis)] if axis in kept else 1 for axis in range(len(out_shape)))
    if ranked != tuple(operand_shape):
        static = dims.static_or_minus_one(ranked)
        x = tf.reshape(x, static if static is not None else dims.tensor(ranked))
    if ranked == out_shape:
        return x
    return tf.broadcast_to(x, dims.tensor(out_shape))


def _convert_element_type(params, args, dims, in_shapes):
    (x,) = args
    return tf.cast(x, tf.as_dtype(np.dtype(params["new_dtype"])))


def _select_n(params, args, dims, in_shapes):
    predicate, *cases = args
    if len(cases) != 2:
        raise ExportError(f"cannot lower select_n with {len(cases)} cases (only 2)")
    return tf.where(tf.cast(predicate, tf.bool), cases[1], cases[0])


def _pad(params, args, dims, in_shapes):
    x, value = args
    config = params["padding_config"]
    if any(interior or lo < 0 or hi < 0 for lo, hi, interior in config):
        raise ExportError("cannot lower pad with interior or negative padding")
    return tf.pad(x, [[lo, hi] for lo, hi, _ in config], constant_values=value)


def _slice(params, args, dims, in_shapes):
    """A strided slice; an axis of symbolic size (the batch) must be taken whole, and is masked in."""
    (x,), (shape,) = args, in_shapes
    starts, limits = params["start_indices"], params["limit_indices"]
    strides = params["strides"] or (1,) * len(shape)
    whole = [not _is_static(size) for size in shape]
    if any(w and (start != 0 or stride != 1) for w, start, stride in zip(whole, starts, strides)):
        raise ExportError("cannot lower a slice that cuts the symbolic batch axis")
    mask = sum(1 << axis for axis, w in enumerate(whole) if w)
    begin = [0 if w else int(start) for w, start in zip(whole, starts)]
    end = [0 if w else int(limit) for w, limit in zip(whole, limits)]
    return tf.strided_slice(x, begin, end, [int(s) for s in strides], begin_mask=mask, end_mask=mask)


def _reduction(tf_op: Callable) -> Callable:
    return lambda params, args, dims, in_shapes: tf_op(args[0], axis=list(params["axes"]))


RULES: dict[str, Callable] = {
    "add": _elementwise(tf.math.add),
    "sub": _elementwise(tf.math.subtract),
    "mul": _elementwise(tf.math.multiply),
    "div": _elementwise(tf.math.truediv),
    "max": _elementwise(tf.math.maximum),
    "min": _elementwise(tf.math.minimum),
    "pow": _elementwise(tf.math.pow),
    "neg": _elementwise(tf.math.negative),
    "abs": _elementwise(tf.math.abs),
    "sign": _elementwise(tf.math.sign),
    "exp": _elementwise(tf.math.exp),
    "log": _elementwise(tf.math.log),
    "log1p": _elementwise(tf.math.log1p),
    "tanh": _elementwise(tf.math.tanh),
    "logistic": _elementwise(tf.math.sigmoid),
    "sqrt": _elementwise(tf.math.sqrt),
    "rsqrt": _elementwise(tf.math.rsqrt),
    "square": _elementwise(tf.math.square),
    "erf": _elementwise(tf.math.erf),
    "erfc": _elementwise(lambda x: 1.0 - tf.math.erf(x)),  # TF.js has Erf, not Erfc
    "copy": _elementwise(tf.identity),
    "copy_p": _elementwise(tf.identity),
    "gt": _elementwise(tf.math.greater),
    "ge": _elementwise(tf.math.greater_equal),
    "lt": _elementwise(tf.math.less),
    "le": _elementwise(tf.math.less_equal),
    "eq": _elementwise(tf.math.equal),
    "ne": _elementwise(tf.math.not_equal),
    "integer_pow": _integer_pow,
    "dot_general": _dot_general,
    "reshape": _reshape,
    "broadcast_in_dim": _broadcast_in_dim,
    "convert_element_type": _convert_element_type,
    "transpose": lambda params, args, dims, in_shapes: tf.transpose(args[0], list(params["permutation"])),
    "squeeze": lambda params, args, dims, in_shapes: tf.squeeze(args[0], axis=list(params["dimensions"])),
    "concatenate": lambda params, args, dims, in_shapes: tf.concat(list(args), axis=int(params["dimension"])),
    "select_n": _select_n,
    "pad": _pad,
    "slice": _slice,
    "reduce_sum": _reduction(tf.math.reduce_sum),
    "reduce_max": _reduction(tf.math.reduce_max),
    "reduce_min": _reduction(tf.math.reduce_min),
}

# Primitives that only wrap a nested jaxpr (jit, custom derivatives, remat): evaluate the inside.
# Custom derivative rules do not matter for a forward pass.
NESTED_JAXPR_PARAM = {
    "jit": "jaxpr",
    "pjit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "remat": "jaxpr",
    "checkpoint": "jaxpr",
}


def known_primitives() -> list[str]:
    return sorted([*RULES, *NESTED_JAXPR_PARAM])


def evaluate(closed: jcore.ClosedJaxpr, *args: tf.Tensor) -> list[tf.Tensor]:
    """Run a closed jaxpr on TF tensors (inside a tf.function this builds the graph)."""
    dims = _Dims()
    for var, value in zip(closed.jaxpr.invars, args):
        dims.bind(var.aval.shape, value)
    consts = [tf.constant(np.asarray(c)) for c in closed.consts]
    return _evaluate(closed.jaxpr, consts, list(args), dims)


def _evaluate(jaxpr: jcore.Jaxpr, consts: list, args: list, dims: _Dims) -> list[tf.Tensor]:
    if len(args) != len(jaxpr.invars):
        raise ExportError(f"jaxpr takes {len(jaxpr.invars)} inputs, got {len(args)}")
    env: dict[jcore.Var, tf.Tensor] = {}

    def read(atom):
        if isinstance(atom, jcore.Literal):
            return tf.constant(np.asarray(atom.val, dtype=atom.aval.dtype))
        return env[atom]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        if all(isinstance(v, jcore.DropVar) for v in eqn.outvars):
            continue  # dead code (flax computes init bounds that apply never uses)
        inputs = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name in NESTED_JAXPR_PARAM:
            inner = eqn.params[NESTED_JAXPR_PARAM[name]]
            inner_jaxpr, inner_consts = (inner.jaxpr, inner.consts) if hasattr(inner, "consts") else (inner, [])
            outputs = _evaluate(inner_jaxpr, [tf.constant(np.asarray(c)) for c in inner_consts], inputs, dims)
        elif name in RULES:
            in_shapes = [tuple(v.aval.shape) for v in eqn.invars]
            outputs = RULES[name](eqn.params, inputs, dims, in_shapes)
            outputs = list(outputs) if eqn.primitive.multiple_results else [outputs]
        else:
            raise ExportError(
                f"cannot lower JAX primitive '{name}' to TensorFlow; the exporter knows: "
                f"{', '.join(known_primitives())}"
            )
        for var, value in zip(eqn.outvars, outputs):
            if not isinstance(var, jcore.DropVar):
                env[var] = value
    return [read(v) for v in jaxpr.outvars]
