"""Hugging Face peft LoRA adapters: imported onto T5 v1.0, T5 v1.1, GPT-2 (fused c_attn) and
BERT, the logits equal peft's; exported from lm_jax, peft reproduces lm_jax's; the same with
modules_to_save both ways; unsupported options are named. Parity is a relative max error,
max |ours - peft| / max |peft| < 1e-4, in float32."""
import json
import os

import jax
import numpy as np
import pytest
from flax import traverse_util
from safetensors.numpy import save_file

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')
peft = pytest.importorskip('peft')

from lm_jax import convert  # pylint: disable=g-import-not-at-top
from lm_jax.peft import lora  # pylint: disable=g-import-not-at-top
from lm_jax.peft import targets as targets_lib  # pylint: disable=g-import-not-at-top

TOKENS = np.array([[5, 17, 9, 33, 2, 8, 1], [4, 42, 12, 1, 0, 0, 0]], np.int32)
DECODER = np.array([[0, 7, 3, 9], [0, 11, 1, 0]], np.int32)


def _t5(version):
  v11 = dict(feed_forward_proj='gated-gelu', tie_word_embeddings=False) if version == '1.1' else {}
  config = transformers.T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                 num_heads=4, decoder_start_token_id=0, **v11)
  return transformers.T5ForConditionalGeneration(config).eval()


def _gpt2():
  config = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=16)
  return transformers.GPT2LMHeadModel(config).eval()


def _bert():
  config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=4, intermediate_size=64,
                                   max_position_embeddings=16)
  return transformers.BertForMaskedLM(config).eval()


MODELS = {'t5_v1.0': (lambda: _t5('1.0'), ['q', 'v']), 't5_v1.1': (lambda: _t5('1.1'), ['q', 'v']),
          'gpt2': (_gpt2, ['c_attn']), 'bert': (_bert, ['query', 'value'])}


def _torch_logits(model, is_t5):
  with torch.no_grad():
    if is_t5:
      return model(input_ids=torch.from_numpy(TOKENS).long(),
                   attention_mask=torch.from_numpy(TOKENS != 0).long(),
                   decoder_input_ids=torch.from_numpy(DECODER).long()).logits.numpy()
    # Id 0 pads BERT's rows (lm_jax masks it by id); it is a real GPT-2 token ('!').
    mask = TOKENS != 0 if isinstance(model.config, transformers.BertConfig) else TOKENS >= 0
    return model(input_ids=torch.from_numpy(TOKENS).long(),
                 attention_mask=torch.from_numpy(mask).long()).logits.numpy()


def _ours(model, variables, is_t5):
  return np.asarray(model.apply(variables, TOKENS, DECODER) if is_t5
                    else model.apply(variables, TOKENS))


