"""T5's span-corruption objective (encoder-decoder): chunks of the concatenated documents,
corrupted into (inputs with sentinels, targets of the dropped spans). The corruption is T5's
(Raffel et al. 2020, §3.1.4) in numpy, following `t5.data.preprocessors.random_spans_noise_mask`
/ `span_corruption`."""

from collections.abc import Sequence

import numpy as np

from lm_jax.data import batch_iterator
from lm_jax.data import packing


def span_corruption_lengths(inputs_length: int, noise_density: float,
                            mean_noise_span_length: float) -> tuple[int, int]:
  """(raw tokens per chunk, targets length) so that a corrupted chunk plus EOS fills
  exactly `inputs_length`; T5's `random_spans_helper` (both lengths count the EOS)."""

  def lengths(tokens_length):
    num_noise_tokens = int(round(tokens_length * noise_density))
    num_nonnoise_tokens = tokens_length - num_noise_tokens
    num_noise_spans = int(round(num_noise_tokens / mean_noise_span_length))
    # inputs: non-noise tokens + one sentinel per noise span + EOS;
    # targets: noise tokens + one sentinel per span + EOS.
    return (num_nonnoise_tokens + num_noise_spans + 1, num_noise_tokens + num_noise_spans + 1)

  tokens_length = inputs_length - 1
  while lengths(tokens_length + 1)[0] <= inputs_length:
    tokens_length += 1
  _, targets_length = lengths(tokens_length)
  # T5's "minor hack": at density 0.5 keep targets no longer than inputs.
  if noise_density == 0.5 and targets_length > inputs_length:
    tokens_length -= 1
    targets_length -= 1
  return tokens_length, targets_length


def num_noise_spans(length: int, noise_density: float, mean_noise_span_length: float) -> int:
  """How many noise spans (= sentinels used) `random_spans_noise_mask` makes for `length`."""
  length = max(length, 2)
  num_noise_tokens = min(max(int(np.round(length * noise_density)), 1), length - 1)
  spans = max(int(np.round(num_noise_tokens / mean_noise_span_length)), 1)
  # T5 fails on a shape mismatch when a segmentation has more segments than items;
  # capping keeps every span non-empty and only matters at extreme densities.
  return min(spans, num_noise_tokens, length - num_noise_tokens)


def raw_tokens_length(data_config, num_extra_ids: int) -> int:
  """The raw tokens per chunk for `data_config`'s lengths, or a ValueError naming the key to
  change: the targets must hold what corrupting `inputs_length` makes, and the tokenizer must
  have a sentinel per noise span."""
  inputs_length, targets_length = int(data_config.inputs_length), int(data_config.targets_length)
  density, mean_span = float(data_config.noise_density), float(data_config.mean_noise_span_length)
  # The schema checks these ranges too; the arithmetic below would not end outside them.
  if inputs_length <= 0 or targets_length <= 0:
    raise ValueError('config.data.inputs_length and config.data.targets_length must be positive, '
                     f'got {inputs_length} and {targets_length}.')
  if not 0.0 < density < 1.0:
    raise ValueError(f'config.data.noise_density must be in (0, 1), got {density}.')
  if mean_span < 1.0:
    raise ValueError(f'config.data.mean_noise_span_length must be >= 1, got {mean_span}.')
  raw_tokens_length, needed_targets = span_corruption_lengths(inputs_length, density, mean_span)
  if targets_length < needed_targets:
    raise ValueError(
        f'config.data.targets_length={targets_length} is too short: span corruption of '
        f'inputs_length={inputs_length} at noise_density={density} makes targets of '
        f'{needed_targets} tokens (with EOS); set --config.data.targets_length={needed_targets}.')
  sentinels = num_noise_spans(raw_tokens_length, density, mean_span)
  if sentinels > num_extra_ids:
    raise ValueError(
        f'A chunk of {raw_tokens_length} tokens (config.data.inputs_length={inputs_length}) '
        f'needs {sentinels} sentinels but the tokenizer has config.data.num_extra_ids='
        f'{num_extra_ids}.')
  return raw_tokens_length


