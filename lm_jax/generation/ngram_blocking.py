"""`no_repeat_ngram_size` (HF `NoRepeatNGramLogitsProcessor`, fairseq's `--no-repeat-ngram-size`):
a token that would complete an n-gram already in the row gets score -inf. Summarization decoders
use it against the loops small or undertrained models fall into ('the the the ...')."""
from typing import Any

import jax
import jax.numpy as jnp

Array = Any


def ban_repeated_ngrams(scores: Array, seqs: Array, t, n: int) -> Array:
  """scores (N, V) for buffer position t (traced) with -inf on every token that, after the row's
  tokens seqs[:, t-n+1:t], would repeat an n-gram of seqs[:, :t]; unchanged when n is 0 or fewer
  than n - 1 tokens precede t (HF's rule; the decoder start / prompt tokens count). For n = 1
  the empty prefix matches everywhere: every token already in the row is banned."""
  if n <= 0:
    return scores
  rows, length = seqs.shape
  width = length - n + 1  # n-gram start positions in the buffer
  if width <= 0:
    return scores
  grams = jnp.stack([seqs[:, k:k + width] for k in range(n)], axis=-1)  # (N, W, n)
  last = jax.lax.dynamic_slice_in_dim(seqs, jnp.maximum(t - n + 1, 0), n - 1, axis=1)
  complete = jnp.arange(width) + n - 1 < t  # the n-gram's last token is already written
  match = jnp.all(grams[..., :-1] == last[:, None, :], axis=-1) & complete & (t >= n - 1)
  banned = jnp.zeros(scores.shape, bool).at[jnp.arange(rows)[:, None], grams[..., -1]].max(match)
  return jnp.where(banned, -jnp.inf, scores)
