"""Prefix tuning: GPT-2 with lm_jax's prefixes computes peft's PrefixTuning logits (with and without
the MLP reparameterisation), the KV cache decodes the same tokens as full passes, the MLP folds
away exactly, and the models it cannot apply to are refused by name."""
import dataclasses

import flax.linen as nn
import jax
import numpy as np
import pytest

from lm_jax.generation.decoding import generate
from lm_jax.models.attention import prefix_length_of
from lm_jax.models.relative_position import RelativePositionBias
from lm_jax.peft import prefix

P = 3


def _spec(model, params, projection=False):
  return prefix.spec_for(model, params, P, projection)


def _with_prefix(tiny, projection=False, seed=0):
  params = tiny.variables['params']
  spec = _spec(tiny.model, params, projection)
  trainable = prefix.init_prefix(spec, jax.random.key(seed))
  return spec, trainable, {'params': prefix.insert(spec, params, trainable)}


def test_every_attention_layer_gets_a_prefix(tiny_t5, tiny_gpt):
  spec = _spec(tiny_t5.model, tiny_t5.variables['params'])
  # 2 encoder self-attentions, 2 decoder self- and 2 cross-attentions, in depth order.
  assert spec.layers == ('decoder/layers_0/cross_attention', 'decoder/layers_0/self_attention',
                         'decoder/layers_1/cross_attention', 'decoder/layers_1/self_attention',
                         'encoder/layers_0/self_attention', 'encoder/layers_1/self_attention')
  _, _, variables = _with_prefix(tiny_gpt)
  assert prefix_length_of(variables['params']) == P
  assert variables['params']['layers_1']['self_attention']['prefix_key'].shape == (P, 4, 8)


def test_the_projection_folds_away_exactly(tiny_t5):
  spec, trainable, variables = _with_prefix(tiny_t5, projection=True)
  plain = dataclasses.replace(spec, projection=False)
  folded = {'params': prefix.insert(plain, tiny_t5.variables['params'],
                                    prefix.folded(spec, trainable))}
  args = (tiny_t5.inputs, tiny_t5.inputs[:, :4])
  np.testing.assert_array_equal(np.asarray(tiny_t5.model.apply(folded, *args)),
                                np.asarray(tiny_t5.model.apply(variables, *args)))


@pytest.mark.parametrize('name, strategy', [('tiny_t5', 'greedy'), ('tiny_gpt', 'beam')])
def test_the_cache_decodes_what_full_passes_decode(name, strategy, request):
  """T5's relative bias and GPT's learned positions both shift by P, in the cache as without."""
  tiny = request.getfixturevalue(name)
  _, _, variables = _with_prefix(tiny)
  kwargs = dict(max_new_tokens=5, strategy=strategy, num_beams=2, eos_id=-1,
                prompt_lengths=tiny.prompt_lengths, rng=jax.random.key(0))
  cached = generate(tiny.model, variables, tiny.inputs, **kwargs)
  uncached = generate(tiny.model, variables, tiny.inputs, use_cache=False, **kwargs)
  np.testing.assert_array_equal(np.asarray(cached), np.asarray(uncached))


def test_the_relative_bias_puts_the_prefix_keys_in_the_past():
  bias = RelativePositionBias(8, 20, 2, bidirectional=False)
  params = bias.init(jax.random.key(0), 4, 4)
  shifted = bias.apply(params, 4, P + 4, query_offset=P)  # (1, H, 4, P + 4)
  at = bias.apply(params, P + np.arange(4)[None], np.arange(P + 4), method=bias.at_positions)
  np.testing.assert_allclose(np.asarray(shifted), np.asarray(at), rtol=1e-6)
  # The real keys keep the bias they had without a prefix (it depends on offsets only).
  np.testing.assert_allclose(np.asarray(shifted[..., P:]), np.asarray(bias.apply(params, 4, 4)),
                             rtol=1e-6)


def test_a_model_without_attention_layers_is_refused():
  class Mlp(nn.Module):
    @nn.compact
    def __call__(self, x):
      return nn.Dense(4, name='out')(nn.Dense(4, name='value')(x))

  params = Mlp().init(jax.random.key(0), np.zeros((1, 4)))['params']
  with pytest.raises(ValueError, match="method='prefix' adds keys and values .* Mlp has none"):
    prefix.spec_for(Mlp(), params, P, False)


class TestPeftParity:
  """peft's PrefixTuning on a random HF GPT-2: its prefix embedding (P, L * 2 * H * D) as past
  keys/values, the tokens at positions P, P + 1, ...; max |ours - peft| / max |peft| < 1e-4."""
  torch = pytest.importorskip('torch')
  transformers = pytest.importorskip('transformers')
  peft = pytest.importorskip('peft')

  TOKENS = np.array([[5, 17, 9, 33, 2, 8, 1], [4, 42, 12, 1, 0, 3, 7]], np.int32)

  def _peft_model(self, tmp_path, projection):
    torch, transformers, peft = self.torch, self.transformers, self.peft
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4,
                                     n_positions=16)
    base = transformers.GPT2LMHeadModel(config).eval()
    base.save_pretrained(tmp_path / 'base')
    peft_config = peft.PrefixTuningConfig(task_type='CAUSAL_LM', num_virtual_tokens=P,
                                          prefix_projection=projection)
    return peft.get_peft_model(base, peft_config).eval()

  def _logits(self, model):
    with self.torch.no_grad():
      ids = self.torch.from_numpy(self.TOKENS).long()
      return model(input_ids=ids, attention_mask=self.torch.ones_like(ids)).logits.numpy()

  @pytest.mark.parametrize('projection', [False, True])
  def test_lm_jax_prefixes_compute_peft_logits(self, projection, tmp_path):
    from lm_jax import convert  # pylint: disable=g-import-not-at-top
    adapted = self._peft_model(tmp_path, projection)
    expected = self._logits(adapted)
    model, variables = convert.from_hf(str(tmp_path / 'base'))
    spec = _spec(model, variables['params'], projection)
    encoder = adapted.prompt_encoder['default']

    def weight(module):
      return module.weight.detach().numpy()

    if projection:
      trainable = {
          prefix.EMBEDDING: weight(encoder.embedding),
          prefix.HIDDEN: {'kernel': weight(encoder.transform[0]).T,
                          'bias': encoder.transform[0].bias.detach().numpy()},
          prefix.OUT: {'kernel': weight(encoder.transform[2]).T,
                       'bias': encoder.transform[2].bias.detach().numpy()}}
    else:
      trainable = prefix.from_peft_layout(spec, weight(encoder.embedding))
    ours = np.asarray(model.apply({'params': prefix.insert(spec, variables['params'], trainable)},
                                  self.TOKENS))
    plain = np.asarray(model.apply(variables, self.TOKENS))
    scale = np.abs(expected).max()
    assert np.abs(plain - expected).max() / scale > 1e-2
    assert np.abs(ours - expected).max() / scale < 1e-4
