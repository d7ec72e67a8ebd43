"""LineScoring on the session's SentencePiece tokenizer: every token carries the pycodestyle
score of the line its text is on, filtering drops exactly the documents scored above the
threshold, and conditional training puts one control token in front of each line."""
import numpy as np
import pytest
import tokenizers
from tokenizers.models import WordLevel

from lm_jax.config.schema import default_config
from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.data.hf_tokenizer import HfTokenizer
from lm_jax.data.line_scores import ControlTokens, LineScoring, newline_counts
from lm_jax.preference import Pep8Scorer

# Python with violations on some lines (E201/E231 spacing, E225 around '=', W291 trailing
# whitespace, E501 long lines, E303 blank lines, E111 indentation) and clean lines between them.
SNIPPETS = (
    'import os\ndef f( a,b ):\n  x=a+b   \n\n    return x\n',
    'x=1\ny = 2\nz = "' + 'a' * 90 + '"\nw = 3  \nv = [1, 2]\n',
    'def clean(a, b):\n    """Adds."""\n    return a + b\n\n\n\n\ndef g():\n    return  1\n',
    'a = 1\nb=2\nc = 3',  # no newline at the end (W292 on the last line)
)


@pytest.fixture(scope='module')
def newlines(tokenizer):
  return newline_counts(tokenizer)


def scoring(tokenizer, newlines, transform='none', **kwargs):
  control = ControlTokens.of(tokenizer) if transform in ('control', 'aligned') else None
  return LineScoring(Pep8Scorer(), tokenizer, transform, control=control, newlines=newlines,
                     **kwargs)


def token_line_of(tokenizer, ids) -> list[int]:
  """The line each token's text starts on, from decoding the tokens before it (independent of
  newline_counts, which looks at each id alone)."""
  return [tokenizer.decode(ids[:k]).count('\n') for k in range(len(ids))]


def check_lines_partition(tokenizer, ids, lines, line_of):
  """The tokens of lines 0..i decode to exactly the text of lines 0..i, for every i."""
  assert line_of == sorted(line_of) and set(line_of) == set(range(len(lines)))
  for i in range(len(lines)):
    end = max(k for k, line in enumerate(line_of) if line == i) + 1
    assert tokenizer.decode(ids[:end]) == ''.join(lines[:i + 1])


@pytest.mark.parametrize('text', SNIPPETS, ids=range(len(SNIPPETS)))
def test_each_token_carries_the_score_of_its_line(tokenizer, newlines, text):
  document = Pep8Scorer().score_document(text)
  assert len(set(document.line_scores)) > 1  # clean and dirty lines: a shift would show
  ids, scores = scoring(tokenizer, newlines).document(text, np.random.default_rng(0))
  assert ids == tokenizer.encode(text) and len(scores) == len(ids)
  line_of = token_line_of(tokenizer, ids)
  check_lines_partition(tokenizer, ids, document.lines, line_of)
  assert scores == [document.line_scores[line] for line in line_of]


def test_filtering_drops_exactly_the_documents_scored_above_the_threshold(tokenizer, newlines):
  scores = [Pep8Scorer().score_document(text).score for text in SNIPPETS]
  assert len(set(scores)) == len(scores)
  threshold = sorted(scores)[1]  # one document exactly at it (kept), two above it
  filtering = scoring(tokenizer, newlines, 'filter', threshold=threshold)
  plain = scoring(tokenizer, newlines)
  kept = []
  for text, score in zip(SNIPPETS, scores):
    out = filtering.document(text, np.random.default_rng(0))
    if score > threshold:
      assert out is None
    else:
      assert out == plain.document(text, np.random.default_rng(0))
      kept.append(score)
  assert sorted(kept) == sorted(scores)[:2]


def test_control_tokens_start_every_line(tokenizer, newlines):
  text = SNIPPETS[0] + SNIPPETS[1]
  document = Pep8Scorer().score_document(text)
  line_scores = document.line_scores
  # A threshold equal to one dirty line's score: that line is aligned (<=), dirtier ones not.
  threshold = sorted(s for s in set(line_scores) if s > 0)[1]
  control = ControlTokens.of(tokenizer)
  ids, scores = scoring(tokenizer, newlines, 'control', threshold=threshold).document(
      text, np.random.default_rng(0))
  plain_ids, plain_scores = scoring(tokenizer, newlines).document(text, np.random.default_rng(0))
  is_control = np.isin(ids, control.ids)
  assert [t for t, c in zip(ids, is_control) if not c] == plain_ids
  assert [s for s, c in zip(scores, is_control) if not c] == plain_scores
  # The j-th control token stands right before the first token of line j.
  positions = np.flatnonzero(is_control)
  assert len(positions) == len(document.lines)
  line_of = token_line_of(tokenizer, plain_ids)
  check_lines_partition(tokenizer, plain_ids, document.lines, line_of)
  line_starts = [k for k in range(len(plain_ids)) if k == 0 or line_of[k] != line_of[k - 1]]
  np.testing.assert_array_equal(positions - np.arange(len(positions)), line_starts)
  expected = [control.aligned if s <= threshold else control.misaligned for s in line_scores]
  assert [ids[p] for p in positions] == expected
  assert [scores[p] for p in positions] == list(line_scores)
  aligned = sum(e == control.aligned for e in expected)
  assert 0 < aligned < len(expected) and threshold in line_scores


