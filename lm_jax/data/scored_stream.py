"""Causal-LM rows whose tokens carry their line's score (`decoder_token_scores`), through the
data transform of a preference objective (lm_jax/data/line_scores.py): the batches of
pretraining with human preferences, resumable exactly like every other objective's."""
from collections.abc import Sequence

import numpy as np

from lm_jax.data import packing, token_stream
from lm_jax.data.line_scores import LineScoring
from lm_jax.data.objectives.causal_lm import CausalLMIterator

SCORES = 'decoder_token_scores'
# Separates each document's transform rng (control tokens) from the other streams of the seed.
_DOCUMENT_STREAM = 2


class ScoredTokenStream(token_stream.TokenStream):
  """A TokenStream of `scoring.document(text)`'s tokens, with their scores in a parallel carry
  (EOS scores 0: it ends a document and is no line's). A document the transform drops adds no
  tokens. The transform's rng is seeded by (seed, epoch, document), so a resumed stream makes
  the same tokens."""

  empty_reason = ' or dropped by the filtering threshold (config.preference.threshold)'

  def __init__(self, source: Sequence[str], tokenizer, seed: int, scoring: LineScoring,
               shuffle: bool = True, repeat: bool = True):
    self.scoring = scoring
    self._carry_scores: list[float] = []
    self.last_scores: list[float] = []  # the scores of the tokens the last take returned
    super().__init__(source, tokenizer, seed, shuffle=shuffle, repeat=repeat, append_eos=True)

  def get_state(self) -> dict:
    return {**super().get_state(), 'carry_scores': list(self._carry_scores)}

  def set_state(self, state: dict) -> None:
    super().set_state(state)
    self._carry_scores = [float(s) for s in state.get('carry_scores', [])]
    if len(self._carry_scores) != len(self._carry):
      raise ValueError(f'A scored data state holds {len(self._carry)} carried tokens but '
                       f'{len(self._carry_scores)} scores: it was not saved by a run with '
                       'config.preference set.')

  def _append_document(self, doc: int) -> int:
    rng = np.random.default_rng([self.seed, self._epoch, doc, _DOCUMENT_STREAM])
    scored = self.scoring.document(self.source[doc], rng)
    if scored is None:
      return 0
    tokens, scores = scored
    self._carry.extend([*tokens, self.tokenizer.eos_id])
    self._carry_scores.extend([*scores, 0.0])
    return len(tokens) + 1

  def _pop(self, n: int) -> list[int]:
    self.last_scores = self._carry_scores[:n]
    del self._carry_scores[:n]
    return super()._pop(n)


class ScoredCausalLMIterator(CausalLMIterator):
  """CausalLMIterator rows (packed or one document per row) plus `decoder_token_scores` (B, L)
  float32: each token's line score, 0 on EOS and padding."""

  def __init__(self, source: Sequence[str], tokenizer, data_config, batch_size: int, seed: int,
               scoring: LineScoring, shuffle: bool = True, repeat: bool = True):
    super().__init__(source, tokenizer, data_config, batch_size, seed, shuffle, repeat)
    self.stream = ScoredTokenStream(source, tokenizer, seed, scoring, shuffle, repeat)

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int):
    shapes = super().batch_shapes(data_config, batch_size)
    return {**shapes, SCORES: ((batch_size, int(data_config.targets_length)), packing.FLOAT32)}

  def _next_example(self) -> dict[str, np.ndarray] | None:
    row = super()._next_example()
    if row is not None:
      row[SCORES] = np.asarray(self.stream.last_scores, np.float32)
    return row
