"""HF T5 checkpoints: logits parity after import, export round trip, and corrupt-checkpoint errors.

Parity is a relative max error: max |ours - HF| / max |HF| < 1e-4, in float32.
"""
import json
import os

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

from lm_jax import convert  # pylint: disable=g-import-not-at-top
from lm_jax.models.t5 import T5, T5Config

VARIANTS = {
    'v1.0': dict(feed_forward_proj='relu', tie_word_embeddings=True, num_decoder_layers=2),
    'v1.1': dict(feed_forward_proj='gated-gelu', tie_word_embeddings=False, num_decoder_layers=3),
}
# Padding at the end of encoder inputs; decoder inputs start with pad id 0 used as BOS and end
# with padding that only the loss weights would ignore.
ENCODER_TOKENS = np.array([[5, 17, 9, 33, 2, 8, 1, 0, 0], [4, 99, 12, 1, 0, 0, 0, 0, 0],
                           [7, 3, 64, 21, 58, 11, 90, 6, 1]], np.int32)
DECODER_TOKENS = np.array([[0, 13, 44, 2, 1, 0, 0], [0, 8, 1, 0, 0, 0, 0],
                           [0, 71, 35, 9, 27, 80, 1]], np.int32)


def _hf_model(variant, seed=0):
  torch.manual_seed(seed)
  config = transformers.T5Config(vocab_size=101, d_model=64, d_kv=16, d_ff=128, num_layers=2,
                                 num_heads=4, **VARIANTS[variant])
  return transformers.T5ForConditionalGeneration(config).eval()


def _hf_logits(hf_model):
  encoder_tokens = torch.from_numpy(ENCODER_TOKENS).long()
  with torch.no_grad():
    return hf_model(input_ids=encoder_tokens, attention_mask=encoder_tokens != 0,
                    decoder_input_ids=torch.from_numpy(DECODER_TOKENS).long()).logits.numpy()


def _relative_error(ours, reference):
  return float(np.abs(np.asarray(ours) - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize('variant', ['v1.0', 'v1.1'])
def test_from_hf_safetensors_matches_hf_logits(variant, tmp_path):
  hf_model = _hf_model(variant)
  hf_model.save_pretrained(tmp_path)
  model, variables = convert.from_hf(str(tmp_path))
  assert model.config.tie_embeddings == (variant == 'v1.0')
  logits = model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS)
  assert logits.dtype == np.float32
  assert _relative_error(logits, _hf_logits(hf_model)) < 1e-4


def test_from_hf_pytorch_bin_matches_hf_logits(tmp_path):
  hf_model = _hf_model('v1.1', seed=1)
  hf_model.save_pretrained(tmp_path)
  os.remove(tmp_path / 'model.safetensors')
  # transformers 5 only writes safetensors; a pickled state dict is what older versions wrote.
  torch.save(hf_model.state_dict(), tmp_path / 'pytorch_model.bin')
  model, variables = convert.from_hf(str(tmp_path))
  logits = model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS)
  assert _relative_error(logits, _hf_logits(hf_model)) < 1e-4


@pytest.mark.parametrize('variant', ['v1.0', 'v1.1'])
def test_to_hf_round_trip(variant, tmp_path):
  v10 = variant == 'v1.0'
  cfg = T5Config(vocab_size=101, d_model=64, num_heads=4, head_dim=16, d_ff=128,
                 num_encoder_layers=2, num_decoder_layers=VARIANTS[variant]['num_decoder_layers'],
                 feed_forward='relu' if v10 else 'gated-gelu', tie_embeddings=v10)
  model = T5(cfg)
  variables = model.init(jax.random.key(0), ENCODER_TOKENS, DECODER_TOKENS)
  logits = model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS)
  convert.to_hf(cfg, variables, str(tmp_path))

  hf_model = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path).eval()
  assert _relative_error(logits, _hf_logits(hf_model)) < 1e-4
  # HF sees the same number of parameters (an untied lm_head stays untied).
  n_params = sum(x.size for x in jax.tree_util.tree_leaves(variables))
  assert hf_model.num_parameters() == n_params

  reloaded_model, reloaded = convert.from_hf(str(tmp_path))
  assert reloaded_model.config == cfg
  jax.tree_util.tree_map(np.testing.assert_array_equal, reloaded, variables)


def test_from_hf_rejects_missing_tensor(tmp_path):
  from safetensors.numpy import load_file, save_file  # pylint: disable=g-import-not-at-top
  _hf_model('v1.0').save_pretrained(tmp_path)
  tensors = load_file(tmp_path / 'model.safetensors')
  del tensors['decoder.block.1.layer.2.DenseReluDense.wo.weight']
  save_file(tensors, tmp_path / 'model.safetensors', metadata={'format': 'pt'})
  with pytest.raises(ValueError, match=r'missing tensors.*decoder\.block\.1\.layer\.2'):
    convert.from_hf(str(tmp_path))


def test_from_hf_rejects_mismatched_config(tmp_path):
  _hf_model('v1.0').save_pretrained(tmp_path)
  config = json.loads((tmp_path / 'config.json').read_text())
  (tmp_path / 'config.json').write_text(json.dumps({**config, 'd_ff': 256}))
  with pytest.raises(ValueError, match=r'DenseReluDense\.wi\.weight has shape'):
    convert.from_hf(str(tmp_path))
  (tmp_path / 'config.json').write_text(json.dumps({**config, 'model_type': 'bart'}))
  with pytest.raises(ValueError, match="model_type 'bart'"):
    convert.from_hf(str(tmp_path))


def test_dropout_only_with_rng(tmp_path):
  _hf_model('v1.1').save_pretrained(tmp_path)
  model, variables = convert.from_hf(str(tmp_path))
  assert model.config.dropout_rate == 0.1
  apply = lambda **kw: np.asarray(model.apply(variables, ENCODER_TOKENS, DECODER_TOKENS, **kw))
  np.testing.assert_array_equal(apply(), apply())
  first = apply(rngs={'dropout': jax.random.key(1)})
  second = apply(rngs={'dropout': jax.random.key(2)})
  assert not np.allclose(first, apply()) and not np.allclose(first, second)
  np.testing.assert_array_equal(first, apply(rngs={'dropout': jax.random.key(1)}))
