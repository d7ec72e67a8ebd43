"""What the extractive QA builders (python_reference_qa, docstring_qa) share: their features, and
how a listing of entries is cut into contexts."""

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import tensorflow_datasets as tfds

_Item = TypeVar('_Item')


def features() -> tfds.features.FeaturesDict:
  """The features of the project's extractive QA datasets; name is what the question asks
  about."""
  return tfds.features.FeaturesDict({name: tfds.features.Text()
                                     for name in ('question', 'context', 'answer', 'name')})


def listing_chunks(items: Iterable[_Item], group: Callable[[_Item], object],
                   context: Callable[[list[_Item]], str], max_entries: int,
                   max_chars: int) -> Iterator[list[_Item]]:
  """Runs of consecutive items of one group, up to `max_entries`, whose context stays under
  `max_chars`: the contexts of a listing."""
  chunk = []
  for item in items:
    if chunk and (len(chunk) == max_entries or group(item) != group(chunk[0])
                  or len(context(chunk + [item])) >= max_chars):
      yield chunk
      chunk = []
    chunk.append(item)
  if chunk:
    yield chunk
