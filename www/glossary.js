// "How to read this" beside the scoreboard and a glossary of every metric and baseline the
// engine scores, in plain words (README "What is scored, exactly" has the exact definitions).
// Both are collapsible and made of headings, lists and description lists.

import { $, el } from './dom.js';

/** How to read the scoreboard, one point each. */
const HOW_TO_READ = [
  'Each row is a predictor: the models you trained (marked “model”) and, below them, the baselines, simple rules that need no training.',
  'Read across a model’s row and compare each number with the best baseline in the same column. A model that does not beat a simple baseline has not learned more than that rule; the scores say so plainly.',
  'Higher is better for r, J@K, IWELBO and ATE r; lower is better for energy distance (marked ↓) and MAE.',
  '“—” means the metric does not exist for that predictor (the control mean predicts no change, so it has no shift to correlate); hover over it for the reason.',
  'The mean-shift panel plots one dot per gene: the true change against the predicted one. Dots on the diagonal are right; a cloud flatter than the diagonal means the predicted changes are too small.',
  'The cells panel shows control, true and predicted cells on the first two principal components: a good prediction lies over the true cells, not over the controls.',
  'The training curves show the loss on training and validation cells: validation rising while training still falls means the model has started to memorise.',
  'Pooled numbers can hide one bad condition: open “Per condition”. Differences in the second decimal may be noise: set Seeds to 3 or more to train the model several times on the same cells.',
  'With several seeds, a model’s row shows each metric’s mean and, under it, ± half its 95% interval. The verdict says “beats” only when the whole interval is better than the best baseline, and “cannot be told apart” when the interval holds the baseline’s value.',
];

/** The metrics, in the order the scoreboard and results.json give them. */
const METRICS = [
  ['mean-shift r (r)', 'For every gene, how far the perturbation moves its average expression away from the controls. r is the Pearson correlation between the predicted and the true moves over all genes: 1 is a perfect match of the pattern (not of its size).'],
  ['top-K Jaccard (J@25, J@50, J@100)', 'Take the K genes the perturbation moves most and the K genes the prediction moves most: the share of genes the two lists have in common (1: the same genes).'],
  ['energy distance (Energy ↓)', 'How far the cloud of predicted cells is from the cloud of true held-out cells, on the first 20 principal components: 0 when they have the same distribution. Unlike r it sees the spread of single cells, not just averages.'],
  ['IWELBO', 'How probable a model finds the real held-out cells (a lower bound on the log-likelihood, in nats per cell, from K importance samples). Higher is better; only models have one, and only runs on the same data and split compare.'],
  ['ATE r (ATE r top-20)', 'The correlation between the model’s average treatment effect (its generated cells with the perturbation minus without) and the data’s, over held-out conditions and genes; top-20 uses only each condition’s 20 most affected genes.'],
  ['MAE', 'The mean absolute error of the predicted average (pseudobulk) expression profile, gene by gene. Lower is better.'],
  ['Systema r', 'Like mean-shift r, but the shifts are measured from the mean of all perturbed cells instead of the controls, so a response shared by every perturbation earns nothing: only what is specific to each condition counts.'],
  ['DE score', 'Of the genes truly differentially expressed (Wilcoxon test against the controls, false discovery rate below 5%), the share the prediction also finds.'],
  ['discrimination', 'Whether each condition’s prediction is closer to its own true cells than to the other held-out conditions’: 1 when its own is always the closest, about 0.5 for a prediction that says nothing about the condition. It catches predictions that are all alike.'],
  ['energy r', 'The correlation, across conditions, between the predicted and the true energy distance from the controls: does the model know which perturbations change cells most?'],
  ['seeds and 95% interval', 'With Seeds set to N, the model is trained N times on the same held-out cells, each time from other random weights (model seeds seed, seed+1, …). Its row shows the mean; the interval is mean ± t · s/√N (Student’s t, N − 1 degrees of freedom, s the standard deviation over the seeds): where the mean of many more seeds would likely fall.'],
  ['normalised score', 'One number per model: how much of the gap between the best baseline and a perfect score it closes, averaged over the metrics (0: no better than the best baseline; 1: perfect). As cell-eval computes it: on each metric, against the best baseline b, a model value m scores 1 − m/b where lower is better and (m − b)/(1 − b) where higher is better, clipped at 0; the score is the mean over the metrics.'],
];

/** The baselines (baselines::ALL) and the ceiling. */
const BASELINES = [
  ['control mean', 'Predicts no change: perturbed cells look like controls. The floor every predictor must clear; its r and top-K are undefined, because it moves no gene.'],
  ['perturbation mean', 'The average of the cells of the same condition seen in training. Hard to beat when held-out cells come from conditions seen in training; undefined for a condition never seen.'],
  ['perturbed mean', 'The average of all perturbed cells seen in training, whatever the perturbation: the response shared by every perturbation.'],
  ['additive', 'For a combination A+B: the controls moved by A’s shift plus B’s shift, each measured on the seen single perturbations. The classic bar for combinations never seen.'],
  ['matching mean', 'For a combination A+B: the average of the A cells’ and the B cells’ means.'],
  ['group shift', 'For a held-out cell group: the shift the perturbation causes in the other groups, applied to this group’s controls.'],
  ['linear', 'A linear model of the seen conditions’ mean profiles (gene and perturbation embeddings from principal components); a combination is the sum of its singles’ embeddings, and a single never seen cannot be predicted.'],
  ['ceiling', 'Not a predictor: half of each condition’s held-out cells scored as the prediction of the other half, a rough bound on what the cell count allows. It uses half the cells, so a model can score above it.'],
];

const entries = (list) => el('dl', { class: 'glossary-list' }, list.flatMap(([term, text]) => [el('dt', { text: term }), el('dd', { text })]));

/** Fills the scoreboard's help: how to read it and the glossary. */
export function initGlossary() {
  const box = $('scoreboard-help');
  if (!box) return;
  box.replaceChildren(
    el(
      'details',
      { class: 'howto', 'data-testid': 'scoreboard-howto' },
      el('summary', { text: 'How to read this' }),
      el('ul', {}, HOW_TO_READ.map((t) => el('li', { text: t }))),
    ),
    el(
      'details',
      { class: 'glossary', id: 'glossary', 'data-testid': 'glossary' },
      el('summary', { text: 'Glossary: every metric and baseline' }),
      el('h3', { text: 'Metrics' }),
      entries(METRICS),
      el('h3', { text: 'Baselines' }),
      entries(BASELINES),
    ),
  );
}
