"""Scores a model on a downstream task: predictions for the first examples of a split, decoded
from the same batches the loss is computed on, and the configured metrics of those predictions.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from lm_jax.evaluation import decoding, metrics
from lm_jax.train import model_io


@functools.partial(jax.jit, static_argnums=0)
def _predicted_classes(model, params, batch):
  return jnp.argmax(model_io.apply_model(model, params, batch, rngs={}), axis=-1)


def _generated_ids(model, params, batch, generate_options: dict, max_new_tokens: int, eos_id: int,
                   rng):
  """(B, max_new_tokens) ids continuing each row's input: the encoder inputs of an
  encoder-decoder, or the bidirectional prefix (BOS + inputs) of a decoder-only prefix-LM row."""
  options = dict(generate_options, max_new_tokens=max_new_tokens)
  if model.family == 'encoder_decoder':
    return decoding.generate(model, {'params': params}, batch['encoder_input_tokens'],
                             eos_id=eos_id, rng=rng, **options)
  prompt_lengths = np.asarray(batch['decoder_causal_attention']).sum(axis=1)
  prompt_lengths = np.maximum(prompt_lengths, 1)  # all-zero padding rows still need a BOS
  width = int(prompt_lengths.max())
  return decoding.generate(model, {'params': params}, batch['decoder_input_tokens'][:, :width],
                           prompt_lengths=prompt_lengths, eos_id=eos_id, rng=rng, **options)


def predict_batch(model, params, batch: dict, tokenizer, labels, generate_options: dict,
                  max_new_tokens: int, rng=None) -> list[str]:
  """The text each row of `batch` predicts: a class name for a classifier, else decoded text."""
  if model.family == 'encoder_classifier':
    classes = np.asarray(_predicted_classes(model, params, batch))
    return [labels[c] for c in classes]
  ids = np.asarray(_generated_ids(model, params, batch, generate_options, max_new_tokens,
                                  tokenizer.eos_id, rng))
  return [tokenizer.decode(row.tolist()) for row in ids]


def evaluate_task(model, params, batches, examples, tokenizer, *, metric_names, labels,
                  generate_options: dict, max_new_tokens: int, num_examples=None, seed: int = 0):
  """(metrics, records) for the first `num_examples` of `examples` (None: all of them).

  batches: the split's eval batches, in example order (each example once, padding rows last);
  records: {'index', 'input', 'references', 'prediction'} per example.
  """
  count = len(examples) if num_examples is None else min(num_examples, len(examples))
  if count == 0:
    raise ValueError('The evaluation split has no examples; check config.data.eval_split / '
                     'config.eval.split.')
  rng = jax.random.key(seed)
  predictions = []
  for batch in batches:
    if len(predictions) >= count:
      break
    predictions += predict_batch(model, params, batch, tokenizer, labels, generate_options,
                                 max_new_tokens, rng=jax.random.fold_in(rng, len(predictions)))
  predictions = predictions[:count]
  chosen = [examples[i] for i in range(count)]
  scores = metrics.compute(metric_names, predictions, [e.references for e in chosen])
  records = [{'index': i, 'input': e.inputs, 'references': list(e.references), 'prediction': p}
             for i, (e, p) in enumerate(zip(chosen, predictions))]
  return scores, records
