"""GPT-3-style 13-gram overlap: normalisation, per-field and per-example dirt, short examples."""
from lm_jax.evaluation import contamination

CORPUS = ['Return the value of the named attribute of object; it is equivalent to getattr '
          'when the name is a string, and raises otherwise.', 'Unrelated text about nothing.']
LONG = ('RETURN the value of the named attribute of object -- it is equivalent to getattr when '
        'the name')  # the corpus' first 13+ words, other case and punctuation


def test_words_drop_case_and_punctuation():
  assert contamination.words("Don't RETURN the value, x.") == ["don't", 'return', 'the', 'value',
                                                               'x']


def test_an_example_is_dirty_when_any_13_gram_is_in_the_corpus():
  examples = [{'input': 'summarize: ' + LONG, 'target': 'Get an attribute.'},
              {'input': 'summarize: a completely different function body that does not appear '
                        'anywhere in the corpus at all, honestly', 'target': 'Nothing.'},
              {'input': 'short', 'target': 'short too'}]
  overlap = contamination.measure(CORPUS, examples)
  assert overlap.dirty == [True, False, False]
  assert overlap.dirty_by_field['input'] == [True, False, False]
  assert overlap.dirty_by_field['target'] == [False, False, False]
  assert overlap.too_short == 1 and overlap.dirty_fraction == 1 / 3
  # 12 shared words are not enough at N = 13, enough at N = 12.
  twelve = [{'input': ' '.join(contamination.words(LONG)[:12])}]
  assert contamination.measure(CORPUS, twelve).dirty == [False]
  assert contamination.measure(CORPUS, twelve, n=12).dirty == [True]
