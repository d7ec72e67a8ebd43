"""Prompt tuning (Lester et al. 2021): P trained virtual-token embeddings in front of the input
(the encoder's, or a decoder-only model's), the model itself frozen. They live as the token
embedder's `prompt` rows (lm_jax/models/layers.py Embed.with_prompt); the stacks place them
(lm_jax/models/virtual_tokens.py). They start as the base's embeddings of sampled vocabulary
tokens or of a text, as peft's `TEXT` init."""
import dataclasses
import math

import numpy as np
from flax import traverse_util

from lm_jax.models.layers import PROMPT

EMBEDDER = 'token_embedder'  # where every family keeps its token embedding table
# Lester et al. §3.2 sample the initial tokens from the 5,000 most common ones; SentencePiece ids
# and BPE merges both rank roughly by frequency.
COMMON_TOKENS = 5000


@dataclasses.dataclass(frozen=True)
class PromptSpec:
  init_ids: tuple[int, ...]  # the tokens whose embeddings the prompt starts as; P of them
  d_model: int

  @property
  def num_virtual_tokens(self) -> int:
    return len(self.init_ids)


def init_ids(num_virtual_tokens: int, init: str, text: str, tokenizer, seed: int):
  """The P token ids the prompt starts from: a text's, repeated or cut to P (peft's TEXT init),
  or distinct ids drawn from the most common ones, special tokens left out."""
  if init == 'text':
    ids = tokenizer.encode(text)
    if not ids:
      raise ValueError(f'config.peft.prompt_init_text={text!r} encodes to no tokens; give the '
                       "text the prompt starts as, or --config.peft.prompt_init=vocab.")
    ids = (ids * math.ceil(num_virtual_tokens / len(ids)))[:num_virtual_tokens]
    return tuple(int(i) for i in ids)
  special = {getattr(tokenizer, f'{role}_id', None) for role in ('pad', 'eos', 'unk')}
  pool = [i for i in range(min(COMMON_TOKENS, tokenizer.vocab_size)) if i not in special]
  if len(pool) < num_virtual_tokens:
    raise ValueError(f'config.peft.num_virtual_tokens={num_virtual_tokens} exceeds the '
                     f'{len(pool)} vocabulary tokens to start them from.')
  chosen = np.random.default_rng(seed).choice(pool, num_virtual_tokens, replace=False)
  return tuple(int(i) for i in chosen)


def spec_for(model, params, ids) -> PromptSpec:
  """The prompt of `model` (params: its shapes), refused before any compute where it cannot
  apply."""
  table = params.get(EMBEDDER, {}).get('embedding')
  if table is None or len(table.shape) != 2:
    raise ValueError(
        f"config.peft.method='prompt' puts trained rows in front of the token embeddings "
        f"('{EMBEDDER}/embedding'); {type(model).__name__} has no such table. Use "
        '--config.peft.method=lora or prefix.')
  if max(ids) >= table.shape[0]:
    raise ValueError(f'The prompt starts from token id {max(ids)}, outside the model\'s '
                     f'{table.shape[0]} embeddings.')
  return PromptSpec(tuple(ids), table.shape[1])


def from_base(spec: PromptSpec, base) -> np.ndarray:
  """The initial prompt (P, d_model): the base's embeddings of spec.init_ids."""
  return base[EMBEDDER]['embedding'][np.asarray(spec.init_ids)]


def insert(params: dict, prompt) -> dict:
  """`params` with the token embedder's `prompt` rows in place (traceable)."""
  flat = traverse_util.flatten_dict(params, sep='/')
  flat[f'{EMBEDDER}/{PROMPT}'] = prompt
  return traverse_util.unflatten_dict(flat, sep='/')
