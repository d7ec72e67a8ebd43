"""A test hook that SIGKILLs the training process at a fixed point, so that crash-and-resume tests
are exact instead of racing a timer.

`LM_JAX_KILL_AT=<point>:<step>` with point `step` (after step k is logged and evaluated, before
its checkpoint starts) or `save` (right after step k's asynchronous checkpoint starts, so the save
is cut off midway). Unset, it does nothing.
"""
import os
import signal

ENV_VAR = 'LM_JAX_KILL_AT'
POINTS = ('step', 'save')


def _parse(value: str | None) -> tuple[str, int] | None:
  if not value:
    return None
  point, _, step = value.partition(':')
  if point not in POINTS or not step.isdigit():
    raise ValueError(f'{ENV_VAR}={value!r}: expected <point>:<step> with point one of {POINTS}, '
                     'e.g. step:30.')
  return point, int(step)


class KillSwitch:

  def __init__(self):
    self._target = _parse(os.environ.get(ENV_VAR))

  def maybe_kill(self, point: str, step: int) -> None:
    if self._target == (point, step):
      os.kill(os.getpid(), signal.SIGKILL)
