"""How much of a test set a pretraining corpus already holds: N-gram overlap as GPT-3 measured it
(Brown et al. 2020, Appendix C): text lower-cased, punctuation removed, split into words; a test
example is dirty when any of its N-grams (N = 13) occurs anywhere in the corpus.

The test side is small, so its N-grams are collected first and the corpus is streamed past them
once: memory grows with the test set, not with the corpus.
"""
import dataclasses
import re
from typing import Iterable, Sequence

N = 13
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def words(text: str) -> list[str]:
  """Lower-cased words without punctuation: 'Return the value.' -> ['return', 'the', 'value']."""
  return _WORD.findall(text.lower())


def ngrams(text: str, n: int = N) -> set[tuple[str, ...]]:
  w = words(text)
  return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


@dataclasses.dataclass
class Overlap:
  """Per test example: whether any of its fields' N-grams is in the corpus."""
  n: int
  examples: int
  too_short: int      # examples with no field of n words: overlap cannot be seen
  dirty: list[bool]   # per example, any field
  dirty_by_field: dict[str, list[bool]]

  @property
  def dirty_fraction(self) -> float:
    return sum(self.dirty) / max(self.examples, 1)

  def field_fraction(self, field: str) -> float:
    return sum(self.dirty_by_field[field]) / max(self.examples, 1)


def measure(corpus: Iterable[str], examples: Sequence[dict[str, str]], n: int = N) -> Overlap:
  """`examples`: one dict of field name -> text per test example (e.g. input and target)."""
  fields = list(examples[0]) if examples else []
  owners = {}  # n-gram -> [(example index, field)]
  for i, example in enumerate(examples):
    for field in fields:
      for gram in ngrams(example[field], n):
        owners.setdefault(gram, []).append((i, field))
  dirty_by_field = {field: [False] * len(examples) for field in fields}
  if owners:
    for document in corpus:
      w = words(document)
      for j in range(len(w) - n + 1):
        for i, field in owners.get(tuple(w[j:j + n]), ()):
          dirty_by_field[field][i] = True
  too_short = sum(all(len(words(e[f])) < n for f in fields) for e in examples)
  dirty = [any(dirty_by_field[f][i] for f in fields) for i in range(len(examples))]
  return Overlap(n, len(examples), too_short, dirty, dirty_by_field)
