import os

import pytest

from lm_jax import models
from lm_jax.config import schema
from lm_jax.data import tasks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize('variant', ['', ':cpu', ':tiny', ':mini'])
def test_shipped_configs_are_valid(variant):
  config = schema.load_config(os.path.join(REPO, 'configs', 't5_small.py' + variant))
  schema.validate_config(config)
  models.build_model(config.model)


FINETUNE_VARIANTS = {
    'finetune_translation.py': ['', 'system', 'tiny', 'cpu'],
    'finetune_summarization.py': ['', 'xsum', 'code', 'docstrings', 'tiny', 'cpu'],
    'finetune_classification.py': ['', 'wordnet', 'tiny', 'bert_tiny'],
    'finetune_qa.py': ['', 'reference', 'docstrings', 'faq', 'tiny', 'cpu'],
}


@pytest.mark.parametrize('spec', [f'{name}:{variant}' if variant else name
                                  for name, variants in FINETUNE_VARIANTS.items()
                                  for variant in variants])
def test_finetune_configs_are_valid_and_name_a_task(spec):
  config = schema.load_config(os.path.join(REPO, 'configs', spec))
  schema.validate_config(config)
  assert config.data.task in tasks.NAMES


def test_t5_small_has_the_papers_shape():
  config = schema.load_config(os.path.join(REPO, 'configs', 't5_small.py'))
  m = config.model
  assert (m.d_model, m.num_encoder_layers, m.num_decoder_layers, m.num_heads, m.d_ff) == \
      (512, 6, 6, 8, 2048)
  assert (config.data.inputs_length, config.data.targets_length) == (512, 114)


@pytest.mark.parametrize('section,key', [('', 'num_train_step'), ('data.', 'input_length'),
                                         ('optimizer.', 'lr'), ('loss.', 'zloss')])
def test_unknown_keys_are_rejected_by_name(section, key):
  config = schema.default_config()
  target = config
  for part in filter(None, section.rstrip('.').split('.')):
    target = target[part]
  target[key] = 1
  with pytest.raises(ValueError, match=f"Unknown config key '{section}{key}'"):
    schema.validate_config(config)


@pytest.mark.parametrize('key,value,named,message', [
    ('per_device_batch_size', 0, 'per_device_batch_size', 'positive integer'),
    ('num_train_steps', -3, 'num_train_steps', 'positive integer'),
    ('optimizer.name', 'sgd', 'optimizer.name', 'one of'),
    ('optimizer.warmup_steps', 0, 'optimizer.warmup_steps', 'warmup_steps > 0'),  # with rsqrt
    ('data.noise_density', 1.5, 'data.noise_density', r'\(0, 1\)'),
    ('data.inputs_length', 0, 'data.inputs_length', 'must be positive'),
    ('generate.no_repeat_ngram_size', -1, 'generate.no_repeat_ngram_size', 'integer >= 0'),
])
def test_inconsistent_values_are_rejected_by_name(key, value, named, message):
  config = schema.default_config()
  section, _, name = key.rpartition('.')
  (config[section] if section else config)[name] = value
  with pytest.raises(ValueError, match=message) as error:
    schema.validate_config(config)
  assert f"'{named}'" in str(error.value)


@pytest.mark.parametrize('objective, changes, message', [
    ('span_corruption', {'inputs_length': 128, 'targets_length': 20}, 'targets_length=29'),
    ('span_corruption', {'num_extra_ids': 5}, '568 tokens .*needs 28 sentinels .*num_extra_ids=5'),
    ('prefix_lm', {'targets_length': 2}, 'targets_length to at least 3'),
])
def test_an_objectives_length_rule_is_checked_at_start_up(objective, changes, message):
  # Before a tokenizer is trained or a row is read: the objective's own rule, run by the schema.
  config = schema.default_config()
  config.data.objective = objective
  config.data.update(changes)
  with pytest.raises(ValueError, match=message):
    schema.validate_config(config)
  config.data.task = 'python_faq'  # a task's rows follow the task, not the objective
  schema.validate_config(config)


def test_float_for_an_integer_key_is_refused_by_the_config_itself():
  with pytest.raises(TypeError, match='num_train_steps'):
    schema.default_config().num_train_steps = 2.5


def test_unknown_model_key_is_rejected_by_the_model():
  config = schema.default_config()
  config.model.update(d_modle=512)
  with pytest.raises(ValueError, match='d_modle'):
    models.build_model(config.model)
  config.model = {'name': 'gpt9'}
  with pytest.raises(ValueError, match='t5'):
    models.build_model(config.model)


def test_override_sets_dotted_keys_and_rejects_unknown_ones():
  from lm_jax.config.schema import default_config, override
  config = override(default_config(), {'eval.num_examples': 7, 'seed': 3})
  assert config.eval.num_examples == 7 and config.seed == 3
  with pytest.raises(KeyError, match="'eval.num_exampels'.*num_examples"):
    override(config, {'eval.num_exampels': 7})


def _phf_config(objective='conditional'):
  config = schema.load_config(os.path.join(REPO, 'configs', f'phf_pep8.py:{objective},tiny'))
  schema.validate_config(config)
  return config


@pytest.mark.parametrize('key,value,message', [
    ('scorer', 'pep9', 'is not a scorer; the scorers are pep8, pii'),
    ('threshold', -0.001, r'must be in \[0, 1\)'),
    ('threshold', 1.0, r'must be in \[0, 1\)'),
    ('drop_control_fraction', -0.1, r'must be in \[0, 1\]'),
    ('drop_control_fraction', 1.5, r'must be in \[0, 1\]'),
    ('eval_samples', 30, 'must be a multiple of 25'),
    ('eval_samples', -25, 'must be a multiple of 25'),
])
def test_bad_preference_values_are_rejected_by_name(key, value, message):
  config = _phf_config()
  config.preference[key] = value
  with pytest.raises(ValueError, match=message) as error:
    schema.validate_config(config)
  assert f"'preference.{key}'" in str(error.value)
  config.preference.objective = 'none'  # an ordinary run ignores the section
  schema.validate_config(config)


@pytest.mark.parametrize('key,value', [('threshold', 0.0), ('threshold', 0.999),
                                       ('drop_control_fraction', 0.0),
                                       ('drop_control_fraction', 1.0), ('eval_samples', 0),
                                       ('eval_samples', 75), ('scorer', 'pii')])
def test_preference_values_at_the_edges_are_accepted(key, value):
  config = _phf_config()
  config.preference[key] = value
  schema.validate_config(config)


@pytest.mark.parametrize('objective', ['mle', 'rwr'])
@pytest.mark.parametrize('data', [{'objective': 'prefix_lm'}, {'task': 'python_faq'}])
def test_preference_objectives_need_causal_lm_pretraining(objective, data):
  config = _phf_config(objective)
  config.data.update(data)
  with pytest.raises(ValueError, match="'preference.objective'.*--config.data.objective=causal_lm"):
    schema.validate_config(config)
