// Messages between the page (engine.js) and the training worker (worker.js).
// Every message is a plain object with a `type` tag from `Msg`; the fields are listed per tag.

export const Msg = Object.freeze({
  // page → worker
  /** `{module}`: a compiled WebAssembly.Module of pkg/cellshift_bg.wasm. Answered by READY. */
  INIT: 'init',
  /** `{seed}`: generate the sample dataset. Answered by LOADED or ERROR (stage `load`). */
  LOAD_SAMPLE: 'load-sample',
  /** `{bytes: ArrayBuffer, name, options}`: parse a CSV / CSV.gz. Answered by LOADED or ERROR. */
  LOAD_CSV: 'load-csv',
  /** `{config, backend}`: choose the backend, start a run and train until done or stopped. */
  TRAIN: 'train',
  /** `{}`: stop after the current epoch and score the model as it is. */
  STOP: 'stop',
  /** `{epochs}`: continue the current run (`epochs` more if its budget is spent). */
  RESUME: 'resume',
  /** `{kind}`: make the next training step fail like a crashed engine (for fault drills). */
  FAULT: 'fault',

  // worker → page
  /** `{defaults}`: the engine is ready; `defaults` is the engine's default run config. */
  READY: 'ready',
  /** `{summary}`: data loaded and current. */
  LOADED: 'loaded',
  /** `{info: {backend, adapter, notice}}`: the device the run uses. */
  BACKEND: 'backend',
  /** `{plan: {train_cells, val_cells, test_cells, genes, epochs}, resumed}`: the loop begins. */
  STARTED: 'started',
  /** `{record, epochs, done, seconds}`: one epoch finished (`epochs`: current budget). */
  PROGRESS: 'progress',
  /** `{reason: 'finished' | 'stopped'}`: the loop ended; the model is being scored. */
  EVALUATING: 'evaluating',
  /** `{results, reason}`: scores of the model as trained so far. */
  RESULTS: 'results',
  /**
   * `{stage, message, fatal, field}`: something failed; `fatal` means the engine cannot be used
   * any more; `field`, when not null, is the run-config path of the setting the engine refused
   * (e.g. `sams.mask_prior`), so the page can show the message beside that control.
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
});
