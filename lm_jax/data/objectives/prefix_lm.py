"""Prefix language modelling (decoder-only, Raffel et al. 2020 §3.2.2): a chunk of text is
split at a random point; the prefix is read with full attention, the rest is predicted.
Rows follow seqio's `PrefixLMFeatureConverter` layout."""

from collections.abc import Sequence

import numpy as np

from lm_jax.data import batch_iterator
from lm_jax.data import packing


def prefix_lm_row(chunk, split: int, eos_id: int, pad_id: int = 0) -> dict[str, np.ndarray]:
  """Unpadded rows of `chunk` split into inputs `chunk[:split]` and targets
  `chunk[split:] + [EOS]`.

  `decoder_causal_attention` covers the first `split + 1` positions of
  `decoder_input_tokens`: the BOS (`pad_id`, packing.py) and the inputs, which attend to each other
  bidirectionally (seqio shifts the inputs mask right by one for the BOS). The loss is
  on the targets only.
  """
  row = np.append(np.asarray(chunk, np.int32), eos_id)
  if not 1 <= split <= len(chunk):
    raise ValueError(f'split {split} outside [1, {len(chunk)}]')
  causal_attention = np.zeros(len(row), np.int32)
  causal_attention[:split + 1] = 1
  loss_weights = np.zeros(len(row), np.float32)
  loss_weights[split:] = 1.0
  return {
      'decoder_target_tokens': row,
      'decoder_input_tokens': np.concatenate([[pad_id], row[:-1]]).astype(np.int32),
      'decoder_causal_attention': causal_attention,
      'decoder_loss_weights': loss_weights,
      'decoder_segment_ids': np.ones(len(row), np.int32),
      'decoder_positions': np.arange(len(row), dtype=np.int32),
  }


class PrefixLMIterator(batch_iterator.BatchIterator):
  """Rows of `L = config.data.targets_length`: a chunk of L-1 tokens of the stream of
  EOS-terminated documents of `source`, then EOS.

  The n-th chunk since the start of training is split at a point drawn by an rng seeded by
  `(seed, epoch, n)`, uniform over 1 .. len(chunk)-1 so that both sides are non-empty
  (T5's `random_prefix_noise_mask` at noise density 0.5); a one-token chunk is all prefix.
  No EOS separates the prefix from its continuation: the targets continue the text. A
  chunk may cross document boundaries (the EOS stays in it); the row is one segment.

  Batch keys, all (B, L): `decoder_target_tokens` (the row, 0 = padding),
  `decoder_input_tokens` (the row shifted right, 0 first), `decoder_causal_attention`
  (int32, 1 on the first split+1 positions), `decoder_loss_weights` (1.0 on the targets
  and the final EOS), `decoder_segment_ids` (1 on tokens, 0 on padding),
  `decoder_positions` (0, 1, ..., 0 on padding).
  """

  append_eos = True

  def __init__(self, source: Sequence[str], tokenizer, data_config, batch_size: int, seed: int,
               shuffle: bool = True, repeat: bool = True):
    self.length = self.check_lengths(data_config)
    super().__init__(source, tokenizer, data_config, batch_size, seed, shuffle, repeat)

  @classmethod
  def check_lengths(cls, data_config) -> int:
    # A prefix token, a target token and the final EOS.
    return batch_iterator.positive_length(data_config, 'targets_length', 'prefix_lm', minimum=3)

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int) -> batch_iterator.BatchShapes:
    shapes = packing.packed_decoder_shapes(batch_size, int(data_config.targets_length))
    shapes['decoder_causal_attention'] = ((batch_size, int(data_config.targets_length)),
                                          packing.INT32)
    return shapes

  def _next_example(self) -> dict[str, np.ndarray] | None:
    chunk = self.stream.take(self.length - 1)
    if not chunk:
      return None
    rng = self._example_rng()
    split = int(rng.integers(1, len(chunk))) if len(chunk) > 1 else 1
    return prefix_lm_row(chunk, split, self.tokenizer.eos_id, self.tokenizer.pad_id)
