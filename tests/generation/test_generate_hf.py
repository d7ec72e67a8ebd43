"""Converted HF checkpoints decode to HF `generate`'s tokens, greedy and beam search (small random
models saved with save_pretrained, loaded with lm_jax.convert.from_hf)."""
import numpy as np
import pytest

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

from lm_jax import convert, generate  # pylint: disable=g-import-not-at-top

NEW = 8
GPT2_EOS = 11
GPT2_PROMPT_LENGTHS = np.array([6, 3, 1, 4], np.int32)


def _up_to_eos(row, eos_id):
  row = list(row)
  return row[:row.index(eos_id) + 1] if eos_id in row else row


def _assert_same_up_to_eos(ours, expected, eos_id, row):
  reference = _up_to_eos(expected, eos_id)
  assert _up_to_eos(ours.tolist(), eos_id) == reference, f'row {row}'
  assert np.all(ours[len(reference):] == 0), f'row {row} is not padded after EOS'


@pytest.fixture(scope='module')
def t5(tmp_path_factory):
  """(HF model, lm_jax model, variables, encoder inputs with padding)."""
  torch.manual_seed(0)
  # initializer_factor 3: varied, peaked random outputs (at 1 a small T5 repeats one token).
  # decoder_start_token_id 0 as in the hub's T5 configs (transformers 5 sets none by default).
  hf_model = transformers.T5ForConditionalGeneration(transformers.T5Config(
      vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
      initializer_factor=3.0, feed_forward_proj='gated-gelu', tie_word_embeddings=False,
      decoder_start_token_id=0)).eval()
  path = tmp_path_factory.mktemp('t5')
  hf_model.save_pretrained(path)
  model, variables = convert.from_hf(str(path))
  inputs = np.random.default_rng(0).integers(2, 64, (4, 7)).astype(np.int32)
  inputs[2, 5:] = 0  # padding, masked by HF's attention_mask and by lm_jax's pad id
  return hf_model, model, variables, inputs


@pytest.fixture(scope='module')
def gpt2(tmp_path_factory):
  """(HF model, lm_jax model, variables, right-padded prompts of GPT2_PROMPT_LENGTHS)."""
  torch.manual_seed(0)
  # initializer_range 0.2: peaked random logits, so no choice is decided by rounding. Id 11 is
  # one these weights emit, so some rows stop early.
  hf_model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
      vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=4, initializer_range=0.2,
      bos_token_id=GPT2_EOS, eos_token_id=GPT2_EOS, pad_token_id=GPT2_EOS)).eval()
  path = tmp_path_factory.mktemp('gpt2')
  hf_model.save_pretrained(path)
  model, variables = convert.from_hf(str(path))
  prompts = np.random.default_rng(1).integers(0, 64, (4, 6)).astype(np.int32)
  return hf_model, model, variables, prompts  # ids past a row's length are garbage


def _hf_t5(hf_model, inputs, **kwargs):
  with torch.no_grad():
    output = hf_model.generate(
        input_ids=torch.from_numpy(inputs).long(),
        attention_mask=torch.from_numpy(inputs != 0).long(), do_sample=False,
        max_new_tokens=NEW, **kwargs).numpy()
  assert np.all(output[:, 0] == 0)  # HF's output starts with decoder_start_token_id
  return output[:, 1:]


def _hf_gpt2_rows(hf_model, prompts, **kwargs):
  """One row at a time: HF batches decoder-only prompts with left padding, lm_jax with
  prompt_lengths; each HF row alone is the unambiguous reference."""
  rows = []
  for row, length in enumerate(GPT2_PROMPT_LENGTHS):
    prompt = torch.from_numpy(prompts[row:row + 1, :length]).long()
    with torch.no_grad():
      output = hf_model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                                 do_sample=False, max_new_tokens=NEW, **kwargs).numpy()
    rows.append(output[0, length:].tolist())
  return rows


def test_t5_greedy_matches_hf(t5):
  hf_model, model, variables, inputs = t5
  eos_id = hf_model.config.eos_token_id
  expected = _hf_t5(hf_model, inputs, num_beams=1)
  ours = np.asarray(generate(model, variables, inputs, max_new_tokens=NEW, eos_id=eos_id))
  for row in range(len(inputs)):
    _assert_same_up_to_eos(ours[row], expected[row].tolist(), eos_id, row)
  assert (ours == eos_id).any(axis=1).tolist() == [False, True, False, False]


