"""generate(banned_ids=...): the tiny GPT's greedy choices after each prompt, banned, never come
out of greedy decoding or of sampling at temperature 1, which would otherwise give them often,
and greedy takes the argmax of the ids that are left. Every check reads the model's full-pass
log-probabilities (tests/conftest.py), one compilation shared by all."""
import jax
import numpy as np
import pytest

from lm_jax.generation.decoding import generate

NEW = 12


def _generate(tiny, **kwargs):
  return np.asarray(generate(tiny.model, tiny.variables, tiny.inputs, max_new_tokens=NEW,
                             prompt_lengths=tiny.prompt_lengths, eos_id=-1, **kwargs))


@pytest.fixture(scope='module')
def banned(tiny_gpt):
  """The ids greedy decoding emits first: the argmax after each prompt."""
  log_probs, _ = tiny_gpt.log_probs(np.zeros((3, NEW), np.int32), eos_id=-1)
  first = log_probs[:, 0].argmax(-1)
  assert len(set(first.tolist())) >= 2, first
  return tuple(sorted(set(first.tolist())))


def test_greedy_takes_the_argmax_of_the_ids_left(tiny_gpt, banned):
  tokens = _generate(tiny_gpt, strategy='greedy', banned_ids=banned)
  assert not np.isin(tokens, banned).any()
  log_probs = tiny_gpt.log_probs(tokens, eos_id=-1)[0].copy()
  assert np.isin(log_probs[:, 0].argmax(-1), banned).all()  # the first choices, unbanned
  log_probs[..., list(banned)] = -np.inf
  np.testing.assert_array_equal(tokens, log_probs.argmax(-1))


def test_samples_at_temperature_one_never_hold_a_banned_id(tiny_gpt, banned):
  expected_without_ban = 0.0
  for seed in range(5):
    tokens = _generate(tiny_gpt, strategy='sample', temperature=1.0, rng=jax.random.key(seed),
                       banned_ids=banned)
    assert not np.isin(tokens, banned).any(), seed
    # How many banned ids sampling would have drawn after these same prefixes without the ban.
    log_probs, _ = tiny_gpt.log_probs(tokens, eos_id=-1)
    expected_without_ban += np.exp(log_probs[..., list(banned)]).sum()
  assert expected_without_ban > 15  # of 5 x 3 x 12 tokens: P(none drawn) < e^-15


@pytest.mark.parametrize('ids', [(-1,), (3, 48)])
def test_ids_outside_the_vocabulary_are_refused(tiny_gpt, ids):
  with pytest.raises(ValueError, match=r'banned_ids must be ids in \[0, 48\)'):
    _generate(tiny_gpt, banned_ids=ids)
