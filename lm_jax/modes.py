"""What `python -m lm_jax.main` does for each `config.mode`: one function per mode."""
import json
import os

import jax
import ml_collections

from lm_jax import atomic_files
from lm_jax.evaluation import held_out
from lm_jax.generation import prompts
from lm_jax.train import loop
from lm_jax.train.run_dir import RunDir
from lm_jax.train.trainer import Trainer


def generate_from_checkpoint(config: ml_collections.ConfigDict, workdir: str,
                             prompt_texts: list[str]) -> list[str]:
  """Prints and returns continuations of `prompt_texts` by the latest checkpoint in `workdir`."""
  if not prompt_texts:
    raise ValueError('--config.mode=generate needs at least one --prompt="text".')
  trainer = Trainer(config, workdir, training=False)
  config = trainer.config  # the model and data the run trained with
  params, step = trainer.latest_params()
  rng = jax.random.key(config.seed)
  texts = prompts.continue_texts(trainer.model, {'params': params}, trainer.tokenizer,
                                 prompt_texts, config.generate.to_dict(), rng=rng,
                                 data_config=config.data)
  print(f'{config.model.name} from {trainer.checkpointer.directory} at step {step}, '
        f'{config.generate.strategy} decoding:')
  for prompt, text in zip(prompt_texts, texts):
    print(f'\nprompt:       {prompt!r}\ncontinuation: {text!r}')
  return texts


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir: str,
                        prompt_texts: list[str]) -> dict:
  """Scores the latest (or best) checkpoint on `eval.split`; writes `<workdir>/eval_<split>.json`
  and the predictions beside their inputs and references in `predictions_<split>.jsonl`."""
  if prompt_texts:
    raise ValueError('--prompt only applies to --config.mode=generate.')
  trainer = Trainer(config, workdir, training=False)
  config = trainer.config  # the model and data the run trained with
  params, step = _chosen_checkpoint(trainer)
  split = config.eval.split or config.data.eval_split
  scores, records = trainer.evaluate(params, split)
  result = {'step': step, 'checkpoint': config.eval.checkpoint, 'split': split,
            'task': config.data.task, 'num_predictions': len(records), 'metrics': scores,
            **held_out.report(config, trainer.metric_names(), split,
                              [r['prediction'] for r in records])}
  if jax.process_index() == 0:
    atomic_files.write_text(os.path.join(workdir, f'predictions_{split}.jsonl'), ''.join(
        json.dumps(record, ensure_ascii=False) + '\n' for record in records))
    atomic_files.write_json(os.path.join(workdir, f'eval_{split}.json'), result, indent=2)
  print(f'{config.eval.checkpoint} checkpoint (step {step}) on {split}: ' + _joined(scores))
  if 'baseline' in result:
    print(f"baseline, {result['baseline']['name']}: " + _joined(result['baseline']['metrics']))
  if 'clean' in result:
    clean = result['clean']
    print(f"clean subset ({clean['examples']} examples; {clean['dirty']} share a "
          f"{clean['n']}-gram with {clean['against']}): " + _joined(clean['metrics']))
  return result


def merge_adapters(config: ml_collections.ConfigDict, workdir: str,
                   prompt_texts: list[str]) -> str:
  """Writes `<workdir>/merged`: the latest (or `eval.checkpoint=best`) adapters of an adapter run
  folded into its base, as a run directory of the whole model that loads and decodes like any
  other, with no added latency. Returns its path."""
  if prompt_texts:
    raise ValueError('--prompt only applies to --config.mode=generate.')
  trainer = Trainer(config, workdir, training=False)
  if trainer.adapters is None:
    raise ValueError(f'{workdir} trained the model\'s own parameters (config.peft.method is '
                     "'none'): there are no adapters to merge; use the run itself.")
  config = trainer.config
  if config.peft.method != 'lora':
    raise ValueError(f'{workdir} is a {config.peft.method}-tuned run: its prefixes or virtual '
                     'tokens are inputs of the model, not changes to its weights, so there is '
                     'nothing to fold into the base. Eval and generate modes load base + '
                     'adapter directly.')
  params, step = _chosen_checkpoint(trainer)
  merged = config.copy_and_resolve_references()
  with merged.unlocked():
    merged.init_from = None
    merged.peft.method = 'none'
  out = trainer.run.merged_dir
  RunDir(out).write_params_only(merged, trainer.tokenizer.path, step, params)
  print(f'Merged the {config.eval.checkpoint} adapters (step {step}) into '
        f'{trainer.pretrained.description}: {out}')
  return out


def _chosen_checkpoint(trainer: Trainer):
  """(params, step) of the checkpoint `config.eval.checkpoint` names: 'latest' or 'best'."""
  if trainer.config.eval.checkpoint == 'best':
    return trainer.best_params()
  return trainer.latest_params()


def _joined(scores: dict) -> str:
  return ', '.join(f'{k}={v:.4g}' for k, v in scores.items())


def train(config, workdir: str, prompt_texts: list[str]):
  if prompt_texts:
    raise ValueError('--prompt only applies to --config.mode=generate.')
  return loop.train_and_evaluate(config, workdir)


MODES = {'train': train, 'eval': evaluate_checkpoint, 'generate': generate_from_checkpoint,
         'merge': merge_adapters}
