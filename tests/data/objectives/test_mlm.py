"""mlm: BERT's masking of one row (exact counts, the 80/10/10 statistics), then the iterator's
rows of the document stream."""

import numpy as np

from lm_jax.data import pipeline
from lm_jax.data.objectives import mlm

LENGTH = 64
MASK, LOW, HIGH = 999, 3, 900  # random replacements come from [LOW, HIGH)


def mask(tokens, seed, **overrides):
  kwargs = dict(probability=0.15, mask_fraction=0.8, random_fraction=0.1, mask_id=MASK,
                random_ids=(LOW, HIGH))
  kwargs.update(overrides)
  return mlm.bert_mask(tokens, np.random.default_rng(seed), **kwargs)


def within(observed, n, p, sigmas=5.0):
  """`observed` successes of `n` trials agree with probability `p` to `sigmas` binomial sds."""
  return abs(observed - n * p) <= sigmas * np.sqrt(n * p * (1 - p))


def test_selection_count_is_exact_and_skips_padding():
  tokens = np.zeros(100, np.int32)
  tokens[:73] = np.arange(3, 76)
  for seed in range(50):
    corrupted, selected = mask(tokens, seed)
    assert selected.sum() == round(0.15 * 73) == 11
    assert not selected[73:].any() and not corrupted[73:].any()
    np.testing.assert_array_equal(corrupted[~selected], tokens[~selected])
  assert mask(np.array([7, 0, 0]), 0)[1].tolist() == [True, False, False]  # at least one
  assert not mask(np.zeros(5, np.int32), 0)[1].any()  # nothing to select in an empty row


def test_replacement_statistics_are_berts_80_10_10():
  rng = np.random.default_rng(0)
  rows = 2000
  tokens = rng.integers(LOW, HIGH, size=(rows, 128)).astype(np.int32)
  tokens[:, 100:] = 0  # padding is never selected
  outcomes = {'mask': 0, 'random': 0, 'kept': 0}
  positions = np.zeros(128)
  for seed, row in enumerate(tokens):
    corrupted, selected = mask(row, seed)
    positions += selected
    changed = corrupted != row
    outcomes['mask'] += int((corrupted[selected] == MASK).sum())
    replaced = selected & changed & (corrupted != MASK)
    assert ((corrupted[replaced] >= LOW) & (corrupted[replaced] < HIGH)).all()
    outcomes['random'] += int(replaced.sum())
    outcomes['kept'] += int((selected & ~changed).sum())
    assert not (changed & ~selected).any()
  selected_total = rows * 15
  assert sum(outcomes.values()) == selected_total
  # A random draw equals the original token with probability 1/(HIGH-LOW): counted as kept.
  random_changed = 0.1 * (1 - 1 / (HIGH - LOW))
  assert within(outcomes['mask'], selected_total, 0.8)
  assert within(outcomes['random'], selected_total, random_changed)
  assert within(outcomes['kept'], selected_total, 1 - 0.8 - random_changed)
  # Positions are chosen uniformly: each real position ~ 15/100 of the rows.
  assert all(within(count, rows, 0.15) for count in positions[:100])
  assert not positions[100:].any()


def test_fractions_at_the_extremes():
  tokens = np.arange(3, 203)
  corrupted, selected = mask(tokens, 0, mask_fraction=1.0, random_fraction=0.0)
  assert (corrupted[selected] == MASK).all()
  corrupted, selected = mask(tokens, 0, mask_fraction=0.0, random_fraction=0.0)
  np.testing.assert_array_equal(corrupted, tokens)
  assert selected.sum() == 30
  corrupted, selected = mask(tokens, 0, probability=1.0, mask_fraction=0.0, random_fraction=1.0)
  assert selected.all() and ((corrupted >= LOW) & (corrupted < HIGH)).all()


def test_masking_depends_only_on_the_rng():
  tokens = np.arange(3, 300)
  a, b, c = mask(tokens, 4), mask(tokens, 4), mask(tokens, 5)
  np.testing.assert_array_equal(a[0], b[0])
  assert not np.array_equal(a[1], c[1])


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
    assert row_selected.sum() == mlm.num_to_select(int(n), 0.15)
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
