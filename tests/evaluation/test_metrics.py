"""Task metrics against their libraries called directly (sacrebleu, rouge-score, scikit-learn,
torchmetrics' SQuAD), on multi-reference examples, plus perfect scores and the input errors."""
import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sklearn import metrics as sk_metrics

from lm_jax.evaluation import metrics

# English -> German, as in the Django catalogs; the second example has two references and the
# third three, so the sacrebleu streams need None padding.
DE_PREDICTIONS = ['Dieses Feld ist erforderlich.',
                  'Geben Sie eine gültige E-Mail-Adresse ein.',
                  'Das Passwort ist zu kurz, es muss mindestens 8 Zeichen enthalten.',
                  'Bitte korrigieren Sie die doppelten Daten für das Feld.']
DE_REFERENCES = [('Dieses Feld ist zwingend erforderlich.',),
                 ('Bitte eine gültige E-Mail-Adresse eingeben.',
                  'Geben Sie eine gültige E-Mail-Adresse an.'),
                 ('Dieses Passwort ist zu kurz. Es muss mindestens 8 Zeichen enthalten.',
                  'Das Passwort ist zu kurz.', 'Mindestens 8 Zeichen.'),
                 ('Bitte die doppelten Daten für das Feld korrigieren.',)]

# Docstring summaries.
SUMMARY_PREDICTIONS = ['Return the number of items in a container.',
                       'Open the file and return a stream.',
                       'Create a new thread running the given function.']
SUMMARY_REFERENCES = [('Return the number of items of a sequence or collection.',),
                      ('Open file and return a corresponding file object.',
                       'Open a file, returning a stream object.'),
                      ('Start a new thread and return its identifier.',)]

# WordNet lexicographer categories; 'animal' is outside the label set.
LABEL_PREDICTIONS = ['noun.animal', 'noun.plant ', 'verb.motion', 'noun.animal', 'animal',
                     'noun.plant', 'verb.motion', 'noun.artifact']
LABEL_REFERENCES = [('noun.animal',), ('noun.plant',), ('verb.motion',), ('noun.plant',),
                    ('noun.animal',), ('noun.plant',), ('verb.contact',), ('noun.artifact',)]


def test_bleu_and_chrf_match_sacrebleu_with_equal_reference_counts():
  references = [refs[:1] + refs[-1:] for refs in DE_REFERENCES]  # two each
  streams = [[refs[0] for refs in references], [refs[1] for refs in references]]
  scores = metrics.compute(['bleu', 'chrf'], DE_PREDICTIONS, references)
  assert scores['bleu'] == pytest.approx(sacrebleu.corpus_bleu(DE_PREDICTIONS, streams).score)
  assert scores['chrf'] == pytest.approx(sacrebleu.corpus_chrf(DE_PREDICTIONS, streams).score)
  single = metrics.compute(['bleu'], DE_PREDICTIONS, [refs[:1] for refs in references])
  assert single['bleu'] == pytest.approx(
      sacrebleu.corpus_bleu(DE_PREDICTIONS, streams[:1]).score)
  assert single['bleu'] != pytest.approx(scores['bleu'])  # the second stream was used


def test_bleu_and_chrf_with_varying_reference_counts():
  # Repeating one of an example's references changes neither BLEU's clipped counts nor its
  # closest length, nor chrF's best reference: so padding each example to three references by
  # repetition gives sacrebleu full streams with the same score as the ragged input.
  padded = [refs + (refs[0],) * (3 - len(refs)) for refs in DE_REFERENCES]
  streams = [[refs[k] for refs in padded] for k in range(3)]
  scores = metrics.compute(['bleu', 'chrf'], DE_PREDICTIONS, DE_REFERENCES)
  assert scores['bleu'] == pytest.approx(sacrebleu.corpus_bleu(DE_PREDICTIONS, streams).score)
  assert scores['chrf'] == pytest.approx(sacrebleu.corpus_chrf(DE_PREDICTIONS, streams).score)
  assert 0 < scores['bleu'] < 100 and 0 < scores['chrf'] < 100


