"""The pretraining objectives by name (`config.data.objective`): each is an iterator class
over a text source; a new objective is one module here plus one line in OBJECTIVES."""

from lm_jax.data.batch_iterator import BatchIterator
from lm_jax.data.objectives import causal_lm, mlm, prefix_lm, span_corruption

OBJECTIVES: dict[str, type[BatchIterator]] = {
    'span_corruption': span_corruption.SpanCorruptionIterator,
    'causal_lm': causal_lm.CausalLMIterator,
    'prefix_lm': prefix_lm.PrefixLMIterator,
    'mlm': mlm.MLMIterator,
}
NAMES = tuple(OBJECTIVES)


def get(name: str) -> type[BatchIterator]:
  """The iterator class of objective `name`."""
  if name not in OBJECTIVES:
    raise ValueError(f'Unknown objective {name!r} (config.data.objective); '
                     f'set --config.data.objective to one of {", ".join(NAMES)}.')
  return OBJECTIVES[name]
