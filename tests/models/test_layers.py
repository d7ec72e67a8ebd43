import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.models import layers


@pytest.mark.parametrize('rate', [0.1, 0.5])
def test_dropout_drops_at_the_rate_and_keeps_the_expectation(rate):
  x = jnp.ones((256, 1001))  # odd size: one random word covers two elements
  y = layers.Dropout(rate).apply({}, x, deterministic=False, rngs={'dropout': jax.random.key(0)})
  dropped = float(jnp.mean(y == 0))
  assert dropped == pytest.approx(rate, abs=0.005)
  assert float(jnp.mean(y)) == pytest.approx(1.0, abs=0.01)
  kept = np.unique(np.asarray(y[y != 0]))
  assert len(kept) == 1 and kept[0] == pytest.approx(1 / (1 - rate), rel=1e-4)


def test_dropout_is_reproducible_per_key_and_off_when_deterministic():
  x = jax.random.normal(jax.random.key(1), (4, 33))
  apply = lambda key: layers.Dropout(0.3).apply({}, x, deterministic=False,
                                                rngs={'dropout': key})
  np.testing.assert_array_equal(apply(jax.random.key(5)), apply(jax.random.key(5)))
  assert not np.array_equal(apply(jax.random.key(5)), apply(jax.random.key(6)))
  np.testing.assert_array_equal(layers.Dropout(0.3).apply({}, x, deterministic=True), x)


def test_dropout_masks_are_independent_of_position():
  # Neighbouring elements come from the two halves of one random word: they must not correlate.
  y = layers.Dropout(0.5).apply({}, jnp.ones((1 << 16,)), deterministic=False,
                                 rngs={'dropout': jax.random.key(2)})
  kept = np.asarray(y != 0, np.float64)
  correlation = np.corrcoef(kept[0::2], kept[1::2])[0, 1]
  assert abs(correlation) < 0.03
