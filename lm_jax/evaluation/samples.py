"""A few validation examples with the model's predictions, written to `<workdir>/samples.jsonl`
so a reader sees what the numbers mean: one function per kind of sample a family declares
(lm_jax/families.py `samples`)."""
import jax
import jax.numpy as jnp
import numpy as np

from lm_jax import families
from lm_jax.generation import decoding


def _encoder_decoder(model, variables, batch, tokenizer):
  """Greedy targets from the encoder inputs (for span corruption: the dropped spans)."""
  predicted = decoding.generate(model, variables, jnp.asarray(batch['encoder_input_tokens']),
                                max_new_tokens=batch['decoder_target_tokens'].shape[1],
                                eos_id=tokenizer.eos_id, decoder_start_id=tokenizer.pad_id)
  return [{'input': tokenizer.decode(x.tolist()), 'target': tokenizer.decode(t.tolist()),
           'prediction': tokenizer.decode(p.tolist())}
          for x, t, p in zip(batch['encoder_input_tokens'], batch['decoder_target_tokens'],
                             np.asarray(predicted))]


def _decoder_only(model, variables, batch, tokenizer):
  """Greedy continuation of the first half of each row's first document (or of its prefix,
  read bidirectionally as the prefix LM was trained)."""
  inputs, targets = batch['decoder_input_tokens'], batch['decoder_target_tokens']
  length = inputs.shape[1]
  first_document = batch['decoder_segment_ids'] == 1
  prefix_lm = 'decoder_causal_attention' in batch
  if prefix_lm:
    prompt_lengths = batch['decoder_causal_attention'].sum(axis=1)
  else:
    prompt_lengths = np.maximum(first_document.sum(axis=1) // 2, 1)
  prompt_width = int(prompt_lengths.max())
  predicted = np.asarray(decoding.generate(
      model, variables, jnp.asarray(inputs[:, :prompt_width]),
      prompt_lengths=jnp.asarray(prompt_lengths), max_new_tokens=length - prompt_width,
      eos_id=tokenizer.eos_id, bidirectional_prompt=prefix_lm))  # a prefix reads as trained
  samples = []
  for row, n in enumerate(prompt_lengths):
    rest = targets[row, n - 1:][first_document[row, n - 1:]]
    samples.append({'input': tokenizer.decode(inputs[row, 1:n].tolist()),
                    'target': tokenizer.decode(rest.tolist()),
                    'prediction': tokenizer.decode(predicted[row].tolist())})
  return samples


def _encoder_only(model, variables, batch, tokenizer):
  """The masked-LM guesses: target and predicted ids at the positions the loss scores."""
  logits = model.apply(variables, jnp.asarray(batch['encoder_input_tokens']))
  predicted = np.asarray(jnp.argmax(logits, axis=-1))
  samples = []
  for row, weights in enumerate(batch['encoder_loss_weights']):
    scored = weights > 0
    pieces = lambda ids: ' | '.join(tokenizer.decode([int(i)]) for i in ids)
    samples.append({'input': tokenizer.decode(batch['encoder_input_tokens'][row].tolist()),
                    'target': pieces(batch['encoder_target_tokens'][row][scored]),
                    'prediction': pieces(predicted[row][scored])})
  return samples


def _encoder_classifier(model, variables, batch, tokenizer):
  """Predicted and target class ids as strings (the caller maps them to the task's label
  names); all-padding filler rows (label_weight 0) are skipped."""
  logits = model.apply(variables, jnp.asarray(batch['encoder_input_tokens']))
  predicted = np.asarray(jnp.argmax(logits, axis=-1))
  return [{'input': tokenizer.decode(batch['encoder_input_tokens'][row].tolist()),
           'target': str(int(batch['label'][row])), 'prediction': str(int(predicted[row]))}
          for row in range(len(predicted)) if batch['label_weight'][row] > 0]


SAMPLERS = {'decoded_targets': _encoder_decoder, 'continuation': _decoder_only,
            'masked_tokens': _encoder_only, 'classes': _encoder_classifier}


def predict_samples(model, params, batch: dict, tokenizer) -> list[dict]:
  """{'input', 'target', 'prediction'} texts for each row of a validation batch."""
  return SAMPLERS[families.of(model).samples](model, {'params': params}, jax.device_get(batch), tokenizer)
