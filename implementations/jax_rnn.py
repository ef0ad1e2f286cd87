"""JAX: `lax.scan` over the steps, `jax.value_and_grad`, one jitted program per piece shape.

float64 runs inside `jax.enable_x64(True)`, and float32 products at "highest" precision (no
TF32 on a GPU), both switched on for the duration of a call only, so importing this module
changes nothing for its users.
Checkpointed BPTT scans over segments whose body is wrapped in `jax.checkpoint` (remat):
only each segment's starting state is saved, and the body is recomputed in the backward.
"""

from __future__ import annotations

import contextlib
from functools import partial
from importlib import metadata

import jax
import jax.numpy as jnp
import numpy as np

from .base import Implementation

CHUNK = 16  # steps per inner scan (see steps_loss)


def tanh_step(params, state, projected):
    """rnn_tanh: h (B,H) -> h; projected = x_t W_xh + b_h (B,H)."""
    return jnp.tanh(projected + state @ params["W_hh"])


def lstm_step(params, state, projected):
    """lstm: (h, c) -> (h, c); projected = x_t W_xh + b_h (B,4H), gates (i, f, g, o)."""
    h, c = state
    i, f, g, o = jnp.split(projected + h @ params["W_hh"], 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def gru_step(params, state, projected):
    """gru: h -> h; projected = x_t W_xh + b_xh (B,3H), gates (r, z, n)."""
    x_r, x_z, x_n = jnp.split(projected, 3, axis=-1)
    h_r, h_z, h_n = jnp.split(state @ params["W_hh"] + params["b_hh"], 3, axis=-1)
    r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + r * h_n)
    return n + z * (state - n)


# cell -> (step, input bias, number of state arrays)
CELLS = {"rnn_tanh": (tanh_step, "b_h", 1), "lstm": (lstm_step, "b_h", 2), "gru": (gru_step, "b_xh", 1)}


def step(params, cell, state, projected):
    """One step of `cell` as a scan body: (state, h); the LSTM's state is the pair (h, c)."""
    state = CELLS[cell][0](params, state, projected)
    return state, state[0] if isinstance(state, tuple) else state


def scan_steps(params, state, x, cell, unroll: int = 1):
    """(final state, outputs h_t (n,B,H)) of n steps of `cell` over x (n,B,D) from state."""
    return jax.lax.scan(partial(step, params, cell), state, x @ params["W_xh"] + params[CELLS[cell][1]], unroll=unroll)


def readout_loss(W_hy, b_y, S, y, mask, loss):
    """Masked loss of states S (..., B, H) summed over all leading axes, divided by B."""
    logits = S @ W_hy + b_y
    if loss == "mse":
        per_entry = 0.5 * jnp.sum((logits - y) ** 2, axis=-1)
    else:
        log_p = jax.nn.log_softmax(logits, axis=-1)
        per_entry = -jnp.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    return jnp.sum(per_entry * mask) / S.shape[-2]


def steps_loss(params, state, x, y, mask, loss, cell):
    """Loss of n steps run with gradient from `state`, and the state after them.

    The steps run as a scan over chunks of CHUNK steps, each chunk a scan with its own
    input projection and readout: XLA runs that about 1.3x faster than one flat scan with
    projection and readout over the whole window (measured at T = 1024, H = 256).
    """
    def chunk(state, inputs):
        x_c, y_c, mask_c = inputs
        state, S = scan_steps(params, state, x_c, cell)
        return state, readout_loss(params["W_hy"], params["b_y"], S, y_c, mask_c, loss)

    return scan_in_pieces(chunk, state, (x, y, mask), CHUNK)


