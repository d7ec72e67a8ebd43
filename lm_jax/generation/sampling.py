"""Choosing the next token from logits: greedy, or sampling with temperature, top-k and top-p
(nucleus) filtering, in HF's `TemperatureLogitsWarper` -> `TopKLogitsWarper` -> `TopPLogitsWarper`
order."""
import jax
import jax.numpy as jnp

NEG_INF = -jnp.inf


def top_k_filter(logits, top_k: int):
  """Logits (..., V) with everything below the k-th largest set to -inf (0 keeps all).

  Ties with the k-th value are kept, as HF does.
  """
  if top_k <= 0 or top_k >= logits.shape[-1]:
    return logits
  kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
  return jnp.where(logits < kth, NEG_INF, logits)


def top_p_filter(logits, top_p):
  """Keeps the nucleus (Holtzman et al. 2020): the most likely tokens whose probability mass,
  summed in decreasing order, first reaches top_p; the top token is always kept.

  A token stays exactly when the mass of the tokens ranked above it is < top_p, which is HF's
  rule (drop where the ascending cumulative mass <= 1 - top_p) written from the top.
  """
  sorted_logits = jnp.sort(logits, axis=-1)[..., ::-1]  # (..., V) descending
  probs = jax.nn.softmax(sorted_logits, axis=-1)
  mass_above = jnp.cumsum(probs, axis=-1) - probs
  in_nucleus = mass_above < top_p
  threshold = jnp.min(jnp.where(in_nucleus, sorted_logits, jnp.inf), axis=-1, keepdims=True)
  return jnp.where(logits < threshold, NEG_INF, logits)


def filter_logits(logits, *, temperature, top_k: int = 0, top_p=1.0, use_top_p: bool = False):
  """Scaled and filtered logits (..., V) float32; filtered-out tokens are -inf.

  `top_k` and `use_top_p` are Python values (they decide which ops exist); `temperature` and
  `top_p` may be traced scalars. Temperature 0 is handled by the caller as greedy decoding.
  """
  logits = logits.astype(jnp.float32) / temperature
  logits = top_k_filter(logits, top_k)
  if use_top_p:
    logits = top_p_filter(logits, top_p)
  return logits


def choose_tokens(logits, key, *, sample: bool, temperature=1.0, top_k: int = 0, top_p=1.0,
                  use_top_p: bool = False):
  """Next tokens (N,) int32 from logits (N, V): argmax, or a draw from the filtered softmax."""
  if not sample:
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)
  filtered = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p,
                           use_top_p=use_top_p)
  return jax.random.categorical(key, filtered, axis=-1).astype(jnp.int32)
