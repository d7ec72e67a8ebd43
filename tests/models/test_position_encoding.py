"""Sinusoidal encoding against the paper's formula; rotary embeddings encode relative position."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.models.position_encoding import apply_rotary_embedding, sinusoidal_position_encoding

POSITIONS = [0, 1, 2, 7, 100, 1000, 10_000, 100_000]


def _paper_encoding(pos: int, d_model: int) -> list[float]:
  """Vaswani et al. §3.5, feature by feature in float64:
  PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))."""
  row = []
  for feature in range(d_model):
    two_i = feature - feature % 2
    angle = pos / 10_000**(two_i / d_model)
    row.append(math.sin(angle) if feature % 2 == 0 else math.cos(angle))
  return row


@pytest.mark.parametrize('d_model', [2, 16, 512])
def test_sinusoidal_encoding_matches_the_paper_formula(d_model):
  encoding = np.asarray(sinusoidal_position_encoding(jnp.array(POSITIONS), d_model))
  assert encoding.shape == (len(POSITIONS), d_model) and encoding.dtype == np.float32
  for row, pos in zip(encoding, POSITIONS):
    # float32 angles carry a relative error of ~1e-7, i.e. an absolute one growing with pos.
    np.testing.assert_allclose(row, _paper_encoding(pos, d_model), rtol=0,
                               atol=1e-6 + 1e-7 * pos, err_msg=f'position {pos}')


def test_sinusoidal_encoding_even_features_are_sines_odd_are_cosines():
  d_model = 8
  encoding = np.asarray(sinusoidal_position_encoding(jnp.arange(4), d_model))
  # Position 0: sin 0 = 0 on even features, cos 0 = 1 on odd ones.
  np.testing.assert_array_equal(encoding[0], [0, 1] * (d_model // 2))
  # Feature 0 has wavelength 2*pi (sin pos), the last pair the longest, 10000^(6/8) * 2*pi.
  np.testing.assert_allclose(encoding[:, 0], np.sin(np.arange(4)), atol=1e-6)
  np.testing.assert_allclose(encoding[:, 1], np.cos(np.arange(4)), atol=1e-6)
  np.testing.assert_allclose(encoding[:, 7], np.cos(np.arange(4) / 10_000**0.75), atol=1e-6)


def test_sinusoidal_encoding_of_a_shifted_position_is_a_rotation():
  # §3.5: "PE(pos+k) can be represented as a linear function of PE(pos)": each (sin, cos) pair
  # turns by k times its frequency, whatever pos is.
  d_model, shift = 16, 5
  frequencies = 10_000**(-np.arange(0, d_model, 2) / d_model)
  pairs = lambda pe: np.asarray(pe).reshape(-1, d_model // 2, 2)
  base = pairs(sinusoidal_position_encoding(jnp.arange(10), d_model))
  shifted = pairs(sinusoidal_position_encoding(jnp.arange(10) + shift, d_model))
  cos, sin = np.cos(shift * frequencies), np.sin(shift * frequencies)
  rotated = np.stack([base[..., 0] * cos + base[..., 1] * sin,
                      base[..., 1] * cos - base[..., 0] * sin], axis=-1)
  np.testing.assert_allclose(shifted, rotated, atol=1e-5)


def test_sinusoidal_encoding_keeps_batch_shape_and_rejects_odd_width():
  positions = jnp.array([[0, 1, 2], [0, 1, 0]])  # packed rows restart their positions
  encoding = sinusoidal_position_encoding(positions, 6)
  assert encoding.shape == (2, 3, 6)
  np.testing.assert_array_equal(encoding[1, 2], encoding[0, 0])
  with pytest.raises(ValueError, match='even d_model'):
    sinusoidal_position_encoding(positions, 5)


def _random_heads(seed, length=6, heads=2, head_dim=8):
  return jax.random.normal(jax.random.key(seed), (1, length, heads, head_dim))


def _scores(q, k):
  return np.asarray(jnp.einsum('bqhd,bkhd->bhqk', q, k))


@pytest.mark.parametrize('shift', [3, 250])
def test_rotary_scores_depend_only_on_the_position_difference(shift):
  q, k = _random_heads(0), _random_heads(1)
  positions = jnp.array([[0, 1, 2, 5, 9, 20]])
  scores = _scores(apply_rotary_embedding(q, positions), apply_rotary_embedding(k, positions))
  moved = _scores(apply_rotary_embedding(q, positions + shift),
                  apply_rotary_embedding(k, positions + shift))
  np.testing.assert_allclose(moved, scores, rtol=1e-4, atol=1e-4)
  # Control: rotated scores do differ from the plain ones, so the check is not vacuous.
  assert not np.allclose(scores, _scores(q, k), atol=1e-2)


def test_rotary_query_at_m_and_key_at_n_score_like_m_minus_n_and_zero():
  q, k = _random_heads(2, length=1), _random_heads(3, length=1)
  for m, n in [(7, 3), (3, 7), (40, 40)]:
    score = _scores(apply_rotary_embedding(q, jnp.array([[m]])),
                    apply_rotary_embedding(k, jnp.array([[n]])))
    relative = _scores(apply_rotary_embedding(q, jnp.array([[m - n]])), k)
    np.testing.assert_allclose(score, relative, rtol=1e-5, atol=1e-5)


def test_rotary_preserves_norms_and_position_zero_is_the_identity():
  x = _random_heads(4)
  positions = jnp.array([[0, 1, 2, 3, 1000, 12345]])
  rotated = apply_rotary_embedding(x, positions)
  np.testing.assert_allclose(jnp.linalg.norm(rotated, axis=-1), jnp.linalg.norm(x, axis=-1),
                             rtol=1e-5)
  np.testing.assert_allclose(apply_rotary_embedding(x, jnp.zeros((1, 6), jnp.int32)), x,
                             atol=0)


def test_rotary_turns_feature_j_with_j_plus_half_by_position_times_frequency():
  # The rotate-half layout of GPT-NeoX / Llama (HF's rotate_half), worked out in float64.
  head_dim, base, pos = 8, 10_000.0, 3
  x = np.asarray(_random_heads(5, length=1, heads=1, head_dim=head_dim), np.float64)
  rotated = np.asarray(apply_rotary_embedding(jnp.asarray(x, jnp.float32), jnp.array([[pos]]),
                                              base))
  half = head_dim // 2
  angle = pos * base**(-2 * np.arange(half) / head_dim)
  first, second = x[..., :half], x[..., half:]
  expected = np.concatenate([first * np.cos(angle) - second * np.sin(angle),
                             second * np.cos(angle) + first * np.sin(angle)], axis=-1)
  np.testing.assert_allclose(rotated, expected, atol=1e-6)


def test_rotary_keeps_bfloat16_and_rejects_odd_head_dim():
  x = _random_heads(6).astype(jnp.bfloat16)
  assert apply_rotary_embedding(x, jnp.arange(6)[None]).dtype == jnp.bfloat16
  with pytest.raises(ValueError, match='even head_dim'):
    apply_rotary_embedding(jnp.ones((1, 2, 1, 3)), jnp.arange(2)[None])
