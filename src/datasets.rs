//! Real data that ships with cellshift, so a first run needs no upload.
//!
//! The file lives in `assets/` (gzip-compressed CSV, read like any upload): the page fetches it
//! from the site, the CLI has it built in. Its SHA-256 is that of the compressed bytes, so the
//! page and the CLI name the same data the same way.

use crate::config::Settings;

/// A dataset bundled with the product.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    /// The name in `--dataset` and in links (`#data=kang2018`).
    pub name: &'static str,
    pub title: &'static str,
    /// What it is and where it comes from, for people.
    pub description: &'static str,
    /// The papers to cite when reporting results on it.
    pub citation: &'static str,
    /// The file under `assets/`.
    pub file: &'static str,
    /// The covariate columns to read and the task it is known for, as settings.
    settings: fn() -> Settings,
    /// The file, built into the CLI (the page fetches it instead of carrying it in its wasm).
    #[cfg(feature = "cli")]
    bytes: &'static [u8],
}

impl Bundled {
    /// The settings of the dataset's classic task (data columns and holdout), over the defaults.
    pub fn settings(&self) -> Settings {
        (self.settings)()
    }

    /// The file's bytes (the CLI builds them in; the page fetches `assets/<file>`).
    #[cfg(feature = "cli")]
    pub fn bytes(&self) -> &'static [u8] {
        self.bytes
    }
}

/// Human PBMCs, control or stimulated with interferon-β, with the stimulated CD14+ monocytes
/// held out: the scGen task.
pub const KANG2018: Bundled = Bundled {
    name: "kang2018",
    title: "Kang et al. 2018: PBMCs stimulated with interferon-β",
    description: "1,975 human peripheral blood mononuclear cells × 504 genes (UMI counts): 936 \
        control and 1,039 stimulated with interferon-β, in seven cell types. The classic task \
        (scGen): predict how CD14+ monocytes respond, never having seen them stimulated. Data: \
        GEO GSE96583; the subset scGen uses for validation.",
    citation: "Kang et al., Multiplexed droplet single-cell RNA-sequencing using natural genetic \
        variation, Nature Biotechnology 36, 89–94 (2018); Lotfollahi, Wolf & Theis, scGen \
        predicts single-cell perturbation responses, Nature Methods 16, 715–721 (2019).",
    file: "kang2018_pbmc_ifnb.csv.gz",
    settings: || Settings {
        covariates: vec!["cell_type".into()],
        holdout_group: "cell_type=CD14+Mono".into(),
        ..Settings::default()
    },
    #[cfg(feature = "cli")]
    bytes: include_bytes!("../assets/kang2018_pbmc_ifnb.csv.gz"),
};

/// Every bundled dataset.
pub const ALL: [Bundled; 1] = [KANG2018];

/// The bundled dataset called `name`.
pub fn find(name: &str) -> Option<&'static Bundled> {
    ALL.iter().find(|d| d.name == name)
}
