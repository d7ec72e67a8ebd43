"""T5's span-corruption objective (encoder-decoder): chunks of the concatenated documents,
corrupted into (inputs with sentinels, targets of the dropped spans)."""

from collections.abc import Sequence

import numpy as np

from lm_jax.data import batch_iterator
from lm_jax.data import packing
from lm_jax.data import span_corruption


class SpanCorruptionIterator(batch_iterator.BatchIterator):
  """Batches of span-corrupted chunks of the concatenated documents of `source`.

  Documents are concatenated without separators (T5's `reduce_concat_tokens`: an EOS
  inside the inputs would also cut every decoded input at the first boundary), cut into
  chunks of `raw_tokens_length` (T5's `random_spans_helper` lengths, so a corrupted chunk
  plus EOS fills `inputs_length` exactly), and the n-th chunk since the start of training is
  corrupted with an rng seeded by `(seed, epoch, n)`. With `repeat=False` the tokens left
  at the end of the pass form a last, shorter chunk.

  Batch keys: `encoder_input_tokens` (B, inputs_length); `decoder_input_tokens`,
  `decoder_target_tokens`, `decoder_loss_weights` (B, targets_length).
  """

  def __init__(self, source: Sequence[str], tokenizer, data_config, batch_size: int, seed: int,
               shuffle: bool = True, repeat: bool = True):
    self.inputs_length = int(data_config.inputs_length)
    self.targets_length = int(data_config.targets_length)
    self.noise_density = float(data_config.noise_density)
    self.mean_noise_span_length = float(data_config.mean_noise_span_length)
    if self.inputs_length <= 0 or self.targets_length <= 0:
      raise ValueError(
          'config.data.inputs_length and config.data.targets_length must be positive, got '
          f'{self.inputs_length} and {self.targets_length}.')
    if not 0.0 < self.noise_density < 1.0:
      raise ValueError(f'config.data.noise_density must be in (0, 1), got {self.noise_density}.')
    if self.mean_noise_span_length < 1.0:
      raise ValueError('config.data.mean_noise_span_length must be >= 1, got '
                       f'{self.mean_noise_span_length}.')
    self.raw_tokens_length, needed_targets = span_corruption.span_corruption_lengths(
        self.inputs_length, self.noise_density, self.mean_noise_span_length)
    if self.targets_length < needed_targets:
      raise ValueError(
          f'config.data.targets_length={self.targets_length} is too short: span corruption of '
          f'inputs_length={self.inputs_length} at noise_density={self.noise_density} makes '
          f'targets of {needed_targets} tokens (with EOS); set --config.data.targets_length='
          f'{needed_targets}.')
    sentinels = span_corruption.num_noise_spans(
        self.raw_tokens_length, self.noise_density, self.mean_noise_span_length)
    if sentinels > tokenizer.num_extra_ids:
      raise ValueError(
          f'A chunk of {self.raw_tokens_length} tokens (config.data.inputs_length='
          f'{self.inputs_length}) needs {sentinels} sentinels but the tokenizer has '
          f'config.data.num_extra_ids={tokenizer.num_extra_ids}.')
    super().__init__(source, tokenizer, data_config, batch_size, seed, shuffle, repeat)

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int) -> batch_iterator.BatchShapes:
    return packing.encoder_decoder_shapes(batch_size, int(data_config.inputs_length),
                                          int(data_config.targets_length))

  def _next_example(self) -> dict[str, np.ndarray] | None:
    chunk = self.stream.take(self.raw_tokens_length)
    if not chunk:
      return None
    inputs, targets = span_corruption.span_corrupt(
        chunk, self._example_rng(), noise_density=self.noise_density,
        mean_noise_span_length=self.mean_noise_span_length,
        sentinel_id=self.tokenizer.sentinel_id(0))
    return packing.encoder_decoder_row(inputs, targets, self.inputs_length, self.targets_length,
                                       self.tokenizer.eos_id)
