"""Text prompts reach a decoder-only model as it was trained: causally after a causal LM,
bidirectionally after a prefix LM, with the EOS that ends a task's prompt after task
fine-tuning; the samples a prefix-LM run writes read their prefixes the same way."""
import ml_collections
import numpy as np

from lm_jax import families
from lm_jax.evaluation import samples
from lm_jax.generation import prompts
from lm_jax.generation.decoding import generate

EOS = 1


class DigitTokenizer:
  """Each character c -> id 3 + ord(c) % 40 (inside the tiny GPT's 48 ids); decodes to ids."""
  eos_id = EOS
  pad_id = 0  # T5's, the BOS of decoder prompts

  def encode(self, text):
    return [3 + ord(c) % 40 for c in text]

  def decode(self, ids):
    return ' '.join(str(i) for i in ids)


def _data(objective='causal_lm', task=''):
  return ml_collections.ConfigDict({'objective': objective, 'task': task})


def test_each_training_recipe_has_its_reading():
  assert prompts.prefix_lm_reading(_data()) == (False, False)
  assert prompts.prefix_lm_reading(_data('prefix_lm')) == (True, False)
  assert prompts.prefix_lm_reading(_data(task='translate_en_de')) == (True, True)


def test_a_task_prompt_ends_with_eos_after_the_bos():
  tokenizer = DigitTokenizer()
  tokens, lengths = prompts.encode_prompts(families.DECODER_PROMPT, tokenizer, ['ab', 'c'], prompt_eos=True)
  assert tokens.tolist() == [[0, *tokenizer.encode('ab'), EOS], [0, *tokenizer.encode('c'), EOS, 0]]
  assert lengths.tolist() == [4, 3]


def _direct(tiny, texts, bidirectional, prompt_eos=False):
  tokens, lengths = prompts.encode_prompts(families.DECODER_PROMPT, DigitTokenizer(), texts, prompt_eos)
  ids = generate(tiny.model, tiny.variables, tokens, prompt_lengths=lengths, max_new_tokens=6,
                 eos_id=EOS, bidirectional_prompt=bidirectional)
  return [DigitTokenizer().decode(row.tolist()) for row in np.asarray(ids)]


def test_continue_texts_reads_prompts_as_the_model_was_trained(tiny_gpt):
  texts = ['hello wor', 'abc']
  causal = _direct(tiny_gpt, texts, bidirectional=False)
  prefix = _direct(tiny_gpt, texts, bidirectional=True)
  task = _direct(tiny_gpt, texts, bidirectional=True, prompt_eos=True)
  assert causal != prefix  # the reading matters on these weights
  for data_config, expected in ((_data(), causal), (_data('prefix_lm'), prefix),
                                (_data(task='translate_en_de'), task)):
    assert prompts.continue_texts(tiny_gpt.model, tiny_gpt.variables, DigitTokenizer(), texts,
                                  {'max_new_tokens': 6}, data_config=data_config) == expected


def test_prefix_lm_samples_read_their_prefix_bidirectionally(tiny_gpt):
  # Two prefix-LM rows (BOS + prefix, then targets): prefixes of 4 and 2 tokens.
  tokens = np.array([[0, 5, 9, 13, 7, 8, 11, 2], [0, 21, 4, 30, 31, 32, 6, 3]], np.int32)
  prefix = np.zeros_like(tokens)
  prefix[0, :5], prefix[1, :3] = 1, 1
  batch = {'decoder_input_tokens': tokens, 'decoder_target_tokens': np.roll(tokens, -1, 1),
           'decoder_causal_attention': prefix, 'decoder_segment_ids': np.ones_like(tokens)}
  written = samples.predict_samples(tiny_gpt.model, tiny_gpt.variables['params'], batch,
                                    DigitTokenizer())
  lengths = prefix.sum(1)
  expected = generate(tiny_gpt.model, tiny_gpt.variables, tokens[:, :5], prompt_lengths=lengths,
                      max_new_tokens=3, eos_id=EOS, bidirectional_prompt=True)
  causal = generate(tiny_gpt.model, tiny_gpt.variables, tokens[:, :5], prompt_lengths=lengths,
                    max_new_tokens=3, eos_id=EOS)
  assert [s['prediction'] for s in written] == [
      DigitTokenizer().decode(row.tolist()) for row in np.asarray(expected)]
  assert np.asarray(expected).tolist() != np.asarray(causal).tolist()
