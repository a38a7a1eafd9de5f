//! Every setting of a run, declared once: its name, type, default, bounds, help, room and the
//! models that read it. The `Settings` struct, its defaults, the table the CLI and the page
//! build their flags and fields from, and the text parser all come from this one list.

use serde::{Deserialize, Serialize};

use super::choices::{Combination, Generation, LikelihoodChoice, ModelName};
use super::error::SettingError;
use super::schema::{Bounds, Room, SettingValue, Spec, Uses};

/// Models that learn masks.
const MASKED: Uses = Uses::Only(&[ModelName::Sams, ModelName::SamsMf, ModelName::SvaePlus]);
/// The SAMS-VAE family.
const FAMILY: Uses = Uses::Only(&[
    ModelName::Sams,
    ModelName::SamsMf,
    ModelName::Cpa,
    ModelName::SvaePlus,
]);
/// Models with an embedding prior N(0, s²).
const EMBEDDED: Uses = Uses::Only(&[ModelName::Sams, ModelName::SamsMf, ModelName::Cpa]);
const SVAE_PLUS: Uses = Uses::Only(&[ModelName::SvaePlus]);

/// Epoch counts (budget, warm-up, patience, unmasked start) stay below this.
pub const MAX_EPOCHS: f64 = 100_000.0;
/// The largest integer a JavaScript number holds exactly: seeds travel through links and JSON.
pub const MAX_SEED: f64 = 9_007_199_254_740_991.0;
/// Replicate runs of one model: enough for a useful interval, few enough to wait for.
pub const MAX_SEEDS: f64 = 20.0;

impl Spec {
    /// What every entry of the table starts from.
    const BASE: Spec = Spec {
        key: "",
        flag: "",
        label: "",
        what: "",
        help: "",
        room: Room::Model,
        kind: super::schema::Kind::Text,
        bounds: Bounds::NONE,
        choices: &[],
        uses: Uses::All,
        advanced: false,
    };
}

macro_rules! settings {
    ($($key:ident: $ty:ty = $default:expr, $room:ident, $flag:literal, $label:literal, $what:literal, $help:literal
        $(, $opt:ident = $val:expr)*;)*) => {
        /// A run's settings as given (by flags, a link or the page's form), before they are
        /// checked. [`Settings::check`] turns them into a [`super::RunConfig`].
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Settings {
            $(#[doc = $help] pub $key: $ty,)*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self { $($key: $default,)* }
            }
        }

        /// The table of every setting, in the order the CLI's help and the page list them.
        // Entries that set every optional field leave nothing for `..Spec::BASE` to fill.
        #[allow(clippy::needless_update)]
        pub static SCHEMA: &[Spec] = &[$(Spec {
            key: stringify!($key),
            flag: $flag,
            label: $label,
            what: $what,
            help: $help,
            room: Room::$room,
            kind: <$ty as SettingValue>::KIND,
            choices: <$ty as SettingValue>::CHOICES,
            $($opt: $val,)*
            ..Spec::BASE
        }),*];

        impl Settings {
            /// Sets one setting from text (a flag's or a link's value).
            pub fn set(&mut self, key: &str, text: &str) -> Result<(), SettingError> {
                match key {
                    $(stringify!($key) => {
                        self.$key = <$ty as SettingValue>::parse(text).map_err(|message| SettingError::Parse {
                            key: stringify!($key),
                            what: $what,
                            message,
                        })?;
                        Ok(())
                    })*
                    other => Err(SettingError::Unknown(other.chars().take(60).collect())),
                }
            }

            /// The value to hold against the setting's bounds, for numeric settings.
            pub fn number(&self, key: &str) -> Option<f64> {
                match key {
                    $(stringify!($key) => SettingValue::number(&self.$key),)*
                    _ => None,
                }
            }
        }
    };
}

