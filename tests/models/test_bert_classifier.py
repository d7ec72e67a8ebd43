"""BertClassifier: Bert's backbone parameters under the same names, mean pooling that ignores
padding, logits the family's loss scores, and it learns a separable toy problem."""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import traverse_util

from lm_jax import families
from lm_jax.config.schema import default_config
from lm_jax.evaluation import samples
from lm_jax.models import build_model
from lm_jax.models.bert import Bert, BertClassifier, BertClassifierConfig, BertConfig
from lm_jax.train import losses, optimizers

TINY = BertClassifierConfig(vocab_size=64, d_model=32, num_heads=4, head_dim=8, d_ff=64,
                            num_layers=2, max_length=16, dropout_rate=0.0,
                            attention_dropout_rate=0.0, num_classes=3)
TOKENS = jnp.array([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])


def _init(cfg=TINY, tokens=TOKENS, seed=0):
  model = BertClassifier(cfg)
  return model, model.init(jax.random.key(seed), tokens)['params']


def _shapes(params):
  return {'/'.join(k): v.shape for k, v in traverse_util.flatten_dict(params).items()}


def test_backbone_parameters_are_berts_without_the_mlm_head():
  for norm_position in ('post', 'pre'):
    cfg = dataclasses.replace(TINY, norm_position=norm_position)
    bert_cfg = BertConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(BertConfig)})
    bert = _shapes(jax.eval_shape(Bert(bert_cfg).init, jax.random.key(0), TOKENS)['params'])
    classifier = _shapes(jax.eval_shape(BertClassifier(cfg).init, jax.random.key(0),
                                        TOKENS)['params'])
    backbone = {k: v for k, v in classifier.items() if k.split('/')[0] not in ('pooler',
                                                                                'classifier')}
    assert backbone == {k: v for k, v in bert.items() if not k.startswith('mlm_head/')}
    assert {k: v for k, v in classifier.items() if k not in backbone} == {
        'pooler/kernel': (32, 32), 'pooler/bias': (32,),
        'classifier/kernel': (32, 3), 'classifier/bias': (3,)}


def test_logits_shape_and_registration():
  model = build_model(ml_collections.ConfigDict({'name': 'bert_classifier',
                                                 **dataclasses.asdict(TINY)}))
  assert isinstance(model, BertClassifier) and model.config == TINY
  assert BertClassifier.family == 'encoder_classifier' and Bert.family == 'encoder_only'
  params = model.init(jax.random.key(0), TOKENS)['params']
  logits = model.apply({'params': params}, TOKENS)
  assert logits.shape == (2, 3) and logits.dtype == jnp.float32
  bf16 = BertClassifier(dataclasses.replace(TINY, dtype='bfloat16'))
  assert bf16.apply({'params': params}, TOKENS).dtype == jnp.float32


def test_padding_does_not_change_a_rows_logits():
  model, params = _init()
  logits = np.asarray(model.apply({'params': params}, TOKENS))
  # More padding: were pad positions in the mean, their (attending) hidden states would move it.
  longer = model.apply({'params': params}, jnp.pad(TOKENS, ((0, 0), (0, 6))))
  np.testing.assert_allclose(np.asarray(longer), logits, atol=1e-5)
  # The same row alone in a batch of one.
  np.testing.assert_allclose(np.asarray(model.apply({'params': params}, TOKENS[:1, :3])),
                             logits[:1], atol=1e-5)
  # Control: mean over all positions (pads included) gives other logits.
  encoded = model.apply({'params': params}, jnp.pad(TOKENS, ((0, 0), (0, 6))),
                        method=BertClassifier.encode)
  pooled = jnp.tanh(encoded.mean(axis=1) @ params['pooler']['kernel'] + params['pooler']['bias'])
  naive = pooled @ params['classifier']['kernel'] + params['classifier']['bias']
  assert not np.allclose(np.asarray(naive)[0], logits[0], atol=1e-3)
  # An all-padding filler row gives finite logits.
  assert np.all(np.isfinite(model.apply({'params': params}, jnp.zeros((1, 5), jnp.int32))))