def test_a_fraction_of_lines_goes_without_a_control_token(tokenizer, newlines):
  text = 'x = 1\ny=2\n' * 1000  # aligned and misaligned lines in turn at threshold 0
  n, fraction = 2000, 0.3
  control = ControlTokens.of(tokenizer)
  conditional = scoring(tokenizer, newlines, 'control', drop_control_fraction=fraction)
  ids, _ = conditional.document(text, np.random.default_rng(0))
  aligned, misaligned = ids.count(control.aligned), ids.count(control.misaligned)
  assert aligned <= n // 2 and misaligned <= n // 2
  # Every line keeps its control token with probability 1 - fraction, independently.
  sd = np.sqrt(n * fraction * (1 - fraction))
  assert abs(n - aligned - misaligned - n * fraction) < 4 * sd
  half_sd = np.sqrt(n / 2 * fraction * (1 - fraction))
  for count in (aligned, misaligned):
    assert abs(n / 2 - count - n / 2 * fraction) < 4 * half_sd
  # The draws come from the rng: another seed drops other lines.
  assert conditional.document(text, np.random.default_rng(1))[0] != ids


def test_the_aligned_transform_puts_aligned_before_every_line(tokenizer, newlines):
  text = SNIPPETS[1]
  control = ControlTokens.of(tokenizer)
  ids, _ = scoring(tokenizer, newlines, 'aligned', drop_control_fraction=1.0).document(
      text, np.random.default_rng(0))
  assert ids.count(control.aligned) == len(Pep8Scorer().score_document(text).lines)
  assert control.misaligned not in ids


def test_control_tokens_are_the_top_two_sentinels(tokenizer):
  control = ControlTokens.of(tokenizer)
  assert control.ids == (tokenizer.vocab_size - 1, tokenizer.vocab_size - 2)
  assert tokenizer.decode(list(control.ids)) == '<extra_id_0><extra_id_1>'


class _NoSentinels:
  """A tokenizer with ids and text but none of the sentinel interface."""
  vocab_size = 10

  def encode(self, text):
    return [3] * len(text)

  def decode(self, ids):
    return 'a' * len(ids)


def _hf_tokenizer():
  vocab = {'<pad>': 0, '<eos>': 1, '[UNK]': 2, 'a': 3}
  return HfTokenizer(tokenizers.Tokenizer(WordLevel(vocab, unk_token='[UNK]')),
                     {'eos': '<eos>', 'pad': '<pad>', 'unk': '[UNK]'})


@pytest.mark.parametrize('make', [
    lambda tok: tokenizer_lib.load(tok.path, 1),  # one extra id: no room for two
    lambda tok: _hf_tokenizer(),                   # sentinel_id raises, no extra ids
    lambda tok: _NoSentinels(),
], ids=['one_extra_id', 'hf', 'no_sentinel_id'])
def test_control_tokens_need_two_free_ids(tokenizer, make):
  with pytest.raises(ValueError, match='Conditional training needs two ids for '
                                       r'<\|aligned\|> and <\|misaligned\|>.*num_extra_ids >= 2'):
    ControlTokens.of(make(tokenizer))
  assert ControlTokens.of(tokenizer_lib.load(tokenizer.path, 2)).ids == (
      tokenizer.sp_vocab_size + 1, tokenizer.sp_vocab_size)


def test_for_config_takes_the_objectives_transform(tokenizer):
  preference = default_config().preference
  preference.update(objective='filtering', threshold=0.25)
  filtering = LineScoring.for_config(preference, tokenizer)
  assert (filtering.transform, filtering.threshold, filtering.control) == ('filter', 0.25, None)
  preference.objective = 'conditional'
  assert LineScoring.for_config(preference, tokenizer).transform == 'control'
  aligned = LineScoring.for_config(preference, tokenizer, transform='aligned')
  assert aligned.transform == 'aligned' and aligned.control == ControlTokens.of(tokenizer)
  with pytest.raises(ValueError, match='Conditional training needs two ids'):
    LineScoring.for_config(preference, _hf_tokenizer())