settings! {
    condition_column: String = "condition".into(), Data, "condition-column", "Condition column", "the condition column",
        "The column holding each cell's condition: the control label, a perturbation `A` or a combination `A+B`.";
    control_label: String = "control".into(), Data, "control-label", "Control label", "the control label",
        "The condition label of unperturbed control cells.";
    covariates: Vec<String> = Vec::new(), Data, "covariate", "Covariates", "the covariate columns",
        "Categorical columns such as cell_type (repeat the flag, or separate with commas): the model is conditioned on them and predictions start from controls of the same group.";
    layer: String = String::new(), Data, "layer", "Matrix", "the matrix",
        "For .h5ad input, the matrix to read: X, raw/X or a layer such as counts; empty: the first holding integer counts (a counts layer, raw/X, then X).";
    combination: Combination = Combination::Auto, Data, "combination", "Combination separator", "the combination separator",
        "For .h5ad and 10x input, how combination labels join perturbations: +, _, | or none; auto decides from the labels and asks when it cannot.",
        advanced = true;

    genes: usize = 200, Split, "genes", "Panel size", "the panel size",
        "The number of genes modelled: the most variable ones on training cells.",
        bounds = Bounds::closed(2.0, 5000.0);
    holdout_fraction: f64 = 0.2, Split, "holdout-fraction", "Holdout fraction", "the holdout fraction",
        "Hold out this fraction of every perturbed condition's cells (used when no conditions or group are held out).",
        bounds = Bounds::open(0.0, 1.0);
    holdout_conditions: Vec<String> = Vec::new(), Split, "holdout-conditions", "Held-out conditions", "the held-out conditions",
        "Hold out whole conditions (comma-separated, e.g. A+B,C): the model never sees them; a perturbation never seen in training is reported as unpredictable.";
    holdout_group: String = String::new(), Split, "holdout-group", "Held-out group", "the held-out group",
        "Hold out the perturbed cells of one covariate group, as COVARIATE=LEVEL (e.g. cell_type=CD14+Mono); its controls stay in training.";
    val_fraction: f64 = 0.1, Split, "val-fraction", "Validation fraction", "the validation fraction",
        "The fraction of seen cells kept aside for early stopping.",
        bounds = Bounds::closed(0.0, 0.5), advanced = true;
    seed: u64 = 0, Split, "seed", "Seed", "the seed",
        "The whole run — split, initial weights, batches, noise — is a function of the data and this seed (with several seeds, the split stays this seed's).",
        bounds = Bounds::closed(0.0, MAX_SEED);

    model: ModelName = ModelName::Cvae, Model, "model", "Model", "the model",
        "The model to train.";
    likelihood: LikelihoodChoice = LikelihoodChoice::Auto, Model, "likelihood", "Likelihood", "the likelihood",
        "Negative binomial on counts, or Gaussian on standardised log-normalised values; auto picks NB for counts.";
    latent: usize = 10, Model, "latent", "Latent size", "the latent size",
        "Dimensions of the latent space.",
        bounds = Bounds::closed(1.0, 512.0);
    hidden: usize = 128, Model, "hidden", "Hidden size", "the hidden layer size",
        "Units in each hidden layer of the encoder and decoder.",
        bounds = Bounds::closed(1.0, 4096.0);
    mask_prior: f64 = 0.01, Model, "mask-prior", "Mask prior π", "the mask prior probability",
        "Prior probability that a perturbation acts on a given latent dimension: small values ask for sparse masks.",
        bounds = Bounds::open(0.0, 1.0), uses = MASKED;
    particles: usize = 5, Model, "particles", "Particles", "the number of particles",
        "Monte-Carlo samples per cell in the training objective: more is smoother but slower.",
        bounds = Bounds::closed(1.0, 256.0), uses = FAMILY;
    global_lr: f64 = 0.05, Model, "global-lr", "Global learning rate", "the global learning rate",
        "Learning rate of the per-perturbation parameters (masks and effects); the networks use the learning rate.",
        bounds = Bounds::open(0.0, 1.0), uses = FAMILY;
    align_epochs: usize = 100, Model, "align-epochs", "Unmasked epochs", "the number of unmasked epochs",
        "Epochs trained without masks before the latent space is rotated to make the learned effects sparse and the masks start from them (0: masks from the first epoch; a run shorter than twice this starts them halfway).",
        bounds = Bounds::closed(0.0, MAX_EPOCHS), uses = MASKED, advanced = true;
    mask_init_logit: f64 = -1.0, Model, "mask-init-logit", "Initial mask logit", "the initial mask logit",
        "Starting logit of every mask probability when the masks are on from the first epoch (unmasked epochs 0); −1: P ≈ 0.27.",
        bounds = Bounds::closed(-20.0, 20.0), uses = MASKED, advanced = true;
    embedding_prior_scale: f64 = 1.0, Model, "embedding-prior-scale", "Effect prior scale", "the embedding prior scale",
        "Scale s of the N(0, s²) prior on perturbation effects.",
        bounds = Bounds::above(0.0), uses = EMBEDDED, advanced = true;
    temperature: f64 = 1.0, Model, "temperature", "Mask temperature", "the Gumbel-softmax temperature",
        "Temperature of the relaxed (Gumbel-softmax) mask samples.",
        bounds = Bounds::above(0.0), uses = MASKED, advanced = true;
    svae_beta: Option<f64> = None, Model, "svae-beta", "SVAE+ β", "SVAE+'s Beta(1, β) prior β",
        "β of SVAE+'s Beta(1, β) prior on mask probabilities; empty: (1 − π)/π, so the prior mean is π.",
        bounds = Bounds::above(0.0), uses = SVAE_PLUS, advanced = true;

    epochs: usize = 200, Training, "epochs", "Epochs", "the number of epochs",
        "The training budget in passes over the training cells (early stopping may end sooner).",
        bounds = Bounds::closed(1.0, MAX_EPOCHS);
    lr: f64 = 1e-3, Training, "lr", "Learning rate", "the learning rate",
        "Adam's learning rate for the networks.",
        bounds = Bounds::open(0.0, 1.0);
    kl_warmup: usize = 20, Training, "kl-warmup", "KL warm-up", "the KL warm-up",
        "Epochs over which the KL weight rises linearly to β.",
        bounds = Bounds::closed(0.0, MAX_EPOCHS);
    batch_size: usize = 128, Training, "batch-size", "Batch size", "the batch size",
        "Cells per optimisation step.",
        bounds = Bounds::closed(1.0, 65536.0), advanced = true;
    weight_decay: f64 = 1e-6, Training, "weight-decay", "Weight decay", "the weight decay",
        "L2 penalty on the weights (Adam's weight decay).",
        bounds = Bounds::at_least(0.0), advanced = true;
    beta: f64 = 1.0, Training, "beta", "KL weight β", "the KL weight beta",
        "Weight of the KL term after warm-up (1: the ELBO).",
        bounds = Bounds::at_least(0.0), advanced = true;
    grad_clip: f64 = 10.0, Training, "grad-clip", "Gradient clip", "gradient clipping",
        "Maximum gradient norm (0: no clipping).",
        bounds = Bounds::at_least(0.0), advanced = true;
    patience: usize = 30, Training, "patience", "Patience", "the early-stopping patience",
        "Stop after this many epochs past warm-up without a better validation loss (0: never stop early).",
        bounds = Bounds::closed(0.0, MAX_EPOCHS), advanced = true;
    seeds: usize = 1, Training, "seeds", "Seeds", "the number of seeds",
        "Train the model this many times on the same split (model seeds seed, seed+1, …) and report each metric's mean and 95% interval; a model is said to beat a baseline only when its interval excludes the baseline.",
        bounds = Bounds::closed(1.0, MAX_SEEDS);

    generation: Generation = Generation::B, Scoring, "generation", "Generation", "the generation mode",
        "b: encode real control cells and decode them under the perturbation; a: sample the latent state from the prior.",
        advanced = true;
    iwelbo_particles: usize = 100, Scoring, "iwelbo-particles", "IWELBO particles K", "IWELBO particles K",
        "Importance samples per held-out cell in the IWELBO.",
        bounds = Bounds::closed(1.0, 10_000.0), advanced = true;
    ate_samples: usize = 1000, Scoring, "ate-samples", "ATE samples", "the number of ATE samples",
        "Cells generated per condition for the model's average treatment effect.",
        bounds = Bounds::closed(1.0, 100_000.0), advanced = true;
}

/// The table entry of `key`.
pub fn spec(key: &str) -> Option<&'static Spec> {
    SCHEMA.iter().find(|s| s.key == key)
}