def _random_segmentation(num_items: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
  """Lengths of a uniformly random partition of `num_items` into non-empty segments."""
  first_in_segment = np.zeros(num_items, np.int64)
  first_in_segment[1:] = rng.permutation(np.arange(num_items - 1) < num_segments - 1)
  segment_id = np.cumsum(first_in_segment)
  return np.bincount(segment_id, minlength=num_segments)


def random_spans_noise_mask(length: int, noise_density: float, mean_noise_span_length: float,
                            rng: np.random.Generator) -> np.ndarray:
  """Boolean mask (True = noise) of `length`: alternating non-noise / noise spans,
  starting with non-noise, about `noise_density` noise in spans of mean length
  `mean_noise_span_length`."""
  if noise_density == 0.0:
    return np.zeros(length, bool)
  orig_length = length
  length = max(length, 2)  # as T5: avoid degeneracy for one-token sequences
  num_noise_tokens = min(max(int(np.round(length * noise_density)), 1), length - 1)
  spans = num_noise_spans(length, noise_density, mean_noise_span_length)
  noise_lengths = _random_segmentation(num_noise_tokens, spans, rng)
  nonnoise_lengths = _random_segmentation(length - num_noise_tokens, spans, rng)
  interleaved = np.stack([nonnoise_lengths, noise_lengths], axis=1).reshape(-1)
  span_starts = np.cumsum(interleaved)[:-1]
  span_start_indicator = np.zeros(length, np.int64)
  span_start_indicator[span_starts] = 1
  is_noise = np.cumsum(span_start_indicator) % 2 == 1
  return is_noise[:orig_length]


def _noise_span_to_unique_sentinel(tokens: np.ndarray, noise_mask: np.ndarray,
                                   sentinel_id: int) -> np.ndarray:
  """Each noise span -> one sentinel, counting down from `sentinel_id`."""
  prev_is_noise = np.concatenate([[False], noise_mask[:-1]])
  first_noise = noise_mask & ~prev_is_noise
  subsequent_noise = noise_mask & prev_is_noise
  sentinels = sentinel_id + 1 - np.cumsum(first_noise)
  return np.where(first_noise, sentinels, tokens)[~subsequent_noise]


def span_corrupt(tokens, rng: np.random.Generator, *, noise_density: float,
                 mean_noise_span_length: float, sentinel_id: int) -> tuple[np.ndarray, np.ndarray]:
  """(inputs, targets) without EOS: inputs keep the non-noise tokens with a sentinel
  per noise span, targets hold the noise spans each after its sentinel.
  `sentinel_id` is `<extra_id_0>`; later sentinels count down from it."""
  tokens = np.asarray(tokens, np.int32)
  noise_mask = random_spans_noise_mask(len(tokens), noise_density, mean_noise_span_length, rng)
  inputs = _noise_span_to_unique_sentinel(tokens, noise_mask, sentinel_id)
  targets = _noise_span_to_unique_sentinel(tokens, ~noise_mask, sentinel_id)
  return inputs.astype(np.int32), targets.astype(np.int32)


def merge_spans(inputs, targets, lowest_sentinel_id: int) -> list[int]:
  """Undoes `span_corrupt`: puts each target span back in place of its sentinel in the inputs.

  Ids >= `lowest_sentinel_id` are sentinels; inputs and targets carry no EOS or padding. Also
  fills a model's predicted spans into its input, to show a prediction in context.
  """
  spans, current = {}, None
  for token in targets:
    if token >= lowest_sentinel_id:
      current = int(token)
      spans[current] = []
    elif current is not None:
      spans[current].append(int(token))
  merged = []
  for token in inputs:
    merged.extend(spans.get(int(token), []) if token >= lowest_sentinel_id else [int(token)])
  return merged


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
    self.raw_tokens_length = raw_tokens_length(data_config, tokenizer.num_extra_ids)
    super().__init__(source, tokenizer, data_config, batch_size, seed, shuffle, repeat)

  @classmethod
  def check_lengths(cls, data_config) -> int:
    return raw_tokens_length(data_config, int(data_config.num_extra_ids))

  @classmethod
  def batch_shapes(cls, data_config, batch_size: int) -> batch_iterator.BatchShapes:
    return packing.encoder_decoder_shapes(batch_size, int(data_config.inputs_length),
                                          int(data_config.targets_length))

  def _next_example(self) -> dict[str, np.ndarray] | None:
    chunk = self.stream.take(self.raw_tokens_length)
    if not chunk:
      return None
    inputs, targets = span_corrupt(
        chunk, self._example_rng(), noise_density=self.noise_density,
        mean_noise_span_length=self.mean_noise_span_length,
        sentinel_id=self.tokenizer.sentinel_id(0))
    return packing.encoder_decoder_row(inputs, targets, self.inputs_length, self.targets_length,
                                       self.tokenizer.eos_id, self.tokenizer.pad_id)
