"""Layers shared by the model families: norms, the residual block around each sublayer, the
feed-forward block and token embeddings."""
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util
from jax.ad_checkpoint import checkpoint_name

from lm_jax.models.remat import MLP_INPUT
from lm_jax.partitioning.activations import constrain_rows

Dtype = Any
Initializer = Any
# Prompt tuning's trained rows (P, features), stored among a token embedder's params.
PROMPT = 'prompt'


def rows_of(params, name: str) -> int:
  """The leading dimension of the first parameter called `name` in `params`, 0 without one: P of
  prompt tuning's `prompt`, or of prefix tuning's keys (attention.py)."""
  for path, value in traverse_util.flatten_dict(params).items():
    if path[-1] == name:
      return value.shape[0]
  return 0


class Dropout(nn.Module):
  """Inverted dropout drawing 16 random bits per element from the 'dropout' rng.

  Same function as `nn.Dropout`, about 2.5x faster on CPU: XLA's threefry slows sharply once a
  draw outgrows the cache, and one 32-bit word split into two 16-bit halves halves the draw.
  The drop rate is exact to 1/65536, and kept values are scaled by the realised keep rate so the
  expectation is unchanged.
  """
  rate: float

  @nn.compact
  def __call__(self, x, deterministic: bool):
    if deterministic or self.rate == 0.0:
      return x
    threshold = round(self.rate * 65536)
    words = jax.random.bits(self.make_rng('dropout'), ((x.size + 1) // 2,), jnp.uint32)
    halves = jax.lax.bitcast_convert_type(words, jnp.uint16).reshape(-1)[:x.size]
    keep = halves.reshape(x.shape) >= threshold
    return jnp.where(keep, x / (1.0 - threshold / 65536), 0).astype(x.dtype)


class RMSNorm(nn.Module):
  """T5's LayerNorm: scale only, no mean subtraction and no bias (arXiv:1910.07467)."""
  epsilon: float = 1e-6
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    scale = self.param('scale', nn.initializers.ones, (x.shape[-1],), jnp.float32)
    # Statistics in float32 even for bf16 activations, as HF's T5LayerNorm does.
    x = x.astype(jnp.float32)
    variance = jnp.mean(jnp.square(x), axis=-1, keepdims=True)
    return (x * jax.lax.rsqrt(variance + self.epsilon) * scale).astype(self.dtype)


class LayerNorm(nn.Module):
  """Standard LayerNorm (mean and variance, scale and bias) with float32 statistics."""
  epsilon: float = 1e-5
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    features = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (features,), jnp.float32)
    bias = self.param('bias', nn.initializers.zeros, (features,), jnp.float32)
    x = x.astype(jnp.float32)
    mean = jnp.mean(x, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    y = (x - mean) * jax.lax.rsqrt(variance + self.epsilon)
    return (y * scale + bias).astype(self.dtype)


NORM_POSITIONS = ('pre', 'post')


def residual(norm_position: str, norm: nn.Module, dropout: Dropout, sublayer: Callable, x,
             deterministic: bool):
  """One residual sublayer (attention or MLP) with its norm and dropout, for every family.

  'pre': x + Dropout(sublayer(Norm(x))), the residual stream itself never normalised (GPT-2, T5;
  the stack then ends in a final norm). 'post': Norm(x + Dropout(sublayer(x))), "LayerNorm(x +
  Sublayer(x))" with dropout on the sublayer output (Vaswani et al. §3.1, §5.4; BERT).
  `norm` is the family's module (LayerNorm, or T5's RMSNorm), created by the caller so that it
  carries the caller's name.
  """
  if norm_position == 'pre':
    return constrain_rows(x + dropout(sublayer(norm(x)), deterministic))
  if norm_position == 'post':
    return constrain_rows(norm(x + dropout(sublayer(x), deterministic)))
  raise ValueError(f'Unknown norm position {norm_position!r}; use one of {NORM_POSITIONS}.')


MLP_ACTIVATIONS = ('relu', 'gated-gelu', 'swiglu', 'gelu', 'gelu_tanh')


class MlpBlock(nn.Module):
  """Position-wise feed-forward block.

  'relu': wo(relu(wi(x))) (Vaswani et al., T5 v1.0); 'gated-gelu': wo(gelu(wi_0(x)) * wi_1(x))
  (T5 v1.1, arXiv:2002.05202) with gelu's tanh approximation as HF's `gelu_new`; 'swiglu':
  wo(silu(wi_0(x)) * wi_1(x)) (Shazeer 2020, Llama's gate and up projections); 'gelu': the exact
  erf gelu (BERT); 'gelu_tanh': the tanh approximation (GPT-2). `init_std` None keeps T5's fan-in
  initialisers; a value gives wi normal(init_std) and wo normal(out_init_std or init_std).
  """
  d_ff: int
  activation: str = 'relu'
  dropout_rate: float = 0.0
  dtype: Dtype = jnp.float32
  use_bias: bool = False
  init_std: Optional[float] = None
  out_init_std: Optional[float] = None

  @nn.compact
  def __call__(self, x, deterministic: bool):
    x = checkpoint_name(x, MLP_INPUT)  # what remat_policy='save_mlp_inputs' keeps
    d_model = x.shape[-1]

    def dense(features, std, name):
      return nn.Dense(features, use_bias=self.use_bias, dtype=self.dtype,
                      param_dtype=jnp.float32, kernel_init=nn.initializers.normal(std), name=name)

    if self.init_std is None:
      # HF T5 init: std d_model**-0.5 into the hidden layer, d_ff**-0.5 out of it.
      in_std, out_std = d_model**-0.5, self.d_ff**-0.5
    else:
      in_std = self.init_std
      out_std = self.init_std if self.out_init_std is None else self.out_init_std
    if self.activation == 'relu':
      h = nn.relu(dense(self.d_ff, in_std, 'wi')(x))
    elif self.activation == 'gated-gelu':
      gate = nn.gelu(dense(self.d_ff, in_std, 'wi_0')(x), approximate=True)
      h = gate * dense(self.d_ff, in_std, 'wi_1')(x)
    elif self.activation == 'swiglu':
      h = nn.silu(dense(self.d_ff, in_std, 'wi_0')(x)) * dense(self.d_ff, in_std, 'wi_1')(x)
    elif self.activation in ('gelu', 'gelu_tanh'):
      h = nn.gelu(dense(self.d_ff, in_std, 'wi')(x), approximate=self.activation == 'gelu_tanh')
    else:
      raise ValueError(f'Unknown MLP activation {self.activation!r}; use one of '
                       f'{MLP_ACTIVATIONS}.')
    h = Dropout(self.dropout_rate)(h, deterministic=deterministic)
    return dense(d_model, out_std, 'wo')(h)


class Embed(nn.Module):
  """Token embedding table (float32) with `attend` for a tied output projection."""
  num_embeddings: int
  features: int
  dtype: Dtype = jnp.float32
  # T5/HF initialise the shared embedding with a unit normal.
  embedding_init: Initializer = nn.initializers.normal(1.0)

  def setup(self):
    self.embedding = self.param('embedding', self.embedding_init,
                                (self.num_embeddings, self.features), jnp.float32)

  def __call__(self, tokens):
    # (B, T) -> (B, T, features)
    return constrain_rows(jnp.take(self.embedding, tokens, axis=0).astype(self.dtype))

  def prompt_length(self) -> int:
    """P, the rows of prompt tuning's trained `prompt` (P, features) in params; 0 without."""
    if not self.has_variable('params', PROMPT):
      return 0
    return self.get_variable('params', PROMPT).shape[0]

  def with_prompt(self, tokens):
    """(B, T) -> (B, P + T, features): the `prompt` rows (Lester et al. 2021) in front of the
    tokens' rows, as the embeddings of P virtual tokens (models/virtual_tokens.py)."""
    x = self(tokens)
    if not self.prompt_length():
      return x
    prompt = self.get_variable('params', PROMPT).astype(self.dtype)
    return jnp.concatenate([jnp.broadcast_to(prompt, (x.shape[0], *prompt.shape)), x], axis=1)

  def attend(self, x):
    # (B, T, features) -> (B, T, num_embeddings)
    return jnp.einsum('btd,vd->btv', x, self.embedding.astype(self.dtype))
