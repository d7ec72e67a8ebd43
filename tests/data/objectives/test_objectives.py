"""The contract every registered objective keeps: batch shapes, determinism, exact resumption,
one-pass eval with zero-row padding, config errors that name the key."""

import json

import ml_collections
import numpy as np
import pytest

from lm_jax.config import schema
from lm_jax.data import objectives, pipeline
from lm_jax.data import tokenizer as tokenizer_lib

NAMES = objectives.NAMES
# Short rows keep every test fast; 64 raw inputs need 16 span-corruption targets.
LENGTHS = dict(inputs_length=64, targets_length=32)


def small_config(make_data_config, name, **overrides):
  return make_data_config(objective=name, **{**LENGTHS, **overrides})


def make_iterator(name, make_data_config, tokenizer, source, seed=5, batch_size=3, **kwargs):
  config = small_config(make_data_config, name)
  return objectives.get(name)(source, tokenizer, config, batch_size, seed, **kwargs)


def take(iterator, n):
  return [next(iterator) for _ in range(n)]


def assert_batches_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for key in x:
      np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_registry_names_every_objective():
  assert NAMES == ('span_corruption', 'causal_lm', 'prefix_lm', 'mlm')
  assert schema.default_config().data.objective == 'span_corruption'
  with pytest.raises(ValueError, match='config.data.objective.*causal_lm'):
    objectives.get('gpt')


@pytest.mark.parametrize('name', NAMES)
def test_batch_shapes_match_the_batches(name, make_data_config, tokenizer):
  config = small_config(make_data_config, name)
  shapes = pipeline.batch_shapes(config, 4)
  for iterator in (pipeline.make_train_iterator(config, tokenizer, 4, seed=0),
                   pipeline.make_eval_iterator(config, tokenizer, 4, seed=0)):
    batch = next(iterator)
    assert set(batch) == set(shapes)
    for key, (shape, dtype) in shapes.items():
      assert batch[key].shape == shape and batch[key].dtype == dtype, key
      assert isinstance(dtype, np.dtype)


@pytest.mark.parametrize('name', NAMES)
def test_resume_mid_epoch_and_across_epochs(name, make_data_config, tokenizer, validation_texts):
  source = validation_texts[:12]
  original = make_iterator(name, make_data_config, tokenizer, source)
  states = []
  for _ in range(40):
    states.append(json.loads(json.dumps(original.get_state())))
    next(original)
  assert states[-1]['epoch'] >= 1  # crossed an epoch boundary
  reference = take(make_iterator(name, make_data_config, tokenizer, source), 45)
  for step in (0, 7, 23, 39):
    resumed = make_iterator(name, make_data_config, tokenizer, source)
    resumed.set_state(states[step])
    assert_batches_equal(take(resumed, 45 - step), reference[step:])


@pytest.mark.parametrize('name', NAMES)
def test_deterministic_from_the_seed(name, make_data_config, tokenizer, validation_texts):
  source = validation_texts[:12]
  a = take(make_iterator(name, make_data_config, tokenizer, source, seed=5), 3)
  assert_batches_equal(a, take(make_iterator(name, make_data_config, tokenizer, source, seed=5), 3))
  b = next(make_iterator(name, make_data_config, tokenizer, source, seed=6))
  assert any(not np.array_equal(a[0][key], b[key]) for key in b)


