"""The train step with frozen parameters: no gradient reaches them, and the logged gradient norm
is the trainable parameters' alone."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from lm_jax import models
from lm_jax.config.schema import default_config
from lm_jax.train import optimizers, train_step as steps


def test_frozen_parameters_get_no_gradient_and_grad_norm_is_the_heads():
  model = models.build_model(ml_collections.ConfigDict(dict(
      name='bert_classifier', vocab_size=64, d_model=16, num_heads=2, head_dim=8, d_ff=32,
      num_layers=1, max_length=8, num_classes=3, dropout_rate=0.0,
      attention_dropout_rate=0.0)))
  rng = np.random.default_rng(0)
  batch = {'encoder_input_tokens': jnp.asarray(rng.integers(3, 64, (4, 8)), jnp.int32),
           'label': jnp.asarray([0, 1, 2, 1], jnp.int32),
           'label_weight': jnp.ones(4, jnp.float32)}
  shapes = {k: (v.shape, v.dtype) for k, v in batch.items()}
  params = steps.init_params(model, jax.random.key(0), shapes)
  labels = jax.tree_util.tree_map_with_path(
      lambda path, _: 'trainable' if path[0].key in ('pooler', 'classifier') else 'frozen',
      params)
  config = default_config()
  optimizer, schedule = optimizers.make_optimizer(config.optimizer, 10, param_labels=labels)
  state = steps.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                           opt_state=optimizer.init(params), dropout_rng=jax.random.key(1))
  step = jax.jit(steps.make_train_step(model, optimizer, schedule, config.loss, labels))
  new_state, metrics = step(state, batch)

  def loss(p):
    terms = steps._loss_terms(model, p, batch, config.loss, {})
    return (terms['loss_sum'] + terms['z_loss_sum']) / terms['weight_sum']
  grads = jax.grad(loss)(params)
  head = {k: grads[k] for k in ('pooler', 'classifier')}
  np.testing.assert_allclose(metrics['grad_norm'], optax.tree.norm(head), rtol=1e-5)
  assert optax.tree.norm(grads) > optax.tree.norm(head) * 1.01  # the backbone had gradients
  for name in params:
    same = jax.tree.leaves(jax.tree.map(np.array_equal, params[name], new_state.params[name]))
    assert all(same) == (name not in ('pooler', 'classifier')), name
