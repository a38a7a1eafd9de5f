//! The cells of a run worth opening elsewhere: each held-out condition's true cells, the
//! model's predicted cells for it and the control cells they were predicted from, as one
//! table with per-cell annotations (written as `.h5ad` by [`crate::data::write_h5ad`]).

use crate::generate;
use crate::matrix::Matrix;
use crate::model::Likelihood;
use crate::pipeline::{RunError, Session};
use crate::rng::Rng;

/// Cells × panel genes with what each cell is.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportTable {
    pub genes: Vec<String>,
    /// `cell000012` for data rows (as in split files), `predicted-LABEL-k` for model cells.
    pub cell_names: Vec<String>,
    /// Log-normalised panel values (as the metrics see them). [cells, genes]
    pub lognorm: Matrix,
    /// Counts (data) and sampled counts (predictions) when the model is negative binomial.
    pub counts: Option<Matrix>,
    /// Per cell: the condition, the split (`train`, `val`, `test`), the source (`true`,
    /// `predicted`, `control`) and the model (empty for data cells).
    pub obs: Vec<(String, Vec<String>)>,
}

impl Session {
    /// [`Session::export_table`] written as `.h5ad` bytes, with the table's cells and genes.
    pub async fn export_h5ad(&self) -> Result<(Vec<u8>, [usize; 2]), RunError> {
        let t = self.export_table().await?;
        let bytes = crate::data::write_h5ad(
            &t.lognorm,
            t.counts.as_ref(),
            &t.cell_names,
            &t.genes,
            &t.obs,
        )?;
        Ok((bytes, [t.cell_names.len(), t.genes.len()]))
    }

    /// Every held-out condition's true and predicted cells and their matched controls (each
    /// control once). Conditions the model cannot predict contribute their true cells only.
    pub async fn export_table(&self) -> Result<ExportTable, RunError> {
        let plans = self.plans();
        let model = self.trainer.model();
        let name = self.cfg.model().name().to_string();
        let nb = self.likelihood == Likelihood::Nb;
        // The generation stream of scoring, replayed in the same order over the same cells:
        // the exported predictions are exactly the cells the model was scored on.
        let mut rng = Rng::derive(self.cfg.model_seed(), "generation");
        let role = |cell: usize| {
            if self.split.test.contains(&cell) {
                "test"
            } else if self.split.val.contains(&cell) {
                "val"
            } else {
                "train"
            }
        };
        let mut rows: Vec<Vec<f32>> = Vec::new();
        let mut counts: Vec<Vec<f32>> = Vec::new();
        let mut names = Vec::new();
        let (mut condition, mut split, mut source, mut models) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut push_data =
            |cell: usize, src: &str, rows: &mut Vec<Vec<f32>>, counts: &mut Vec<Vec<f32>>| {
                rows.push(self.prep.lognorm.row(cell).to_vec());
                if let Some(c) = &self.prep.counts {
                    counts.push(c.row(cell).to_vec());
                }
                names.push(format!("cell{cell:06}"));
                condition.push(self.ds.conditions[cell].clone());
                split.push(role(cell).to_string());
                source.push(src.to_string());
                models.push(String::new());
            };
        let mut controls: Vec<usize> = plans
            .iter()
            .flat_map(|p| p.sources.iter().copied())
            .collect();
        controls.sort_unstable();
        controls.dedup();
        for &cell in &controls {
            push_data(cell, "control", &mut rows, &mut counts);
        }
        for plan in &plans {
            for &cell in &plan.test {
                push_data(cell, "true", &mut rows, &mut counts);
            }
        }
        let mut predicted_names = Vec::new();
        let mut predicted_labels = Vec::new();
        for plan in &plans {
            if self.unpredictable(&plan.label).is_some() {
                continue;
            }
            let draws = self
                .pool_draws(&model, plan, &mut rng)
                .await?
                .select_rows(&plan.matched);
            let lognorm =
                generate::log_normalized(self.likelihood, draws.clone(), self.trainer.threads());
            for k in 0..draws.rows {
                rows.push(lognorm.row(k).to_vec());
                if self.prep.counts.is_some() {
                    counts.push(if nb {
                        draws.row(k).to_vec()
                    } else {
                        vec![0.0; draws.cols]
                    });
                }
                predicted_names.push(format!("predicted-{}-{k}", plan.label));
                predicted_labels.push(plan.label.clone());
            }
        }
        for (n, label) in predicted_names.into_iter().zip(predicted_labels) {
            names.push(n);
            condition.push(label);
            split.push("test".to_string());
            source.push("predicted".to_string());
            models.push(name.clone());
        }
        let genes = self.prep.panel_names.clone();
        let to_matrix = |rows: Vec<Vec<f32>>| Matrix {
            rows: rows.len(),
            cols: genes.len(),
            data: rows.into_iter().flatten().collect(),
        };
        let counts = (self.prep.counts.is_some() && nb).then(|| to_matrix(counts));
        Ok(ExportTable {
            lognorm: to_matrix(rows),
            counts,
            cell_names: names,
            obs: vec![
                ("condition".into(), condition),
                ("split".into(), split),
                ("source".into(), source),
                ("model".into(), models),
            ],
            genes,
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use crate::config::Settings;
    use crate::pause::NoPause;
    use crate::pipeline::Session;
    use crate::sample::{self, SampleConfig};

    /// The exported predictions are the cells scoring drew, cell for cell, for both likelihoods
    /// (so an outside evaluator scores what cellshift scored).
    #[test]
    fn exported_predictions_are_the_scored_cells() {
        for likelihood in ["nb", "gaussian"] {
            let (ds, _) = sample::generate(&SampleConfig::default()).unwrap();
            let mut s = Settings {
                genes: 40,
                hidden: 16,
                epochs: 1,
                ..Settings::default()
            };
            s.set("likelihood", likelihood).unwrap();
            let device = Device::flex().autodiff();
            let mut session = Session::new(ds, "sample", s.check().unwrap(), &device).unwrap();
            pollster::block_on(session.step()).unwrap();
            let plans = session.plans();
            let pca = session.fit_pca(&plans);
            let scored =
                pollster::block_on(session.predict_conditions(&plans, &pca, true, &NoPause))
                    .unwrap()
                    .model_cells;
            let table = pollster::block_on(session.export_table()).unwrap();
            let source = &table.obs.iter().find(|(k, _)| k == "source").unwrap().1;
            let exported: Vec<&[f32]> = (0..table.lognorm.rows)
                .filter(|&i| source[i] == "predicted")
                .map(|i| table.lognorm.row(i))
                .collect();
            let scored: Vec<&[f32]> = scored
                .iter()
                .flat_map(|m| (0..m.rows).map(move |i| m.row(i)))
                .collect();
            assert!(!scored.is_empty(), "{likelihood}");
            assert_eq!(exported, scored, "{likelihood}");
        }
    }
}
