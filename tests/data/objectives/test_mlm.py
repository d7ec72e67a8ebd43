import numpy as np

from lm_jax.data import masking, pipeline

LENGTH = 64


def within(observed, n, p, sigmas=5.0):
  return abs(observed - n * p) <= sigmas * np.sqrt(n * p * (1 - p))


def test_mask_id_is_the_top_sentinel(tokenizer):
  assert tokenizer.mask_id == tokenizer.sentinel_id(0) == tokenizer.vocab_size - 1


def test_rows_are_masked_chunks_of_the_stream(make_data_config, tokenizer, validation_texts):
  config = make_data_config(objective='mlm', inputs_length=LENGTH)
  batches = list(pipeline.make_eval_iterator(config, tokenizer, 16, seed=0))
  inputs, targets, weights = (np.concatenate([b[key] for b in batches]) for key in (
      'encoder_input_tokens', 'encoder_target_tokens', 'encoder_loss_weights'))
  real = targets != 0
  assert weights.dtype == np.float32 and set(np.unique(weights)) <= {0.0, 1.0}
  selected = weights == 1.0

  # Targets are the unmasked stream of EOS-terminated documents, L tokens a row.
  stream = [t for text in validation_texts for t in tokenizer.encode(text) + [tokenizer.eos_id]]
  assert targets[real].tolist() == stream
  lengths = real.sum(axis=1)
  assert (lengths[:-1][lengths[1:] > 0] == LENGTH).all()

  # Loss exactly on the selected positions: round(0.15 n) (at least one) of each row's n
  # real tokens; every other position keeps its token.
  for row_selected, n in zip(selected, lengths):
    assert row_selected.sum() == masking.num_to_select(int(n), 0.15)
  assert not (selected & ~real).any()
  np.testing.assert_array_equal(inputs[~selected], targets[~selected])

  # BERT's 80/10/10 over the selected tokens.
  chosen_inputs, chosen_targets = inputs[selected], targets[selected]
  total = len(chosen_inputs)
  masked = chosen_inputs == tokenizer.mask_id
  kept = chosen_inputs == chosen_targets
  randomised = ~masked & ~kept
  draw_changes = 0.1 * (1 - 1 / (tokenizer.sp_vocab_size - 3))
  assert within(masked.sum(), total, 0.8)
  assert within(randomised.sum(), total, draw_changes)
  assert within(kept.sum(), total, 1 - 0.8 - draw_changes)
  # Random replacements are regular ids: never pad, EOS, unk or a sentinel.
  replacements = chosen_inputs[randomised]
  assert ((replacements >= 3) & (replacements < tokenizer.sp_vocab_size)).all()
  assert len(np.unique(replacements)) > 0.5 * len(replacements)  # spread over the vocabulary


def test_fractions_come_from_the_config(make_data_config, tokenizer):
  config = make_data_config(objective='mlm', inputs_length=LENGTH, mlm_probability=0.5,
                            mlm_mask_fraction=1.0, mlm_random_fraction=0.0)
  batch = next(pipeline.make_train_iterator(config, tokenizer, 8, seed=0))
  selected = batch['encoder_loss_weights'] == 1
  assert (selected.sum(axis=1) == LENGTH // 2).all()
  assert (batch['encoder_input_tokens'][selected] == tokenizer.mask_id).all()
  assert (batch['encoder_input_tokens'] == tokenizer.mask_id).sum() == selected.sum()


def test_random_replacements_cover_only_regular_ids(make_data_config, tokenizer):
  # Every real token replaced at random: ~16k draws, where special ids would show up ~25 times.
  config = make_data_config(objective='mlm', inputs_length=LENGTH, mlm_probability=1.0,
                            mlm_mask_fraction=0.0, mlm_random_fraction=1.0)
  iterator = pipeline.make_train_iterator(config, tokenizer, 16, seed=0)
  draws = np.concatenate([next(iterator)['encoder_input_tokens'].ravel() for _ in range(16)])
  assert draws.min() == 3 and draws.max() == tokenizer.sp_vocab_size - 1
