"""ScoredCausalLMIterator: packed or not, each token's score travels with it into the rows (EOS
and padding score 0), filtered documents add nothing, and a JSON-saved state resumes the
batches, scores and control-token draws included, exactly."""
import inspect
import json
import textwrap

import numpy as np
import pytest

from lm_jax.data.line_scores import ControlTokens, LineScoring, newline_counts
from lm_jax.data.scored_stream import SCORES, ScoredCausalLMIterator
from lm_jax.preference import Pep8Scorer

LENGTH = 32
# Code with clean and dirty lines; most documents are longer than a row.
DOCUMENTS = (
    inspect.getsource(textwrap.indent),
    'x=1\ny = 2\nz = "' + 'a' * 90 + '"\n',
    'def f( a,b ):\n  return a+b   \n',
    inspect.getsource(textwrap.dedent),
    'import os\n\n\n\n\nv = os.sep\n',
    inspect.getsource(textwrap.shorten),
)


@pytest.fixture(scope='module')
def newlines(tokenizer):
  return newline_counts(tokenizer)


def make_scoring(tokenizer, newlines, transform, **kwargs):
  control = ControlTokens.of(tokenizer) if transform == 'control' else None
  return LineScoring(Pep8Scorer(), tokenizer, transform, control=control, newlines=newlines,
                     **kwargs)


def make_iterator(make_data_config, tokenizer, scoring, pack=True, **kwargs):
  config = make_data_config(objective='causal_lm', targets_length=LENGTH, pack=pack)
  return ScoredCausalLMIterator(DOCUMENTS, tokenizer, config, 4, 0, scoring, **kwargs)


def token_and_score_stream(batches):
  """The targets and scores of all rows, padding dropped, in order; and the scores on padding."""
  tokens, scores, padding_scores = [], [], []
  for batch in batches:
    assert batch[SCORES].shape == (4, LENGTH) and batch[SCORES].dtype == np.float32
    real = batch['decoder_segment_ids'] > 0
    for row in range(4):
      tokens += batch['decoder_target_tokens'][row][real[row]].tolist()
      scores += batch[SCORES][row][real[row]].tolist()
      padding_scores += batch[SCORES][row][~real[row]].tolist()
  return tokens, scores, padding_scores


@pytest.mark.parametrize('pack', [True, False], ids=['packed', 'unpacked'])
@pytest.mark.parametrize('transform', ['none', 'control'])
def test_scores_stay_with_their_tokens_across_rows(make_data_config, tokenizer, newlines,
                                                   pack, transform):
  # No dropped control tokens: each document's tokens and scores are fixed, whatever the rng.
  scoring = make_scoring(tokenizer, newlines, transform, threshold=0.01)
  iterator = make_iterator(make_data_config, tokenizer, scoring, pack=pack, shuffle=False,
                           repeat=False)
  tokens, scores, padding_scores = token_and_score_stream(iterator)
  expected_tokens, expected_scores = [], []
  for text in DOCUMENTS:
    ids, line_scores = scoring.document(text, np.random.default_rng(0))
    expected_tokens += [*ids, tokenizer.eos_id]
    expected_scores += [*line_scores, 0.0]  # EOS is no line's
  assert tokens == expected_tokens
  np.testing.assert_array_equal(scores, np.float32(expected_scores))
  assert not any(padding_scores)
  # The test is only as good as its documents: rows cut through scored lines.
  assert sum(len(scoring.document(t, np.random.default_rng(0))[0]) > LENGTH for t in DOCUMENTS) >= 3
  assert np.count_nonzero(expected_scores) > 20


def test_filtered_documents_add_no_tokens(make_data_config, tokenizer, newlines):
  document_scores = [Pep8Scorer().score_document(text).score for text in DOCUMENTS]
  threshold = float(np.median(document_scores))
  scoring = make_scoring(tokenizer, newlines, 'filter', threshold=threshold)
  iterator = make_iterator(make_data_config, tokenizer, scoring, shuffle=False, repeat=False)
  tokens, scores, _ = token_and_score_stream(iterator)
  kept = [text for text, score in zip(DOCUMENTS, document_scores) if score <= threshold]
  assert 0 < len(kept) < len(DOCUMENTS)
  assert tokens == [t for text in kept for t in tokenizer.encode(text) + [tokenizer.eos_id]]
  plain = make_scoring(tokenizer, newlines, 'none')
  expected = [s for text in kept for s in plain.document(text, None)[1] + [0.0]]
  np.testing.assert_array_equal(scores, np.float32(expected))


def test_a_source_the_filter_drops_entirely_is_refused(make_data_config, tokenizer, newlines):
  scoring = make_scoring(tokenizer, newlines, 'filter', threshold=0.0)
  config = make_data_config(objective='causal_lm', targets_length=LENGTH)
  iterator = ScoredCausalLMIterator(['x=1\n', 'y=2\n'], tokenizer, config, 4, 0, scoring)
  with pytest.raises(ValueError, match='dropped by the filtering threshold'):
    next(iterator)


@pytest.mark.parametrize('pack', [True, False], ids=['packed', 'unpacked'])
def test_a_saved_state_resumes_the_same_batches(make_data_config, tokenizer, newlines, pack):
  # Random control-token drops and a shuffled, repeating source: the state must hold the
  # carried tokens' scores, and the draws must depend on (seed, epoch, document) only.
  scoring = make_scoring(tokenizer, newlines, 'control', drop_control_fraction=0.3)
  straight = make_iterator(make_data_config, tokenizer, scoring, pack=pack)
  for _ in range(4):
    next(straight)
  # Stop where scored tokens are carried over (the rest of a document with violations).
  for _ in range(10):
    next(straight)
    state = json.loads(json.dumps(straight.get_state()))
    if any(state['carry_scores']):
      break
  assert any(state['carry_scores']) and len(state['carry_scores']) == len(state['carry_tokens'])
  expected = [next(straight) for _ in range(6)]
  assert straight.stream.epoch >= 1  # the batches reach a later epoch's draws

  resumed = make_iterator(make_data_config, tokenizer, scoring, pack=pack)
  resumed.set_state(state)
  for want, got in zip(expected, (next(resumed) for _ in range(6))):
    assert want.keys() == got.keys() and SCORES in got
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_a_state_without_scores_is_refused(make_data_config, tokenizer, newlines):
  scoring = make_scoring(tokenizer, newlines, 'none')
  iterator = make_iterator(make_data_config, tokenizer, scoring)
  next(iterator)
  state = iterator.get_state()
  del state['carry_scores']  # as an unscored run saves it
  with pytest.raises(ValueError, match='config.preference set'):
    make_iterator(make_data_config, tokenizer, scoring).set_state(state)
