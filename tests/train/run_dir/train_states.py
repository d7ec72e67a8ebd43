"""Small train states to save and restore in the run-directory tests."""
import jax
import jax.numpy as jnp
import numpy as np
import optax

from lm_jax.train.train_step import TrainState


def train_state(params, step: int, scale: float = 1.0) -> TrainState:
  """An Adam train state at `step` whose params are `params * scale`."""
  params = jax.tree.map(lambda x: x * scale, params)
  return TrainState(step=jnp.array(step, jnp.int32), params=params,
                    opt_state=optax.adam(1e-3).init(params),
                    dropout_rng=jax.random.key_data(jax.random.key(step)))


def assert_same(a, b) -> None:
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
