import jax
import jax.numpy as jnp
import pytest

from lm_jax.models import flops
from lm_jax.models.t5 import T5, T5Config


@pytest.mark.parametrize('feed_forward', ['relu', 'gated-gelu'])
def test_formula_matches_xla_cost_analysis_of_the_forward_pass(feed_forward):
  config = T5Config(vocab_size=512, d_model=128, num_heads=4, head_dim=32, d_ff=256,
                    num_encoder_layers=2, num_decoder_layers=3, feed_forward=feed_forward,
                    tie_embeddings=feed_forward == 'relu')
  model, inputs_length, targets_length = T5(config), 48, 16
  enc = jnp.ones((1, inputs_length), jnp.int32)
  dec = jnp.ones((1, targets_length), jnp.int32)
  params = jax.eval_shape(model.init, jax.random.key(0), enc, dec)
  compiled = jax.jit(model.apply).lower(params, enc, dec).compile()
  xla_flops = compiled.cost_analysis()['flops']
  ours = flops.forward_flops(config, 'encoder_decoder', inputs_length, targets_length,
                             skip_masked_causal_half=False)
  # XLA also counts elementwise work (softmax, norms, activations): a few percent more.
  assert ours <= xla_flops <= 1.1 * ours
  assert flops.forward_flops(config, 'encoder_decoder', inputs_length, targets_length) < ours
