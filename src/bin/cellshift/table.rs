//! The scoreboard as text for the terminal.

use cellshift::results::{JACCARD_KS, RunResults, ScoreSet};
use cellshift::seeds::SeedSummary;

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.3}"))
}

/// A pooled row of the headline table (`extra` false) or of the second table's metrics.
fn row(name: &str, s: &ScoreSet, extra: bool) -> String {
    let mut line = format!("{name:<20}");
    let cells: Vec<Option<f64>> = if extra {
        s.newer_values()
    } else {
        std::iter::once(s.mean_shift_r)
            .chain(
                JACCARD_KS
                    .iter()
                    .map(|k| s.jaccard.get(&k.to_string()).copied().flatten()),
            )
            .collect()
    };
    for v in cells {
        line += &format!(" {:>7}", fmt(v));
    }
    if !extra {
        line += &format!(" {:>9}", fmt(s.energy_distance));
    }
    if let Some(why) = &s.undefined {
        line += &format!("  ({why})");
    }
    line + "\n"
}

/// The scoreboard as text: the model first, then the baselines, then the noise ceiling, pooled
/// over held-out conditions; the headline metrics, then the newer ones in a second table.
pub(crate) fn scoreboard_table(r: &RunResults) -> String {
    let model = r.model().name();
    let ceiling = cellshift::baselines::CEILING;
    let mut out = format!(
        "\nscoreboard — {} held-out cells in {} condition(s); shifts against matched controls\n",
        r.split.test_cells,
        r.split.test_conditions.len()
    );
    out += &format!(
        "{:<20} {:>7} {:>7} {:>7} {:>7} {:>9}\n",
        "predictor", "r", "J@25", "J@50", "J@100", "energy"
    );
    let mut names: Vec<&String> = r.scores.keys().collect();
    names.sort_by_key(|n| (n.as_str() != model, n.as_str() == ceiling, (*n).clone()));
    for n in &names {
        out += &row(n, &r.scores[*n].pooled, false);
    }
    out += &format!("\n{:<20}", "predictor");
    for h in [
        "MAE", "Sys r", "Sys r20", "DE", "MSE20", "sign20", "discr", "rank", "centr", "E r",
        "score",
    ] {
        out += &format!(" {h:>7}");
    }
    out += "\n";
    for n in &names {
        out += &row(n, &r.scores[*n].pooled, true);
    }
    out += "(pseudobulk MAE; Systema r vs the perturbed mean, all and top-20 genes; DE overlap; \
            top-20 DE MSE, sign; discrimination: VCC L1, PerturBench rank (lower is better), \
            Systema centroid; energy r across conditions; baseline-normalised score)\n";
    if let Some(seeds) = r.seeds() {
        out += &seeds_table(model, seeds);
    }
    if let Some(v) = cellshift::verdict::verdict(r, model) {
        out += &format!("verdict: {}\n", v.sentence);
    }
    for (c, why) in &r.split.unpredictable {
        out += &format!("note: `{c}` cannot be predicted by {model}: {why}\n");
    }
    if let Some(s) = r.scores.get(model) {
        if let Some(iw) = s.iwelbo {
            out += &format!("held-out IWELBO ({model}): {iw:.2} nats per cell\n");
        }
        if let Some(ate) = &s.ate {
            out += &format!(
                "average treatment effect r ({model}, {} conditions): all genes {}, top-20 genes {}\n",
                ate.conditions.len(),
                fmt(ate.r),
                fmt(ate.r_top20)
            );
        }
    }
    if let Some(m) = &r.figures.masks {
        out += &format!(
            "masks: {:.2} active latent dims per perturbation (P > 0.5)",
            m.mean_active
        );
        if let Some(t) = m.true_mean_active {
            out += &format!(", truth {t:.2}");
        }
        if let Some(s) = m.overlap_spearman {
            out += &format!("; pairwise overlap vs truth: Spearman {s:.3}");
        }
        out += "\n";
    }
    out
}

/// The model's seeds: each seed's headline values, then the mean and 95% interval of every
/// metric that has one.
fn seeds_table(model: &str, s: &SeedSummary) -> String {
    const HEAD: [(&str, &str); 6] = [
        ("mean_shift_r", "r"),
        ("jaccard_25", "J@25"),
        ("jaccard_50", "J@50"),
        ("jaccard_100", "J@100"),
        ("energy_distance", "energy"),
        ("normalised_score", "score"),
    ];
    let mut out = format!(
        "\n{model} over {} seeds (same split, split seed {}): the rows above are the means\n{:<20}",
        s.runs.len(),
        s.split_seed,
        "model seed"
    );
    for (_, h) in HEAD {
        out += &format!(" {h:>7}");
    }
    out += "\n";
    for run in &s.runs {
        out += &format!("{:<20}", run.seed);
        for (k, _) in HEAD {
            out += &format!(" {:>7}", fmt(run.values.get(k).copied().flatten()));
        }
        out += "\n";
    }
    out += "95% interval of the mean (Student's t):\n";
    for (k, i) in &s.intervals {
        out += &format!(
            "  {k:<22} {:>9.3} [{:.3}, {:.3}]  (n = {})\n",
            i.mean, i.low, i.high, i.n
        );
    }
    for (k, why) in &s.notes {
        out += &format!("  {k}: {why}\n");
    }
    out
}
