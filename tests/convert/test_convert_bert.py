"""HF BERT checkpoints: MLM logits parity after import (new and old checkpoint layouts) and
corrupt-checkpoint errors.

Parity is a relative max error over the real (non-padded) positions:
max |ours - HF| / max |HF| < 1e-4, in float32.
"""
import json

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

from safetensors.numpy import load_file, save_file  # pylint: disable=g-import-not-at-top

from lm_jax import convert  # pylint: disable=g-import-not-at-top
from lm_jax.models.bert import Bert

# Rows of different lengths, padded with id 0 at the end.
TOKENS = np.array([[5, 17, 9, 33, 2, 8, 1, 0, 0], [4, 99, 12, 1, 0, 0, 0, 0, 0],
                   [7, 3, 64, 21, 58, 11, 90, 6, 1]], np.int32)
TOKEN_TYPES = np.array([[0, 0, 0, 1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0, 0],
                        [0, 0, 0, 0, 1, 1, 1, 1, 1]], np.int32)
REAL = TOKENS != 0


def _hf_config(**overrides):
  return transformers.BertConfig(vocab_size=101, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=128,
                                 max_position_embeddings=64, **overrides)


def _randomise(model, seed):
  # HF initialises LayerNorms to (1, 0) and biases to 0; random values test their mapping too.
  generator = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for name, param in model.named_parameters():
      if name.endswith('bias') or 'LayerNorm' in name:
        param.copy_(0.5 * torch.randn(param.shape, generator=generator) + (
            1.0 if name.endswith('LayerNorm.weight') else 0.0))
  return model


def _hf_model(cls=None, seed=0, **overrides):
  torch.manual_seed(seed)
  cls = cls or transformers.BertForMaskedLM
  return _randomise(cls(_hf_config(**overrides)).eval(), seed)


def _hf_logits(hf_model, token_types=None):
  ids = torch.from_numpy(TOKENS).long()
  kwargs = {} if token_types is None else {'token_type_ids': torch.from_numpy(token_types).long()}
  with torch.no_grad():
    out = hf_model(input_ids=ids, attention_mask=ids != 0, **kwargs)
  logits = out.logits if hasattr(out, 'logits') else out.prediction_logits
  return logits.numpy()


def _relative_error(ours, reference):
  ours, reference = np.asarray(ours)[REAL], reference[REAL]
  return float(np.abs(ours - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize('hidden_act', ['gelu', 'gelu_new'])
def test_from_hf_matches_hf_mlm_logits(hidden_act, tmp_path):
  hf_model = _hf_model(hidden_act=hidden_act)
  hf_model.save_pretrained(tmp_path)
  model, variables = convert.from_hf(str(tmp_path))
  assert isinstance(model, Bert) and model.family == 'encoder_only'
  assert model.config.activation == {'gelu': 'gelu', 'gelu_new': 'gelu_tanh'}[hidden_act]
  assert (model.config.layer_norm_epsilon, model.config.type_vocab_size) == (1e-12, 2)
  logits = model.apply(variables, TOKENS)
  assert logits.shape == (3, 9, 101) and logits.dtype == np.float32
  assert _relative_error(logits, _hf_logits(hf_model)) < 1e-4
  typed = model.apply(variables, TOKENS, encoder_token_type_ids=TOKEN_TYPES)
  assert _relative_error(typed, _hf_logits(hf_model, TOKEN_TYPES)) < 1e-4
  assert not np.allclose(np.asarray(typed)[REAL], np.asarray(logits)[REAL])


def test_from_hf_reads_old_layout_and_drops_pretraining_extras(tmp_path):
  # A BertForPreTraining checkpoint as older transformers / TF conversions wrote it: LayerNorm
  # gamma/beta, the tied decoder weight and bias saved twice, the pooler, the NSP head and the
  # position_ids buffer, in a pytorch_model.bin.
  hf_model = _hf_model(transformers.BertForPreTraining, seed=1)
  hf_model.save_pretrained(tmp_path)
  state = {k: v.clone() for k, v in hf_model.state_dict().items()}
  state['cls.predictions.decoder.weight'] = state['bert.embeddings.word_embeddings.weight']
  state['cls.predictions.decoder.bias'] = state['cls.predictions.bias']
  state['bert.embeddings.position_ids'] = torch.arange(64)[None]
  state = {k.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias',
                                                                     'LayerNorm.beta'): v
           for k, v in state.items()}
  assert 'bert.pooler.dense.weight' in state and 'cls.seq_relationship.weight' in state
  (tmp_path / 'model.safetensors').unlink()
  torch.save(state, tmp_path / 'pytorch_model.bin')
  model, variables = convert.from_hf(str(tmp_path))
  assert _relative_error(model.apply(variables, TOKENS), _hf_logits(hf_model)) < 1e-4


def _save_bert(tmp_path, **overrides):
  _hf_model(**overrides).save_pretrained(tmp_path)
  return load_file(tmp_path / 'model.safetensors')


def _write_tensors(tmp_path, tensors):
  save_file(tensors, tmp_path / 'model.safetensors', metadata={'format': 'pt'})


def test_from_hf_rejects_missing_and_unexpected_tensors(tmp_path):
  tensors = _save_bert(tmp_path)
  del tensors['bert.encoder.layer.1.output.dense.weight']
  tensors['bert.encoder.layer.0.attention.self.distance_embedding.weight'] = np.zeros((3, 4))
  _write_tensors(tmp_path, tensors)
  with pytest.raises(ValueError, match=r'missing tensors.*layer\.1\.output\.dense\.weight.*'
                     r'unexpected tensors.*distance_embedding'):
    convert.from_hf(str(tmp_path))


def test_from_hf_rejects_untied_decoder(tmp_path):
  tensors = _save_bert(tmp_path)
  tensors['cls.predictions.decoder.weight'] = tensors['bert.embeddings.word_embeddings.weight'] + 1
  _write_tensors(tmp_path, tensors)
  with pytest.raises(ValueError, match=r'cls\.predictions\.decoder\.weight differs'):
    convert.from_hf(str(tmp_path))


def test_from_hf_rejects_mismatched_config(tmp_path):
  _save_bert(tmp_path)
  config = json.loads((tmp_path / 'config.json').read_text())

  def expect(error, **changes):
    (tmp_path / 'config.json').write_text(json.dumps({**config, **changes}))
    with pytest.raises(ValueError, match=error):
      convert.from_hf(str(tmp_path))

  expect(r'layer\.0\.intermediate\.dense\.weight has shape \(128, 64\); config\.json implies '
         r'\(256, 64\)', intermediate_size=256)
  expect(r'token_type_embeddings\.weight has shape', type_vocab_size=3)
  expect("position_embedding_type 'relative_key'", position_embedding_type='relative_key')
  expect("hidden_act 'swish'", hidden_act='swish')
  expect('is_decoder', is_decoder=True)


def test_converted_model_has_hf_dropout_and_runs_it_only_with_rng(tmp_path):
  _hf_model(hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.05).save_pretrained(tmp_path)
  model, variables = convert.from_hf(str(tmp_path))
  assert (model.config.dropout_rate, model.config.attention_dropout_rate) == (0.2, 0.05)
  apply = lambda **kw: np.asarray(model.apply(variables, TOKENS, **kw))
  np.testing.assert_array_equal(apply(), apply())
  first = apply(rngs={'dropout': jax.random.key(1)})
  assert not np.allclose(first, apply())
  np.testing.assert_array_equal(first, apply(rngs={'dropout': jax.random.key(1)}))
