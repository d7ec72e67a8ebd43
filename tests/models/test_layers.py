import flax.linen as nn
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


class _Residual(nn.Module):
  norm_position: str

  @nn.compact
  def __call__(self, x, deterministic: bool):
    return layers.residual(self.norm_position, layers.LayerNorm(name='norm'), layers.Dropout(0.5),
                           lambda y: 2 * y + 1, x, deterministic)


@pytest.mark.parametrize('norm_position', ['pre', 'post'])
def test_residual_puts_the_norm_before_or_after_and_drops_only_the_sublayer(norm_position):
  x = jax.random.normal(jax.random.key(0), (2, 3, 8))
  block = _Residual(norm_position)
  variables = block.init(jax.random.key(1), x, True)

  def norm(v):
    return layers.LayerNorm().apply({'params': variables['params']['norm']}, v)

  pre = norm_position == 'pre'
  expected = x + (2 * norm(x) + 1) if pre else norm(x + (2 * x + 1))
  np.testing.assert_allclose(block.apply(variables, x, True), expected, atol=1e-6)
  dropped = block.apply(variables, x, False, rngs={'dropout': jax.random.key(2)})
  assert not np.allclose(dropped, expected)
  if pre:  # each output is the input plus its sublayer output, kept (scaled by 2) or dropped
    kept = np.isclose(dropped, x + 2 * (2 * norm(x) + 1), atol=1e-5)
    removed = np.isclose(dropped, x, atol=1e-5)
    assert np.all(kept | removed) and kept.any() and removed.any()
  else:  # dropout inside the norm: the outputs stay normalised (LayerNorm starts at 1, 0)
    np.testing.assert_allclose(dropped.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(dropped.var(-1), 1.0, atol=1e-3)
  with pytest.raises(ValueError, match='norm position'):
    _Residual('sandwich').init(jax.random.key(1), x, True)
