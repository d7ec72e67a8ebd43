"""LoRA on every family: the adapted model is the base at initialisation, its merged weights
compute what the unmerged low-rank path computes, and the targets follow peft's defaults."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lm_jax import families
from lm_jax.config.schema import default_config
from lm_jax.models.bert import BertClassifier, BertClassifierConfig
from lm_jax.peft import lora, targets
from lm_jax.train import adapters as adapters_lib
from lm_jax.train.adapters import Adapters


@pytest.fixture(scope='module')
def tiny_bert_classifier():
  model = BertClassifier(BertClassifierConfig(
      vocab_size=48, d_model=32, num_heads=4, head_dim=8, d_ff=64, num_layers=2, max_length=16,
      dropout_rate=0.0, attention_dropout_rate=0.0, num_classes=3))
  inputs = np.random.default_rng(2).integers(1, 48, (3, 7)).astype(np.int32)
  return model, jax.jit(model.init)(jax.random.key(2), inputs), (inputs,)


@pytest.fixture(params=['t5', 'gpt', 'bert_classifier'])
def family_model(request, tiny_t5, tiny_gpt, tiny_bert_classifier):
  """(model, params, apply arguments) of a tiny model of each family."""
  if request.param == 't5':
    return tiny_t5.model, tiny_t5.variables['params'], (tiny_t5.inputs, tiny_t5.inputs[:, :4])
  if request.param == 'gpt':
    return tiny_gpt.model, tiny_gpt.variables['params'], (tiny_gpt.inputs,)
  model, variables, args = tiny_bert_classifier
  return model, variables['params'], args


def _config(**changes):
  peft = default_config().peft
  peft.update(method='lora', **changes)
  return peft


def _adapters(model, params, **changes):
  return Adapters.from_config(_config(**changes), model, params, new_paths=())


def _randomised(trainable, seed=0):
  """Adapters with a nonzero B, as after some training."""
  leaves, tree = jax.tree.flatten(trainable)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return jax.tree.unflatten(tree, [x + 0.1 * jax.random.normal(k, x.shape)
                                   for x, k in zip(leaves, keys)])


def test_the_adapted_model_is_the_base_model_at_initialisation(family_model):
  model, params, args = family_model
  adapters = _adapters(model, params)
  trainable = adapters.init_trainable(params, jax.random.key(0))
  assert np.abs(np.asarray(jax.tree.leaves(trainable['lora'])[0])).max() > 0  # A is random
  base = model.apply({'params': params}, *args)
  with adapters.applied(trainable):
    adapted = model.apply({'params': params}, *args)
  np.testing.assert_array_equal(np.asarray(adapted), np.asarray(base))


def test_merged_weights_compute_what_the_low_rank_path_computes(family_model):
  model, params, args = family_model
  adapters = _adapters(model, params, rank=4, alpha=16.0, use_rslora=True)
  trainable = _randomised(adapters.init_trainable(params, jax.random.key(0)))
  base = model.apply({'params': params}, *args)
  with adapters.applied(trainable):
    unmerged = model.apply({'params': params}, *args)
  merged = model.apply({'params': adapters.merged(params, trainable)}, *args)
  scale = np.abs(np.asarray(base)).max()
  assert np.abs(np.asarray(unmerged - base)).max() > 0.05 * scale  # the adapters change it
  np.testing.assert_allclose(np.asarray(merged), np.asarray(unmerged), rtol=1e-5,
                             atol=1e-5 * scale)


def test_the_defaults_follow_peft_per_family(tiny_t5, tiny_gpt, tiny_bert_classifier):
  t5 = _adapters(tiny_t5.model, tiny_t5.variables['params'])
  # T5: q and v of every attention, cross-attention included (2 + 2 layers: 2 + 4 attentions).
  assert len(t5.method.kernels) == 12
  assert 'decoder/layers_0/cross_attention/query' in t5.method.kernels
  assert {p.split('/')[-1] for p in t5.method.kernels} == {'query', 'value'}
  gpt = _adapters(tiny_gpt.model, tiny_gpt.variables['params'])  # GPT-2's fused c_attn
  assert {p.split('/')[-1] for p in gpt.method.kernels} == {'query', 'key', 'value'}
  model, variables, _ = tiny_bert_classifier
  linear = _adapters(model, variables['params'], targets=('all-linear',))
  assert 'classifier' not in linear.method.kernels and 'pooler' in linear.method.kernels
  assert 'layers_1/mlp/wo' in linear.method.kernels


def test_lora_a_starts_as_peft_kaiming_uniform_or_gaussian():
  fan_in, rank = 512, 8
  spec = lora.LoraSpec(rank=rank, alpha=8)
  a = np.asarray(lora.init_adapters(spec, {'q': (fan_in, 64)}, jax.random.key(0))['q']['lora_a'])
  bound = fan_in ** -0.5  # torch kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  assert np.abs(a).max() <= bound
  assert np.abs(a).max() > 0.95 * bound
  np.testing.assert_allclose(a.std(), bound / np.sqrt(3), rtol=0.05)
  gaussian = lora.LoraSpec(rank=rank, alpha=8, init='gaussian')
  a = np.asarray(lora.init_adapters(gaussian, {'q': (fan_in, 64)},
                                    jax.random.key(0))['q']['lora_a'])
  np.testing.assert_allclose(a.std(), 1 / rank, rtol=0.05)
  assert lora.LoraSpec(rank=4, alpha=16).scale == 4.0
  assert lora.LoraSpec(rank=4, alpha=16, use_rslora=True).scale == 8.0


def test_dropout_acts_on_the_low_rank_path_only(tiny_gpt):
  model, params = tiny_gpt.model, tiny_gpt.variables['params']
  adapters = _adapters(model, params, dropout=0.5)
  fresh = adapters.init_trainable(params, jax.random.key(0))
  trained = _randomised(fresh)
  rngs = {'dropout': jax.random.key(3)}
  with adapters.applied(fresh):  # B = 0: nothing on the LoRA path to drop
    np.testing.assert_array_equal(model.apply({'params': params}, tiny_gpt.inputs, rngs=rngs),
                                  model.apply({'params': params}, tiny_gpt.inputs))
  with adapters.applied(trained):
    deterministic = model.apply({'params': params}, tiny_gpt.inputs)
    dropped = model.apply({'params': params}, tiny_gpt.inputs, rngs=rngs)
  assert np.abs(np.asarray(dropped - deterministic)).max() > 1e-3


def test_a_pattern_that_matches_nothing_lists_the_dense_layers(tiny_t5):
  with pytest.raises(ValueError, match=r"'q' matches no Dense layer.*"
                     r"decoder/cross_attention/query.*encoder/self_attention/value"):
    _adapters(tiny_t5.model, tiny_t5.variables['params'], targets=('q', 'v'))


def test_a_rank_above_the_layer_is_refused(tiny_t5):
  with pytest.raises(ValueError, match=r'peft.rank=64 exceeds .* kernel \(32, 32\)'):
    _adapters(tiny_t5.model, tiny_t5.variables['params'], rank=64)


def test_a_new_head_trains_in_full_and_takes_no_adapter(tiny_bert_classifier):
  model, variables, args = tiny_bert_classifier
  params = variables['params']
  new = ('classifier/bias', 'classifier/kernel', 'pooler/bias', 'pooler/kernel')
  with pytest.raises(ValueError, match='classifier, new parameters .* train in full'):
    Adapters.from_config(_config(targets=('query', 'classifier')), model, params, new)
  adapters = Adapters.from_config(_config(targets=('all-linear',)), model, params, new)
  assert not any(p.startswith(('pooler', 'classifier')) for p in adapters.method.kernels)
  trainable = adapters.init_trainable(params, jax.random.key(0))
  assert set(trainable['head']) == {'classifier', 'pooler'}
  base = adapters.frozen_base(params)
  assert 'classifier' not in base
  np.testing.assert_array_equal(
      model.apply({'params': adapters.combine(base, trainable)}, *args),
      model.apply({'params': params}, *args))


def test_a_merge_into_non_finite_values_fails_loudly(tiny_gpt):
  params = tiny_gpt.variables['params']
  adapters = _adapters(tiny_gpt.model, params)
  trainable = adapters.init_trainable(params, jax.random.key(0))
  trainable['lora']['layers_1']['self_attention']['value']['lora_b'] = jnp.full((8, 32), jnp.inf)
  with pytest.raises(FloatingPointError, match='layers_1/self_attention/value/kernel'):
    lora.check_finite(adapters.merged(params, trainable), 'the test run')


def test_the_fingerprint_tells_bases_apart(tiny_gpt):
  params = jax.device_get(tiny_gpt.variables['params'])
  same = jax.tree.map(np.copy, params)
  assert adapters_lib.fingerprint(params) == adapters_lib.fingerprint(same)
  same['final_norm']['scale'][0] += 1e-6
  assert adapters_lib.fingerprint(params) != adapters_lib.fingerprint(same)


def test_every_family_declares_lora_defaults_that_exist():
  for family in families.FAMILIES.values():
    assert family.lora_targets and all(isinstance(t, str) for t in family.lora_targets)
  assert targets.available({'encoder/layers_0/mlp/wi_0': (4, 8)}) == ['encoder/mlp/wi_0']
