"""Scores of undesirable content in text, for pretraining with human preferences (Korbak et al.
2023): pycodestyle's PEP8 violations and scrubadub's PII, per line and per document, behind one
interface (`Scorer`), looked up by name."""
from lm_jax.preference.pep8 import Pep8Scorer, pep8_score
from lm_jax.preference.pii import PiiScorer
from lm_jax.preference.scoring import DocumentScore, Scorer

SCORERS = {scorer.name: scorer for scorer in (Pep8Scorer, PiiScorer)}


def get_scorer(name: str) -> Scorer:
  if name not in SCORERS:
    raise ValueError(f'Unknown scorer {name!r}; known: {", ".join(sorted(SCORERS))}.')
  return SCORERS[name]()


__all__ = ['DocumentScore', 'Pep8Scorer', 'PiiScorer', 'SCORERS', 'Scorer', 'get_scorer',
           'pep8_score']
