"""Relative position buckets against HF's reference implementation, and the bias layout."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.models.relative_position import RelativePositionBias, relative_position_bucket

torch = pytest.importorskip('torch')
modeling_t5 = pytest.importorskip('transformers.models.t5.modeling_t5')


@pytest.mark.parametrize('bidirectional', [True, False])
@pytest.mark.parametrize('num_buckets,max_distance', [(32, 128), (32, 64), (16, 40), (64, 256)])
def test_buckets_match_hf(bidirectional, num_buckets, max_distance):
  # Every distance up to well beyond max_distance, both directions.
  relative = np.arange(-3 * max_distance, 3 * max_distance + 1, dtype=np.int64)
  expected = modeling_t5.T5Attention._relative_position_bucket(
      torch.from_numpy(relative), bidirectional=bidirectional, num_buckets=num_buckets,
      max_distance=max_distance).numpy()
  ours = relative_position_bucket(jnp.asarray(relative, jnp.int32), bidirectional,
                                  num_buckets, max_distance)
  np.testing.assert_array_equal(np.asarray(ours), expected)
  assert np.asarray(ours).min() >= 0 and np.asarray(ours).max() < num_buckets


def test_bias_looks_up_buckets():
  layer = RelativePositionBias(num_buckets=8, max_distance=16, num_heads=3, bidirectional=True)
  variables = layer.init(jax.random.key(0), 5, 7)
  bias = layer.apply(variables, 5, 7)
  assert bias.shape == (1, 3, 5, 7) and bias.dtype == jnp.float32
  table = variables['params']['embedding']  # (buckets, heads)
  buckets = relative_position_bucket(jnp.arange(7)[None, :] - jnp.arange(5)[:, None], True, 8, 16)
  np.testing.assert_array_equal(bias[0, 1], table[buckets, 1])
