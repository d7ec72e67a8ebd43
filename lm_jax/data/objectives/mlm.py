"""BERT-style masked language modelling (encoder-only): chunks of the document stream with
15% of the tokens selected and mostly masked, to be predicted from both sides; the masking of a
row is BERT's (Devlin et al. 2019, §3.1), in numpy."""

from collections.abc import Sequence

import numpy as np

from lm_jax.data import batch_iterator
from lm_jax.data import packing


def num_to_select(num_tokens: int, probability: float) -> int:
  """How many of `num_tokens` real tokens are selected: an exact count, as BERT's
  `create_pretraining_data.py` (`max(1, int(round(n * p)))`), so no row goes unsupervised."""
  if num_tokens == 0:
    return 0
  return max(1, int(round(num_tokens * probability)))


def bert_mask(tokens, rng: np.random.Generator, *, probability: float, mask_fraction: float,
              random_fraction: float, mask_id: int, random_ids: tuple[int, int],
              pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(corrupted tokens, selected) for one row.

  `num_to_select` of the non-pad positions are chosen uniformly without replacement. Each
  chosen token independently becomes `mask_id` with probability `mask_fraction`, a token
  drawn uniformly from `[random_ids[0], random_ids[1])` with probability
  `random_fraction`, and stays as it is otherwise (BERT's 80/10/10). A random replacement
  may draw the original token, as in BERT. `selected` (bool) marks the chosen positions:
  the loss is taken there only.
  """
  tokens = np.asarray(tokens, np.int32)
  real = np.flatnonzero(tokens != pad_id)
  chosen = np.sort(rng.choice(real, size=num_to_select(len(real), probability), replace=False))
  draw = rng.random(len(chosen))
  masked = chosen[draw < mask_fraction]
  randomised = chosen[(draw >= mask_fraction) & (draw < mask_fraction + random_fraction)]
  corrupted = tokens.copy()
  corrupted[masked] = mask_id
  corrupted[randomised] = rng.integers(*random_ids, size=len(randomised))
  selected = np.zeros(tokens.shape, bool)
  selected[chosen] = True
  return corrupted, selected


class MLMIterator(batch_iterator.BatchIterator):
  """Rows of `L = config.data.inputs_length`: consecutive chunks of L tokens of the stream
  of EOS-terminated documents of `source` (RoBERTa's FULL-SENTENCES: a row may span
  documents; no segment ids), corrupted as BERT by `bert_mask` with an rng seeded by
  `(seed, epoch, n)` for the n-th row since the start of training.

  `round(mlm_probability * n)` (at least one) of a row's n real tokens are selected; of them
  a fraction `mlm_mask_fraction` becomes `tokenizer.mask_id`, `mlm_random_fraction` a
  uniformly random regular id, and the rest stay unchanged.

  Batch keys, all (B, L): `encoder_input_tokens` (corrupted), `encoder_target_tokens`
  (original, 0 = padding), `encoder_loss_weights` (float32, 1.0 on the selected positions).
  """

  append_eos = True

  def __init__(self, source: Sequence[str], tokenizer, data_config, batch_size: int, seed: int,
               shuffle: bool = True, repeat: bool = True):
    self.length = self.check_lengths(data_config)
    self.probability = float(data_config.mlm_probability)
    self.mask_fraction = float(data_config.mlm_mask_fraction)
    self.random_fraction = float(data_config.mlm_random_fraction)
    if not 0.0 < self.probability <= 1.0:
      raise ValueError(f'config.data.mlm_probability={self.probability} must be in (0, 1]; '
                       'BERT uses --config.data.mlm_probability=0.15.')
    for key, value in (('mlm_mask_fraction', self.mask_fraction),
                       ('mlm_random_fraction', self.random_fraction)):
      if not 0.0 <= value <= 1.0:
        raise ValueError(f'config.data.{key}={value} must be in [0, 1].')
    if self.mask_fraction + self.random_fraction > 1.0:
      raise ValueError(
          f'config.data.mlm_mask_fraction + config.data.mlm_random_fraction = '
          f'{self.mask_fraction} + {self.random_fraction} > 1: they share the selected tokens '
          '(BERT: 0.8 masked, 0.1 random, the rest kept).')
    if tokenizer.num_extra_ids < 1:
      raise ValueError('mlm masks with <extra_id_0>, but config.data.num_extra_ids is 0: '
                       'set --config.data.num_extra_ids to at least 1.')
    # Random replacements are regular SentencePiece ids: never pad, EOS, unk or a sentinel.
    self.random_ids = (max(tokenizer.pad_id, tokenizer.eos_id, tokenizer.unk_id) + 1,
                       tokenizer.sp_vocab_size)
    if self.random_ids[0] >= self.random_ids[1]:
      raise ValueError(f'The tokenizer has no regular ids to draw random replacements from '
                       f'(sp_vocab_size={tokenizer.sp_vocab_size}).')
    super().__init__(source, tokenizer, data_config, batch_size, seed, shuffle, repeat)

  @classmethod
  def check_lengths(cls, data_config) -> int:
    return batch_iterator.positive_length(data_config, 'inputs_length', 'mlm')

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int) -> batch_iterator.BatchShapes:
    shape = (batch_size, int(data_config.inputs_length))
    return {
        'encoder_input_tokens': (shape, packing.INT32),
        'encoder_target_tokens': (shape, packing.INT32),
        'encoder_loss_weights': (shape, packing.FLOAT32),
    }

  def _next_example(self) -> dict[str, np.ndarray] | None:
    tokens = self.stream.take(self.length)
    if not tokens:
      return None
    targets = np.asarray(tokens, np.int32)
    inputs, selected = bert_mask(
        targets, self._example_rng(), probability=self.probability,
        mask_fraction=self.mask_fraction, random_fraction=self.random_fraction,
        mask_id=self.tokenizer.mask_id,
        random_ids=self.random_ids,
        pad_id=self.tokenizer.pad_id)
    return {
        'encoder_input_tokens': inputs,
        'encoder_target_tokens': targets,
        'encoder_loss_weights': selected.astype(np.float32),
    }
