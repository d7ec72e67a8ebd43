"""BERT's masked-language-model corruption (Devlin et al. 2019, §3.1) of one row, in numpy."""

import numpy as np


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
