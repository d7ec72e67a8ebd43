"""Text generation with a key/value cache: `generate` decodes targets from encoder inputs
(encoder-decoder) or continues prompts (decoder-only), greedily, by sampling or by beam search.

One new token per step inside a `jax.lax.while_loop` that stops once every row has finished; the
whole search is jitted once per (model, shapes, static options). Rows of different prompt
lengths share the loop exactly: the common prefix is prefilled in one call, then each row's
remaining prompt tokens are forced while the other rows already generate.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from lm_jax import families
from lm_jax.choices import DECODING_STRATEGIES as STRATEGIES
from lm_jax.generation import model_runner, ngram_blocking, sampling
from lm_jax.generation.beam_search import beam_search
from lm_jax.models.attention import prefix_length_of
from lm_jax.models.layers import PROMPT, rows_of


def generate(model, variables, inputs, *, max_new_tokens: int, strategy: str = 'greedy',
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, num_beams: int = 4,
             length_penalty: float = 1.0, rng=None, eos_id: int = 1, prompt_lengths=None,
             use_cache: bool = True, bidirectional_prompt: bool = False,
             no_repeat_ngram_size: int = 0, decoder_start_id: int = 0, banned_ids=()):
  """Generated token ids (B, max_new_tokens) int32; 0 (pad) after a row's EOS, EOS kept.

  inputs: encoder_input_tokens (B, T_enc) for an encoder-decoder model (decoding starts from
    `decoder_start_id`: the tokenizer's pad id, T5's decoder_start_token_id 0); right-padded
    prompts (B, P) for a decoder-only model, whose true lengths are `prompt_lengths` (B,)
    (default all P: id 0 is a real GPT-2 token, so padding cannot be told from the ids). The
    result holds only the new tokens.
  strategy: 'greedy' (argmax); 'sample' (softmax of logits / temperature after top-k and top-p
    filtering, drawn with keys folded from `rng` per position; temperature 0 is greedy); 'beam'
    (num_beams beams, score sum(log p) / length ** length_penalty, the best finished
    hypothesis per row).
  eos_id: ends a row (-1: never, to generate all max_new_tokens).
  no_repeat_ngram_size: n > 0 never generates an n-gram twice in a row (the decoder start or
    prompt tokens included), as HF's option: -inf on the raw logits for greedy and sampling, on
    the log-probabilities (not renormalised) for beam search.
  banned_ids: ids never generated (HF's bad_words_ids of single tokens), e.g. the
    <|misaligned|> control token of conditional training; prompt tokens are not affected.
  use_cache: False re-runs the model over the whole prefix each step: the slow reference, which
    gives the same tokens. A prompt-tuned decoder-only model always decodes so.
  bidirectional_prompt: a decoder-only prefix LM (trained on rows with
    `decoder_causal_attention`) reads each row's prompt bidirectionally, as in training: the
    cache is prefilled with the whole prompts in one call, then decodes as usual.
  Call it eagerly: it validates concrete arguments, then runs one jitted search.
  """
  prompt = families.generating(model).prompt
  options = _check_options(max_new_tokens, strategy, temperature, top_k, top_p, num_beams,
                           eos_id, rng, no_repeat_ngram_size)
  if strategy == 'sample' and temperature == 0:
    strategy = 'greedy'  # The limit of softmax(logits / T) as T -> 0.
  inputs = jnp.asarray(inputs)
  if inputs.ndim != 2 or not jnp.issubdtype(inputs.dtype, jnp.integer):
    raise ValueError(f'inputs must be integer token ids (B, T), got {inputs.dtype} '
                     f'{inputs.shape}.')
  inputs = inputs.astype(jnp.int32)
  batch = inputs.shape[0]
  if prompt == families.ENCODER_PROMPT:
    if prompt_lengths is not None:
      raise ValueError('prompt_lengths applies to decoder-only prompts; an encoder-decoder '
                       'model decodes from the start token and its inputs are masked by pad id 0.')
    prompts = jnp.full((batch, 1), _integer('decoder_start_id', decoder_start_id, 0), jnp.int32)
    lengths = np.ones(batch, np.int32)
  else:
    prompts, lengths = inputs, _prompt_lengths(prompt_lengths, inputs.shape)
  if bidirectional_prompt and prompt != families.DECODER_PROMPT:
    raise ValueError('bidirectional_prompt applies to decoder-only prefix LMs; an '
                     'encoder-decoder model reads its inputs bidirectionally already.')
  # Positions before the prompt's: prefix tuning's keys, and a decoder-only model's virtual
  # tokens (prompt tuning), which lead every full pass: no cache (models/virtual_tokens.py).
  params = variables.get('params', {})
  leading = prefix_length_of(params)
  virtual = rows_of(params, PROMPT)
  if prompt == families.DECODER_PROMPT and virtual:
    leading += virtual
    use_cache = False
  _check_positions(model, leading, prompts.shape[1], options['max_new_tokens'])
  if rng is None:
    rng = jax.random.key(0)  # Unused by greedy and beam search.
  variables = {name: value for name, value in variables.items() if name != 'cache'}
  return _generate(
      model, variables, inputs, prompts, jnp.asarray(lengths), rng,
      jnp.float32(temperature), jnp.float32(top_p), jnp.float32(length_penalty),
      strategy=strategy, max_new_tokens=options['max_new_tokens'],
      top_k=options['top_k'] if strategy == 'sample' else 0,
      use_top_p=strategy == 'sample' and top_p < 1.0,
      num_beams=options['num_beams'] if strategy == 'beam' else 1, eos_id=options['eos_id'],
      prefill_length=int(lengths.min()), use_cache=bool(use_cache),
      bidirectional_prompt=bool(bidirectional_prompt),
      no_repeat_ngram_size=options['no_repeat_ngram_size'],
      banned_ids=_banned(banned_ids, getattr(model.config, 'vocab_size', None)))


def _banned(banned_ids, vocab_size) -> tuple[int, ...]:
  banned = tuple(sorted({int(i) for i in banned_ids}))
  if banned and (banned[0] < 0 or (vocab_size is not None and banned[-1] >= vocab_size)):
    raise ValueError(f'banned_ids must be ids in [0, {vocab_size}), got {list(banned_ids)}.')
  return banned


def _integer(name: str, value, minimum: int, meaning: str = '') -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f'{name} must be an integer >= {minimum}{meaning}, got {value!r}.')
  return int(value)


def _check_options(max_new_tokens, strategy, temperature, top_k, top_p, num_beams, eos_id,
                   rng, no_repeat_ngram_size) -> dict:
  """The validated static options, as Python ints (they key the jit cache)."""
  if strategy not in STRATEGIES:
    raise ValueError(f'Unknown decoding strategy {strategy!r}; use one of {STRATEGIES}.')
  if not temperature >= 0:
    raise ValueError(f'temperature must be >= 0 (0 decodes greedily), got {temperature!r}.')
  if not 0 < top_p <= 1:
    raise ValueError(f'top_p must be in (0, 1], got {top_p!r}.')
  if strategy == 'sample' and temperature > 0 and rng is None:
    raise ValueError("strategy='sample' needs rng, a jax.random key.")
  return dict(max_new_tokens=_integer('max_new_tokens', max_new_tokens, 1),
              top_k=_integer('top_k', top_k, 0, ' (0 keeps every token)'),
              num_beams=_integer('num_beams', num_beams, 1),
              eos_id=_integer('eos_id', eos_id, -1, ' (-1: no EOS)'),
              no_repeat_ngram_size=_integer('no_repeat_ngram_size', no_repeat_ngram_size, 0,
                                            ' (0: no restriction)'))


def _prompt_lengths(prompt_lengths, shape) -> np.ndarray:
  batch, width = shape
  if width < 1:
    raise ValueError('Decoder-only prompts need at least one token (e.g. a BOS id) per row.')
  if prompt_lengths is None:
    return np.full(batch, width, np.int32)
  try:
    lengths = np.asarray(prompt_lengths)
  except jax.errors.TracerArrayConversionError as e:
    raise ValueError('prompt_lengths must be concrete (call generate outside jit).') from e
  if lengths.shape != (batch,) or not np.issubdtype(lengths.dtype, np.integer):
    raise ValueError(f'prompt_lengths must be integers of shape ({batch},), got '
                     f'{lengths.dtype} {lengths.shape}.')
  if lengths.min() < 1 or lengths.max() > width:
    raise ValueError(f'prompt_lengths must lie in [1, {width}] (the prompt width), got '
                     f'{lengths.tolist()}.')
  return lengths.astype(np.int32)


def _check_positions(model, leading: int, prompt_width: int, max_new_tokens: int) -> None:
  """A learned position table has max_length rows; jit would clamp positions past it silently.
  `leading` positions come before the prompt's."""
  config = getattr(model, 'config', None)
  if getattr(config, 'position_embedding', None) != 'learned':
    return
  needed = leading + prompt_width + max_new_tokens - 1  # the last new token is never fed back
  if needed > config.max_length:
    raise ValueError(
        f'Prompts of width {prompt_width} and max_new_tokens={max_new_tokens} need {needed} '
        f'positions, more than config.model.max_length={config.max_length} (the rows of the '
        'learned position table); shorten the prompts or max_new_tokens.')


@functools.partial(jax.jit, static_argnames=(
    'model', 'strategy', 'max_new_tokens', 'top_k', 'use_top_p', 'num_beams', 'eos_id',
    'prefill_length', 'use_cache', 'bidirectional_prompt', 'no_repeat_ngram_size',
    'banned_ids'))
def _generate(model, variables, inputs, prompts, prompt_lengths, rng, temperature, top_p,
              length_penalty, *, strategy, max_new_tokens, top_k, use_top_p, num_beams, eos_id,
              prefill_length, use_cache, bidirectional_prompt, no_repeat_ngram_size, banned_ids):
  batch, width = prompts.shape
  length = width + max_new_tokens
  # The buffer: each row's prompt, zeros after it (right padding is not the model's to see).
  in_prompt = jnp.arange(width) < prompt_lengths[:, None]
  seqs = jnp.pad(jnp.where(in_prompt, prompts, 0), ((0, 0), (0, max_new_tokens)))
  # The last buffer position is produced but never fed: the cache needs length - 1 slots.
  runner = model_runner.make_runner(
      model, variables, inputs, cache_length=length - 1, use_cache=use_cache,
      prefix_lengths=prompt_lengths if bidirectional_prompt else None, prompt_width=width)

  def ban(scores, seqs, t):
    scores = ngram_blocking.ban_repeated_ngrams(scores, seqs, t, no_repeat_ngram_size)
    if banned_ids:
      scores = scores.at[..., jnp.asarray(banned_ids)].set(-jnp.inf)
    return scores
  if strategy == 'beam':
    seqs = beam_search(runner, seqs, prompt_lengths, prefill_length=prefill_length,
                       max_new_tokens=max_new_tokens, num_beams=num_beams, eos_id=eos_id,
                       length_penalty=length_penalty, ban=ban)
  else:
    choose = lambda logits, seqs, t: sampling.choose_tokens(
        ban(logits, seqs, t), jax.random.fold_in(rng, t), sample=strategy == 'sample',
        temperature=temperature, top_k=top_k, top_p=top_p, use_top_p=use_top_p)
    seqs = _token_by_token(runner, seqs, prompt_lengths, choose, prefill_length=prefill_length,
                           max_new_tokens=max_new_tokens, eos_id=eos_id)
  window = prompt_lengths[:, None] + jnp.arange(max_new_tokens)  # each row's new tokens
  return jnp.take_along_axis(seqs, window, axis=1)


def _token_by_token(runner, seqs, prompt_lengths, choose, *, prefill_length: int,
                    max_new_tokens: int, eos_id: int):
  """Greedy or sampled decoding; returns the filled buffer (B, L)."""
  length = seqs.shape[1]
  window_end = prompt_lengths + max_new_tokens

  def place(t, logits, seqs, done):
    """Writes buffer position t: the prompt token, a chosen one, or 0 once a row is done."""
    forced = t < prompt_lengths
    token = jnp.where(forced, seqs[:, t], jnp.where(done, 0, choose(logits, seqs, t)))
    done = done | (~forced & (token == eos_id)) | (t + 1 >= window_end)
    return seqs.at[:, t].set(token), done

  logits, cache = runner.prefill(seqs, prefill_length)
  seqs, done = place(prefill_length, logits, seqs, jnp.zeros(seqs.shape[0], bool))

  def cond(carry):
    t, _, done, _ = carry
    return (t < length) & ~jnp.all(done)

  def body(carry):
    t, seqs, done, cache = carry
    logits, cache = runner.step(cache, seqs, t - 1)
    seqs, done = place(t, logits, seqs, done)
    return t + 1, seqs, done, cache

  carry = (jnp.asarray(prefill_length + 1, jnp.int32), seqs, done, cache)
  return jax.lax.while_loop(cond, body, carry)[1]
