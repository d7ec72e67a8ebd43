"""Gradient accumulation (config.grad_accum_steps): a step computed as microbatches equals the
step on the whole batch, for every family; the multi-device case is in test_multi_device.py."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lm_jax import models
from lm_jax.config.schema import load_config, override, validate_config
from lm_jax.train import train_step as steps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = 8


def _batch(config, random_batch):
  """ROWS rows of 32 random token ids whose loss weights differ from row to row (some rows and
  tokens weigh 0), so that each microbatch has its own weight sum."""
  batch = random_batch(config, ROWS, 32)
  rng = np.random.default_rng(1)
  for key in [key for key in batch if key.endswith('_weights')]:
    batch[key] = (rng.random(batch[key].shape) < 0.7).astype(batch[key].dtype)
    batch[key][1] = 0  # a row with nothing to score
  return batch


@pytest.mark.parametrize('config_name', ['t5_small.py:tiny', 'gpt2_small.py:tiny',
                                         'bert_base.py:tiny'])
def test_microbatches_give_the_whole_batch_step(config_name, random_batch):
  config = load_config(os.path.join(ROOT, 'configs', config_name))
  with config.unlocked():  # one layer per stack: the microbatching is outside the model
    for key in ('dropout_rate', 'attention_dropout_rate'):
      if key in config.model:
        config.model[key] = 0.0
    for key in ('num_layers', 'num_encoder_layers', 'num_decoder_layers'):
      if key in config.model:
        config.model[key] = 1
  model = models.build_model(config.model)
  batch = _batch(config, random_batch)
  shapes = {k: (v.shape, v.dtype) for k, v in batch.items()}
  params = jax.jit(lambda rng: steps.init_params(model, rng, shapes))(jax.random.key(0))
  # Plain SGD at rate 1: the update is minus the gradient itself, so the parameters compare
  # the gradients (Adam's first update would hide their differences behind their signs).
  optimizer = optax.sgd(1.0)
  state = steps.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                           opt_state=optimizer.init(params),
                           dropout_rng=jax.random.key_data(jax.random.key(1)))
  results = {}
  for accum in (1, 4):
    step = jax.jit(steps.make_train_step(model, optimizer, lambda _: 1.0, config.loss,
                                         grad_accum_steps=accum))
    results[accum] = jax.device_get(step(state, batch))
  (whole, whole_metrics), (micro, micro_metrics) = results[1], results[4]
  for key in ('loss_sum', 'z_loss_sum', 'correct_sum', 'weight_sum', 'tokens'):
    np.testing.assert_allclose(micro_metrics[key], whole_metrics[key], rtol=1e-5, err_msg=key)
  np.testing.assert_allclose(micro_metrics['grad_norm'], whole_metrics['grad_norm'], rtol=1e-5)
  assert whole_metrics['grad_norm'] > 0
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
               micro.params, whole.params)


def test_microbatch_j_takes_every_kth_row_so_each_device_keeps_its_rows():
  batch = {'x': np.arange(8)[:, None] * np.ones((1, 3), np.int32)}
  split = steps.microbatches(batch, 4)['x']
  assert split.shape == (4, 2, 3)
  np.testing.assert_array_equal(split[:, :, 0], [[0, 4], [1, 5], [2, 6], [3, 7]])
  with pytest.raises(ValueError, match='6 rows does not split into 4 microbatches'):
    steps.microbatches({'x': np.zeros((6, 2))}, 4)


def test_bad_grad_accum_steps_are_refused_before_anything_runs():
  config = load_config(os.path.join(ROOT, 'configs', 't5_small.py:tiny'))
  with pytest.raises(ValueError, match=r"'grad_accum_steps' = 3: must divide "
                                       r'per_device_batch_size \(8\)'):
    validate_config(override(config, {'per_device_batch_size': 8, 'grad_accum_steps': 3}))
  with pytest.raises(ValueError, match="'grad_accum_steps' = 0: must be a positive integer"):
    validate_config(override(config, {'grad_accum_steps': 0}))