def test_rouge_matches_rouge_score_best_reference_per_example():
  scorer = rouge_scorer.RougeScorer(['rouge1', 'rouge2', 'rougeL'], use_stemmer=True)
  expected = {}
  for key in ('rouge1', 'rouge2', 'rougeL'):
    per_example = [max(scorer.score(r, p)[key].fmeasure for r in refs)
                   for p, refs in zip(SUMMARY_PREDICTIONS, SUMMARY_REFERENCES)]
    expected[key] = 100 * np.mean(per_example)
  scores = metrics.compute(['rouge'], SUMMARY_PREDICTIONS, SUMMARY_REFERENCES)
  assert scores == pytest.approx(expected)
  assert 0 < scores['rouge2'] < scores['rouge1'] < 100
  # Stemming: 'returning' matches 'return'.
  stemmed = metrics.compute(['rouge'], ['returning streams'], [('return stream',)])
  assert stemmed['rouge1'] == pytest.approx(100)


def test_accuracy_and_f1_match_sklearn():
  y_true = [refs[0] for refs in LABEL_REFERENCES]
  y_pred = [p.strip() for p in LABEL_PREDICTIONS]
  scores = metrics.compute(['accuracy', 'f1'], LABEL_PREDICTIONS, LABEL_REFERENCES)
  assert scores['accuracy'] == pytest.approx(100 * sk_metrics.accuracy_score(y_true, y_pred))
  assert scores['accuracy'] == pytest.approx(100 * 5 / 8)
  labels = sorted(set(y_true))
  assert scores['f1'] == pytest.approx(
      100 * sk_metrics.f1_score(y_true, y_pred, labels=labels, average='macro'))
  # By hand: animal P1/2 R1/2 -> 1/2; plant P1 R2/3 -> 4/5; motion P1/2 R1 -> 2/3; contact 0;
  # artifact 1. The out-of-set 'animal' is no class of its own (sklearn's default would make it
  # one with F1 0 and lower the mean).
  assert scores['f1'] == pytest.approx(100 * (1 / 2 + 4 / 5 + 2 / 3 + 0 + 1) / 5)
  assert scores['f1'] > 100 * sk_metrics.f1_score(y_true, y_pred, average='macro')


def test_accuracy_and_f1_count_a_match_with_any_reference():
  predictions = ['positive', 'neutral', 'negative', 'negative']
  references = [('positive',), ('positive', 'neutral'), ('neutral',), ('negative',)]
  scores = metrics.compute(['accuracy', 'f1'], predictions, references)
  assert scores['accuracy'] == pytest.approx(75)
  # The second example is scored as neutral (the reference it matched), the third as a missed
  # neutral: positive 1; neutral P1 R1/2 -> 2/3; negative P1/2 R1 -> 2/3.
  assert scores['f1'] == pytest.approx(100 * (1 + 2 / 3 + 2 / 3) / 3)


SQUAD_PREDICTIONS = ['The Norman conquest', 'in 1066', 'William, Duke of Normandy',
                     'an English king', 'Hastings', 'the battle of Stamford Bridge!', '']
SQUAD_REFERENCES = [('Norman conquest', 'the Norman conquest of England'),
                    ('1066',),
                    ('William the Conqueror', 'Duke William of Normandy'),
                    ('Harold Godwinson', 'King Harold'),
                    ('Battle of Hastings', 'Hastings', 'near Hastings'),
                    ('Stamford Bridge',),
                    ('York',)]


