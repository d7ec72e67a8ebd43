"""generate: the KV cache changes no token, rows of different prompt lengths decode as if alone,
EOS ends a row, and bad arguments are refused by name."""
import types

import jax
import numpy as np
import pytest

import lm_jax
from lm_jax.generation.decoding import generate

NEW = 6
STRATEGIES = ['greedy', 'sample', 'beam']


def _generate(tiny, **kwargs):
  kwargs.setdefault('prompt_lengths', tiny.prompt_lengths)
  kwargs.setdefault('rng', jax.random.key(7))
  return np.asarray(generate(tiny.model, tiny.variables, tiny.inputs, max_new_tokens=NEW,
                             **kwargs))


@pytest.fixture(scope='module')
def t5_eos(tiny_t5):
  """An EOS id that greedy decoding emits mid-row (the earliest token new to its row), so rows
  stop at different steps; and the tokens decoded without EOS."""
  tokens = _generate(tiny_t5, eos_id=-1)
  for position in range(1, NEW - 1):
    for row in tokens:
      if row[position] not in row[:position]:
        return int(row[position]), tokens
  raise AssertionError(f'Every row repeats its first token: {tokens}')


def test_exported_at_package_level():
  assert lm_jax.generate is generate


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_cache_gives_the_same_tokens_t5(tiny_t5, t5_eos, strategy):
  eos_id, _ = t5_eos
  cached = _generate(tiny_t5, strategy=strategy, eos_id=eos_id, num_beams=3)
  uncached = _generate(tiny_t5, strategy=strategy, eos_id=eos_id, num_beams=3, use_cache=False)
  assert cached.shape == (3, NEW) and cached.dtype == np.int32
  np.testing.assert_array_equal(cached, uncached)


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_cache_gives_the_same_tokens_gpt(tiny_gpt, strategy):
  # Prompt lengths 5, 2, 3: the prefix of 2 is prefilled, the rest forced while row 1 decodes.
  cached = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3)
  uncached = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3, use_cache=False)
  np.testing.assert_array_equal(cached, uncached)


@pytest.mark.parametrize('strategy', ['greedy', 'beam'])
def test_rows_of_different_prompt_lengths_decode_as_if_alone(tiny_gpt, strategy):
  together = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3)
  for row, length in enumerate(tiny_gpt.prompt_lengths):
    alone = generate(tiny_gpt.model, tiny_gpt.variables, tiny_gpt.inputs[row:row + 1, :length],
                     max_new_tokens=NEW, strategy=strategy, eos_id=-1, num_beams=3)
    np.testing.assert_array_equal(together[row], np.asarray(alone)[0], err_msg=f'row {row}')


def test_greedy_picks_the_argmax_of_the_full_model(tiny_gpt):
  tokens = _generate(tiny_gpt, eos_id=-1)
  log_probs, _ = tiny_gpt.log_probs(tokens, eos_id=-1)
  np.testing.assert_array_equal(tokens, log_probs.argmax(-1))


def test_eos_ends_a_row_and_pads_after_it(tiny_t5, t5_eos):
  eos_id, free_running = t5_eos
  tokens = _generate(tiny_t5, eos_id=eos_id)
  ends = []
  for row in range(3):
    hits = np.flatnonzero(free_running[row] == eos_id)
    ends.append(hits[0] + 1 if hits.size else NEW)
    np.testing.assert_array_equal(tokens[row, :ends[-1]], free_running[row, :ends[-1]])
    assert np.all(tokens[row, ends[-1]:] == 0)
  assert min(ends) < NEW


def test_temperature_zero_is_greedy(tiny_t5, t5_eos):
  eos_id, _ = t5_eos
  np.testing.assert_array_equal(
      _generate(tiny_t5, strategy='sample', temperature=0.0, top_k=5, eos_id=eos_id),
      _generate(tiny_t5, strategy='greedy', eos_id=eos_id))


