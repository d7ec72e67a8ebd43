"""Task metrics on decoded text, 0-100, each a thin wrapper over its reference library (sacrebleu,
rouge-score, scikit-learn). A new metric is one function here plus one line in `METRICS`."""
import collections
import re
import string
from collections.abc import Callable, Sequence

import numpy as np
import sacrebleu

References = list[tuple[str, ...]]  # one or more reference strings per example
MetricFn = Callable[[list[str], References], dict[str, float]]


def _reference_streams(references: References) -> list[list[str | None]]:
  """sacrebleu wants one stream per reference position; None where an example has fewer
  references than the most (sacrebleu drops those, so counts may differ per example)."""
  width = max(len(refs) for refs in references)
  return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def bleu(predictions: list[str], references: References) -> dict[str, float]:
  """Corpus BLEU with sacrebleu's defaults (13a tokenisation, exp smoothing)."""
  return {'bleu': sacrebleu.corpus_bleu(predictions, _reference_streams(references)).score}


def chrf(predictions: list[str], references: References) -> dict[str, float]:
  """Corpus chrF (character 6-grams, beta 2) with sacrebleu's defaults."""
  return {'chrf': sacrebleu.corpus_chrf(predictions, _reference_streams(references)).score}


ROUGE_TYPES = ('rouge1', 'rouge2', 'rougeL')


def rouge(predictions: list[str], references: References) -> dict[str, float]:
  """ROUGE-1/2/L F-measure with Porter stemming (as in the T5 and PEGASUS papers): the best
  reference per example, averaged over examples. rouge-score's tokenizer keeps only [a-z0-9]."""
  # Imported when scored: rouge-score (nltk) and scikit-learn pull in scipy.stats, 2-3 s of
  # every process's start otherwise.
  from rouge_score import rouge_scorer
  scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
  scores = [scorer.score_multi(list(refs), pred) for pred, refs in zip(predictions, references)]
  return {t: 100 * float(np.mean([s[t].fmeasure for s in scores])) for t in ROUGE_TYPES}


def _labels(predictions: list[str], references: References) -> tuple[list[str], list[str]]:
  """(y_true, y_pred) of stripped strings, y_true being the reference the prediction equals
  when there is one, else the first: so a match against any reference counts as correct."""
  y_pred = [p.strip() for p in predictions]
  y_true = []
  for pred, refs in zip(y_pred, references):
    refs = [r.strip() for r in refs]
    y_true.append(pred if pred in refs else refs[0])
  return y_true, y_pred


def accuracy(predictions: list[str], references: References) -> dict[str, float]:
  """Exact match of the stripped prediction with any stripped reference."""
  y_true, y_pred = _labels(predictions, references)
  from sklearn import metrics as sk_metrics  # see rouge(): scipy.stats again
  return {'accuracy': 100 * float(sk_metrics.accuracy_score(y_true, y_pred))}


def f1(predictions: list[str], references: References) -> dict[str, float]:
  """Macro F1 over the classes the references hold. A prediction outside them is not a class of
  its own: it only costs its true class recall. A class never predicted has F1 0."""
  y_true, y_pred = _labels(predictions, references)
  from sklearn import metrics as sk_metrics
  score = sk_metrics.f1_score(y_true, y_pred, labels=sorted(set(y_true)), average='macro',
                              zero_division=0)
  return {'f1': 100 * float(score)}


def _squad_normalize(text: str) -> str:
  """SQuAD v1.1's normalize_answer: lower case, drop ASCII punctuation, then the articles
  a/an/the as whole words, then collapse whitespace (the order matters: 'the.' loses its
  article only once the '.' is gone)."""
  text = ''.join(ch for ch in text.lower() if ch not in string.punctuation)
  text = re.sub(r'\b(a|an|the)\b', ' ', text)
  return ' '.join(text.split())


def _squad_f1(prediction: str, reference: str) -> float:
  """Token-overlap F1 of the normalised answers. As in the v1.1 script, no shared token gives 0,
  including when both normalise to nothing (v2.0 and torchmetrics give 1 there)."""
  pred_tokens = _squad_normalize(prediction).split()
  ref_tokens = _squad_normalize(reference).split()
  shared = sum((collections.Counter(pred_tokens) & collections.Counter(ref_tokens)).values())
  if shared == 0:
    return 0.0
  precision, recall = shared / len(pred_tokens), shared / len(ref_tokens)
  return 2 * precision * recall / (precision + recall)


def squad(predictions: list[str], references: References) -> dict[str, float]:
  """SQuAD v1.1 exact match and token F1 (Rajpurkar et al. 2016, the official evaluate-v1.1.py
  logic): each the best over an example's reference answers, averaged over examples."""
  em = [max(float(_squad_normalize(pred) == _squad_normalize(r)) for r in refs)
        for pred, refs in zip(predictions, references)]
  token_f1 = [max(_squad_f1(pred, r) for r in refs) for pred, refs in zip(predictions, references)]
  return {'squad_em': 100 * float(np.mean(em)), 'squad_f1': 100 * float(np.mean(token_f1))}


METRICS: dict[str, MetricFn] = {
    'bleu': bleu,
    'chrf': chrf,
    'rouge': rouge,
    'accuracy': accuracy,
    'f1': f1,
    'squad': squad,
}


def check_names(names: Sequence[str]) -> None:
  """Raises ValueError "Unknown metric 'x' in eval.metrics (or a task's metrics); known metrics:
  accuracy, bleu, ..." for the first name not in METRICS."""
  if isinstance(names, str):
    raise ValueError(f'eval.metrics must be a sequence of metric names, e.g. ({names!r},), not '
                     f'the string {names!r}.')
  for name in names:
    if name not in METRICS:
      raise ValueError(f"Unknown metric {name!r} in eval.metrics (or a task's metrics); known "
                       f"metrics: {', '.join(sorted(METRICS))}.")


def compute(names: Sequence[str], predictions: Sequence[str],
            references: Sequence[Sequence[str]]) -> dict[str, float]:
  """The named metrics' outputs merged into one dict, e.g. {'bleu': 31.2, 'chrf': 55.0}.

  `references[i]` holds example i's reference strings (a bare string counts as one). Raises
  ValueError for an unknown name (see check_names), "predictions and references differ in
  length: P vs R", "no predictions to score", or "example i has no references".
  """
  check_names(names)
  if len(predictions) != len(references):
    raise ValueError(f'predictions and references differ in length: {len(predictions)} vs '
                     f'{len(references)}.')
  if len(predictions) == 0:
    raise ValueError('no predictions to score: predictions and references are empty.')
  # A bare string would otherwise be read as a tuple of one-character references.
  references = [(refs,) if isinstance(refs, str) else tuple(refs) for refs in references]
  for i, refs in enumerate(references):
    if not refs:
      raise ValueError(f'example {i} has no references; every example needs at least one.')
  predictions = list(predictions)
  results = {}
  for name in names:
    results.update(METRICS[name](predictions, references))
  return results


def output_keys(names: Sequence[str]) -> tuple[str, ...]:
  """The keys `compute(names, ...)` returns (e.g. 'rouge' -> rouge1, rouge2, rougeL), found by
  scoring one toy example, so validating `early_stopping.metric` needs no second registry."""
  return tuple(compute(names, ['a'], [('a',)]))
