"""How much undesirable content a model generates (Korbak et al. 2023, §4): the scorer's mean
score over samples, `score_max@25` (the expected worst of 25 samples), and the same for
continuations of held-out function signatures and docstrings (their second scenario)."""
import ast
import textwrap

import jax
import numpy as np

from lm_jax.data.line_scores import ControlTokens
from lm_jax.generation import decoding

GROUP = 25  # score_max@25


def score_max_at(scores, k: int = GROUP) -> float:
  """The mean over consecutive groups of `k` samples of the highest score in each: the expected
  maximum score of k samples. Needs a multiple of k scores."""
  scores = np.asarray(scores, np.float64)
  if scores.size == 0 or scores.size % k:
    raise ValueError(f'score_max@{k} needs a multiple of {k} scores, got {scores.size}.')
  return float(scores.reshape(-1, k).max(axis=1).mean())


def docstring_prompts(texts, count: int, fits) -> list[str]:
  """Up to `count` prompts, each a function's signature and docstring from `texts` (Python
  files; the first documented function of each file, then the second, ...), dedented, for which
  `fits(prompt)` holds. Files that do not parse are skipped."""
  per_file = []
  for text in texts:
    try:
      tree = ast.parse(text)
    except (SyntaxError, ValueError):
      continue
    lines = text.split('\n')
    found = []
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node):
        prompt = textwrap.dedent('\n'.join(lines[node.lineno - 1:node.body[0].end_lineno])) + '\n'
        if fits(prompt):
          found.append((node.lineno, prompt))
    per_file.append([prompt for _, prompt in sorted(found)])
  prompts = []
  for rank in range(max((len(f) for f in per_file), default=0)):
    prompts += [f[rank] for f in per_file if rank < len(f)]
    if len(prompts) >= count:
      break
  return prompts[:count]


def unused_ids(model, tokenizer) -> tuple[int, ...]:
  """The model's ids past the tokenizer's (a vocabulary rounded up for speed): never sampled,
  as they are no text."""
  return tuple(range(tokenizer.vocab_size, model.config.vocab_size))


class MisalignmentEval:
  """Samples a model and scores the samples with `scorer`.

  control: the conditional model's control tokens, or None. Its samples start from
  <|aligned|> with <|misaligned|> banned (Korbak's configuration bans that one only); control
  tokens are removed before scoring. `prompts`: held-out texts to continue (docstring_prompts).
  """

  def __init__(self, model, tokenizer, scorer, preference_config, control: ControlTokens | None,
               prompts: list[str], seed: int):
    self.model, self.tokenizer, self.scorer, self.control = model, tokenizer, scorer, control
    self.config = preference_config
    self.prompts = prompts
    self.rng = jax.random.key(seed)

  def _sample_texts(self, params, prompt_ids: list[list[int]], rng, lead: int | None,
                    banned: tuple[int, ...]) -> list[str]:
    """Texts of prompt + continuation, `lead` (a control id) after BOS when set."""
    bos = [self.tokenizer.pad_id] + ([lead] if lead is not None else [])
    rows = [bos + ids for ids in prompt_ids]
    lengths = np.array([len(r) for r in rows], np.int32)
    tokens = np.zeros((len(rows), lengths.max()), np.int32)
    for i, row in enumerate(rows):
      tokens[i, :len(row)] = row
    generated = np.asarray(decoding.generate(
        self.model, {'params': params}, tokens, prompt_lengths=lengths,
        max_new_tokens=self.config.eval_max_length - int(lengths.max()), strategy='sample',
        temperature=self.config.eval_temperature, top_p=self.config.eval_top_p, rng=rng,
        eos_id=self.tokenizer.eos_id, banned_ids=banned + unused_ids(self.model, self.tokenizer)))
    remove = set(self.control.ids) if self.control else set()
    texts = []
    for ids, new in zip(prompt_ids, generated):
      new = [int(t) for t in new]
      if self.tokenizer.eos_id in new:
        new = new[:new.index(self.tokenizer.eos_id)]
      texts.append(self.tokenizer.decode([t for t in ids + new if t not in remove]))
    return texts

  def _scores(self, texts) -> list[float]:
    return [self.scorer.score_text(text) for text in texts]

  def __call__(self, params, step: int) -> dict:
    """The metrics (without 'eval/'), samples drawn with keys folded from (seed, step)."""
    rng = jax.random.fold_in(self.rng, step)
    lead = self.control.aligned if self.control else None
    banned = (self.control.misaligned,) if self.control else ()
    metrics, n = {}, self.config.eval_samples
    if n:
      scores = self._scores(self._sample_texts(params, [[]] * n, jax.random.fold_in(rng, 0),
                                               lead, banned))
      metrics['misalignment'] = float(np.mean(scores))
      metrics[f'misalignment_max@{GROUP}'] = score_max_at(scores)
      if self.control:  # the control token steers: prompted to misbehave, it should
        steered = self._scores(self._sample_texts(
            params, [[]] * n, jax.random.fold_in(rng, 1), self.control.misaligned,
            (self.control.aligned,)))
        metrics['misalignment_misaligned_prompt'] = float(np.mean(steered))
    if self.prompts:
      prompt_ids = [self.tokenizer.encode(p) for p in self.prompts]
      scores = self._scores(self._sample_texts(params, prompt_ids, jax.random.fold_in(rng, 2),
                                               lead, banned))
      metrics['misalignment_prompted'] = float(np.mean(scores))
    return metrics
