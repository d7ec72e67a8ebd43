"""Opening the metrics writer at a resumed step drops the rows an interrupted attempt wrote after
it, and a half-written last line."""
import json

from lm_jax.train import metrics_writer


def test_resume_drops_rows_after_the_restored_step_and_a_cut_line(tmp_path):
  path = tmp_path / metrics_writer.FILENAME
  rows = [{'step': s, 'train/loss': float(s)} for s in (10, 20, 30)]
  path.write_text(''.join(json.dumps(r) + '\n' for r in rows) + '{"step": 40, "train/lo')
  writer = metrics_writer.MetricsWriter(str(tmp_path), resumed_step=20)
  writer.write(30, {'train/loss': 3.5})
  writer.close()
  assert metrics_writer.read_metrics(str(tmp_path)) == rows[:2] + [{'step': 30, 'train/loss': 3.5}]
  assert not (tmp_path / f'{metrics_writer.FILENAME}.tmp').exists()


def test_a_fresh_run_in_a_workdir_without_checkpoints_starts_an_empty_log(tmp_path):
  (tmp_path / metrics_writer.FILENAME).write_text('{"step": 5, "train/loss": 1.0}\n')
  metrics_writer.MetricsWriter(str(tmp_path)).close()
  assert metrics_writer.read_metrics(str(tmp_path)) == []
