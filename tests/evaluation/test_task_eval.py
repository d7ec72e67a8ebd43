"""Task predictions of a decoder-only prefix LM continue each row's prompt read as in training."""
import jax
import numpy as np

from lm_jax.evaluation import task_eval
from lm_jax.generation.decoding import generate


def test_prefix_lm_rows_are_decoded_from_their_bidirectional_prompt(tiny_gpt):
  # Prefix-LM eval rows: the prompt (marked by decoder_causal_attention), then the target.
  lengths = tiny_gpt.prompt_lengths
  width = 9
  tokens = np.zeros((3, width), np.int32)
  prefix = np.zeros((3, width), np.int32)
  for row, length in enumerate(lengths):
    tokens[row, :length] = tiny_gpt.inputs[row, :length]
    tokens[row, length:length + 2] = [7, 8]  # target tokens, which must not be read
    prefix[row, :length] = 1
  batch = {'decoder_input_tokens': tokens, 'decoder_causal_attention': prefix}
  ids = task_eval._generated_ids(tiny_gpt.model, tiny_gpt.variables['params'], batch,
                                 {'strategy': 'greedy'}, max_new_tokens=4, eos_id=-1,
                                 rng=jax.random.key(0))
  expected = generate(tiny_gpt.model, tiny_gpt.variables, tiny_gpt.inputs, max_new_tokens=4,
                      prompt_lengths=lengths, eos_id=-1, bidirectional_prompt=True)
  np.testing.assert_array_equal(ids, expected)
  causal = generate(tiny_gpt.model, tiny_gpt.variables, tiny_gpt.inputs, max_new_tokens=4,
                    prompt_lengths=lengths, eos_id=-1)
  assert (np.asarray(ids) != np.asarray(causal)).any()
