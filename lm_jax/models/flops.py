"""Model FLOPs counted from the explicit matrix multiplies, for throughput and MFU reports.

A multiply of (m, k) by (k, n) costs 2·m·k·n. Per example, with encoder length I, decoder length
T, model width d, attention width a = heads·head_dim, feed-forward width f (m = 2 matrices, or 3
when gated), vocabulary V:
  encoder layer:   I·(8·d·a + 2·m·d·f)            q, k, v, out projections and the MLP
                 + 4·I²·a                         scores QKᵀ and the weighted sum AV, all keys
  decoder layer:   T·(8·d·a + 2·m·d·f)            self-attention projections and MLP
                 + 4·a·T(T+1)/2                   causal scores and AV: position t sees t+1 keys
  cross-attention: T·4·d·a + I·4·d·a              q, out over targets; k, v over inputs
                 + 4·T·I·a                        scores and AV
  output layer:    2·T·d·V (decoders), 2·I·(d·d + d·V) (BERT's MLM transform and decoder)
A training step costs 3× the forward pass (backward ≈ 2× forward). Embedding lookups, norms and
softmaxes are not matrix multiplies and are left out, as in the PaLM MFU convention; so is
position information (T5's relative bias, a per-stack lookup; added position vectors; rotary
embeddings, elementwise), and every position_embedding and norm_position counts the same.
"""
from lm_jax import families


def _layer_counts(config, family: families.Family) -> tuple[int, int]:
  """(encoder layers, decoder layers) of a model config, 0 for a stack the family lacks."""
  return tuple(getattr(config, field) if field else 0
               for field in (family.encoder_layers, family.decoder_layers))


def forward_flops(config, family: str, inputs_length: int, targets_length: int,
                  skip_masked_causal_half: bool = True) -> int:
  """Forward-pass FLOPs of one example of a model config of the given family.

  Lengths the family does not read are ignored (decoder-only: targets only; encoder-only: inputs
  only). `skip_masked_causal_half=False` counts T² causal scores, as XLA computes them.
  """
  d, a, f, v = config.d_model, config.num_heads * config.head_dim, config.d_ff, config.vocab_size
  declared = families.get(family)
  encoder_layers, decoder_layers = _layer_counts(config, declared)
  i = inputs_length if encoder_layers else 0
  t = targets_length if decoder_layers else 0
  mlp_matrices = 3 if getattr(config, 'feed_forward', None) == 'gated-gelu' else 2
  causal_keys = t * (t + 1) // 2 if skip_masked_causal_half else t * t
  dense = 8 * d * a + 2 * mlp_matrices * d * f
  encoder = encoder_layers * (i * dense + 4 * i * i * a)
  decoder = decoder_layers * (t * dense + 4 * a * causal_keys)
  if len(declared.stacks) == 2:  # cross-attention
    decoder += decoder_layers * (4 * d * a * (t + i) + 4 * t * i * a)
  output = 2 * t * d * v if decoder_layers else 2 * i * (d * d + d * v)
  return encoder + decoder + output


def tokens_per_example(family: str, inputs_length: int, targets_length: int) -> int:
  return families.get(family).tokens_per_example(inputs_length, targets_length)


def train_flops_per_token(config, family: str, inputs_length: int, targets_length: int) -> float:
  """Training FLOPs per token, counting every token the model reads alike."""
  return 3 * forward_flops(config, family, inputs_length, targets_length) / tokens_per_example(
      family, inputs_length, targets_length)