def test_squad_matches_torchmetrics():
  squad = pytest.importorskip('torchmetrics.functional.text.squad')
  preds = [{'prediction_text': p, 'id': str(i)} for i, p in enumerate(SQUAD_PREDICTIONS)]
  target = [{'answers': {'answer_start': [0] * len(refs), 'text': list(refs)}, 'id': str(i)}
            for i, refs in enumerate(SQUAD_REFERENCES)]
  expected = squad.squad(preds, target)
  scores = metrics.compute(['squad'], SQUAD_PREDICTIONS, SQUAD_REFERENCES)
  assert scores['squad_em'] == pytest.approx(float(expected['exact_match']), abs=1e-4)
  assert scores['squad_f1'] == pytest.approx(float(expected['f1']), abs=1e-4)
  assert scores['squad_em'] == pytest.approx(100 * 2 / 7)  # article + punctuation stripped


def test_squad_by_hand():
  # 'the cat sat' -> 'cat sat'; 'A cat sat down.' -> 'cat sat down': P 1, R 2/3, F1 0.8.
  scores = metrics.squad(['the cat sat'], [('A cat sat down.', 'dog')])
  assert scores == pytest.approx({'squad_em': 0.0, 'squad_f1': 80.0})
  assert metrics.squad(['The  Cat,'], [('cat',)]) == pytest.approx(
      {'squad_em': 100.0, 'squad_f1': 100.0})
  # Both answers normalise to nothing: v1.1 counts an exact match but no F1 (no shared token).
  assert metrics.squad(['The.'], [('a',)]) == pytest.approx(
      {'squad_em': 100.0, 'squad_f1': 0.0})


def test_perfect_predictions_score_100():
  texts = ['Dieses Feld ist zwingend erforderlich.', 'Geben Sie eine gültige E-Mail-Adresse an.']
  references = [(t,) for t in texts]
  scores = metrics.compute(['bleu', 'chrf', 'rouge', 'squad'], texts, references)
  labels = metrics.compute(['accuracy', 'f1'], ['noun.animal', 'verb.motion'],
                           [('noun.animal',), ('verb.motion',)])
  merged = {**scores, **labels}
  assert set(merged) == {'bleu', 'chrf', 'rouge1', 'rouge2', 'rougeL', 'squad_em', 'squad_f1',
                         'accuracy', 'f1'}
  assert merged == pytest.approx(dict.fromkeys(merged, 100.0))
  assert all(type(v) is float for v in merged.values())


def test_a_bare_string_is_one_reference():
  assert metrics.compute(['accuracy', 'squad'], ['Hastings'], ['Hastings']) == pytest.approx(
      {'accuracy': 100.0, 'squad_em': 100.0, 'squad_f1': 100.0})


def test_output_keys():
  assert metrics.output_keys(['rouge', 'squad']) == (
      'rouge1', 'rouge2', 'rougeL', 'squad_em', 'squad_f1')
  assert set(metrics.output_keys(list(metrics.METRICS))) == {
      'bleu', 'chrf', 'rouge1', 'rouge2', 'rougeL', 'accuracy', 'f1', 'squad_em', 'squad_f1'}


def test_input_errors():
  with pytest.raises(ValueError, match=r'differ in length: 2 vs 1'):
    metrics.compute(['bleu'], ['a', 'b'], [('a',)])
  with pytest.raises(ValueError, match='no predictions to score'):
    metrics.compute(['bleu'], [], [])
  with pytest.raises(ValueError, match='example 1 has no references'):
    metrics.compute(['bleu'], ['a', 'b'], [('a',), ()])


def test_unknown_names():
  with pytest.raises(ValueError, match=r"Unknown metric 'blue' in eval\.metrics.*known metrics: "
                                       r'accuracy, bleu, chrf, f1, rouge, squad'):
    metrics.check_names(['bleu', 'blue'])
  with pytest.raises(ValueError, match="Unknown metric 'rougeL'"):
    metrics.compute(['rougeL'], ['a'], [('a',)])  # an output key, not a metric name
  with pytest.raises(ValueError, match=r"sequence of metric names, e\.g\. \('bleu',\)"):
    metrics.check_names('bleu')
  metrics.check_names(())
  metrics.check_names(tuple(metrics.METRICS))
