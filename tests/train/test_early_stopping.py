"""EarlyStopping: best value and step per mode, patience, NaN, missing metric, resume state."""
import json

import pytest

from lm_jax.train.early_stopping import EarlyStopping


def _run(stopper, values, first_step=100, every=100):
  improved = [stopper.update(first_step + i * every, {'loss': 9.0, 'bleu': v})
              for i, v in enumerate(values)]
  return improved


def test_max_mode_tracks_the_best_and_stops_after_patience():
  stopper = EarlyStopping('bleu', 'max', patience=2)
  assert not stopper.should_stop and stopper.best_value is None
  assert _run(stopper, [10.0, 12.0, 12.0]) == [True, True, False]  # a tie is no improvement
  assert (stopper.best_value, stopper.best_step) == (12.0, 200)
  assert not stopper.should_stop
  assert not stopper.update(400, {'bleu': 11.0})
  assert stopper.should_stop


def test_min_mode_and_an_improvement_resets_the_count():
  stopper = EarlyStopping('bleu', 'min', patience=2)
  assert _run(stopper, [3.0, 4.0, 2.5, 2.6]) == [True, False, True, False]
  assert (stopper.best_value, stopper.best_step, stopper.should_stop) == (2.5, 300, False)


def test_patience_zero_tracks_but_never_stops():
  stopper = EarlyStopping('bleu', 'max', patience=0)
  _run(stopper, [5.0] + [1.0] * 20)
  assert stopper.best_step == 100 and not stopper.should_stop


def test_nan_never_improves():
  stopper = EarlyStopping('bleu', 'max', patience=1)
  assert _run(stopper, [float('nan'), 1.0, float('nan')]) == [False, True, False]
  assert stopper.best_value == 1.0 and stopper.should_stop


def test_missing_metric_lists_the_available_keys():
  stopper = EarlyStopping('rougeL', 'max', patience=1)
  with pytest.raises(ValueError, match=r"rougeL.*\['bleu', 'loss'\]"):
    stopper.update(1, {'loss': 1.0, 'bleu': 2.0})


def test_state_round_trips_through_json_for_resume():
  stopper = EarlyStopping('bleu', 'max', patience=3)
  _run(stopper, [1.0, 5.0, 4.0])
  state = json.loads(json.dumps(stopper.state_dict()))
  resumed = EarlyStopping('bleu', 'max', patience=3)
  resumed.load_state_dict(state)
  assert (resumed.best_value, resumed.best_step) == (5.0, 200)
  # Both continue identically: two more non-improvements stop them.
  for s in (stopper, resumed):
    _run(s, [3.0, 2.0], first_step=400)
  assert stopper.should_stop and resumed.should_stop
  with pytest.raises(ValueError, match='config.early_stopping'):
    EarlyStopping('bleu', 'min', patience=3).load_state_dict(state)


@pytest.mark.parametrize('mode,patience', [('maximum', 1), ('max', -1)])
def test_bad_settings_name_the_config_key(mode, patience):
  with pytest.raises(ValueError, match='config.early_stopping'):
    EarlyStopping('bleu', mode, patience)
