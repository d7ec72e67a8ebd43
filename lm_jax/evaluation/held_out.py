"""What eval mode adds beside a task's scores on a held-out split, when the config asks:

- `eval.baseline`: the task's trivial baseline (baselines.py) on the same examples;
- `eval.decontaminate_against='<dataset>:<feature>'`: the scores again on the clean subset,
  the examples that share no N-gram (contamination.py; N = `eval.decontaminate_ngram`, 13) with
  that source's train split, the corpus the model pretrained on. GPT-3 reported its scores this
  way (Brown et al. 2020, §4).
"""
from collections.abc import Sequence

from lm_jax.data import pipeline, sources
from lm_jax.data.tasks.task import Example, without_prefix
from lm_jax.evaluation import baselines, contamination, metrics


def _score(metric_names, predictions: list[str], examples: Sequence[Example]) -> dict:
  if not predictions:
    return {}
  return metrics.compute(metric_names, predictions, [e.references for e in examples])


def overlap(corpus: Sequence[str], examples: Sequence[Example],
            n: int = contamination.N) -> contamination.Overlap:
  """The n-gram overlap of the examples' inputs (without the task prefix) and targets with
  `corpus`."""
  fields = [{'input': without_prefix(e.inputs), 'target': e.targets} for e in examples]
  return contamination.measure(corpus, fields, n)


def dirty_flags(corpus: Sequence[str], examples: Sequence[Example],
                n: int = contamination.N) -> list[bool]:
  """Per example: does its input or its target share an n-gram with `corpus`."""
  return overlap(corpus, examples, n).dirty


def corpus_texts(data_config, spec: str) -> list[str]:
  """The train split of '<dataset>:<feature>', as text."""
  source = sources.load_text_spec(data_config, spec)
  return [source[i] for i in range(len(source))]


def report(config, metric_names, split: str, predictions: list[str]) -> dict:
  """{'baseline': {...}, 'clean': {...}}, each present when the config asks for it, for the
  first len(predictions) examples of `split` (the ones eval mode scored)."""
  if not (config.eval.baseline or config.eval.decontaminate_against):
    return {}
  split_examples = pipeline.task_examples(config.data, split)
  examples = [split_examples[i] for i in range(len(predictions))]
  out = {}
  baseline = None
  if config.eval.baseline:
    train = pipeline.task_examples(config.data, config.data.train_split)
    name, baseline = baselines.predictions(metric_names, examples, train)
    out['baseline'] = {'name': name, 'metrics': _score(metric_names, baseline, examples)}
  spec = config.eval.decontaminate_against
  if spec:
    n = config.eval.decontaminate_ngram
    dirty = dirty_flags(corpus_texts(config.data, spec), examples, n)
    keep = [i for i, flag in enumerate(dirty) if not flag]
    clean = [examples[i] for i in keep]
    out['clean'] = {
        'against': spec, 'n': n, 'examples': len(keep),
        'dirty': len(examples) - len(keep),
        'metrics': _score(metric_names, [predictions[i] for i in keep], clean)}
    if baseline is not None:
      out['clean']['baseline_metrics'] = _score(metric_names, [baseline[i] for i in keep], clean)
  return out
