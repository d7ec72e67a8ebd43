"""Documents as tokens that carry the score of their line (Korbak et al. 2023, §3: segments are
lines for code), and the data transforms of pretraining with human preferences: filtering drops
documents, conditional training puts a control token in front of each line."""
import dataclasses

import numpy as np

from lm_jax import preference

ALIGNED, MISALIGNED = '<|aligned|>', '<|misaligned|>'
# The transform of each objective: 'none' leaves the tokens as they are.
TRANSFORMS = {'mle': 'none', 'filtering': 'filter', 'conditional': 'control',
              'unlikelihood': 'none', 'rwr': 'none', 'awr': 'none'}


def newline_counts(tokenizer) -> np.ndarray:
  """How many newlines the text of each id holds. A token is on the line where its text
  starts, so the line of a token is the count of newlines in the tokens before it: this works
  for any tokenizer, whether newlines are pieces of their own (lm_jax's SentencePiece) or
  merged into others (GPT-2's BPE)."""
  return np.array([tokenizer.decode([i]).count('\n') for i in range(tokenizer.vocab_size)],
                  np.int32)


def token_lines(ids, newlines: np.ndarray, num_lines: int) -> np.ndarray:
  """The line index of each token of `ids`, the text of `num_lines` lines."""
  ids = np.asarray(ids, np.int64)
  before = np.cumsum(newlines[ids]) - newlines[ids]
  return np.minimum(before, max(num_lines - 1, 0))


@dataclasses.dataclass(frozen=True)
class ControlTokens:
  """The ids of <|aligned|> and <|misaligned|>: the top two sentinel ids of lm_jax's
  SentencePiece vocabulary, which a decoder-only model never otherwise sees."""
  aligned: int
  misaligned: int

  @classmethod
  def of(cls, tokenizer) -> 'ControlTokens':
    if not hasattr(tokenizer, 'sentinel_id') or tokenizer.num_extra_ids < 2:
      raise ValueError(
          f'Conditional training needs two ids for {ALIGNED} and {MISALIGNED}; the tokenizer '
          f'{tokenizer!r} has no free ids for them. Use lm_jax\'s SentencePiece tokenizer (no '
          '--config.data.tokenizer_path) with --config.data.num_extra_ids >= 2.')
    return cls(tokenizer.sentinel_id(0), tokenizer.sentinel_id(1))

  @property
  def ids(self) -> tuple[int, int]:
    return (self.aligned, self.misaligned)

  def names(self) -> dict[int, str]:
    return {self.aligned: ALIGNED, self.misaligned: MISALIGNED}


@dataclasses.dataclass(frozen=True)
class LineScoring:
  """Turns a document into (tokens, each token's line score), or None when it is dropped.

  transform: 'none', 'filter' (drop a document whose score is above `threshold`), 'control'
  (a control token in front of each line: aligned when its score is <= `threshold`, none with
  probability `drop_control_fraction`), or 'aligned' (<|aligned|> in front of every line: how
  the conditional model is scored on held-out text).
  """
  scorer: preference.Scorer
  tokenizer: object
  transform: str = 'none'
  threshold: float = 0.0
  drop_control_fraction: float = 0.0
  control: ControlTokens | None = None
  newlines: np.ndarray = dataclasses.field(default=None, repr=False)

  @classmethod
  def for_config(cls, preference_config, tokenizer, transform: str | None = None):
    """The scoring of config.preference; `transform` overrides its objective's."""
    transform = transform or TRANSFORMS[preference_config.objective]
    control = ControlTokens.of(tokenizer) if transform in ('control', 'aligned') else None
    return cls(preference.get_scorer(preference_config.scorer), tokenizer, transform,
               float(preference_config.threshold),
               float(preference_config.drop_control_fraction), control,
               newline_counts(tokenizer))

  def document(self, text: str, rng: np.random.Generator) -> tuple[list[int], list[float]] | None:
    scored = self.scorer.score_document(text)
    if self.transform == 'filter' and scored.score > self.threshold:
      return None
    ids = self.tokenizer.encode(text)
    line_scores = np.asarray(scored.line_scores, np.float64)
    if not ids:
      return [], []
    lines = token_lines(ids, self.newlines, len(scored.lines))
    scores = line_scores[lines]
    if self.transform not in ('control', 'aligned'):
      return list(ids), scores.tolist()
    # One control token in front of each line's first token; a line's tokens are contiguous.
    starts = np.flatnonzero(np.diff(lines, prepend=-1))
    out_ids, out_scores = [], []
    for start, end in zip(starts, [*starts[1:], len(ids)]):
      score = float(scores[start])
      control = self._control_for(score, rng)
      if control is not None:
        out_ids.append(control)
        out_scores.append(score)
      out_ids.extend(ids[start:end])
      out_scores.extend(scores[start:end].tolist())
    return out_ids, out_scores

  def _control_for(self, score: float, rng: np.random.Generator) -> int | None:
    if self.transform == 'aligned':
      return self.control.aligned
    # Korbak et al. §3: a fraction of lines gets no token, so that the model also learns the
    # unconditional distribution.
    if rng.random() < self.drop_control_fraction:
      return None
    return self.control.aligned if score <= self.threshold else self.control.misaligned
