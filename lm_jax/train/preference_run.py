"""What a run of pretraining with human preferences adds to the Trainer (config.preference):
the control tokens' embeddings at the start, and the evaluations of docs/preference.md:
misalignment of samples, LM loss with <|aligned|> prefixes, KL from a reference run."""
import filecmp

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from lm_jax import models, partitioning, preference
from lm_jax.data import pipeline, sources
from lm_jax.data.line_scores import ControlTokens, TRANSFORMS
from lm_jax.evaluation import misalignment
from lm_jax.generation import decoding
from lm_jax.train import preference_losses, train_step as steps
from lm_jax.train.run_dir import RunDir

# The control tokens' embeddings start at the mean embedding plus noise of this many standard
# deviations of the embedding table: new ids, yet no outliers in a trained table.
CONTROL_INIT_NOISE = 0.01


def init_control_embeddings(params, control: ControlTokens, rng):
  """`params` with the rows of <|aligned|> and <|misaligned|> in `token_embedder` set to the
  mean of the other rows plus small noise (Korbak et al. add them to GPT-2's vocabulary so)."""
  table = np.asarray(params['token_embedder']['embedding'])
  others = np.delete(table, list(control.ids), axis=0)
  noise = np.asarray(jax.random.normal(rng, (2, table.shape[1]), jnp.float32))
  table = table.copy()
  table[list(control.ids)] = others.mean(axis=0) + CONTROL_INIT_NOISE * others.std() * noise
  return {**params, 'token_embedder': {**params['token_embedder'], 'embedding': table}}


class PreferenceRun:
  """Built once per run with config.preference.objective != 'none', after the tokenizer."""

  def __init__(self, config: ml_collections.ConfigDict, model, tokenizer, mesh, eval_step,
               global_batch: int):
    p = config.preference
    self.config, self.model, self.tokenizer = config, model, tokenizer
    self.eval_step, self.global_batch = eval_step, global_batch
    self.batch_sharding = partitioning.batch_sharding(mesh)
    preference_losses.check_value_head(model, p)
    self.conditional = TRANSFORMS[p.objective] == 'control'
    self.control = ControlTokens.of(tokenizer) if self.conditional else None
    prompts = []
    if p.eval_prompts:
      test = sources.load_text_source(config.data, config.data.eval_split)
      prompts = misalignment.docstring_prompts(
          test, p.eval_prompts,
          fits=lambda text: len(tokenizer.encode(text)) <= p.eval_max_length // 2)
    self.misalignment = misalignment.MisalignmentEval(
        model, tokenizer, preference.get_scorer(p.scorer), p, self.control, prompts, config.seed)
    self.kl = KlFromReference(p.kl_reference, config, tokenizer) if p.kl_reference else None

  def start(self, params, rng):
    """The parameters a fresh (or init_from) run starts from."""
    if self.control is None:
      return params
    return init_control_embeddings(params, self.control, rng)

  def evaluate(self, params, step: int) -> dict:
    metrics = self.misalignment(params, step)
    if self.conditional:
      metrics['loss_aligned'] = self._aligned_loss(params)
    if self.kl is not None:
      metrics['kl_from_reference'] = self.kl(self.model, params)
    return metrics

  def _aligned_loss(self, params) -> float:
    """The held-out LM loss of text with <|aligned|> in front of every line, scored on the
    text's own tokens alone (the control tokens get weight 0), so that it compares with the
    plain eval loss over the same tokens."""
    batches = pipeline.make_scored_iterator(
        self.config.data, self.config.preference, self.tokenizer, self.global_batch,
        self.config.seed, split=self.config.data.eval_split, training=False,
        transform='aligned')
    sums = None
    for i, batch in enumerate(batches):
      if self.config.num_eval_batches is not None and i >= self.config.num_eval_batches:
        break
      batch['decoder_loss_weights'] = np.where(
          batch['decoder_target_tokens'] == self.control.aligned, 0.0,
          batch['decoder_loss_weights']).astype(np.float32)
      batch.pop('decoder_token_scores')
      terms = self.eval_step(params, partitioning.shard_batch(batch, self.batch_sharding))
      sums = terms if sums is None else jax.tree.map(jnp.add, sums, terms)
    return steps.summarize(jax.device_get(sums))['loss']


class KlFromReference:
  """KL(reference || model) per token, estimated on samples of the reference run's latest
  checkpoint: mean over their tokens of log p_ref(x_t) - log p_model(x_t). The samples and the
  reference's log-probabilities are computed once."""

  def __init__(self, workdir: str, config, tokenizer):
    run = RunDir(workdir)
    saved = run.saved_config()
    if saved is None:
      raise FileNotFoundError(f'config.preference.kl_reference={workdir!r} holds no lm_jax run.')
    reference_tokenizer = run.tokenizer_path()
    if not (reference_tokenizer and tokenizer.path
            and filecmp.cmp(reference_tokenizer, tokenizer.path, shallow=False)):
      raise ValueError(f'config.preference.kl_reference={workdir!r} was trained with another '
                       f'tokenizer ({reference_tokenizer}) than this run ({tokenizer.path}); the '
                       'KL compares distributions over the same ids.')
    reference = models.build_model(ml_collections.ConfigDict(saved['model']))
    params, _ = run.read_params()
    p = config.preference
    n = max(p.eval_samples, misalignment.GROUP)
    prompts = np.full((n, 1), tokenizer.pad_id, np.int32)
    generated = np.asarray(decoding.generate(
        reference, {'params': params}, prompts, max_new_tokens=p.eval_max_length - 1,
        strategy='sample', temperature=1.0, rng=jax.random.key(config.seed),
        eos_id=tokenizer.eos_id, banned_ids=misalignment.unused_ids(reference, tokenizer)))
    # Inputs start from BOS; a sample's tokens up to and including its EOS are scored.
    self.targets = generated
    self.inputs = np.concatenate([prompts, generated[:, :-1]], axis=1)
    seen_eos = np.cumsum(generated == tokenizer.eos_id, axis=1) - (generated == tokenizer.eos_id)
    self.weights = (seen_eos == 0).astype(np.float32)
    self.reference_log_p = self._log_p(reference, params)

  def _log_p(self, model, params) -> np.ndarray:
    logits = model.apply({'params': params}, jnp.asarray(self.inputs))
    return np.asarray(preference_losses.target_log_probs(logits, jnp.asarray(self.targets)))

  def __call__(self, model, params) -> float:
    """The KL per token of `model` with `params` (its logits are all that is read)."""
    log_ratio = self.reference_log_p - self._log_p(model, params)
    return float((log_ratio * self.weights).sum() / self.weights.sum())