def scan_in_pieces(body, state, inputs, size, remat=False):
    """Sum of body's losses over pieces of `size` steps (the last may be shorter), carrying
    the state: (total, final state). remat: every whole piece but the last is wrapped in
    jax.checkpoint (the last is never recomputed)."""
    n = inputs[0].shape[0]
    whole = (n - 1) // size * size if remat else n - n % size
    total = jnp.zeros((), inputs[0].dtype)
    if whole:
        pieces = tuple(a[:whole].reshape(whole // size, size, *a.shape[1:]) for a in inputs)
        scanned = jax.checkpoint(body, prevent_cse=False) if remat else body
        state, values = jax.lax.scan(scanned, state, pieces)
        total += values.sum()
    if n > whole:
        state, value = body(state, tuple(a[whole:] for a in inputs))
        total += value
    return total, state


def window_loss(params, state, x, y, mask, loss, carry_at, segment, cell):
    """Loss of steps run with gradient from `state`; aux: the state after carry_at steps."""
    def piece(state, inputs):
        if segment is None:
            return steps_loss(params, state, *inputs, loss, cell)[::-1]
        return scan_in_pieces(lambda s, seg: steps_loss(params, s, *seg, loss, cell)[::-1], state, inputs, segment,
                              remat=True)[::-1]

    if carry_at is None:
        return piece(state, (x, y, mask))[1], None
    carried, before = piece(state, (x[:carry_at], y[:carry_at], mask[:carry_at]))
    _, after = piece(carried, (x[carry_at:], y[carry_at:], mask[carry_at:]))
    return before + after, carried


def padded_loss(params, state, x, y, mask, first, loss, cell):
    """Loss of the steps from `first` on, run with gradient from `state`; the `first` steps
    before them are padding (a traced count): they keep the state and inject no loss."""
    def body(state, inputs):
        t, projected = inputs
        new, h = step(params, cell, state, projected)
        return jax.tree_util.tree_map(lambda old, new: jnp.where(t < first, old, new), state, new), h

    inputs = (jnp.arange(x.shape[0]), x @ params["W_xh"] + params[CELLS[cell][1]])
    _, S = jax.lax.scan(body, state, inputs)
    return readout_loss(params["W_hy"], params["b_y"], S, y, mask * (inputs[0] >= first)[:, None], loss)


@partial(jax.jit, static_argnames=("loss", "cell"))
def padded_window_grad(params, state, x, y, mask, first, loss, cell):
    value, grads = jax.value_and_grad(padded_loss)(params, state, x, y, mask, first, loss, cell)
    return value, grads, None


@partial(jax.jit, static_argnames=("cell",))
def forward(params, state, x, cell):
    state, S = scan_steps(params, state, x, cell)
    return S, state


@jax.jit
def logits(params, outputs):
    return outputs @ params["W_hy"] + params["b_y"]


@partial(jax.jit, static_argnames=("loss",))
def readout_grads(params, outputs, y, mask, loss):
    value, (g_W, g_b) = jax.value_and_grad(readout_loss, argnums=(0, 1))(
        params["W_hy"], params["b_y"], outputs, y, mask, loss
    )
    return value, {"W_hy": g_W, "b_y": g_b}


@partial(jax.jit, static_argnames=("loss", "carry_at", "segment", "cell"))
def window_grad(params, state, x, y, mask, loss, carry_at, segment, cell):
    (value, carried), grads = jax.value_and_grad(window_loss, has_aux=True)(
        params, state, x, y, mask, loss, carry_at, segment, cell
    )
    return value, grads, carried


class JaxRNN(Implementation):
    name = "jax"
    devices = ("cpu", "cuda")
    compiles = True

    def __init__(self):
        self._compiled = None  # while measuring: distinct jitted calls, by signature
        # The shared SGD step (base.Implementation.sgd_step), jitted: one program instead of
        # two eager ops per parameter, each compiled on first use (~0.4 s per measured cell).
        self._sgd_step = jax.jit(super().sgd_step, static_argnames=("clip",))

    def backend_info(self):
        platforms = sorted({device.platform for device in jax.devices()} | {"cpu"})
        return f"XLA on {', '.join(platforms)} (jaxlib {metadata.version('jaxlib')})"

    def measure_peak_bytes(self, run, inputs=(), device="cpu"):
        """Largest XLA temp buffer (compiled memory analysis) over the programs run() used, on
        any device: XLA plans a program's buffers at compile time, for the GPU as for the CPU."""
        self._compiled = {}
        try:
            result = run()
            calls = list(self._compiled.values())
        finally:
            self._compiled = None
        peak = 0
        for function, args, kwargs, float64 in calls:
            # Lowered as run() ran it (dtype, matmul precision, device): the same program, so XLA's
            # in-memory cache returns the executable run() compiled instead of compiling it again.
            with self.precision(np.float64 if float64 else np.float32), self.on_device(device):
                compiled = function.lower(*args, **kwargs).compile()
                peak = max(peak, compiled.memory_analysis().temp_size_in_bytes)
        return result, peak

    def _call(self, function, *args, **static):
        """function(*args, **static), noting each distinct program while measuring."""
        if self._compiled is not None:
            shapes = tuple((np.shape(a), str(a.dtype)) for a in jax.tree_util.tree_leaves(args))
            float64 = any(dtype == "float64" for _, dtype in shapes)
            self._compiled.setdefault((function, shapes, tuple(static.items())), (function, args, static, float64))
        return function(*args, **static)

    @contextlib.contextmanager
    def precision(self, dtype):
        # "highest": float32 products in float32 on a GPU too, as in the other frameworks (XLA's
        # default there is TF32, ~1e-3 relative gradient error); on a CPU it changes nothing.
        with jax.enable_x64(np.dtype(dtype) == np.float64), jax.default_matmul_precision("highest"):
            yield

    def device_available(self, device):
        try:
            return bool(jax.devices(device))
        except RuntimeError:  # no backend of that kind in this jaxlib (e.g. the CPU-only wheel)
            return False

    def on_device(self, device):
        # Always explicit: with a CUDA jaxlib the default device is the GPU even for 'cpu'.
        return jax.default_device(jax.devices(device)[0])

    def to_native(self, params):
        return {key: jnp.asarray(value) for key, value in params.items()}

    def to_numpy(self, params):
        return {key: np.asarray(value) for key, value in params.items()}

    def maximum(self, value, bound):
        return jnp.maximum(value, bound)

    def sgd_step(self, params, grads, lr, clip):
        lr = np.asarray(lr, dtype=next(iter(params.values())).dtype)
        return self._call(self._sgd_step, params, grads, lr, clip=clip)

    def _zeros(self, params, x, cell):
        """The zero state of `cell` for x (n,B,D): (B,H), or a pair of them for the LSTM."""
        zeros = jnp.zeros((x.shape[1], params["W_hh"].shape[0]), x.dtype)
        return zeros if CELLS[cell][2] == 1 else (zeros,) * CELLS[cell][2]

    def states(self, params, state, x, cell="rnn_tanh"):
        return self._call(forward, params, self._zeros(params, x, cell) if state is None else state, x, cell=cell)

    def logits(self, params, outputs):
        return self._call(logits, params, outputs)

    def readout_grads(self, params, outputs, y, mask, loss):
        return self._call(readout_grads, params, outputs, _targets(y, loss), mask, loss=loss)

    def window_grad(self, params, state, x, y, mask, loss, carry_at, segment, cell="rnn_tanh"):
        n, bucket = x.shape[0], 1 << (x.shape[0] - 1).bit_length()
        if state is None and carry_at is None and segment is None and bucket > n:
            # TBPTT's first windows start from the zero state and grow by k1 up to k2: one
            # program per length would compile k2/k1 programs. Padded in front to the next
            # power of two (steps that keep the zero state), they share log2(k2) programs,
            # for a few extra steps (0.9% at TBPTT(4, 64), T = 1024).
            first = bucket - n
            x, y, mask = (np.concatenate([np.zeros((first, *a.shape[1:]), a.dtype), a]) for a in (x, y, mask))
            return self._call(padded_window_grad, params, self._zeros(params, x, cell), x, _targets(y, loss), mask,
                              np.int32(first), loss=loss, cell=cell)
        state = self._zeros(params, x, cell) if state is None else state
        return self._call(window_grad, params, state, x, _targets(y, loss), mask, loss=loss, carry_at=carry_at,
                          segment=segment, cell=cell)


def _targets(y, loss):
    return y.astype(np.int32) if loss == "ce" else y


IMPLEMENTATION = JaxRNN()
