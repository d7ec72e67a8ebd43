"""HF GPT-2 checkpoints: logits parity after import (plain, padded, legacy files), export round
trip, and clear errors for corrupt checkpoints and unsupported options.

Parity is a relative max error: max |ours - HF| / max |HF| < 1e-4, in float32.
"""
import json
import os

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

from safetensors.numpy import load_file, save_file  # pylint: disable=g-import-not-at-top

from lm_jax import convert  # pylint: disable=g-import-not-at-top
from lm_jax.convert import gpt2  # pylint: disable=g-import-not-at-top
from lm_jax.models.gpt import GPT, GPTConfig

VARIANTS = {
    'gpt2': dict(),
    # erf gelu, a non-default d_ff and an untied output layer.
    'untied_gelu': dict(activation_function='gelu', n_inner=96, tie_word_embeddings=False),
    # Upcasting changes nothing in float32 (HF honours it in eager attention only).
    'upcast': dict(reorder_and_upcast_attn=True, attn_implementation='eager'),
}
# Token 0 is a real GPT-2 token ('!'); nothing is masked by id.
TOKENS = np.array([[0, 5, 17, 9, 33, 2, 8, 1, 3], [4, 99, 12, 1, 0, 0, 7, 7, 7]], np.int32)


def _hf_model(variant='gpt2', seed=0):
  torch.manual_seed(seed)
  overrides = dict(VARIANTS[variant])
  attn_implementation = overrides.pop('attn_implementation', None)
  config = transformers.GPT2Config(vocab_size=100, n_embd=64, n_layer=2, n_head=4,
                                   n_positions=64, bos_token_id=1, eos_token_id=1, **overrides)
  if attn_implementation:
    config._attn_implementation = attn_implementation  # pylint: disable=protected-access
  return transformers.GPT2LMHeadModel(config).eval()


def _hf_logits(hf_model, tokens=TOKENS, **kwargs):
  kwargs = {k: torch.from_numpy(np.asarray(v)).long() for k, v in kwargs.items()}
  with torch.no_grad():
    return hf_model(input_ids=torch.from_numpy(tokens).long(), **kwargs).logits.numpy()


