"""Scores a model on a downstream task: the prediction of each row of an eval batch (decoded
text, or a class name), and the configured metrics of those predictions."""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from lm_jax import families, partitioning
from lm_jax.evaluation import metrics
from lm_jax.generation import decoding


@functools.partial(jax.jit, static_argnums=0)
def _predicted_classes(model, params, batch):
  return jnp.argmax(families.apply_model(model, params, batch, rngs={}), axis=-1)


def _generated_ids(model, params, batch, generate_options: dict, max_new_tokens: int, eos_id: int,
                   rng, place=lambda array: array, decoder_start_id: int = 0):
  """(B, max_new_tokens) ids continuing each row's input: the encoder inputs of an
  encoder-decoder, or the bidirectional prefix (BOS + inputs) of a decoder-only prefix-LM row.
  `place` lays the token rows out over the devices; an encoder-decoder decodes from
  `decoder_start_id` (the tokenizer's pad id)."""
  options = dict(generate_options, max_new_tokens=max_new_tokens)
  if families.generating(model).prompt == families.ENCODER_PROMPT:
    return decoding.generate(model, {'params': params}, place(batch['encoder_input_tokens']),
                             eos_id=eos_id, decoder_start_id=decoder_start_id, rng=rng,
                             **options)
  prompt_lengths = np.asarray(batch['decoder_causal_attention']).sum(axis=1)
  prompt_lengths = np.maximum(prompt_lengths, 1)  # filler padding rows still need a BOS
  width = int(prompt_lengths.max())
  # Read as in training: the prefix-LM rows attend over their prompt bidirectionally.
  return decoding.generate(model, {'params': params},
                           place(np.asarray(batch['decoder_input_tokens'])[:, :width]),
                           prompt_lengths=prompt_lengths, eos_id=eos_id, rng=rng,
                           bidirectional_prompt=True, **options)


def predict_batch(model, params, batch: dict, tokenizer, labels, generate_options: dict,
                  max_new_tokens: int, rng=None, sharding=None) -> list[str]:
  """The text each row of the numpy `batch` predicts: a class name for a classifier, else
  decoded text. With a batch `sharding` the rows are predicted data-parallel over its devices
  (every host passes the whole batch and gets every prediction back)."""
  def place(array):
    return array if sharding is None else partitioning.shard_rows(array, sharding)

  if families.of(model).predicts_classes:
    inputs = batch if sharding is None else partitioning.shard_batch(batch, sharding)
    classes = partitioning.gather_rows(_predicted_classes(model, params, inputs))
    return [labels[c] for c in classes]
  ids = partitioning.gather_rows(_generated_ids(
      model, params, batch, generate_options, max_new_tokens, tokenizer.eos_id, rng, place,
      tokenizer.pad_id))
  return [tokenizer.decode(row.tolist()) for row in ids]


def score(metric_names, predictions: list[str], examples):
  """(metrics, records) of `predictions` for the first len(predictions) of `examples`.

  records: {'index', 'input', 'references', 'prediction'} per example.
  """
  if not predictions:
    raise ValueError('The evaluation split has no examples; check config.data.eval_split / '
                     'config.eval.split.')
  chosen = [examples[i] for i in range(len(predictions))]
  scores = metrics.compute(metric_names, predictions, [e.references for e in chosen])
  records = [{'index': i, 'input': e.inputs, 'references': list(e.references), 'prediction': p}
             for i, (e, p) in enumerate(zip(chosen, predictions))]
  return scores, records
