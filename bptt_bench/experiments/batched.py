"""Many training runs as one JAX program: a replica axis, a compiled loop.

Every replica is one run (a lag, a seed, a learning rate) of the same setting; replicas
share nothing but the program. Delayed recall (the learnable lag) builds its batches inside
the program from symbols; any other task trains on given batches (`train_on_batches`: the
echo experiment). `jax.vmap` adds the replica axis and `jax.lax.scan`
runs the sequences, so a whole grid trains in one compiled call per evaluation chunk.
This is the only module outside implementations/ that imports JAX.

The arithmetic is the contract's (docs/method.md, implementations/base.py): the same
schedule (`implementations.schedule`), the same windows (frozen prefix, masked steps
before the segment, the state carried from the latest update), SGD with an optional
global-norm clip. The backward pass is written out as numpy_rnn's (a reverse scan for
the pre-activation gradients, then one matmul per weight over the whole window): 1.3x
less CPU than autodiff of the scan, whose weight gradients are one small matmul per step.
The gated cells (lstm, gru: docs/method.md, PyTorch's gate order) step with
implementations.jax_rnn's cell functions and take their window gradient by autodiff
(`_gated_window`); the LSTM's state (h, c) is carried and cut as a pair.
Two modes:

- 'online': theta <- theta - lr * g_j after each segment (`Implementation.train_tbptt`);
- 'gradient': one update per sequence, theta <- theta - lr * G with G = sum_j g_j
  (`Implementation.loss_and_grad`; for BPTT the two modes are the same computation).

readout_only=True differentiates W_hy and b_y only: W_xh, W_hh and b_h keep their
initial values (the echo-state control). A replica whose loss or parameters turn
NaN/Inf keeps its last finite parameters and stops counting updates.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from implementations.contract import CELLS, check_choice
from implementations.jax_rnn import CELLS as STEPS
from implementations.jax_rnn import step
from implementations.schedule import bptt_schedule, tbptt_schedule, with_carry_offsets

MODES = ("online", "gradient")
READOUT = ("W_hy", "b_y")
# Scans of at most SHORT steps run unrolled, so that XLA fuses their steps: measured on the
# default learnable-lag grid, TBPTT(4, 4) of the LSTM 26 -> 16 s and the Elman cell's five
# settings 155 -> 139 s; longer scans (BPTT's 32 steps) ran slower unrolled (27 -> 31-44 s).
SHORT = 8


def _unroll(n_steps: int) -> int:
    return n_steps if 0 < n_steps <= SHORT else 1


@dataclass(frozen=True)
class Window:
    """One update of the plan, in step indices (see implementations.schedule.Update)."""

    segment_start: int
    window_start: int
    segment_end: int
    n_frozen: int
    carry_at: int | None  # window offset of the state the next update starts from


def plan(T: int, k1: int | None, k2: int | None) -> tuple[Window, ...]:
    """The windows of TBPTT(k1, k2) over T steps; BPTT (k1 = k2 = None) is one window."""
    updates = bptt_schedule(T) if k1 is None else tbptt_schedule(T, k1, k2)
    return tuple(
        Window(u.segment_start, u.window_start, u.segment_end, u.n_frozen, carry_at)
        for u, carry_at in with_carry_offsets(updates)
    )


# -- one replica -----------------------------------------------------------------------


def scan_steps(params, state, x, cell: str, unroll: int = 1):
    """(final state, outputs h_t (n,B,H)) of n steps of `cell` over x (n,B,D), as jax_rnn.scan_steps,
    but each step projects its own input. With the replica axis, projecting the whole x
    ahead of the scan (one product over D = 4 for all steps, and its gradient) was slow: a
    GRU's BPTT sequence took 51-54 ms that way and 24-26 ms this way, an LSTM's 76 and 48-56
    (36 replicas of B = 16, H = 32, one core)."""
    bias = params[STEPS[cell][1]]
    return jax.lax.scan(lambda s, x_t: step(params, cell, s, x_t @ params["W_xh"] + bias), state, x, unroll=unroll)


def _states(params, state, x):
    """States after each step of x (n,B,D) from state (B,H): (n,B,H)."""
    return scan_steps(params, state, x, "rnn_tanh", _unroll(len(x)))[1]


def _readout(params, S, y, mask):
    """Masked cross-entropy of states S (n,B,H) against ids y (n,B), summed and divided by B, and
    its gradient with respect to the logits (n,B,O)."""
    log_p = jax.nn.log_softmax(S @ params["W_hy"] + params["b_y"], axis=-1)
    weight = mask / S.shape[1]
    loss = -jnp.sum(jnp.take_along_axis(log_p, y[..., None], axis=-1)[..., 0] * weight)
    dlogits = (jnp.exp(log_p) - jax.nn.one_hot(y, log_p.shape[-1], dtype=S.dtype)) * weight[..., None]
    return loss, dlogits


def _window(params, state, x, y, mask, window: Window, readout_only: bool):
    """(loss, gradients, carried state) of one window, backward written out as numpy_rnn does it.

    The frozen prefix reaches the readout only; the state before the rest is a constant.
    The weight gradients are one matmul over the whole window, not one per step.
    """
    start, n_frozen = state, window.n_frozen
    grads = {"W_hy": jnp.zeros_like(params["W_hy"]), "b_y": jnp.zeros_like(params["b_y"])}
    loss = jnp.zeros((), state.dtype)
    pieces = []
    if n_frozen:
        frozen = _states(params, state, x[:n_frozen])
        pieces.append((frozen, y[:n_frozen], mask[:n_frozen]))
        state = frozen[-1]
    S = _states(params, state, x[n_frozen:])
    pieces.append((S, y[n_frozen:], mask[n_frozen:]))
    for states, targets, weights in pieces:
        value, dlogits = _readout(params, states, targets, weights)
        loss += value
        grads["W_hy"] += jnp.einsum("nbh,nbo->ho", states, dlogits)
        grads["b_y"] += dlogits.sum(axis=(0, 1))
    if not readout_only:
        W_hh_T = params["W_hh"].T

        def back(from_next, inputs):
            dh, s = inputs
            dz = (dh + from_next) * (1 - s * s)
            return dz @ W_hh_T, dz

        dH = dlogits @ params["W_hy"].T  # the last piece: the steps run with gradient
        dZ = jax.lax.scan(back, jnp.zeros_like(state), (dH, S), reverse=True)[1]
        before = jnp.concatenate([state[None], S[:-1]])
        grads |= {
            "W_hh": jnp.einsum("nbh,nbk->hk", before, dZ),
            "W_xh": jnp.einsum("nbd,nbh->dh", x[n_frozen:], dZ),
            "b_h": dZ.sum(axis=(0, 1)),
        }
    carried = start if not window.carry_at else S[window.carry_at - n_frozen - 1]
    return loss, grads, carried


def _gated_window(params, state, x, y, mask, window: Window, readout_only: bool, cell: str):
    """(loss, gradients, carried state) of one window of a gated cell, by autodiff.

    As `_window`: the frozen prefix's states are constants that reach the readout only;
    the state after carry_at window steps is the one the next update starts from.
    """
    n_frozen, carry_at, start = window.n_frozen, window.carry_at, state
    frozen = None
    if n_frozen:
        state, frozen = scan_steps(params, state, x[:n_frozen], cell, _unroll(n_frozen))
    cuts = sorted({n_frozen, carry_at or n_frozen, len(x)})  # no empty piece when carry_at is the window's end

    def loss_of(trained):
        p = params | trained
        total = _readout(p, frozen, y[:n_frozen], mask[:n_frozen])[0] if n_frozen else 0.0
        s, carried = state, start
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            s, S = scan_steps(p, s, x[lo:hi], cell, _unroll(hi - lo))
            total += _readout(p, S, y[lo:hi], mask[lo:hi])[0]
            if hi == carry_at:
                carried = s
        return total, carried

    trained = {key: params[key] for key in (READOUT if readout_only else params)}
    (loss, carried), grads = jax.value_and_grad(loss_of, has_aux=True)(trained)
    return loss, grads, carried


def _initial_state(params, B: int, dtype, cell: str):
    """Zeros (B,H); the LSTM's pair (h, c)."""
    h = jnp.zeros((B, params["W_hh"].shape[0]), dtype)
    return (h, h) if cell == "lstm" else h


