"""ban_repeated_ngrams bans exactly what HF's NoRepeatNGramLogitsProcessor bans."""
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax.generation.ngram_blocking import ban_repeated_ngrams

torch = pytest.importorskip('torch')
logits_process = pytest.importorskip('transformers.generation.logits_process')


@pytest.mark.parametrize('n', [1, 2, 3, 4])
def test_bans_match_hf(n):
  rng = np.random.default_rng(n)
  processor = logits_process.NoRepeatNGramLogitsProcessor(n)
  banned_somewhere = False
  for _ in range(25):
    # A small vocabulary, so n-grams recur; the buffer runs past t (later positions unread).
    vocab = 5 if n < 3 else 2
    seqs = rng.integers(0, vocab, (3, 12)).astype(np.int32)
    t = int(rng.integers(1, 12))
    scores = rng.normal(size=(3, vocab)).astype(np.float32)
    ours = np.asarray(ban_repeated_ngrams(jnp.asarray(scores), jnp.asarray(seqs), t, n))
    expected = processor(torch.from_numpy(seqs[:, :t]).long(),
                         torch.from_numpy(scores.copy())).numpy()
    np.testing.assert_array_equal(ours, expected)
    banned_somewhere |= bool(np.isinf(ours).any())
  assert banned_somewhere


def test_zero_changes_nothing():
  scores = jnp.ones((2, 4))
  assert ban_repeated_ngrams(scores, jnp.zeros((2, 6), jnp.int32), 5, 0) is scores
