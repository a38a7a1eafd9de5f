//! The honest baselines every model is scored beside. Each predicts a mean shift against the
//! matched control reference, or says why it has no prediction for a condition. The noise
//! ceiling is listed with them (it does not depend on the model either) but is not a
//! baseline a model is measured against.

use std::collections::BTreeMap;

use crate::data::Dataset;
use crate::design::Design;
use crate::matrix::Matrix;
use crate::metrics::LinearFit;

pub const CONTROL_MEAN: &str = "control_mean";
pub const PERTURBATION_MEAN: &str = "perturbation_mean";
pub const PERTURBED_MEAN: &str = "perturbed_mean";
pub const ADDITIVE: &str = "additive";
pub const GROUP_SHIFT: &str = "group_shift";
pub const LINEAR: &str = "linear";
pub const MATCHING_MEAN: &str = "matching_mean";
/// Half of each held-out condition's cells predicting the other half: the noise ceiling.
pub const CEILING: &str = "ceiling";

/// Principal components of the linear baseline's embeddings (Ahlmann-Eltze et al.).
pub const LINEAR_COMPONENTS: usize = 10;
/// Ridge penalty of the linear baseline on both sides (Ahlmann-Eltze et al.).
pub const LINEAR_RIDGE: f64 = 0.1;

/// Every baseline in the order the scoreboard lists them, then the noise ceiling: every row
/// that does not depend on the model.
pub const ALL: [&str; 8] = [
    CONTROL_MEAN,
    PERTURBATION_MEAN,
    PERTURBED_MEAN,
    ADDITIVE,
    GROUP_SHIFT,
    LINEAR,
    MATCHING_MEAN,
    CEILING,
];

/// A baseline's name in a sentence ("the perturbation mean"); other names as they are.
pub fn label(name: &str) -> &str {
    match name {
        CONTROL_MEAN => "the control mean",
        PERTURBATION_MEAN => "the perturbation mean",
        PERTURBED_MEAN => "the perturbed mean",
        ADDITIVE => "the additive baseline",
        GROUP_SHIFT => "the group shift",
        LINEAR => "the linear model",
        MATCHING_MEAN => "the matching mean",
        CEILING => "the noise ceiling",
        other => other,
    }
}

/// True when `name` is a baseline's or the noise ceiling's (a row that does not depend on the
/// model, scored once per split), and not a model's.
pub fn is_baseline(name: &str) -> bool {
    ALL.contains(&name)
}

/// True when `name` is a baseline a model is measured against: a baseline, but not the
/// noise ceiling.
pub fn counts_as_baseline(name: &str) -> bool {
    is_baseline(name) && name != CEILING
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
    /// The linear baseline, fitted once on the seen cells (or why it cannot be).
    linear: Result<LinearBaseline, String>,
}

/// The linear model of Ahlmann-Eltze, Huber & Anders (Nature Methods 2025) fitted on the
/// pseudobulk (mean log-normalised profile) of every seen condition, the control included,
/// with [`LINEAR_COMPONENTS`] principal components and ridge penalty [`LINEAR_RIDGE`] (see
/// [`LinearFit::fit`]). Its predicted profile for a condition is the seen controls' mean plus
/// the predicted change. Embeddings: a condition with seen cells has its own (the projection
/// of its training shift on the top principal axes); an unseen combination the sum of its
/// singles' (their shifts add in the model as in the additive baseline); an unseen single
/// perturbation has none, so the model cannot predict it (the reference embeds an unseen gene
/// knockout by the knocked-out gene's own principal component scores, which needs the
/// perturbation to be a gene of the panel — condition labels here are not).
struct LinearBaseline {
    labels: Vec<String>,
    fit: LinearFit,
    control: Vec<f64>,
}

impl LinearBaseline {
    fn new(ctx: &BaselineContext) -> Result<Self, String> {
        let ds = ctx.ds;
        let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in ctx.seen {
            by_label
                .entry(ds.conditions[i].as_str())
                .or_default()
                .push(i);
        }
        if !by_label.contains_key(ds.control_label.as_str()) {
            return Err("no training control cells".into());
        }
        if by_label.len() < 2 {
            return Err("no perturbed training cells".into());
        }
        let labels: Vec<String> = by_label.keys().map(|l| l.to_string()).collect();
        let profiles: Vec<Vec<f64>> = by_label
            .values()
            .map(|cells| ctx.lognorm.select_rows(cells).col_means())
            .collect();
        let control = labels
            .iter()
            .position(|l| *l == ds.control_label)
            .unwrap_or(0);
        Ok(LinearBaseline {
            fit: LinearFit::fit(&profiles, control, LINEAR_COMPONENTS, LINEAR_RIDGE),
            control: profiles[control].clone(),
            labels,
        })
    }

