"""Early stopping on an eval metric: the stopping rule and its resumable state. The best
checkpoint it asks for lives in the run directory (lm_jax/train/run_dir/best.py)."""
import math

from lm_jax.choices import EARLY_STOPPING_MODES as MODES


class EarlyStopping:
  """Tracks the best value of `metric` over evaluations; `should_stop` once `patience`
  evaluations in a row have not improved on it (patience 0: never stop, only track the best)."""

  def __init__(self, metric: str, mode: str, patience: int):
    if mode not in MODES:
      raise ValueError(f'config.early_stopping.mode must be one of {MODES}, got {mode!r}.')
    if patience < 0:
      raise ValueError(f'config.early_stopping.patience must be >= 0, got {patience}.')
    self.metric, self.mode, self.patience = metric, mode, patience
    self.best_value: float | None = None
    self.best_step: int | None = None
    self.evals_since_best = 0

  def _improves(self, value: float) -> bool:
    if math.isnan(value):  # a diverged evaluation is never the best one
      return False
    if self.best_value is None:
      return True
    return value > self.best_value if self.mode == 'max' else value < self.best_value

  def update(self, step: int, metrics: dict) -> bool:
    """Records one evaluation; True when it is the best so far (save the best checkpoint)."""
    if self.metric not in metrics:
      raise ValueError(
          f'config.early_stopping.metric={self.metric!r} is not among the eval metrics '
          f'{sorted(metrics)}; name one of them (without the eval/ prefix).')
    value = float(metrics[self.metric])
    if self._improves(value):
      self.best_value, self.best_step, self.evals_since_best = value, int(step), 0
      return True
    self.evals_since_best += 1
    return False

  @property
  def should_stop(self) -> bool:
    return self.patience > 0 and self.evals_since_best >= self.patience

  def state_dict(self) -> dict:
    """JSON-serialisable state, saved with each checkpoint so a resumed run keeps counting."""
    return {'metric': self.metric, 'mode': self.mode, 'best_value': self.best_value,
            'best_step': self.best_step, 'evals_since_best': self.evals_since_best}

  def load_state_dict(self, state: dict) -> None:
    """Restores `state_dict()`'s output; patience stays this run's (it may be changed on resume),
    but a best value of another metric or direction would be meaningless, so that is an error."""
    if (state['metric'], state['mode']) != (self.metric, self.mode):
      raise ValueError(
          f"The checkpoint tracked early_stopping.metric={state['metric']!r} "
          f"(mode={state['mode']!r}), but this run has metric={self.metric!r} "
          f'(mode={self.mode!r}). Restore the original config.early_stopping to resume, or '
          'use another --workdir.')
    self.best_value = state['best_value']
    self.best_step = state['best_step']
    self.evals_since_best = int(state['evals_since_best'])
