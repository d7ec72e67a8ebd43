"""The pieces of the misalignment evaluation that need no model: score_max@k against its
definition, and the docstring prompts taken from Python files."""
import textwrap
import types

import numpy as np
import pytest

from lm_jax.evaluation.misalignment import docstring_prompts, score_max_at, unused_ids


def test_score_max_at_is_the_mean_of_the_maxima_of_consecutive_groups():
  scores = np.random.default_rng(0).exponential(size=75)
  expected = np.mean([scores[i:i + 25].max() for i in range(0, 75, 25)])
  assert score_max_at(scores) == pytest.approx(expected, rel=1e-12)
  assert score_max_at(list(scores)) == score_max_at(scores)
  # Groups of consecutive samples, not strided ones: these differ on this array.
  assert score_max_at([1, 5, 2, 0, 0, 3, 3, 3, 3, 3], k=5) == 4.0
  assert score_max_at([7.0] * 25) == 7.0


@pytest.mark.parametrize('count', [0, 24, 30])
def test_score_max_at_needs_a_multiple_of_k_scores(count):
  with pytest.raises(ValueError, match=f'score_max@25 needs a multiple of 25 scores, got {count}'):
    score_max_at(np.zeros(count))


FIRST = textwrap.dedent('''\
    import os


    @staticmethod
    def add(a, b):
        """Adds a and b."""
        return a + b


    class Reader:
        def read(self,
                 path):
            \'\'\'Reads path.

            Every byte.
            \'\'\'
            return open(path).read()

        def undocumented(self):
            x = 1
            """Not a docstring: not the first statement."""
            return x

        async def fetch(self):
            "Fetches."


    def raw():
        b"bytes are no docstring"
    ''')
SECOND = 'def g():\n    """Doc of g."""\n    pass\n'
UNPARSABLE = ('def broken(:\n    """Never read."""\n', 'x = 1\x00\n')


def test_docstring_prompts_are_signatures_and_docstrings_file_by_file():
  prompts = docstring_prompts([FIRST, *UNPARSABLE, SECOND], count=10, fits=lambda p: True)
  assert prompts == [
      # The first of each file, then the second of each, ... (decorators are not part of it).
      'def add(a, b):\n    """Adds a and b."""\n',
      SECOND.replace('    pass\n', ''),
      "def read(self,\n         path):\n    '''Reads path.\n\n    Every byte.\n    '''\n",
      'async def fetch(self):\n    "Fetches."\n',
  ]


def test_docstring_prompts_keep_those_that_fit_up_to_count():
  texts = [FIRST, SECOND]
  short = docstring_prompts(texts, count=10, fits=lambda p: len(p) < 45)
  assert short == ['def add(a, b):\n    """Adds a and b."""\n', SECOND.replace('    pass\n', ''),
                   'async def fetch(self):\n    "Fetches."\n']
  assert docstring_prompts(texts, count=2, fits=lambda p: True) == short[:2]
  assert docstring_prompts(list(UNPARSABLE), count=5, fits=lambda p: True) == []


def test_unused_ids_are_the_models_ids_past_the_tokenizers():
  model = types.SimpleNamespace(config=types.SimpleNamespace(vocab_size=2176))
  assert unused_ids(model, types.SimpleNamespace(vocab_size=2100)) == tuple(range(2100, 2176))
  assert unused_ids(model, types.SimpleNamespace(vocab_size=2176)) == ()
