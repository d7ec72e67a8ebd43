"""Sampling: top-k and top-p filters (against HF's logits warpers), reproducible draws, and every
sampled token inside the filtered set of the full model's distribution at its step."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.generation import sampling
from lm_jax.generation.decoding import generate

NEG_INF = -np.inf


def test_top_k_keeps_the_k_largest():
  logits = jnp.array([[1.0, 5.0, 3.0, 2.0, 4.0]])
  np.testing.assert_array_equal(sampling.top_k_filter(logits, 2),
                                [[NEG_INF, 5.0, NEG_INF, NEG_INF, 4.0]])
  np.testing.assert_array_equal(sampling.top_k_filter(logits, 0), logits)
  np.testing.assert_array_equal(sampling.top_k_filter(logits, 9), logits)


@pytest.mark.parametrize('top_p,kept', [(0.3, [0]), (0.55, [0, 1]), (0.85, [0, 1, 2]),
                                        (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_set_reaching_the_mass(top_p, kept):
  order = np.array([2, 0, 3, 1])  # probabilities 0.5, 0.3, 0.15, 0.05 in shuffled slots
  logits = jnp.log(jnp.array([0.5, 0.3, 0.15, 0.05]))[order][None]
  filtered = np.asarray(sampling.top_p_filter(logits, top_p))[0]
  assert sorted(order[np.isfinite(filtered)].tolist()) == kept


def test_top_p_always_keeps_the_top_token():
  logits = jnp.array([[0.0, 9.0, 1.0]])
  assert np.isfinite(np.asarray(sampling.top_p_filter(logits, 1e-6))).tolist() == [
      [False, True, False]]


def test_filters_match_hf_warpers():
  torch = pytest.importorskip('torch')
  logits_process = pytest.importorskip('transformers.generation.logits_process')
  logits = np.random.default_rng(0).normal(0, 2, (8, 50)).astype(np.float32)
  scores = torch.from_numpy(logits)
  for top_p in (0.1, 0.5, 0.9, 0.99):
    for temperature in (0.5, 1.0):
      expected = logits_process.TopPLogitsWarper(top_p)(None, scores / temperature).numpy()
      ours = sampling.filter_logits(jnp.asarray(logits), temperature=temperature, top_p=top_p,
                                    use_top_p=True)
      np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(expected))
  expected = logits_process.TopKLogitsWarper(7)(None, scores).numpy()
  np.testing.assert_array_equal(np.isfinite(sampling.top_k_filter(jnp.asarray(logits), 7)),
                                np.isfinite(expected))


def _sample(tiny, rng, **kwargs):
  return np.asarray(generate(tiny.model, tiny.variables, tiny.inputs, max_new_tokens=6,
                             strategy='sample', rng=rng, eos_id=-1,
                             prompt_lengths=tiny.prompt_lengths, **kwargs))


def test_sampling_is_reproducible_and_depends_on_the_key(tiny_gpt):
  first = _sample(tiny_gpt, jax.random.key(3))
  np.testing.assert_array_equal(first, _sample(tiny_gpt, jax.random.key(3)))
  assert not np.array_equal(first, _sample(tiny_gpt, jax.random.key(4)))


def test_top_k_samples_are_among_the_k_most_likely(tiny_gpt):
  tokens = _sample(tiny_gpt, jax.random.key(5), temperature=2.0, top_k=3)
  log_probs, _ = tiny_gpt.log_probs(tokens, eos_id=-1)
  chosen = np.take_along_axis(log_probs, tokens[..., None], -1)
  ranks = (log_probs > chosen).sum(-1)  # tokens strictly more likely than the one sampled
  assert ranks.max() < 3, ranks


def test_top_p_samples_lie_in_the_nucleus(tiny_gpt):
  temperature, top_p = 1.5, 0.6
  tokens = _sample(tiny_gpt, jax.random.key(6), temperature=temperature, top_p=top_p)
  log_probs, _ = tiny_gpt.log_probs(tokens, eos_id=-1)
  scaled = log_probs.astype(np.float64) / temperature
  probs = np.exp(scaled - scaled.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  chosen = np.take_along_axis(probs, tokens[..., None], -1)
  mass_above = np.where(probs > chosen, probs, 0.0).sum(-1)
  assert mass_above.max() < top_p + 1e-5, mass_above
