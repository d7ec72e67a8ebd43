"""config.model.remat_policy changes what the backward pass recomputes, never the numbers: the
same parameter tree, logits and gradients under every policy, for every family; decoding with the
KV cache works under remat."""
import dataclasses
import os

import jax
import ml_collections
import numpy as np
import pytest

from lm_jax import families, models
from lm_jax.config.schema import load_config
from lm_jax.generation import decoding
from lm_jax.train import train_step as steps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS, LENGTH = 2, 16
# On T5 'full' and the policy that reads lm_jax's own MLP_INPUT tag (the dots_* policies are JAX's
# own, applied by the same code); on the other families the tag's ('full' is also the decoding
# test's).
CASES = ([('t5_small.py:tiny', policy) for policy in ('full', 'save_mlp_inputs')]
         + [(config, 'save_mlp_inputs') for config in ('gpt2_small.py:tiny', 'bert_base.py:tiny',
                                                       'transformer_base.py:tiny')])


def _model_and_batch(config_name: str, policy: str, random_batch):
  config = load_config(os.path.join(ROOT, 'configs', config_name))
  model_config = ml_collections.ConfigDict(config.model.to_dict())
  model_config.remat_policy = policy
  return models.build_model(model_config), random_batch(config, ROWS, LENGTH)


def _loss_and_grads(model, params, batch):
  def loss(params):  # with dropout: each policy must draw the same masks
    terms = steps._loss_terms(model, params, batch, load_config(
        os.path.join(ROOT, 'configs', 't5_small.py:tiny')).loss, {'dropout': jax.random.key(2)})
    return terms['loss_sum'] / terms['weight_sum']
  return jax.jit(jax.value_and_grad(loss))(params)


@pytest.mark.parametrize('config_name,policy', CASES)
def test_every_policy_gives_the_same_parameters_logits_and_gradients(config_name, policy,
                                                                     random_batch):
  plain, batch = _model_and_batch(config_name, 'none', random_batch)
  remat, _ = _model_and_batch(config_name, policy, random_batch)
  shapes = {k: (v.shape, v.dtype) for k, v in batch.items()}
  params = jax.jit(lambda rng: steps.init_params(plain, rng, shapes))(jax.random.key(0))
  remat_params = jax.jit(lambda rng: steps.init_params(remat, rng, shapes))(jax.random.key(0))
  assert jax.tree.structure(remat_params) == jax.tree.structure(params)
  jax.tree.map(np.testing.assert_array_equal, remat_params, params)

  logits = jax.jit(lambda p: families.apply_model(plain, p, batch, {}))(params)
  remat_logits = jax.jit(lambda p: families.apply_model(remat, p, batch, {}))(params)
  np.testing.assert_allclose(remat_logits, logits, rtol=1e-5, atol=1e-6)
  loss, grads = _loss_and_grads(plain, params, batch)
  remat_loss, remat_grads = _loss_and_grads(remat, params, batch)
  np.testing.assert_allclose(remat_loss, loss, rtol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7),
               remat_grads, grads)


@pytest.mark.parametrize('tiny_name', ['tiny_gpt', 'tiny_t5'])
def test_decoding_with_the_kv_cache_works_under_remat(tiny_name, request):
  tiny = request.getfixturevalue(tiny_name)
  remat = tiny.model.clone(config=dataclasses.replace(tiny.model.config, remat_policy='full'))
  kwargs = dict(max_new_tokens=6, eos_id=-1)
  if tiny.prompt_lengths is not None:
    kwargs['prompt_lengths'] = tiny.prompt_lengths
  plain = decoding.generate(tiny.model, tiny.variables, tiny.inputs, **kwargs)
  again = decoding.generate(remat, tiny.variables, tiny.inputs, **kwargs)
  np.testing.assert_array_equal(again, plain)


def test_an_unknown_policy_is_refused_naming_the_choices():
  with pytest.raises(ValueError, match=r"config.model.remat_policy must be one of \('none', "
                                       r"'full'.*got 'everything'"):
    models.build_model(ml_collections.ConfigDict({'name': 'gpt', 'remat_policy': 'everything'}))
