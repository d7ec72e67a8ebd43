"""Text prompts in, generated text out: the encoding conventions each model family was trained
with, shared by `--config.mode=generate` and the samples a training run writes."""
import numpy as np

from lm_jax import families
from lm_jax.generation import decoding


def encode_prompts(prompt: str, tokenizer, texts: list[str],
                   prompt_eos: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """Right-padded (B, P) prompt ids and their lengths (B,), as the family's `prompt` layout
  (lm_jax/families.py) saw text in training.

  Decoder prefixes start with the pad id, the BOS of lm_jax's shifted causal-LM inputs
  (lm_jax/data/packing.py), and with
  `prompt_eos` end with the EOS that separates a task's prompt from its answer; encoder inputs
  end with EOS, as span corruption's and the tasks' do.
  """
  if prompt == families.DECODER_PROMPT:
    rows = [[tokenizer.pad_id] + tokenizer.encode(text) + ([tokenizer.eos_id] if prompt_eos else [])
            for text in texts]
  elif prompt == families.ENCODER_PROMPT:
    rows = [tokenizer.encode(text) + [tokenizer.eos_id] for text in texts]
  else:
    raise ValueError(f'Unknown prompt layout {prompt!r}; a model that generates reads '
                     f'{families.ENCODER_PROMPT!r} or {families.DECODER_PROMPT!r}.')
  lengths = np.array([len(row) for row in rows], np.int32)
  tokens = np.zeros((len(rows), int(lengths.max())), np.int32)
  for i, row in enumerate(rows):
    tokens[i, :len(row)] = row
  return tokens, lengths


def prefix_lm_reading(data_config) -> tuple[bool, bool]:
  """(bidirectional prompt, prompt ends with EOS) for a decoder-only model trained on
  `data_config`: a task's prefix-LM rows read `inputs + EOS` bidirectionally, the prefix_lm
  objective its prefixes (no EOS), the causal LM neither."""
  if data_config.get('task'):
    return True, True
  return data_config.objective == 'prefix_lm', False


def continue_texts(model, variables, tokenizer, texts: list[str], generate_config, rng=None,
                   data_config=None):
  """Generated continuations of `texts` (decoded up to EOS) with `config.generate`'s options;
  a decoder-only model reads its prompts as `data_config` (what it was trained on) did."""
  prompt = families.generating(model).prompt
  decoder_only = prompt == families.DECODER_PROMPT
  bidirectional, prompt_eos = (prefix_lm_reading(data_config)
                               if decoder_only and data_config is not None else (False, False))
  tokens, lengths = encode_prompts(prompt, tokenizer, texts, prompt_eos)
  options = dict(generate_config)
  generated = decoding.generate(
      model, variables, tokens, rng=rng, eos_id=tokenizer.eos_id,
      decoder_start_id=tokenizer.pad_id,
      prompt_lengths=lengths if decoder_only else None,
      bidirectional_prompt=bidirectional, **options)
  return [tokenizer.decode(row.tolist()) for row in np.asarray(generated)]
