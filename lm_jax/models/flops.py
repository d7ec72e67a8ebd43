"""Model FLOPs counted from the explicit matrix multiplies, for throughput and MFU reports.

A multiply of (m, k) by (k, n) costs 2·m·k·n. Per example, with input length I, target length T,
model width d, attention width a = heads·head_dim, feed-forward width f (×2 input matrices when
gated), vocabulary V:
  encoder layer:   I·(8·d·a + 2·m·d·f)            q, k, v, out projections; m = 2 (relu) or 3 (gated)
                 + 4·I²·a                         scores QKᵀ and the weighted sum AV, all keys
  decoder layer:   T·(8·d·a + 2·m·d·f)            self-attention projections and MLP
                 + 4·a·T(T+1)/2                   causal scores and AV: position t sees t+1 keys
                 + T·4·d·a + I·4·d·a              cross-attention q, out over targets; k, v over inputs
                 + 4·T·I·a                        cross-attention scores and AV
  output layer:    2·T·d·V
A training step costs 3× the forward pass (backward ≈ 2× forward). Embedding lookups, norms and
softmaxes are not matrix multiplies and are left out, as in the PaLM MFU convention.
"""


def t5_forward_flops(config, inputs_length: int, targets_length: int,
                     skip_masked_causal_half: bool = True) -> int:
  """Forward-pass FLOPs of one example for a `T5Config`.

  `skip_masked_causal_half=False` counts T² decoder self-attention scores, as XLA computes them.
  """
  d, a, f, v = config.d_model, config.num_heads * config.head_dim, config.d_ff, config.vocab_size
  i, t = inputs_length, targets_length
  mlp_matrices = 3 if config.feed_forward == 'gated-gelu' else 2
  causal_keys = t * (t + 1) // 2 if skip_masked_causal_half else t * t
  dense = 8 * d * a + 2 * mlp_matrices * d * f
  encoder = config.num_encoder_layers * (i * dense + 4 * i * i * a)
  decoder = config.num_decoder_layers * (
      t * dense + 4 * a * causal_keys + 4 * d * a * (t + i) + 4 * t * i * a)
  return encoder + decoder + 2 * t * d * v


def t5_train_flops_per_token(config, inputs_length: int, targets_length: int) -> float:
  """Training FLOPs per token, counting input and target tokens alike."""
  return 3 * t5_forward_flops(config, inputs_length, targets_length) / (inputs_length
                                                                        + targets_length)
