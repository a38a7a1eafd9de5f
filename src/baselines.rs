//! The honest baselines every model is scored beside. Each predicts a mean shift against the
//! matched control reference, or says why it has no prediction for a condition.

use crate::data::Dataset;
use crate::design::Design;
use crate::matrix::Matrix;

pub const CONTROL_MEAN: &str = "control_mean";
pub const PERTURBATION_MEAN: &str = "perturbation_mean";
pub const PERTURBED_MEAN: &str = "perturbed_mean";
pub const ADDITIVE: &str = "additive";
pub const GROUP_SHIFT: &str = "group_shift";

/// Every baseline, in the order the scoreboard lists them.
pub const ALL: [&str; 5] = [
    CONTROL_MEAN,
    PERTURBATION_MEAN,
    PERTURBED_MEAN,
    ADDITIVE,
    GROUP_SHIFT,
];

/// A baseline's name in a sentence ("the perturbation mean"); other names as they are.
pub fn label(name: &str) -> &str {
    match name {
        CONTROL_MEAN => "the control mean",
        PERTURBATION_MEAN => "the perturbation mean",
        PERTURBED_MEAN => "the perturbed mean",
        ADDITIVE => "the additive baseline",
        GROUP_SHIFT => "the group shift",
        other => other,
    }
}

/// True when `name` is a baseline's (and not a model's).
pub fn is_baseline(name: &str) -> bool {
    ALL.contains(&name)
}

/// Host-side means over the non-test ("seen") cells that the baselines are built from.
pub struct BaselineContext<'a> {
    pub ds: &'a Dataset,
    pub design: &'a Design,
    /// Log-normalised panel values of every cell. [cells, panel]
    pub lognorm: &'a Matrix,
    /// Cells a baseline may learn from (training + validation).
    pub seen: &'a [usize],
    /// Covariate index and held-out level, for the group-shift baseline.
    pub group: Option<(usize, String)>,
}

fn mean_of(m: &Matrix, cells: &[usize]) -> Option<Vec<f64>> {
    if cells.is_empty() {
        return None;
    }
    Some(m.select_rows(cells).col_means())
}

fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

impl BaselineContext<'_> {
    fn seen_where(&self, f: impl Fn(usize) -> bool) -> Vec<usize> {
        self.seen.iter().copied().filter(|&i| f(i)).collect()
    }

    /// Predicted mean shift of `name` for condition `label`, relative to `reference`.
    pub fn shift(&self, name: &str, label: &str, reference: &[f64]) -> Result<Vec<f64>, String> {
        let ds = self.ds;
        match name {
            CONTROL_MEAN => Ok(vec![0.0; reference.len()]),
            PERTURBATION_MEAN => {
                let cells = self.seen_where(|i| ds.conditions[i] == label);
                mean_of(self.lognorm, &cells)
                    .map(|m| sub(&m, reference))
                    .ok_or_else(|| format!("no training cells of `{label}`"))
            }
            PERTURBED_MEAN => {
                let cells = self.seen_where(|i| !ds.is_control(i));
                mean_of(self.lognorm, &cells)
                    .map(|m| sub(&m, reference))
                    .ok_or_else(|| "no perturbed training cells".to_string())
            }
            ADDITIVE => {
                let members = self.design.members(label);
                if members.len() < 2 {
                    return Err(format!("`{label}` is not a combination"));
                }
                let ctrl = mean_of(self.lognorm, &self.seen_where(|i| ds.is_control(i)))
                    .ok_or_else(|| "no training control cells".to_string())?;
                let mut shift = vec![0.0; reference.len()];
                for m in &members {
                    let single =
                        mean_of(self.lognorm, &self.seen_where(|i| ds.conditions[i] == *m))
                            .ok_or_else(|| {
                                format!("no training cells of the single perturbation `{m}`")
                            })?;
                    for ((s, a), c) in shift.iter_mut().zip(&single).zip(&ctrl) {
                        *s += a - c;
                    }
                }
                Ok(shift)
            }
            GROUP_SHIFT => {
                let Some((ci, level)) = &self.group else {
                    return Err("defined only when a covariate group is held out".into());
                };
                let levels: Vec<&String> = {
                    let mut l: Vec<&String> = ds.covariates[*ci].iter().collect();
                    l.sort();
                    l.dedup();
                    l
                };
                // The shift seen in each other group, weighted by its perturbed cells.
                let mut total = vec![0.0; reference.len()];
                let mut weight = 0.0;
                for g in levels.into_iter().filter(|g| *g != level) {
                    let pert = self
                        .seen_where(|i| ds.conditions[i] == label && ds.covariates[*ci][i] == *g);
                    let ctrl = self.seen_where(|i| ds.is_control(i) && ds.covariates[*ci][i] == *g);
                    if let (Some(p), Some(c)) =
                        (mean_of(self.lognorm, &pert), mean_of(self.lognorm, &ctrl))
                    {
                        let w = pert.len() as f64;
                        for ((t, a), b) in total.iter_mut().zip(&p).zip(&c) {
                            *t += w * (a - b);
                        }
                        weight += w;
                    }
                }
                if weight == 0.0 {
                    return Err(format!(
                        "no other group has both `{label}` and control training cells"
                    ));
                }
                Ok(total.into_iter().map(|t| t / weight).collect())
            }
            other => Err(format!("unknown baseline `{other}`")),
        }
    }
}