def _sgd(params, grads, lr, clip):
    scale = lr
    if clip is not None:
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in grads.values()))
        scale = jnp.where(norm > clip, lr * clip / norm, lr)
    return params | {key: params[key] - scale * grad for key, grad in grads.items()}


def _window_shape(window: Window) -> tuple:
    """What a window's program depends on: its length, masked prefix, frozen prefix and carry offset."""
    start = window.window_start
    return window.segment_end - start, window.segment_start - start, window.n_frozen, window.carry_at


def train_sequence(params, lr, x, y, mask, windows, mode: str, readout_only: bool, clip, cell: str = "rnn_tanh"):
    """One sequence x (T,B,D), y (T,B), mask (T,B) -> (segment losses (n_windows,), new params).

    Consecutive windows of one shape (TBPTT's windows after the first few, all but the last)
    run as one scan over their stacked slices: the program, and its compile time, then no
    longer grow with the number of windows (the echo experiment compiled in 44 s, now in 23).
    """
    state = _initial_state(params, x.shape[1], x.dtype, cell)
    window_step = _window if cell == "rnn_tanh" else partial(_gated_window, cell=cell)
    total = None if mode == "online" else {
        key: jnp.zeros_like(params[key]) for key in (READOUT if readout_only else params)
    }

    def update(carry, inputs, window):
        params, state, total = carry
        loss, grads, state = window_step(params, state, *inputs, window, readout_only)
        if mode == "online":
            params = _sgd(params, grads, lr, clip)
        else:
            total = {key: total[key] + grads[key] for key in total}
        return (params, state, total), loss

    carry, losses = (params, state, total), []
    for (length, masked, _, _), group in itertools.groupby(windows, key=_window_shape):
        group = list(group)
        starts = [w.window_start for w in group]
        inputs = [jnp.stack([a[lo : lo + length] for lo in starts]) for a in (x, y, mask)]
        inputs[2] = inputs[2].at[:, :masked].set(0)  # the steps before the segment carry no loss
        if len(group) == 1:
            carry, loss = update(carry, [a[0] for a in inputs], group[0])
            losses.append(loss[None])
        else:
            carry, group_losses = jax.lax.scan(partial(update, window=group[0]), carry, inputs)
            losses.append(group_losses)
    params, _, total = carry
    if mode == "gradient":
        params = _sgd(params, total, lr, clip)
    return jnp.concatenate(losses), params


