"""Token sequences -> fixed-length T5X features: rows of an encoder-decoder example, packed
decoder-only rows (segment ids, positions, inputs shifted within segments), padding.

`pad_id` is the tokenizer's: it fills the token arrays past each row and starts decoder inputs
(T5's decoder_start_token_id is its pad 0; GPT-2's pad is its <|endoftext|>, the token its
training put before every document). Which positions are padding is told by segment ids and
loss weights (0 there), never by the id: GPT-2's pad is also its EOS, and its id 0 a word."""

import numpy as np

INT32, FLOAT32 = np.dtype(np.int32), np.dtype(np.float32)


def pad_rows(rows: list[dict[str, np.ndarray]], shapes: dict,
             pad_id: int = 0) -> dict[str, np.ndarray]:
  """Each row written left-aligned into arrays of `shapes` (`key -> (shape, dtype)`) filled with
  `pad_id` (the `*_tokens` keys) or zero (segment id 0, loss weight 0, label 0), so the
  unwritten positions, and the rows past `len(rows)`, are padding.
  """
  batch = {key: np.full(shape, pad_id if key.endswith('_tokens') else 0, dtype)
           for key, (shape, dtype) in shapes.items()}
  for index, row in enumerate(rows):
    if row.keys() != batch.keys():
      raise ValueError(f'Row keys {sorted(row)} differ from the batch keys {sorted(batch)}.')
    for key, value in row.items():
      # A sequence fills the start of its row; a scalar (a class label) its single cell.
      batch[key][(index, *(slice(0, n) for n in np.shape(value)))] = value
  return batch


def encoder_decoder_row(inputs, targets, inputs_length: int, targets_length: int,
                        eos_id: int, pad_id: int = 0) -> dict[str, np.ndarray]:
  """Unpadded T5X encoder-decoder rows of an (inputs, targets) pair without EOS.

  EOS is appended before trimming (seqio `trim_and_pad`), so an over-long sequence loses
  its EOS. `decoder_input_tokens` is the targets shifted right with `pad_id` first (T5 starts
  decoding from the pad id). Every target is scored: the row holds no padding yet.
  """
  eos = np.int32(eos_id)  # keeps the rows int32
  encoder = np.append(np.asarray(inputs, np.int32), eos)[:inputs_length]
  targets = np.append(np.asarray(targets, np.int32), eos)[:targets_length]
  return {
      'encoder_input_tokens': encoder,
      'decoder_input_tokens': np.append(np.int32(pad_id), targets)[:targets_length],
      'decoder_target_tokens': targets,
      'decoder_loss_weights': np.ones(len(targets), np.float32),
  }


def encoder_decoder_shapes(batch_size: int, inputs_length: int, targets_length: int) -> dict:
  encoder, decoder = (batch_size, inputs_length), (batch_size, targets_length)
  return {
      'encoder_input_tokens': (encoder, INT32),
      'decoder_input_tokens': (decoder, INT32),
      'decoder_target_tokens': (decoder, INT32),
      'decoder_loss_weights': (decoder, FLOAT32),
  }