@pytest.mark.parametrize('name', NAMES)
def test_eval_is_one_pass_padded_with_zero_rows(name, make_data_config, tokenizer,
                                                validation_texts):
  source = validation_texts[:30]
  rows = sum(1 for _ in make_iterator(name, make_data_config, tokenizer, source, batch_size=1,
                                      shuffle=False, repeat=False))
  batch_size = next(b for b in range(5, rows) if rows % b)  # leaves a partial last batch
  iterator = make_iterator(name, make_data_config, tokenizer, source, batch_size=batch_size,
                           shuffle=False, repeat=False)
  batches = list(iterator)
  assert next(iterator, None) is None
  assert len(batches) == -(-rows // batch_size)
  weights_key = next(k for k in batches[0] if k.endswith('loss_weights'))
  real = [row.any() for batch in batches for row in batch[weights_key]]
  assert real == [True] * rows + [False] * (len(real) - rows)
  padding = batch_size - rows % batch_size
  for key, value in batches[-1].items():
    assert value.shape[0] == batch_size and not value[batch_size - padding:].any(), key


@pytest.mark.parametrize('name,overrides,message', [
    ('span_corruption', dict(noise_density=1.5), 'config.data.noise_density'),
    ('span_corruption', dict(inputs_length=128, targets_length=20),
     'config.data.targets_length=29'),
    ('causal_lm', dict(targets_length=0), 'config.data.targets_length=0.*causal_lm'),
    ('prefix_lm', dict(targets_length=2), '--config.data.targets_length to at least 3'),
    ('mlm', dict(inputs_length=0), 'config.data.inputs_length=0.*mlm'),
    ('mlm', dict(mlm_probability=0.0), 'config.data.mlm_probability'),
    ('mlm', dict(mlm_probability=1.5), 'config.data.mlm_probability'),
    ('mlm', dict(mlm_random_fraction=-0.1), 'config.data.mlm_random_fraction'),
    ('mlm', dict(mlm_mask_fraction=0.95), r'mlm_mask_fraction \+ config.data.mlm_random_fraction'),
])
def test_bad_config_values_name_the_key(name, overrides, message, make_data_config, tokenizer):
  config = small_config(make_data_config, name, **overrides)
  with pytest.raises(ValueError, match=message):
    objectives.get(name)(['some text'], tokenizer, config, 2, 0)


def test_other_construction_errors(make_data_config, tokenizer):
  config = small_config(make_data_config, 'causal_lm')
  config_with_bad_pack = ml_collections.ConfigDict({**config.to_dict(), 'pack': 'yes'})
  with pytest.raises(ValueError, match='config.data.pack'):
    objectives.get('causal_lm')(['text'], tokenizer, config_with_bad_pack, 2, 0)
  no_sentinels = tokenizer_lib.load(tokenizer.path, num_extra_ids=0)
  with pytest.raises(ValueError, match='num_extra_ids'):
    objectives.get('mlm')(['text'], no_sentinels, small_config(make_data_config, 'mlm'), 2, 0)
  for name in NAMES:
    with pytest.raises(ValueError, match='empty'):
      objectives.get(name)([], tokenizer, small_config(make_data_config, name), 2, 0)
    with pytest.raises(ValueError, match='batch_size'):
      objectives.get(name)(['text'], tokenizer, small_config(make_data_config, name), 0, 0)
  with pytest.raises(ValueError, match='config.data.objective'):
    pipeline.make_train_iterator(make_data_config(objective='bert'), tokenizer, 2, 0)


@pytest.mark.parametrize('key,value,message', [
    ('objective', 'bert', 'must be one of span_corruption, causal_lm, prefix_lm, mlm'),
    ('mlm_probability', 0.0, r'\(0, 1\]'),
    ('mlm_mask_fraction', 1.2, r'\[0, 1\]'),
    ('mlm_random_fraction', 0.3, 'mlm_mask_fraction \\+ mlm_random_fraction must be <= 1'),
])
def test_validate_config_checks_the_data_keys(key, value, message):
  config = schema.default_config()
  config.data[key] = value
  with pytest.raises(ValueError, match=message) as error:
    schema.validate_config(config)
  assert f"'data.{key}'" in str(error.value)


def test_validate_config_accepts_every_objective():
  for name in NAMES:
    config = schema.default_config()
    config.data.objective = name
    schema.validate_config(config)
  config.data = ml_collections.ConfigDict({**config.data.to_dict(), 'pack': 1})
  with pytest.raises(ValueError, match="'data.pack'"):
    schema.validate_config(config)