def _error(ours, reference):
  return float(np.abs(ours - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize('name, use_rslora', [*[(name, False) for name in sorted(MODELS)],
                                              ('gpt2', True)])
def test_an_imported_peft_lora_computes_peft_logits(name, use_rslora, tmp_path):
  torch.manual_seed(0)
  make, targets = MODELS[name]
  base = make()
  base.save_pretrained(tmp_path / 'base')
  before = _torch_logits(base, name.startswith('t5'))
  # init_lora_weights=False: B random too, so the adapter changes the logits.
  config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False,
                           use_rslora=use_rslora, fan_in_fan_out=name == 'gpt2')
  adapted = peft.get_peft_model(base, config).eval()
  adapted.save_pretrained(tmp_path / 'adapter')
  expected = _torch_logits(adapted, name.startswith('t5'))
  assert _error(before, expected) > 1e-2
  model, variables = convert.from_hf(str(tmp_path / 'base'), adapter=str(tmp_path / 'adapter'))
  assert _error(_ours(model, variables, name.startswith('t5')), expected) < 1e-4


@pytest.mark.parametrize('name, targets, use_rslora', [
    ('t5_v1.1', ('query', 'value'), False),
    ('gpt2', ('query', 'value'), False),
    ('gpt2', ('query', 'value'), True),
    ('gpt2', ('query', 'key', 'value', 'out'), False)])
def test_exported_lm_jax_adapters_load_in_peft_with_the_same_logits(
    name, targets, use_rslora, tmp_path):
  """GPT-2 with q and v alone: c_attn gets a rank-2r block adapter and alpha x2 (x sqrt 2 under
  rsLoRA); with k and the attention output too, rank 3r, c_proj's zero-padded to it."""
  torch.manual_seed(1)
  is_t5 = name.startswith('t5')
  base = MODELS[name][0]()
  base.save_pretrained(tmp_path / 'base')
  model, variables = convert.from_hf(str(tmp_path / 'base'))
  spec = lora.LoraSpec(rank=4, alpha=8.0, use_rslora=use_rslora)
  kernels = targets_lib.resolve(targets, targets_lib.dense_kernels(variables['params']))
  adapters = jax.tree.map(lambda x: x + 0.3 * np.random.default_rng(2).standard_normal(x.shape),
                          lora.init_adapters(spec, kernels, jax.random.key(0)))
  merged = {'params': lora.merge(spec, variables['params'], adapters)}
  ours = _ours(model, merged, is_t5)
  assert _error(_ours(model, variables, is_t5), ours) > 1e-2

  convert.to_peft(str(tmp_path / 'base'), spec, adapters, str(tmp_path / 'exported'))
  loaded = peft.PeftModel.from_pretrained(base, str(tmp_path / 'exported')).eval()
  assert _error(ours, _torch_logits(loaded, is_t5)) < 1e-4
  # And back: lm_jax reads its own export.
  _, again = convert.from_hf(str(tmp_path / 'base'), adapter=str(tmp_path / 'exported'))
  assert _error(_ours(model, again, is_t5), ours) < 1e-5


@pytest.mark.parametrize('name, targets, modules_to_save', [
    ('t5_v1.1', ['q', 'v'], ['lm_head']),
    ('bert', ['query', 'value'], ['transform']),  # a Linear and a LayerNorm
    ('gpt2', ['c_fc'], ['h.1.attn.c_attn'])])  # fused: split into query, key, value
def test_an_imported_peft_lora_with_modules_to_save_computes_peft_logits(
    name, targets, modules_to_save, tmp_path):
  torch.manual_seed(2)
  is_t5 = name.startswith('t5')
  base = MODELS[name][0]()
  base.save_pretrained(tmp_path / 'base')
  config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False,
                           fan_in_fan_out=name == 'gpt2', modules_to_save=modules_to_save)
  adapted = peft.get_peft_model(base, config).eval()
  without = _torch_logits(adapted, is_t5)
  # peft starts the saved copy equal to the base's module: move it so that it matters.
  with torch.no_grad():
    for key, param in adapted.named_parameters():
      if '.modules_to_save.default.' in key:
        param.add_(0.5 * torch.randn_like(param))
  adapted.save_pretrained(tmp_path / 'adapter')
  expected = _torch_logits(adapted, is_t5)
  assert _error(without, expected) > 1e-2
  model, variables = convert.from_hf(str(tmp_path / 'base'), adapter=str(tmp_path / 'adapter'))
  assert _error(_ours(model, variables, is_t5), expected) < 1e-4


def _head(params, paths, seed):
  """The parameters under `paths` of `params`, moved away from the base's."""
  rng = np.random.default_rng(seed)
  flat = traverse_util.flatten_dict(params)
  return traverse_util.unflatten_dict({
      k: v + 0.5 * rng.standard_normal(v.shape).astype(v.dtype) for k, v in flat.items()
      if any(k[:len(p)] == p for p in paths)})


@pytest.mark.parametrize('name, head_paths, modules_to_save', [
    ('t5_v1.1', [('lm_head',)], ['lm_head']),
    ('gpt2', [('layers_1', 'self_attention', p) for p in ('query', 'key', 'value')]
     + [('final_norm',)], ['transformer.h.1.attn.c_attn', 'transformer.ln_f'])])
def test_exported_modules_to_save_load_in_peft_with_the_same_logits(
    name, head_paths, modules_to_save, tmp_path):
  torch.manual_seed(3)
  is_t5 = name.startswith('t5')
  base = MODELS[name][0]()
  base.save_pretrained(tmp_path / 'base')
  model, variables = convert.from_hf(str(tmp_path / 'base'))
  spec = lora.LoraSpec(rank=4, alpha=8.0)
  kernels = targets_lib.resolve(['mlp/wo'], targets_lib.dense_kernels(variables['params']))
  adapters = jax.tree.map(lambda x: x + 0.3 * np.random.default_rng(4).standard_normal(x.shape),
                          lora.init_adapters(spec, kernels, jax.random.key(0)))
  head = _head(variables['params'], head_paths, seed=5)
  with_head = convert.peft_adapters.with_head(variables['params'], head)
  ours = _ours(model, {'params': lora.merge(spec, with_head, adapters)}, is_t5)
  lora_only = _ours(model, {'params': lora.merge(spec, variables['params'], adapters)}, is_t5)
  assert _error(lora_only, ours) > 1e-2

  convert.to_peft(str(tmp_path / 'base'), spec, adapters, str(tmp_path / 'exported'), head=head)
  with open(tmp_path / 'exported' / 'adapter_config.json') as f:
    assert json.load(f)['modules_to_save'] == modules_to_save
  loaded = peft.PeftModel.from_pretrained(base, str(tmp_path / 'exported')).eval()
  assert _error(ours, _torch_logits(loaded, is_t5)) < 1e-4
  _, again = convert.from_hf(str(tmp_path / 'base'), adapter=str(tmp_path / 'exported'))
  assert _error(_ours(model, again, is_t5), ours) < 1e-5