def packed_encoder_decoder_row(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """`encoder_decoder_row`s laid end to end in one row, as seqio packs T5 fine-tuning data.

  Segment ids 1, 2, ... keep each example's attention (encoder, decoder and cross) within
  itself; positions restart at 0 per segment. Each row's decoder inputs start from the pad id,
  so cut to its targets' length (an unpadded row's run one past them, into padding) they shift
  the targets right within segments.
  """
  encoder_lengths = [len(row['encoder_input_tokens']) for row in rows]
  decoder_lengths = [len(row['decoder_target_tokens']) for row in rows]
  packed = {key: np.concatenate([row[key][:n] if key.startswith('decoder') else row[key]
                                 for row, n in zip(rows, decoder_lengths)]) for key in rows[0]}
  packed['encoder_segment_ids'], packed['encoder_positions'] = _segments(encoder_lengths)
  packed['decoder_segment_ids'], packed['decoder_positions'] = _segments(decoder_lengths)
  return packed


def packed_prefix_lm_row(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """Prefix-LM rows (`objectives.prefix_lm.prefix_lm_row`) laid end to end in one row: segment
  ids 1, 2, ... and positions from 0 per example; each row's decoder inputs start from BOS and
  its `decoder_causal_attention` marks its own prompt, which the segment mask keeps to itself."""
  packed = {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
  packed['decoder_segment_ids'], packed['decoder_positions'] = _segments(
      [len(row['decoder_target_tokens']) for row in rows])
  return packed


def _segments(lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
  """Segment ids 1, 2, ... and positions from 0 per segment of pieces of `lengths` end to end."""
  segment_ids = np.repeat(np.arange(1, len(lengths) + 1, dtype=np.int32), lengths)
  return segment_ids, positions_within_segments(segment_ids)


def packed_encoder_decoder_shapes(batch_size: int, inputs_length: int,
                                  targets_length: int) -> dict:
  shapes = encoder_decoder_shapes(batch_size, inputs_length, targets_length)
  encoder, decoder = (batch_size, inputs_length), (batch_size, targets_length)
  shapes.update({'encoder_segment_ids': (encoder, INT32), 'encoder_positions': (encoder, INT32),
                 'decoder_segment_ids': (decoder, INT32), 'decoder_positions': (decoder, INT32)})
  return shapes


def batch_from_examples(examples: list[tuple[np.ndarray, np.ndarray]], inputs_length: int,
                        targets_length: int, eos_id: int, pad_id: int = 0) -> dict[str, np.ndarray]:
  """T5X encoder-decoder batch dict from (inputs, targets) pairs without EOS."""
  rows = [encoder_decoder_row(inputs, targets, inputs_length, targets_length, eos_id, pad_id)
          for inputs, targets in examples]
  return pad_rows(rows, encoder_decoder_shapes(len(examples), inputs_length, targets_length),
                  pad_id)


def segment_ids_after_eos(tokens, eos_id: int) -> np.ndarray:
  """1, 2, 3, ... along a row of EOS-terminated documents: a new segment after each EOS.

  The tokenizer never emits EOS inside a document (it is a SentencePiece control id), so
  in a stream where every document ends with EOS, EOS marks exactly the boundaries.
  """
  tokens = np.asarray(tokens)
  starts = np.zeros(tokens.shape, np.int32)
  starts[..., 1:] = tokens[..., :-1] == eos_id
  return 1 + np.cumsum(starts, axis=-1, dtype=np.int32)


def shift_right_within_segments(targets, segment_ids, pad_id: int = 0) -> np.ndarray:
  """Decoder inputs of packed targets: each position holds the previous target of its
  segment, and `pad_id` (T5X's BOS, 0) where a segment starts, so no segment sees another's
  tokens."""
  targets, segment_ids = np.asarray(targets), np.asarray(segment_ids)
  shifted = np.zeros_like(targets)
  shifted[..., 1:] = targets[..., :-1]
  same_segment = np.zeros(segment_ids.shape, bool)
  same_segment[..., 1:] = segment_ids[..., 1:] == segment_ids[..., :-1]
  return np.where(same_segment, shifted, pad_id).astype(targets.dtype)


def positions_within_segments(segment_ids) -> np.ndarray:
  """0, 1, 2, ... restarting where the segment id changes; 0 on padding (segment 0)."""
  segment_ids = np.asarray(segment_ids)
  index = np.broadcast_to(np.arange(segment_ids.shape[-1]), segment_ids.shape)
  starts = np.ones(segment_ids.shape, bool)
  starts[..., 1:] = segment_ids[..., 1:] != segment_ids[..., :-1]
  segment_start = np.maximum.accumulate(np.where(starts, index, 0), axis=-1)
  return np.where(segment_ids > 0, index - segment_start, 0).astype(np.int32)


def packed_decoder_row(tokens, eos_id: int, pad_id: int = 0) -> dict[str, np.ndarray]:
  """Unpadded decoder-only rows of EOS-terminated document pieces packed into one row.

  Each piece is a segment: it starts from BOS `pad_id` at position 0 and attends only within
  itself, so a document cut at the end of the previous row restarts as a new segment.
  """
  tokens = np.asarray(tokens, np.int32)
  segment_ids = segment_ids_after_eos(tokens, eos_id)
  return {
      'decoder_target_tokens': tokens,
      'decoder_input_tokens': shift_right_within_segments(tokens, segment_ids, pad_id),
      'decoder_segment_ids': segment_ids,
      'decoder_positions': positions_within_segments(segment_ids),
      'decoder_loss_weights': np.ones(len(tokens), np.float32),
  }


def packed_decoder_shapes(batch_size: int, length: int) -> dict:
  shape = (batch_size, length)
  return {
      'decoder_target_tokens': (shape, INT32),
      'decoder_input_tokens': (shape, INT32),
      'decoder_segment_ids': (shape, INT32),
      'decoder_positions': (shape, INT32),
      'decoder_loss_weights': (shape, FLOAT32),
  }
