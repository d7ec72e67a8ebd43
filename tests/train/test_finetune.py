"""Pretrained weights: loading an lm_jax workdir (params only, bit-exact) and a Hugging Face
directory, merging them into a new model, and the trainable / frozen labels."""
import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import traverse_util

from lm_jax import convert, models
from lm_jax.data import pipeline
from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.models.bert import Bert, BertClassifier, BertClassifierConfig, BertConfig
from lm_jax.models.t5 import T5Config
from lm_jax.train import finetune, optimizers
from lm_jax.train.run_dir import RunDir
from lm_jax.train.train_step import TrainState

BERT = BertConfig(vocab_size=64, d_model=16, num_heads=2, head_dim=8, d_ff=32, num_layers=2,
                  max_length=16)
TOKENS = jnp.ones((1, 4), jnp.int32)


def _flat(params):
  return traverse_util.flatten_dict(params, sep='/')


def _assert_bit_equal(a, b):
  a, b = _flat(a), _flat(b)
  assert a.keys() == b.keys()
  for k in a:
    assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k
    assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k


def _classifier_and_mlm_params():
  classifier = BertClassifier(BertClassifierConfig(**dataclasses.asdict(BERT), num_classes=3))
  initial = classifier.init(jax.random.key(0), TOKENS)['params']
  pretrained = jax.device_get(Bert(BERT).init(jax.random.key(1), TOKENS)['params'])
  return initial, pretrained


def test_merge_loads_the_backbone_and_reports_the_head():
  initial, pretrained = _classifier_and_mlm_params()
  merged, report = finetune.merge_params(initial, pretrained)
  flat_merged, flat_initial, flat_pretrained = _flat(merged), _flat(initial), _flat(pretrained)
  head = {'pooler/kernel', 'pooler/bias', 'classifier/kernel', 'classifier/bias'}
  assert set(report.new) == head
  assert set(report.unused) == {k for k in flat_pretrained if k.startswith('mlm_head/')}
  assert set(report.loaded) == set(flat_initial) - head
  for path in report.loaded:
    assert np.array_equal(flat_merged[path], flat_pretrained[path]), path
  for path in head:
    assert np.array_equal(flat_merged[path], flat_initial[path]), path
  assert jax.tree.structure(merged) == jax.tree.structure(initial)
  assert 'parameters loaded' in report.summary() and 'mlm_head/' in report.summary()
  # Abstract params (jax.eval_shape) give the same report without any arrays.
  abstract = jax.eval_shape(lambda: initial)
  assert finetune.merge_params(abstract, pretrained)[1] == report


def test_merge_casts_to_the_model_dtype_and_rejects_other_shapes():
  initial, pretrained = _classifier_and_mlm_params()
  bf16 = jax.tree.map(lambda x: x.astype(jnp.bfloat16), initial)
  merged, _ = finetune.merge_params(bf16, pretrained)
  assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(merged))
  wider = Bert(dataclasses.replace(BERT, vocab_size=80)).init(jax.random.key(1), TOKENS)['params']
  with pytest.raises(ValueError, match=r'token_embedder/embedding: model \(64, 16\), checkpoint '
                                       r'\(80, 16\)'):
    finetune.merge_params(initial, wider)


def test_trainable_labels():
  initial, pretrained = _classifier_and_mlm_params()
  _, report = finetune.merge_params(initial, pretrained)
  labels = lambda *args: _flat(finetune.trainable_labels(initial, *args))
  assert set(labels('full', '', report.new).values()) == {'trainable'}
  frozen = labels('frozen', '', report.new)
  assert {k for k, v in frozen.items() if v == 'trainable'} == set(report.new)
  last_layer = labels('frozen', r'^layers_1/|^classifier/', report.new)
  assert {k for k, v in last_layer.items() if v == 'trainable'} == {
      k for k in _flat(initial) if k.startswith(('layers_1/', 'classifier/'))}
  with pytest.raises(ValueError, match=r'config\.finetune\.trainable'):
    labels('frozen', '', [])  # everything was loaded: no new head
  with pytest.raises(ValueError, match=r"config\.finetune\.trainable='nothing' matches none"):
    labels('frozen', 'nothing', report.new)
  with pytest.raises(ValueError, match='not a regular expression'):
    labels('frozen', '(', report.new)
  with pytest.raises(ValueError, match='config.finetune.mode'):
    labels('partial', '', report.new)


def test_labels_drive_the_optimizer():
  initial, pretrained = _classifier_and_mlm_params()
  params, report = finetune.merge_params(initial, pretrained)
  labels = finetune.trainable_labels(params, 'frozen', '', report.new)
  opt = ml_collections.ConfigDict(dict(
      name='adamw', schedule='constant', warmup_steps=0, learning_rate=0.1, b1=0.9, b2=0.99,
      eps=1e-8, weight_decay=0.01, grad_clip_norm=1.0, end_learning_rate_fraction=0.0))
  optimizer, _ = optimizers.make_optimizer(opt, 10, param_labels=labels)
  grads = jax.tree.map(jnp.ones_like, params)
  updates, _ = optimizer.update(grads, optimizer.init(params), params)
  new = _flat(optax.apply_updates(params, updates))
  for path, value in _flat(params).items():
    assert np.array_equal(new[path], value) == (path not in report.new), path


def _tiny_t5(config):
  model = models.build_model(config.model)
  tokens = jnp.ones((2, 8), jnp.int32)
  return model, model.init(jax.random.key(0), tokens, tokens)['params']