@pytest.mark.parametrize('length_penalty', [0.0, 1.0, 2.0])
def test_t5_beam_search_matches_hf(t5, length_penalty):
  hf_model, model, variables, inputs = t5
  eos_id = hf_model.config.eos_token_id
  expected = _hf_t5(hf_model, inputs, num_beams=3, length_penalty=length_penalty,
                    early_stopping='never')
  ours = np.asarray(generate(model, variables, inputs, max_new_tokens=NEW, eos_id=eos_id,
                             strategy='beam', num_beams=3, length_penalty=length_penalty))
  for row in range(len(inputs)):
    _assert_same_up_to_eos(ours[row], expected[row].tolist(), eos_id, row)


def test_gpt2_greedy_matches_hf(gpt2):
  hf_model, model, variables, prompts = gpt2
  ours = np.asarray(generate(model, variables, prompts, prompt_lengths=GPT2_PROMPT_LENGTHS,
                             max_new_tokens=NEW, eos_id=GPT2_EOS))
  for row, expected in enumerate(_hf_gpt2_rows(hf_model, prompts, num_beams=1)):
    _assert_same_up_to_eos(ours[row], expected, GPT2_EOS, row)
  assert (ours == GPT2_EOS).any(axis=1).tolist() == [True, False, True, False]


def test_gpt2_beam_search_matches_hf(gpt2):
  hf_model, model, variables, prompts = gpt2
  ours = np.asarray(generate(model, variables, prompts, prompt_lengths=GPT2_PROMPT_LENGTHS,
                             max_new_tokens=NEW, eos_id=GPT2_EOS, strategy='beam', num_beams=3,
                             length_penalty=1.0))
  expected = _hf_gpt2_rows(hf_model, prompts, num_beams=3, length_penalty=1.0,
                           early_stopping='never')
  for row in range(len(prompts)):
    _assert_same_up_to_eos(ours[row], expected[row], GPT2_EOS, row)


def _repeats_an_ngram(row, n):
  grams = [tuple(row[i:i + n]) for i in range(len(row) - n + 1)]
  return len(grams) != len(set(grams))


@pytest.mark.parametrize('strategy', ['greedy', 'beam'])
def test_t5_no_repeat_ngram_size_matches_hf(t5, strategy):
  hf_model, model, variables, inputs = t5
  eos_id = hf_model.config.eos_token_id
  beams = dict(strategy='beam', num_beams=3) if strategy == 'beam' else {}
  free = np.asarray(generate(model, variables, inputs, max_new_tokens=NEW, eos_id=eos_id,
                             **beams))
  # These random weights loop, so the restriction changes tokens (with the start token 0).
  assert any(_repeats_an_ngram([0] + _up_to_eos(row, eos_id), 2) for row in free.tolist())
  expected = _hf_t5(hf_model, inputs, num_beams=beams.get('num_beams', 1),
                    no_repeat_ngram_size=2, **({'early_stopping': 'never'} if beams else {}))
  ours = np.asarray(generate(model, variables, inputs, max_new_tokens=NEW, eos_id=eos_id,
                             no_repeat_ngram_size=2, **beams))
  for row in range(len(inputs)):
    _assert_same_up_to_eos(ours[row], expected[row].tolist(), eos_id, row)
    assert not _repeats_an_ngram([0] + _up_to_eos(ours[row].tolist(), eos_id), 2)


@pytest.mark.parametrize('strategy', ['greedy', 'beam'])
def test_gpt2_no_repeat_ngram_size_matches_hf(gpt2, strategy):
  hf_model, model, variables, prompts = gpt2
  beams = dict(strategy='beam', num_beams=3) if strategy == 'beam' else {}
  free = np.asarray(generate(model, variables, prompts, prompt_lengths=GPT2_PROMPT_LENGTHS,
                             max_new_tokens=NEW, eos_id=GPT2_EOS, **beams))
  assert any(_repeats_an_ngram(list(prompts[row, :length]) + _up_to_eos(free[row], GPT2_EOS), 2)
             for row, length in enumerate(GPT2_PROMPT_LENGTHS))
  ours = np.asarray(generate(model, variables, prompts, prompt_lengths=GPT2_PROMPT_LENGTHS,
                             max_new_tokens=NEW, eos_id=GPT2_EOS, no_repeat_ngram_size=2,
                             **beams))
  expected = _hf_gpt2_rows(hf_model, prompts, num_beams=beams.get('num_beams', 1),
                           no_repeat_ngram_size=2,
                           **({'early_stopping': 'never'} if beams else {}))
  for row in range(len(prompts)):
    _assert_same_up_to_eos(ours[row], expected[row], GPT2_EOS, row)
