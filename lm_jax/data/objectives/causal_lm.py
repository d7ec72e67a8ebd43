"""GPT-style causal language modelling (decoder-only): rows of EOS-terminated documents,
packed several to a row by default, with T5X's packed decoder features."""

from collections.abc import Sequence

import numpy as np

from lm_jax.data import batch_iterator
from lm_jax.data import packing


class CausalLMIterator(batch_iterator.BatchIterator):
  """Rows of `L = config.data.targets_length` tokens (T5X's 'targets' feature of
  decoder-only models) of the documents of `source`, each followed by EOS.

  `config.data.pack=True`: the documents are laid end to end, L tokens a row; a document
  that does not fit in the rest of a row is cut at the row boundary and its remainder
  starts the next row, as a new segment (no padding but at the end of a single pass).
  `pack=False`: one document per row, cut into pieces of at most L tokens, zero-padded.

  Batch keys, all (B, L): `decoder_target_tokens` (0 = padding), `decoder_input_tokens`
  (targets shifted right within each segment, 0 at every segment start: T5X's BOS),
  `decoder_segment_ids` (1, 2, ... per segment, 0 on padding), `decoder_positions`
  (0, 1, ... restarting per segment), `decoder_loss_weights` (1.0 where segment_ids > 0).
  Attention must not cross segments: models build their masks from the segment ids.
  """

  append_eos = True  # EOS marks document ends in the stream, and so the segments.

  def __init__(self, source: Sequence[str], tokenizer, data_config, batch_size: int, seed: int,
               shuffle: bool = True, repeat: bool = True):
    self.length = self.check_lengths(data_config)
    if not isinstance(data_config.pack, bool):
      raise ValueError(f'config.data.pack must be True or False, got {data_config.pack!r}.')
    self.pack = data_config.pack
    super().__init__(source, tokenizer, data_config, batch_size, seed, shuffle, repeat)

  @classmethod
  def check_lengths(cls, data_config) -> int:
    return batch_iterator.positive_length(data_config, 'targets_length', 'causal_lm')

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int) -> batch_iterator.BatchShapes:
    return packing.packed_decoder_shapes(batch_size, int(data_config.targets_length))

  def _next_example(self) -> dict[str, np.ndarray] | None:
    if self.pack:
      tokens = self.stream.take(self.length)
    else:
      tokens = self.stream.take_from_document(self.length)
    if not tokens:
      return None
    return packing.packed_decoder_row(tokens, self.tokenizer.eos_id, self.tokenizer.pad_id)
