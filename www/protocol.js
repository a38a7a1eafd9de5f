// Messages between the page (engine.js) and the training worker (worker.js).
// Every message is a plain object with a `type` tag from `Msg`; the fields are listed per tag.

export const Msg = Object.freeze({
  // page → worker
  /**
   * `{module, helper}`: a compiled WebAssembly.Module of pkg/cellshift_bg.wasm. Answered by
   * READY. With `helper` true (the page's own worker, on a machine of several cores), the
   * worker starts a scoring helper (see HELP).
   */
  INIT: 'init',
  /** `{seed}`: generate the sample dataset. Answered by LOADED or ERROR (stage `load`). */
  LOAD_SAMPLE: 'load-sample',
  /** `{bytes: ArrayBuffer, name, options}`: parse a CSV / CSV.gz. Answered by LOADED or ERROR. */
  LOAD_CSV: 'load-csv',
  /**
   * `{files: [{name, bytes: ArrayBuffer}], name, options, format: {layer, combination, genes}}`:
   * one CSV or .h5ad, or a 10x folder's files (or its .tar.gz) with a metadata table, told apart
   * by their bytes. Answered by LOADED or ERROR (stage `load`).
   */
  LOAD_FILES: 'load-files',
  /** `{}`: the current run's held-out, predicted and control cells as .h5ad. Answered by EXPORTED. */
  EXPORT_H5AD: 'export-h5ad',
  /**
   * `{settings, backend}`: choose the backend (`auto`, `webgpu` or `cpu`), start a run with the
   * flat settings object (every key of the settings schema) and train until done or stopped.
   * With `checkpoint` (`{bytes, seconds}` of a CHECKPOINT), go on from there. `replicate`: which
   * of the settings' `seeds` to train (0 when absent); the page runs the seeds one after another
   * and combines their RESULTS (`combine_seeds`).
   */
  TRAIN: 'train',
  /** `{}`: stop after the current epoch and score the model as it is. */
  STOP: 'stop',
  /** `{epochs}`: continue the current run; the engine adds `epochs` to a spent budget. */
  RESUME: 'resume',
  /** `{kind}`: make the next training step fail like a crashed engine (for fault drills). */
  FAULT: 'fault',
  /** `{}`: score the current run again (after its scoring was stopped). */
  SCORE: 'score',
  /**
   * `{id, settings}`: score the baselines on the split these settings make, on the current data,
   * without training. Answered by PREVIEWED. Handled between two epochs when a run is going on.
   */
  PREVIEW: 'preview',

  // worker → its scoring helper: a second worker.js, started by the page's worker, that holds
  // the same data and run and draws the model's ATE while the worker scores the rest, so that
  // scoring uses two cores. Requests run in the order sent.
  /**
   * `{id, op, ...}`: `op` is `load` (`{load}`: the LOAD_SAMPLE, LOAD_CSV or LOAD_FILES message
   * the worker loaded), `prepare` (`{settings, replicate}`: start the same run on the CPU,
   * untrained) or `ate` (`{bytes}`: restore the run's checkpoint and draw its ATE). Answered
   * by HELPED.
   */
  HELP: 'help',
  /** `{id, value}`, or `{id, error}` when the request failed. */
  HELPED: 'helped',

  // worker → page
  /** `{}`: the engine is ready. */
  READY: 'ready',
  /** `{summary}`: data loaded and current. */
  LOADED: 'loaded',
  /** `{bytes: ArrayBuffer}` of predictions.h5ad, or `{error}`. */
  EXPORTED: 'exported',
  /**
   * `{info: {backend, adapter, notice, detail, race}}`: the device the run uses; `notice` says in
   * words why it is not the one asked for, `detail` is the graphics stack's own message (or null).
   * With backend `auto` and WebGPU at hand, a second BACKEND follows once a few training steps
   * were timed on each device: `race` is `{webgpu_ms, cpu_ms, steps}` and `backend` the faster.
   */
  BACKEND: 'backend',
  /**
   * The loop begins: a new run is `{plan: {train_cells, val_cells, test_cells, genes, epochs,
   * notes, replicate, model_seed, seeds}, resumed: false}` (`notes`: what the run does differently from its settings); a
   * resumed one is `{plan: null, resumed: true, progress: {epoch, budget, done, seconds}}`.
   */
  STARTED: 'started',
  /**
   * `{record, diverged, epoch, budget, done, seconds}`: one epoch finished, as the engine reports
   * it (`budget`: the epochs allowed; `seconds`: training time of the run so far). When the loss
   * was not finite, `record` is null, `diverged` says where, and the run is done.
   */
  PROGRESS: 'progress',
  /** `{reason: 'finished' | 'stopped' | 'diverged'}`: the loop ended; the model is being scored. */
  EVALUATING: 'evaluating',
  /**
   * `{results, reason, memoryBytes, ateBy}`: scores of the model as trained so far, the size of
   * the engine's memory after the run, and who drew the model's ATE (`helper` or `engine`).
   */
  RESULTS: 'results',
  /**
   * `{epoch, mean_shift_r, conditions, cells}`: the model's provisional mean-shift r on a fixed
   * subsample of the held-out conditions' controls, taken every few epochs while it trains.
   */
  PROVISIONAL: 'provisional',
  /**
   * `{bytes, epoch, seconds}`: the training state after an epoch of a WebGPU run (an
   * ArrayBuffer): TRAIN with it as `checkpoint` goes on from there on another backend.
   */
  CHECKPOINT: 'checkpoint',
  /** `{}`: scoring was stopped (STOP while scoring); the trained model is kept for SCORE. */
  SCORING_STOPPED: 'scoring-stopped',
  /**
   * `{id, results, ms}`: the baselines of a PREVIEW (`results` has no model row; `ms`: how long
   * scoring took), or `{id, error, field}` when the settings were refused, or `{id, skipped}`
   * when the engine was busy with a training step (ask again later).
   */
  PREVIEWED: 'previewed',
  /**
   * `{stage, message, fatal, field}`: something failed; `fatal` means the engine cannot be used
   * any more; `field`, when not null, is the key of the setting the engine refused (e.g.
   * `mask_prior`, `holdout_conditions`), so the page can show the message beside its control.
   */
  ERROR: 'error',
});

/** Where an ERROR came from. */
export const Stage = Object.freeze({
  INIT: 'init',
  LOAD: 'load',
  BACKEND: 'backend',
  START: 'start',
  TRAIN: 'train',
  EVALUATE: 'evaluate',
  PREVIEW: 'preview',
});
