"""Beam search: exact on a vocabulary small enough to enumerate (EOS, length penalty and early
stopping included), never worse than greedy, and one beam is greedy."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.generation.decoding import generate
from lm_jax.models.t5 import T5, T5Config

VOCAB, NEW, EOS = 6, 3, 1


@pytest.fixture(scope='module')
def six_token_t5():
  model = T5(T5Config(vocab_size=VOCAB, d_model=16, num_heads=2, head_dim=8, d_ff=32,
                      num_encoder_layers=1, num_decoder_layers=2, dropout_rate=0.0,
                      tie_embeddings=False))
  inputs = np.array([[2, 3, 4, 5], [5, 5, 2, 0]], np.int32)
  variables = jax.jit(model.init)(jax.random.key(2), inputs, inputs[:, :1])
  return model, variables, inputs


def _exhaustive_best(model, variables, inputs, length_penalty):
  """The best hypothesis per row over every sequence of 1..NEW tokens (EOS only last; at NEW
  tokens any last token), scored sum(log p) / length ** length_penalty; padded with 0."""
  sequences = np.array(list(itertools.product(range(VOCAB), repeat=NEW)), np.int32)  # (S, NEW)
  decoder_inputs = np.pad(sequences[:, :-1], ((0, 0), (1, 0)))
  best = []
  for row in inputs:
    encoder_inputs = np.broadcast_to(row, (len(sequences), len(row)))
    logits = jax.jit(model.apply)(variables, encoder_inputs, decoder_inputs)
    picked = np.take_along_axis(np.asarray(jax.nn.log_softmax(logits)), sequences[..., None],
                                -1)[..., 0]
    hypotheses = {}
    for sequence, log_probs in zip(sequences.tolist(), picked):
      eos_at = sequence.index(EOS) if EOS in sequence else NEW - 1
      length = eos_at + 1
      hypothesis = tuple(sequence[:length]) + (0,) * (NEW - length)
      hypotheses[hypothesis] = log_probs[:length].sum() / length**length_penalty
    best.append(max(hypotheses, key=hypotheses.get))
  return np.array(best)


@pytest.mark.parametrize('length_penalty', [0.0, 1.0, 2.5])
def test_beam_search_with_every_prefix_kept_is_exact(six_token_t5, length_penalty):
  # VOCAB**(NEW - 1) beams keep every prefix alive, so beam search must find the optimum.
  model, variables, inputs = six_token_t5
  tokens = generate(model, variables, inputs, max_new_tokens=NEW, strategy='beam',
                    num_beams=VOCAB**(NEW - 1), length_penalty=length_penalty, eos_id=EOS)
  np.testing.assert_array_equal(
      tokens, _exhaustive_best(model, variables, inputs, length_penalty))


def test_one_beam_is_greedy(tiny_t5):
  kwargs = dict(max_new_tokens=6, eos_id=-1)
  np.testing.assert_array_equal(
      generate(tiny_t5.model, tiny_t5.variables, tiny_t5.inputs, strategy='beam', num_beams=1,
               **kwargs),
      generate(tiny_t5.model, tiny_t5.variables, tiny_t5.inputs, strategy='greedy', **kwargs))


@pytest.mark.parametrize('family', ['t5', 'gpt'])
def test_beam_search_scores_at_least_greedy(family, tiny_t5, tiny_gpt):
  tiny = tiny_t5 if family == 't5' else tiny_gpt
  kwargs = dict(max_new_tokens=6, eos_id=-1, prompt_lengths=tiny.prompt_lengths)
  greedy = generate(tiny.model, tiny.variables, tiny.inputs, strategy='greedy', **kwargs)
  beam = generate(tiny.model, tiny.variables, tiny.inputs, strategy='beam', num_beams=3,
                  length_penalty=0.0, **kwargs)
  beam_scores = tiny.total_log_prob(beam, eos_id=-1)
  greedy_scores = tiny.total_log_prob(greedy, eos_id=-1)
  assert np.all(beam_scores >= greedy_scores - 1e-5), (beam_scores, greedy_scores)
  assert np.any(beam_scores > greedy_scores + 1e-3), 'beam search never beat greedy here'


def test_finished_rows_are_padded_after_eos(tiny_t5):
  # EOS is made the likeliest first token of row 0 by reading it off the model.
  log_probs, _ = tiny_t5.log_probs(jnp.zeros((3, 1), jnp.int32), eos_id=-1)
  eos_id = int(log_probs[0, 0].argmax())
  tokens = np.asarray(generate(tiny_t5.model, tiny_t5.variables, tiny_t5.inputs,
                               max_new_tokens=6, strategy='beam', num_beams=3,
                               length_penalty=0.0, eos_id=eos_id))
  for row in tokens:
    hits = np.flatnonzero(row == eos_id)
    if hits.size:
      assert np.all(row[hits[0] + 1:] == 0), row
  assert tokens[0, 0] == eos_id and np.all(tokens[0, 1:] == 0), tokens[0]
