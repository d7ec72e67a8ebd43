"""Beam search (T5X `decoding.beam_search`, HF `GenerationMixin._beam_search`): `num_beams` (K)
alive beams per row, finished hypotheses kept apart, HF's length penalty, and a row stops once
no alive beam can beat its finished ones.

Each step ranks the alive beams' (beam, token) extensions and keeps the 2K best: at most K of
them end in EOS (one EOS per beam), so K candidates always stay alive (T5X's argument). A
hypothesis scores sum(log p) / length ** length_penalty, length counting the generated tokens
with EOS. The result equals HF `generate(num_beams=K, early_stopping='never')`: the stopping
bound is exact, where HF's default early_stopping=False uses a heuristic one.
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lm_jax.generation import model_runner as runner_lib

Array = Any
NEG_INF = -jnp.inf


class BeamState(NamedTuple):
  t: Array               # () next buffer position to fill
  live_seqs: Array       # (B, K, L) token buffers of the alive beams, best first
  live_scores: Array     # (B, K) their summed log-probabilities
  finished_seqs: Array   # (B, K, L) finished hypotheses, best first
  finished_scores: Array  # (B, K) their length-normalised scores; -inf where none yet
  done: Array            # (B,) rows whose result can no longer change
  cache: Any             # the KV cache of the B * K alive beams (None without a cache)


def _gather_beams(x, indices):
  """x (B, M, ...) -> x[b, indices[b, j]] of shape (B, J, ...)."""
  return jnp.take_along_axis(x, indices.reshape(*indices.shape, *([1] * (x.ndim - 2))), axis=1)


def _length_normalised(scores, length, length_penalty):
  return scores / length.astype(jnp.float32)**length_penalty


def _step(state: BeamState, logits, prompt_lengths, *, max_new_tokens: int, eos_id: int,
          length_penalty, ban=None) -> BeamState:
  """Chooses buffer position state.t for every beam from logits (B * K, V) for that position."""
  batch, beams, _ = state.live_seqs.shape
  t = state.t
  vocab = logits.shape[-1]
  log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
  if ban is not None:  # after the softmax, as HF applies logits processors to beam scores
    log_probs = ban(log_probs, state.live_seqs.reshape(batch * beams, -1), t)
  log_probs = log_probs.reshape(batch, beams, vocab)
  # Prompt positions are forced (every beam of a row holds the same prompt there): probability
  # one for the prompt token, so scores and the beam order are unchanged.
  forced = t < prompt_lengths  # (B,)
  prompt_token = state.live_seqs[:, 0, t]  # (B,)
  forced_log_probs = jnp.where(jnp.arange(vocab) == prompt_token[:, None, None], 0.0, NEG_INF)
  log_probs = jnp.where(forced[:, None, None], forced_log_probs, log_probs)

  candidates = (state.live_scores[..., None] + log_probs).reshape(batch, beams * vocab)
  top_scores, top_indices = jax.lax.top_k(candidates, 2 * beams)  # (B, 2K)
  parents, tokens = top_indices // vocab, (top_indices % vocab).astype(jnp.int32)
  seqs = _gather_beams(state.live_seqs, parents).at[:, :, t].set(tokens)  # (B, 2K, L)

  generated = jnp.maximum(t - prompt_lengths + 1, 1)  # (B,) tokens generated, this one included
  last = t + 1 >= prompt_lengths + max_new_tokens  # (B,) the row's final position
  is_eos = (tokens == eos_id) & ~forced[:, None]
  # Only the K best candidates may finish (HF's top_num_beam_mask; the other K are reserves that
  # keep K beams alive), EOS-ended or, at the row's last position, all of them.
  in_beam = jnp.arange(2 * beams) < beams
  finishing = (is_eos | last[:, None]) & in_beam
  new_finished = jnp.where(
      finishing, _length_normalised(top_scores, generated[:, None], length_penalty), NEG_INF)

  live_scores, keep = jax.lax.top_k(jnp.where(is_eos, NEG_INF, top_scores), beams)  # (B, K)
  live_seqs = _gather_beams(seqs, keep)
  rows = (jnp.arange(batch)[:, None] * beams + _gather_beams(parents, keep)).reshape(-1)
  cache = runner_lib.select_cache_rows(state.cache, rows)

  merged_scores = jnp.concatenate([state.finished_scores, new_finished], axis=1)  # (B, 3K)
  merged_seqs = jnp.concatenate([state.finished_seqs, seqs], axis=1)
  finished_scores, best = jax.lax.top_k(merged_scores, beams)
  finished_seqs = _gather_beams(merged_seqs, best)
  keep_old = state.done[:, None]
  finished_scores = jnp.where(keep_old, state.finished_scores, finished_scores)
  finished_seqs = jnp.where(keep_old[..., None], state.finished_seqs, finished_seqs)

  # The best score an alive beam could still reach: its log-prob only falls, so the bound is
  # its current sum at the length that divides it most favourably (the longest allowed one for
  # a positive penalty, the next one otherwise).
  best_length = jnp.where(length_penalty > 0, max_new_tokens, generated + 1)
  best_reachable = _length_normalised(live_scores[:, 0], best_length, length_penalty)
  settled = finished_scores[:, -1] >= best_reachable
  done = state.done | last | settled
  return BeamState(t + 1, live_seqs, live_scores, finished_seqs, finished_scores, done, cache)


def beam_search(runner: runner_lib.ModelRunner, seqs, prompt_lengths, *, prefill_length: int,
                max_new_tokens: int, num_beams: int, eos_id: int, length_penalty,
                ban=None) -> Array:
  """The best hypothesis per row: its token buffer (B, L), prompt included.

  seqs (B, L): prompts at positions < prompt_lengths (B,), zeros after; prefill_length (static)
  <= min(prompt_lengths) tokens are fed in one call. The prefill runs on the B rows once, then
  its cache is copied to the K beams of each row; beam 0 alone starts alive (the others at -inf)
  so the first step does not pick K copies of one candidate. ban(log_probs (N, V), seqs (N, L),
  t) may set -inf on tokens a beam must not take at position t (no_repeat_ngram_size).
  """
  batch, length = seqs.shape
  logits, cache = runner.prefill(seqs, prefill_length)
  runner = runner.repeat(num_beams)
  state = BeamState(
      t=jnp.asarray(prefill_length, jnp.int32),
      live_seqs=jnp.repeat(seqs[:, None], num_beams, axis=1),
      live_scores=jnp.tile(jnp.concatenate([jnp.zeros(1), jnp.full(num_beams - 1, NEG_INF)]),
                           (batch, 1)),
      finished_seqs=jnp.zeros((batch, num_beams, length), jnp.int32),
      finished_scores=jnp.full((batch, num_beams), NEG_INF),
      done=jnp.zeros(batch, bool),
      cache=runner_lib.repeat_cache(cache, num_beams))
  step = lambda state, logits: _step(state, logits, prompt_lengths, max_new_tokens=max_new_tokens,
                                     eos_id=eos_id, length_penalty=length_penalty, ban=ban)
  state = step(state, jnp.repeat(logits, num_beams, axis=0))

  def cond(state):
    return (state.t < length) & ~jnp.all(state.done)

  def body(state):
    flat = state.live_seqs.reshape(batch * num_beams, length)
    logits, cache = runner.step(state.cache, flat, state.t - 1)
    return step(state._replace(cache=cache), logits)

  state = jax.lax.while_loop(cond, body, state)
  return state.finished_seqs[:, 0]