def test_family_loss_scores_one_label_per_row():
  model, params = _init()
  batch = {'encoder_input_tokens': TOKENS, 'label': jnp.array([2, 0]),
           'label_weight': jnp.array([1.0, 0.0])}
  logits = families.apply_model(model, params, batch, rngs={})
  targets, weights = families.targets_and_weights(model, batch)
  terms = losses.cross_entropy(logits, targets, weights)
  expected = optax.softmax_cross_entropy_with_integer_labels(logits, batch['label'])[0]
  np.testing.assert_allclose(float(terms['loss_sum']), float(expected), rtol=1e-6)
  assert float(terms['weight_sum']) == 1.0
  assert int(families.token_count(model, batch)) == 8
  families.check_batch_keys(model, batch.keys(), 'mlm', task='wordnet_categories')
  try:
    families.check_batch_keys(model, ('encoder_input_tokens', 'encoder_target_tokens',
                                      'encoder_loss_weights'), 'mlm')
    raise AssertionError('an MLM batch must be rejected')
  except ValueError as e:
    assert 'config.data.task' in str(e) and "['label', 'label_weight']" in str(e)


def _toy_batch(rng, batch_size=16, length=8):
  """Label 0: tokens from 3..10; label 1: tokens from 11..18; random lengths, padded with 0."""
  labels = rng.integers(0, 2, batch_size)
  tokens = rng.integers(3, 11, (batch_size, length)) + 8 * labels[:, None]
  lengths = rng.integers(2, length + 1, batch_size)
  tokens = np.where(np.arange(length) < lengths[:, None], tokens, 0)
  return {'encoder_input_tokens': jnp.asarray(tokens, jnp.int32),
          'label': jnp.asarray(labels, jnp.int32),
          'label_weight': jnp.ones((batch_size,), jnp.float32)}


def test_learns_a_separable_problem():
  cfg = dataclasses.replace(TINY, num_classes=2, dropout_rate=0.1)
  model = BertClassifier(cfg)
  rng = np.random.default_rng(0)
  params = model.init(jax.random.key(0), _toy_batch(rng)['encoder_input_tokens'])['params']
  opt_config = default_config().optimizer
  opt_config.update(name='adamw', schedule='constant', warmup_steps=0, learning_rate=3e-3)
  optimizer, _ = optimizers.make_optimizer(opt_config, 100)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, batch, key):
    def loss_fn(p):
      logits = families.apply_model(model, p, batch, rngs={'dropout': key})
      terms = losses.cross_entropy(logits, batch['label'], batch['label_weight'])
      return terms['loss_sum'] / terms['weight_sum']
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  eval_batch = _toy_batch(np.random.default_rng(1), batch_size=64)
  eval_loss = lambda p: float(optax.softmax_cross_entropy_with_integer_labels(
      model.apply({'params': p}, eval_batch['encoder_input_tokens']), eval_batch['label']).mean())
  start = eval_loss(params)
  for i in range(40):
    params, opt_state, _ = step(params, opt_state, _toy_batch(rng), jax.random.key(i))
  assert eval_loss(params) < 0.25 * start
  accuracy = np.mean(np.argmax(model.apply({'params': params}, eval_batch['encoder_input_tokens']),
                               -1) == np.asarray(eval_batch['label']))
  assert accuracy > 0.95


class _Tokenizer:
  def decode(self, ids):
    return ' '.join(str(i) for i in ids if i)


def test_samples_show_class_ids_and_skip_filler_rows():
  model, params = _init()
  batch = {'encoder_input_tokens': np.asarray(TOKENS), 'label': np.array([2, 0]),
           'label_weight': np.array([1.0, 0.0], np.float32)}
  predicted = int(np.argmax(model.apply({'params': params}, TOKENS)[0]))
  assert samples.predict_samples(model, params, batch, _Tokenizer()) == [
      {'input': '5 6 7', 'target': '2', 'prediction': str(predicted)}]
