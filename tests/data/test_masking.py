import numpy as np

from lm_jax.data import masking

MASK, LOW, HIGH = 999, 3, 900  # random replacements come from [LOW, HIGH)


def mask(tokens, seed, **overrides):
  kwargs = dict(probability=0.15, mask_fraction=0.8, random_fraction=0.1, mask_id=MASK,
                random_ids=(LOW, HIGH))
  kwargs.update(overrides)
  return masking.bert_mask(tokens, np.random.default_rng(seed), **kwargs)


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