# -- delayed recall, batched -------------------------------------------------------------


def recall_batch(symbols, lag, V: int, dtype):
    """x (T,B,V) one-hot, y (T,B) = symbol at t - lag, mask (T,B) = [t >= lag], as tasks.make_delayed_recall."""
    T = symbols.shape[0]
    t = jnp.arange(T)
    x = jax.nn.one_hot(symbols, V, dtype=dtype)
    y = jnp.where((t >= lag)[:, None], symbols[jnp.maximum(t - lag, 0)], 0)
    mask = jnp.broadcast_to((t >= lag)[:, None], symbols.shape).astype(dtype)
    return x, y, mask


def _batch(data, seed_index, lag, V: int | None, dtype):
    """One replica's (x, y, mask): delayed recall built here from the symbols data (S, T, B) at the
    replica's lag (V: the vocabulary), or, with V None, its seed's row of given arrays
    data = (x (S,T,B,D), y (S,T,B), mask (S,T,B))."""
    if V is None:
        return tuple(a[seed_index] for a in data)
    return recall_batch(data[seed_index], lag, V, dtype)


@partial(jax.jit, static_argnames=("windows", "mode", "readout_only", "clip", "V", "cell"))
def _train_chunk(carry, lr, seed_index, lag, data, windows, mode, readout_only, clip, V, cell):
    """Train every replica on n sequences: data with a leading (n, S) (replica r reads seed
    seed_index[r]), recall symbols or given arrays (`_batch`)."""

    def one(params, alive, updates, diverged_at, lr, seed_index, lag, data):
        x, y, mask = _batch(data, seed_index, lag, V, params["W_hh"].dtype)
        losses, new = train_sequence(params, lr, x, y, mask, windows, mode, readout_only, clip, cell)
        finite_losses = jnp.isfinite(losses)
        finite = finite_losses.all() & jnp.all(jnp.stack([jnp.isfinite(v).all() for v in new.values()]))
        n_updates = len(windows) if mode == "online" else 1
        # the update that produced the first NaN/Inf, counted as training.online_sgd counts it
        first_bad = jnp.where(finite_losses.all(), n_updates, jnp.argmin(finite_losses) + 1)
        if mode == "gradient":
            first_bad = 1
        ok = alive & finite
        params = {key: jnp.where(ok, new[key], params[key]) for key in params}
        diverged_at = jnp.where(alive & ~finite, updates + first_bad, diverged_at).astype(updates.dtype)
        return params, ok, jnp.where(ok, updates + n_updates, updates), diverged_at

    batched = jax.vmap(one, in_axes=(0, 0, 0, 0, 0, 0, 0, None))

    def body(carry, data):
        params, alive, updates, diverged_at = carry
        return batched(params, alive, updates, diverged_at, lr, seed_index, lag, data), None

    return jax.lax.scan(body, carry, data)[0]