@pytest.mark.parametrize('kwargs,message', [
    (dict(strategy='nucleus'), 'Unknown decoding strategy'),
    (dict(top_p=0.0), 'top_p'),
    (dict(top_p=1.5), 'top_p'),
    (dict(top_k=-1), 'top_k'),
    (dict(num_beams=0), 'num_beams'),
    (dict(temperature=-1.0), 'temperature'),
    (dict(max_new_tokens=0), 'max_new_tokens'),
    (dict(strategy='sample', rng=None), 'rng'),
    (dict(prompt_lengths=[5, 0, 3]), r'prompt_lengths must lie in \[1, 5\]'),
    (dict(prompt_lengths=[5, 2]), r'prompt_lengths must be integers of shape \(3,\)'),
    (dict(max_new_tokens=21), 'config.model.max_length=24'),
])
def test_bad_arguments_are_refused(tiny_gpt, kwargs, message):
  arguments = dict(max_new_tokens=NEW, prompt_lengths=tiny_gpt.prompt_lengths)
  arguments.update(kwargs)
  with pytest.raises(ValueError, match=message):
    generate(tiny_gpt.model, tiny_gpt.variables, tiny_gpt.inputs, **arguments)


def test_encoder_decoder_takes_no_prompt_lengths(tiny_t5):
  with pytest.raises(ValueError, match='prompt_lengths applies to decoder-only'):
    generate(tiny_t5.model, tiny_t5.variables, tiny_t5.inputs, max_new_tokens=NEW,
             prompt_lengths=[6, 4, 6])


def test_encoder_only_models_do_not_generate():
  bert_like = types.SimpleNamespace(family='encoder_only')
  with pytest.raises(ValueError, match="'encoder_only' model"):
    generate(bert_like, {}, np.ones((1, 3), np.int32), max_new_tokens=NEW)


@pytest.mark.parametrize('strategy', ['greedy', 'beam'])
def test_a_bidirectional_prompt_decodes_as_the_prefix_lm_reads_it(tiny_gpt, strategy):
  tokens = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3,
                     bidirectional_prompt=True)
  apply = jax.jit(tiny_gpt.model.apply)
  for row, length in enumerate(tiny_gpt.prompt_lengths):
    alone = generate(tiny_gpt.model, tiny_gpt.variables, tiny_gpt.inputs[row:row + 1, :length],
                     max_new_tokens=NEW, strategy=strategy, eos_id=-1, num_beams=3,
                     bidirectional_prompt=True)
    np.testing.assert_array_equal(tokens[row], np.asarray(alone)[0], err_msg=f'row {row}')
  # Greedy: each token is the argmax of a full pass whose prompt positions see each other.
  if strategy == 'greedy':
    for row, length in enumerate(tiny_gpt.prompt_lengths):
      sequence = np.concatenate([tiny_gpt.inputs[row, :length], tokens[row, :-1]])[None]
      prefix = (np.arange(sequence.shape[1]) < length)[None].astype(np.int32)
      logits = apply(tiny_gpt.variables, sequence, decoder_causal_attention=prefix)
      np.testing.assert_array_equal(tokens[row], np.asarray(logits)[0, length - 1:].argmax(-1))
  # ...which is not what a causal reading of the prompt gives.
  causal = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3)
  assert (tokens != causal).any()
  # The cache (prefilled with the whole prompts) gives the tokens of full passes.
  uncached = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3,
                       bidirectional_prompt=True, use_cache=False)
  np.testing.assert_array_equal(tokens, uncached)


def test_a_bidirectional_prompt_is_for_decoder_only_models(tiny_t5):
  with pytest.raises(ValueError, match='bidirectional_prompt applies to decoder-only'):
    _generate(tiny_t5, prompt_lengths=None, bidirectional_prompt=True)


@pytest.mark.parametrize('strategy', STRATEGIES)
def test_no_repeat_ngram_size_with_and_without_cache(tiny_gpt, strategy):
  cached = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3, no_repeat_ngram_size=2)
  uncached = _generate(tiny_gpt, strategy=strategy, eos_id=-1, num_beams=3,
                       no_repeat_ngram_size=2, use_cache=False)
  np.testing.assert_array_equal(cached, uncached)
  for row, length in enumerate(tiny_gpt.prompt_lengths):
    tokens = list(tiny_gpt.inputs[row, :length]) + cached[row].tolist()
    bigrams = list(zip(tokens, tokens[1:]))
    assert len(bigrams) == len(set(bigrams)), f'row {row}: {tokens}'