def test_load_pretrained_lm_jax_workdir(tmp_path, tiny_config, data_dir):
  config = tiny_config  # tests/train/conftest.py: configs/t5_small.py:tiny
  model, params = _tiny_t5(config)
  optimizer, _ = optimizers.make_optimizer(config.optimizer, config.num_train_steps)
  state = TrainState(step=jnp.array(7, jnp.int32), params=params,
                     opt_state=optimizer.init(params),
                     dropout_rng=jax.random.key_data(jax.random.key(0)))
  workdir = str(tmp_path / 'run')
  RunDir(workdir).record(config, None)  # config.json, as the trainer writes it
  saver = RunDir(workdir).checkpointer(every_steps=1, keep=2)
  saver.maybe_save(3, state.replace(params=jax.tree.map(jnp.zeros_like, params)), {'i': 3})
  saver.maybe_save(7, state, {'i': 7}, extra={'early_stopping': {}})
  saver.wait()
  saver.close()

  pretrained = finetune.load_pretrained(workdir)
  assert pretrained.step == 7 and 'step 7' in pretrained.description
  # The shapes come from the checkpoint's metadata, before any weight is read.
  shapes = pretrained.param_shapes
  assert 'params' not in pretrained.__dict__
  assert shapes == jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
  # The weights are read when first used, and from the step chosen at load time.
  saver = RunDir(workdir).checkpointer(every_steps=1, keep=3)
  saver.maybe_save(9, state.replace(params=jax.tree.map(jnp.zeros_like, params)), {'i': 9})
  saver.wait()
  saver.close()
  _assert_bit_equal(pretrained.params, jax.device_get(params))
  assert RunDir(workdir).read_params()[1] == 9
  assert all(isinstance(x, np.ndarray) for x in jax.tree.leaves(pretrained.params))
  assert pretrained.model_config == config.model.to_dict()
  assert pretrained.data_config['dataset'] == 'stdlib_docs'
  assert pretrained.tokenizer_path == tokenizer_lib.cache_path(data_dir, 'stdlib_docs', 2000)
  rebuilt = models.build_model(ml_collections.ConfigDict(pretrained.model_config))
  assert rebuilt.config == model.config
  merged, report = finetune.merge_params(params, pretrained.params)
  assert not report.new and not report.unused
  _assert_bit_equal(merged, jax.device_get(params))

  # A run with its own tokenizer file names that file.
  config_file = tmp_path / 'run' / 'config.json'
  saved = json.loads(config_file.read_text())
  saved['data']['tokenizer_path'] = '/models/spm.model'
  config_file.write_text(json.dumps(saved))
  assert finetune.load_pretrained(workdir).tokenizer_path == '/models/spm.model'
  # One that trained its vocabulary with extra text mixed in names the file it cached then.
  extra = ('django_translations/de:target',)
  saved['data'].update(tokenizer_path=None, tokenizer_extra_text=list(extra))
  config_file.write_text(json.dumps(saved))
  joint = config.data.copy_and_resolve_references()
  joint.tokenizer_extra_text = extra
  assert finetune.load_pretrained(workdir).tokenizer_path == \
      pipeline.load_tokenizer_for(joint).path
  # And a task run trained from scratch, the vocabulary of its task's text.
  saved['data'].update(task='translate_en_de_system', tokenizer_extra_text=[])
  config_file.write_text(json.dumps(saved))
  assert finetune.load_pretrained(workdir).tokenizer_path == tokenizer_lib.cache_path(
      data_dir, 'task_translate_en_de_system', 2000)


def test_load_pretrained_hugging_face_directory(tmp_path, tiny_config, monkeypatch):
  model, params = _tiny_t5(tiny_config)
  hf_dir = str(tmp_path / 'hf')
  convert.to_hf(model.config, {'params': params}, hf_dir)
  conversions = []
  from_hf = convert.from_hf
  monkeypatch.setattr(convert, 'from_hf', lambda path: conversions.append(path) or from_hf(path))
  pretrained = finetune.load_pretrained(hf_dir)
  assert pretrained.model_config['name'] == 't5' and pretrained.step is None
  assert pretrained.data_config is None and pretrained.tokenizer_path is None
  cfg = T5Config.from_model_config(pretrained.model_config)
  assert cfg == model.config  # every field survives HF's config.json and the dict
  # The config and the parameter shapes come without converting a weight.
  shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
  assert pretrained.param_shapes == shapes and not conversions
  _assert_bit_equal(pretrained.params, jax.device_get(params))
  assert conversions == [hf_dir]
  (tmp_path / 'hf' / 'spiece.model').write_bytes(b'')
  assert finetune.load_pretrained(hf_dir).tokenizer_path == os.path.join(hf_dir, 'spiece.model')


def test_load_pretrained_says_what_it_expects(tmp_path):
  with pytest.raises(FileNotFoundError, match='nothing is downloaded'):
    finetune.load_pretrained(str(tmp_path / 'missing'))
  (tmp_path / 'config.json').write_text(json.dumps({'hello': 1}))
  with pytest.raises(ValueError, match='neither an lm_jax run config'):
    finetune.load_pretrained(str(tmp_path))
  (tmp_path / 'config.json').write_text(json.dumps({'model': {'name': 't5'}}))
  (tmp_path / 'checkpoints').mkdir()
  with pytest.raises(FileNotFoundError, match='No checkpoint in .*train first'):
    finetune.load_pretrained(str(tmp_path))
