"""Text prompts in, generated text out: the encoding conventions each model family was trained
with, shared by `--config.mode=generate` and the samples a training run writes."""
import numpy as np

from lm_jax.evaluation import decoding


def encode_prompts(family: str, tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
  """Right-padded (B, P) prompt ids and their lengths (B,), as the family saw text in training.

  Decoder-only rows start with 0, the BOS of lm_jax's shifted causal-LM inputs; encoder inputs
  end with EOS, as span corruption's do.
  """
  if family == 'decoder_only':
    rows = [[0] + tokenizer.encode(text) for text in texts]
  elif family == 'encoder_decoder':
    rows = [tokenizer.encode(text) + [tokenizer.eos_id] for text in texts]
  else:
    raise ValueError(f'A {family} model scores tokens but does not generate text; use an '
                     'encoder-decoder or decoder-only config for --config.mode=generate.')
  lengths = np.array([len(row) for row in rows], np.int32)
  tokens = np.zeros((len(rows), int(lengths.max())), np.int32)
  for i, row in enumerate(rows):
    tokens[i, :len(row)] = row
  return tokens, lengths


def continue_texts(model, variables, tokenizer, texts: list[str], generate_config, rng=None):
  """Generated continuations of `texts` (decoded up to EOS) with `config.generate`'s options."""
  tokens, lengths = encode_prompts(model.family, tokenizer, texts)
  options = dict(generate_config)
  generated = decoding.generate(
      model, variables, tokens, rng=rng, eos_id=tokenizer.eos_id,
      prompt_lengths=lengths if model.family == 'decoder_only' else None, **options)
  return [tokenizer.decode(row.tolist()) for row in np.asarray(generated)]