_BERT_QUERY = 'base_model.model.bert.encoder.layer.0.attention.self.query'


@pytest.mark.parametrize('modules_to_save, tensor, named', [
    (['classifier'], 'classifier.weight', 'module classifier .*no counterpart'),
    (['word_embeddings'], 'bert.embeddings.word_embeddings.weight', 'token embedding'),
    ([], 'cls.predictions.transform.dense.weight', 'not a LoRA A or B weight')])
def test_a_saved_module_lm_jax_cannot_place_is_named(modules_to_save, tensor, named, tmp_path):
  os.makedirs(tmp_path / 'adapter')
  with open(tmp_path / 'adapter' / 'adapter_config.json', 'w') as f:
    json.dump({'peft_type': 'LORA', 'r': 4, 'lora_alpha': 8,
               'modules_to_save': modules_to_save}, f)
  save_file({f'{_BERT_QUERY}.lora_A.weight': np.zeros((4, 768), np.float32),
             f'{_BERT_QUERY}.lora_B.weight': np.zeros((768, 4), np.float32),
             f'base_model.model.{tensor}': np.zeros((2, 768), np.float32)},
            str(tmp_path / 'adapter' / 'adapter_model.safetensors'))
  with pytest.raises(ValueError, match=named):
    convert.peft_adapters.load_adapter(str(tmp_path / 'adapter'), {'model_type': 'bert'})


@pytest.mark.parametrize('model_type, head, named', [
    ('bert', {'classifier': {'kernel': np.zeros((768, 2))}}, 'classifier/kernel map to no'),
    ('bert', {'token_embedder': {'embedding': np.zeros((30522, 768))}}, 'token embedding'),
    ('gpt2', {'layers_0': {'self_attention': {'query': {'kernel': np.zeros((768, 768))}}}},
     'needs layers_0/self_attention/key/kernel, layers_0/self_attention/value/kernel'),
    ('bert', {'layers_0': {'self_attention': {'query': {'kernel': np.zeros((768, 768))}}}},
     'query would both take an adapter and be saved whole')])
def test_a_head_peft_cannot_save_is_named(model_type, head, named, tmp_path):
  adapters = {'layers_0': {'self_attention': {'query': {
      lora.LORA_A: np.zeros((768, 4)), lora.LORA_B: np.zeros((4, 768))}}}}
  with pytest.raises(ValueError, match=named):
    convert.peft_adapters.save_adapter(lora.LoraSpec(rank=4, alpha=8.0), adapters,
                                       {'model_type': model_type}, str(tmp_path), head=head)


@pytest.mark.parametrize('option, value, named', [
    ('use_dora', True, 'use_dora=True'),
    ('init_lora_weights', 'pissa_niter_4', "init_lora_weights='pissa_niter_4'"),
    ('init_lora_weights', 'olora', "init_lora_weights='olora'"),
    ('bias', 'lora_only', "bias='lora_only'"),
    ('lora_bias', True, 'lora_bias=True'),
    ('rank_pattern', {'q': 2}, 'rank_pattern'),
    ('alpha_pattern', {'q': 2}, 'alpha_pattern'),
    ('layers_to_transform', [0], 'layers_to_transform'),
    ('layer_replication', [[0, 1]], 'layer_replication'),
    ('trainable_token_indices', [3], 'trainable_token_indices'),
    ('target_parameters', ['x'], 'target_parameters'),
    ('alora_invocation_tokens', [5], 'alora_invocation_tokens'),
    ('use_qalora', True, 'use_qalora=True'),
])
def test_an_adapter_option_lm_jax_lacks_is_named(option, value, named, tmp_path):
  os.makedirs(tmp_path / 'adapter')
  with open(tmp_path / 'adapter' / 'adapter_config.json', 'w') as f:
    json.dump({'peft_type': 'LORA', 'r': 4, 'lora_alpha': 8, option: value}, f)
  with pytest.raises(ValueError, match=f'does not implement: .*{named}'):
    convert.peft_adapters.read_config(str(tmp_path / 'adapter'))
