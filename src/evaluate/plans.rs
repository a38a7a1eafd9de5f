//! Which held-out conditions are scored, against which seen controls, and which of them the
//! model can predict at all.

use std::collections::BTreeMap;

use super::weighted_mean;
use crate::design::Conditioning;
use crate::pipeline::Session;
use crate::rng::Rng;

/// A held-out condition and the control cells its shift is measured against.
#[derive(Debug, Clone)]
pub struct ConditionPlan {
    pub label: String,
    pub test: Vec<usize>,
    /// One matched seen control cell per test cell (same covariate group where there is one).
    pub sources: Vec<usize>,
    /// Every seen control cell of the groups involved, and its weight in the reference
    /// (weights sum to 1), so `reference = Σ weight · lognorm[pool]`.
    pub pool: Vec<usize>,
    pub weights: Vec<f64>,
    /// Position in `pool` of each source.
    pub matched: Vec<usize>,
    /// Mean of the matched groups' seen controls, weighted by the test cells' group make-up. [panel]
    pub reference: Vec<f64>,
}

impl Session {
    /// Per held-out condition: its test cells, matched control sources and reference mean.
    pub fn plans(&self) -> Vec<ConditionPlan> {
        let ds = &self.ds;
        let seen = self.seen();
        let key = |i: usize| -> Vec<&str> { ds.covariates.iter().map(|c| c[i].as_str()).collect() };
        let controls: Vec<usize> = seen.iter().copied().filter(|&i| ds.is_control(i)).collect();
        let mut pools: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
        for &i in &controls {
            pools.entry(key(i)).or_default().push(i);
        }
        let mut rng = Rng::derive(self.cfg.seed(), "matching");
        for pool in pools.values_mut() {
            rng.shuffle(pool);
        }
        let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &self.split.test {
            if !ds.is_control(i) {
                by_label
                    .entry(ds.conditions[i].as_str())
                    .or_default()
                    .push(i);
            }
        }
        let mut plans = Vec::new();
        // One cursor per group across all conditions, so conditions draw different controls.
        let mut cursor: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
        for (label, test) in by_label {
            let mut group_sizes: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
            let mut sources = Vec::with_capacity(test.len());
            for &i in &test {
                // A group with no seen controls falls back to all seen controls.
                let k = if pools.contains_key(&key(i)) {
                    key(i)
                } else {
                    Vec::new()
                };
                let pool = pools.get(&k).unwrap_or(&controls);
                let c = cursor.entry(k.clone()).or_insert(0);
                sources.push(pool[*c % pool.len()]);
                *c += 1;
                *group_sizes.entry(k).or_insert(0) += 1;
            }
            let mut pool_all = Vec::new();
            let mut weights = Vec::new();
            for (k, n) in &group_sizes {
                let pool = pools.get(k).unwrap_or(&controls);
                let w = *n as f64 / test.len() as f64 / pool.len() as f64;
                pool_all.extend_from_slice(pool);
                weights.extend(std::iter::repeat_n(w, pool.len()));
            }
            let reference = weighted_mean(&self.prep.lognorm.select_rows(&pool_all), &weights);
            let matched = sources
                .iter()
                .map(|s| pool_all.iter().position(|p| p == s).unwrap_or(0))
                .collect();
            plans.push(ConditionPlan {
                label: label.to_string(),
                test,
                sources,
                pool: pool_all,
                weights,
                matched,
                reference,
            });
        }
        plans
    }

    /// Why the model cannot predict `label`, if it cannot.
    pub fn unpredictable(&self, label: &str) -> Option<String> {
        if let Conditioning::OneHot(labels) = &self.conditioning
            && !labels.iter().any(|l| l == label)
        {
            return Some(format!(
                "{} conditions on whole condition labels (one-hot) and `{label}` was never seen in training: it cannot compose single perturbations",
                self.cfg.model()
            ));
        }
        let missing: Vec<String> = self
            .design
            .members(label)
            .into_iter()
            .filter(|m| !self.trained.contains(m))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "perturbation {} never seen in training",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// Held-out perturbed cells the model can score (their condition is predictable).
    pub fn scorable_test_cells(&self) -> Vec<usize> {
        self.split
            .test
            .iter()
            .copied()
            .filter(|&i| {
                !self.ds.is_control(i) && self.unpredictable(&self.ds.conditions[i]).is_none()
            })
            .collect()
    }
}