def _relative_error(ours, reference):
  return float(np.abs(np.asarray(ours) - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_from_hf_matches_hf_logits(variant, tmp_path):
  hf_model = _hf_model(variant)
  hf_model.save_pretrained(tmp_path)
  model, variables = convert.from_hf(str(tmp_path))
  assert isinstance(model, GPT)
  assert model.config.tie_embeddings == (variant != 'untied_gelu')
  logits = model.apply(variables, TOKENS)
  assert logits.dtype == np.float32
  assert _relative_error(logits, _hf_logits(hf_model)) < 1e-4


def test_padding_via_segment_ids_matches_hf_attention_mask(tmp_path):
  hf_model = _hf_model()
  hf_model.save_pretrained(tmp_path)
  model, variables = convert.from_hf(str(tmp_path))
  # Row 0 left-padded, row 1 right-padded; lm_jax marks padding with segment id 0 (not token id),
  # HF with attention_mask. Real positions count from 0 in both.
  tokens = np.array([[0, 0, 0, 5, 17, 9, 33], [4, 99, 12, 1, 0, 0, 0]], np.int32)
  real = np.array([[0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]], np.int32)
  positions = np.maximum(np.cumsum(real, axis=1) - 1, 0).astype(np.int32)
  ours = model.apply(variables, tokens, decoder_segment_ids=real, decoder_positions=positions)
  reference = _hf_logits(hf_model, tokens, attention_mask=real, position_ids=positions)
  keep = real.astype(bool)
  assert _relative_error(np.asarray(ours)[keep], reference[keep]) < 1e-4


def test_legacy_pytorch_bin_with_mask_buffers_matches_hf(tmp_path):
  hf_model = _hf_model(seed=1)
  hf_model.save_pretrained(tmp_path)
  os.remove(tmp_path / 'model.safetensors')
  # The hub's original gpt2 files: a bare GPT2Model state dict (no 'transformer.' prefix) with
  # the causal-mask buffers old transformers saved, and the tied lm_head written out again.
  state = dict(hf_model.transformer.state_dict())
  for i in range(2):
    state[f'h.{i}.attn.bias'] = torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64)
    state[f'h.{i}.attn.masked_bias'] = torch.tensor(-1e4)
  state['lm_head.weight'] = hf_model.lm_head.weight.detach().clone()
  torch.save(state, tmp_path / 'pytorch_model.bin')
  model, variables = convert.from_hf(str(tmp_path))
  assert _relative_error(model.apply(variables, TOKENS), _hf_logits(hf_model)) < 1e-4


@pytest.mark.parametrize('tie', [True, False])
def test_to_hf_round_trip(tie, tmp_path):
  cfg = GPTConfig(vocab_size=100, d_model=64, num_heads=4, head_dim=16, d_ff=128, num_layers=2,
                  max_length=32, tie_embeddings=tie)
  model = GPT(cfg)
  variables = jax.jit(model.init)(jax.random.key(0), TOKENS)
  logits = model.apply(variables, TOKENS)
  gpt2.to_hf(cfg, variables, str(tmp_path))

  hf_model = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
  assert _relative_error(logits, _hf_logits(hf_model)) < 1e-4
  # HF counts the same parameters (a tied head once, an untied one separately).
  assert hf_model.num_parameters() == sum(x.size for x in jax.tree_util.tree_leaves(variables))

  reloaded_model, reloaded = convert.from_hf(str(tmp_path))
  assert reloaded_model.config == cfg
  jax.tree_util.tree_map(np.testing.assert_array_equal, reloaded, variables)


def test_to_hf_rejects_what_gpt2_cannot_express(tmp_path):
  cfg = GPTConfig(vocab_size=100, d_model=64, num_heads=4, head_dim=16, d_ff=128, num_layers=1,
                  max_length=32, position_embedding='rope')
  variables = jax.jit(GPT(cfg).init)(jax.random.key(0), TOKENS)
  with pytest.raises(ValueError, match='position_embedding'):
    gpt2.to_hf(cfg, variables, str(tmp_path))


def _save_and_edit(tmp_path, *, config=None, tensors=None):
  _hf_model().save_pretrained(tmp_path)
  if config:
    hf_config = json.loads((tmp_path / 'config.json').read_text())
    (tmp_path / 'config.json').write_text(json.dumps({**hf_config, **config}))
  if tensors:
    state = load_file(tmp_path / 'model.safetensors')
    tensors(state)
    save_file(state, tmp_path / 'model.safetensors', metadata={'format': 'pt'})


def test_from_hf_rejects_missing_and_unexpected_tensors(tmp_path):
  def edit(state):
    del state['transformer.h.1.mlp.c_fc.bias']
    state['transformer.h.0.attn.q_attn.weight'] = np.zeros((64, 64), np.float32)

  _save_and_edit(tmp_path, tensors=edit)
  with pytest.raises(ValueError, match=r"missing tensors \['transformer\.h\.1\.mlp\.c_fc\.bias'\]"
                     r".*unexpected tensors \['transformer\.h\.0\.attn\.q_attn\.weight'\]"):
    convert.from_hf(str(tmp_path))


def test_from_hf_rejects_mis_shaped_tensor(tmp_path):
  _save_and_edit(tmp_path, config={'n_inner': 128})
  with pytest.raises(ValueError, match=r'mlp\.c_fc\.weight has shape \(64, 256\); config.json '
                     r'implies \(64, 128\)'):
    convert.from_hf(str(tmp_path))


def test_from_hf_rejects_untied_head_under_tied_config(tmp_path):
  def edit(state):
    state['lm_head.weight'] = state['transformer.wte.weight'] + 1.0

  _save_and_edit(tmp_path, tensors=edit)
  with pytest.raises(ValueError, match='lm_head.weight differs from transformer.wte.weight'):
    convert.from_hf(str(tmp_path))


@pytest.mark.parametrize('config,match', [
    ({'scale_attn_by_inverse_layer_idx': True}, 'scale_attn_by_inverse_layer_idx=True'),
    ({'scale_attn_weights': False}, 'scale_attn_weights=False'),
    ({'add_cross_attention': True}, 'add_cross_attention=True'),
    ({'activation_function': 'silu'}, "activation_function 'silu'"),
    ({'embd_pdrop': 0.0}, 'embd_pdrop=0.0 and resid_pdrop=0.1'),
    ({'model_type': 'gpt_neo'}, "model_type 'gpt_neo'"),
])
def test_from_hf_rejects_unsupported_options(config, match, tmp_path):
  _save_and_edit(tmp_path, config=config)
  with pytest.raises(ValueError, match=match):
    convert.from_hf(str(tmp_path))