    /// The predicted mean profile of `label`, or why there is none.
    fn profile(&self, design: &Design, label: &str) -> Result<Vec<f64>, String> {
        let find = |l: &str| self.labels.iter().position(|x| x == l);
        let emb = match find(label) {
            Some(i) => self.fit.embedding(i).to_vec(),
            None => {
                let members = design.members(label);
                if members.len() < 2 {
                    return Err(format!(
                        "perturbation `{label}` never seen in training: the linear model embeds a perturbation by its training pseudobulk"
                    ));
                }
                let mut emb = vec![0.0; self.fit.embedding(0).len()];
                for m in &members {
                    let i = find(m).ok_or_else(|| {
                        format!(
                            "perturbation `{m}` never seen in training: the linear model embeds a combination as the sum of its singles' embeddings"
                        )
                    })?;
                    for (e, v) in emb.iter_mut().zip(self.fit.embedding(i)) {
                        *e += v;
                    }
                }
                emb
            }
        };
        Ok(self
            .fit
            .change(&emb)
            .iter()
            .zip(&self.control)
            .map(|(d, c)| c + d)
            .collect())
    }
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

impl<'a> BaselineContext<'a> {
    /// The context for these seen cells; fits the linear baseline once.
    pub fn new(
        ds: &'a Dataset,
        design: &'a Design,
        lognorm: &'a Matrix,
        seen: &'a [usize],
        group: Option<(usize, String)>,
    ) -> Self {
        let mut ctx = BaselineContext {
            ds,
            design,
            lognorm,
            seen,
            group,
            linear: Err(String::new()),
        };
        ctx.linear = LinearBaseline::new(&ctx);
        ctx
    }

    /// The mean profile of every seen perturbed cell (Systema's perturbed centroid).
    pub fn perturbed_centroid(&self) -> Option<Vec<f64>> {
        mean_of(self.lognorm, &self.seen_where(|i| !self.ds.is_control(i)))
    }

    fn seen_where(&self, f: impl Fn(usize) -> bool) -> Vec<usize> {
        self.seen.iter().copied().filter(|&i| f(i)).collect()
    }

    /// The single perturbations of a combination label (an error for a single).
    fn combination_members(&self, label: &str) -> Result<Vec<String>, String> {
        let members = self.design.members(label);
        if members.len() < 2 {
            return Err(format!("`{label}` is not a combination"));
        }
        Ok(members)
    }

    /// Mean profile of the seen cells of single perturbation `m`.
    fn single_mean(&self, m: &str) -> Result<Vec<f64>, String> {
        mean_of(
            self.lognorm,
            &self.seen_where(|i| self.ds.conditions[i] == m),
        )
        .ok_or_else(|| format!("no training cells of the single perturbation `{m}`"))
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
                let members = self.combination_members(label)?;
                let ctrl = mean_of(self.lognorm, &self.seen_where(|i| ds.is_control(i)))
                    .ok_or_else(|| "no training control cells".to_string())?;
                let mut shift = vec![0.0; reference.len()];
                for m in &members {
                    let single = self.single_mean(m)?;
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
            LINEAR => {
                let model = self.linear.as_ref().map_err(Clone::clone)?;
                model
                    .profile(self.design, label)
                    .map(|p| sub(&p, reference))
            }
            MATCHING_MEAN => {
                // Systema's matching mean: ½(μA + μB) of the seen singles' mean profiles (the
                // mean of the members' means for a combination of more than two).
                let members = self.combination_members(label)?;
                let mut total = vec![0.0; reference.len()];
                for m in &members {
                    let single = self.single_mean(m)?;
                    for (t, v) in total.iter_mut().zip(&single) {
                        *t += v / members.len() as f64;
                    }
                }
                Ok(sub(&total, reference))
            }
            other => Err(format!("unknown baseline `{other}`")),
        }
    }
}