@partial(jax.jit, static_argnames=("V", "cell"))
def _evaluate(params, seed_index, lag, data, V, cell):
    """(loss per target step, accuracy) per replica on held-out data with a leading S (`_batch`)."""

    def one(params, seed_index, lag):
        x, y, mask = _batch(data, seed_index, lag, V, params["W_hh"].dtype)
        S = scan_steps(params, _initial_state(params, x.shape[1], x.dtype, cell), x, cell)[1]
        logits = S @ params["W_hy"] + params["b_y"]
        log_p = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
        correct = jnp.argmax(logits, axis=-1) == y
        n = mask.sum()
        return (nll * mask).sum() / n, (correct * mask).sum() / n

    return jax.vmap(one)(params, seed_index, lag)


@dataclass
class Evaluation:
    """Replicas' state at one evaluation point; arrays are (R,)."""

    sequences_seen: int
    updates: np.ndarray
    alive: np.ndarray
    diverged_at: np.ndarray
    wall_s: float  # seconds of batched training so far (all replicas together), compiling included
    scores: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (loss, accuracy)
    params: dict[str, np.ndarray] | None = None


def train_replicas(
    params: dict[str, np.ndarray],
    lr: np.ndarray,
    seed_index: np.ndarray,
    lag: np.ndarray | None,
    data,
    held_out: dict,
    *,
    V: int | None,
    k1: int | None,
    k2: int | None,
    mode: str,
    readout_only: bool = False,
    clip: float | None = None,
    eval_every: int,
    keep_params: bool = False,
    cell: str = "rnn_tanh",
):
    """Train R replicas together; yield an Evaluation at sequence 0, every eval_every and at the end.

    params: initial parameters with a leading replica axis, e.g. W_hh (R,H,H), in the
    compute dtype, of `cell` (contract.param_shapes); lr, seed_index, lag: (R,).
    Delayed recall (V, the vocabulary): data = (n_sequences, S, T, B) training symbols per seed,
    held_out: split name -> (S, T, N) symbols scored at each point. Any task (V None, lag None):
    data = (x, y, mask) with leading (n_sequences, S) (`train_on_batches`), held_out: split name
    -> (x, y, mask) with a leading S.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    check_choice("cell", cell, CELLS)
    first = jax.tree_util.tree_leaves(data)[0]
    n_sequences, T = first.shape[0], first.shape[2]
    windows = plan(T, k1, k2)
    dtype = params["W_hh"].dtype
    R = len(lr)
    lag = np.zeros(R, int) if lag is None else lag
    with jax.enable_x64(np.dtype(dtype) == np.float64):
        args = (jnp.asarray(lr, dtype), jnp.asarray(seed_index), jnp.asarray(lag))
        carry = (
            {key: jnp.asarray(value) for key, value in params.items()},
            jnp.ones(R, bool),
            jnp.zeros(R, jnp.int32),
            jnp.zeros(R, jnp.int32),
        )
        held = {split: jax.tree_util.tree_map(jnp.asarray, s) for split, s in held_out.items()}
        wall_s, seen = 0.0, 0

        def point():
            scores = {
                split: tuple(np.asarray(a) for a in _evaluate(carry[0], args[1], args[2], s, V, cell))
                for split, s in held.items()
            }
            return Evaluation(
                seen,
                np.asarray(carry[2]),
                np.asarray(carry[1]),
                np.asarray(carry[3]),
                wall_s,
                scores,
                {k: np.asarray(v) for k, v in carry[0].items()} if keep_params else None,
            )

        yield point()
        while seen < n_sequences:
            chunk = jax.tree_util.tree_map(lambda a: jnp.asarray(a[seen : seen + eval_every]), data)
            start = time.perf_counter()
            carry = _train_chunk(carry, *args, chunk, windows, mode, readout_only, clip, V, cell)
            jax.block_until_ready(carry)
            wall_s += time.perf_counter() - start
            seen = min(seen + eval_every, n_sequences)
            yield point()


def train_on_batches(params, lr, seed_index, batches, held_out, **options):
    """`train_replicas` on given batches of any task: batches = (x (n,S,T,B,D), y (n,S,T,B) class ids,
    mask (n,S,T,B)), n sequences per seed; held_out: split name -> (x, y, mask) with a leading S."""
    dtype = params["W_hh"].dtype

    def cast(x, y, mask):
        return x.astype(dtype), y.astype(np.int32), mask.astype(dtype)

    held = {split: cast(*arrays) for split, arrays in held_out.items()}
    return train_replicas(params, lr, seed_index, None, cast(*batches), held, V=None, **options)


def updates_per_sequence(T: int, k1: int | None, mode: str) -> int:
    """SGD updates one sequence makes: ceil(T/k1) online, 1 in gradient mode or for BPTT."""
    return 1 if mode == "gradient" or k1 is None else math.ceil(T / k1)
