// The training worker: owns the engine, runs one epoch per step and passes on the engine's
// report of each (epoch, budget, done, training time), so the page never waits on the engine and
// a Stop message is handled between two epochs. The engine keeps the run's state; this keeps none.

import init, { Engine, stop_scoring } from '../pkg/cellshift.js';
import { Msg, Stage } from './protocol.js';

let engine = null;
/** The engine's linear memory: its size after each run is reported with the results. */
let wasmMemory = null;
/** True while the epoch loop runs (and until its results are posted). */
let busy = false;
let stopRequested = false;
/** True while the engine scores a run: a STOP then stops the scoring. */
let scoring = false;
/** The helper's ATE the scoring in progress waits for (`helperAte`), if any. */
let shared = null;
/** Set by a FAULT drill: the next step fails the way a crashed engine does. */
let pendingFault = null;
/** The last panic message the engine printed (its panic hook writes to console.error). */
let lastPanic = null;

/** Epochs between two provisional scores, and the least time between them (ms). */
const PROVISIONAL_EVERY = 5;
const PROVISIONAL_MIN_MS = 2000;
let lastProvisional = -Infinity;

/** The backend of the run in progress (`webgpu` or `cpu`). */
let runBackend = null;
/** The GPU devices the engine asked for (the last is in use); see `watchDevices`. */
let gpuDevice = null;

/**
 * Keeps a handle on every WebGPU device the engine creates, to hear when one is lost: losing
 * the device of a running GPU run ends this worker with a fatal error, and the page goes on on
 * the CPU from the run's last checkpoint. A fault drill destroys the device through it.
 */
function watchDevices() {
  if (typeof GPUAdapter === 'undefined') return;
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    gpuDevice = device;
    device.lost.then((info) => {
      if (device !== gpuDevice || !busy || runBackend !== 'webgpu') return;
      post(Msg.ERROR, { stage: Stage.TRAIN, message: `the WebGPU device was lost (${info.reason ?? 'unknown'}: ${info.message || 'no detail'})`, fatal: true });
    });
    return device;
  };
}
watchDevices();

const consoleError = console.error.bind(console);
console.error = (...args) => {
  const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  if (text.includes('panicked at')) lastPanic = text.split('\n\nStack:')[0].trim();
  consoleError(...args);
};

function post(type, fields = {}) {
  self.postMessage({ type, ...fields });
}

/** Whether an exception means the wasm instance is unusable from now on. */
function isFatal(e) {
  return e instanceof WebAssembly.RuntimeError || lastPanic !== null;
}

function fail(stage, e) {
  const fatal = isFatal(e);
  let message = e instanceof Error ? e.message : String(e);
  if (fatal) {
    message = lastPanic ? `the engine stopped with an internal error: ${lastPanic}` : `the engine crashed (${e?.name ?? 'Error'}: ${message})`;
  }
  // The engine names the setting to blame by its key, when one is (`mask_prior`, `lr`, ...).
  const field = !fatal && typeof e?.field === 'string' ? e.field : null;
  post(Msg.ERROR, { stage, message, fatal, field });
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * The scoring helper (see HELP in protocol.js): a second engine, in a worker of its own, that
 * holds the same data and run and draws the model's ATE, about a third of a scoring, while this
 * engine scores the rest. Only the page's own worker starts one, and only with a core to spare:
 * Train all's workers already fill the cores. Whatever goes wrong with it, this engine computes
 * the ATE itself, and the results are the same either way.
 */
let helper = null;
/** Uploads larger than this are not copied to the helper (it would hold them a second time). */
const HELPER_MAX_BYTES = 64 * 1024 * 1024;

function startHelper(module) {
  // This very script, by its own address (in the published site it carries a content hash,
  // which a reference written in it could not).
  const w = new Worker(self.location.href, { type: 'module' });
  const h = { worker: w, nextId: 0, waiting: new Map(), data: Promise.resolve(false), run: null };
  const drop = () => {
    if (helper !== h) return;
    helper = null;
    w.terminate();
    for (const { resolve } of h.waiting.values()) resolve(null);
    h.waiting.clear();
  };
  w.addEventListener('message', (e) => {
    const msg = e.data;
    if (msg?.type === Msg.ERROR && msg.fatal) drop();
    if (msg?.type !== Msg.HELPED) return;
    const waiter = h.waiting.get(msg.id);
    h.waiting.delete(msg.id);
    waiter?.resolve(msg.error === undefined ? msg.value : null);
  });
  w.addEventListener('error', (e) => {
    e.preventDefault();
    drop();
  });
  w.postMessage({ type: Msg.INIT, module, helper: false });
  return h;
}

/** Sends the helper a request; resolves to its value, or null when it failed or is gone. */
function askHelper(op, fields = {}, transfer = []) {
  const h = helper;
  if (!h) return Promise.resolve(null);
  const id = h.nextId++;
  return new Promise((resolve) => {
    h.waiting.set(id, { resolve });
    h.worker.postMessage({ type: Msg.HELP, id, op, ...fields }, transfer);
  });
}

/**
 * Gives the helper the data this engine just loaded (`load`, the load message); null when the
 * data is too large to hold twice, so that the helper sits this data out.
 */
function helperLoad(load, transfer = []) {
  if (!helper) return;
  helper.run = null;
  helper.data = load ? askHelper('load', { load }, transfer).then((v) => v === true) : Promise.resolve(false);
}

/** Has the helper start the run this engine just started, untrained, on the CPU. */
function helperPrepare(settings, replicate) {
  if (!helper) return;
  const data = helper.data;
  helper.run = data.then((ok) => ok && askHelper('prepare', { settings, replicate }).then((v) => v === true));
}

/**
 * A promise of the helper's ATE for the run as this engine has it now, for `evaluate`; null
 * when the helper cannot draw it (none, no copy of the run, or not a CPU run). `cancel()`
 * resolves it at once to nothing, so that a Stop is not held up by the helper.
 */
async function helperAte() {
  if (!helper?.run || runBackend !== 'cpu') return null;
  const run = helper.run;
  const bytes = await engine.checkpoint();
  const pending = { promise: null, cancel: () => {}, answered: false };
  pending.promise = new Promise((resolve) => {
    pending.cancel = () => resolve(null);
    run
      .then((ok) => (ok ? askHelper('ate', { bytes: bytes.buffer }, [bytes.buffer]) : null))
      .then((value) => {
        pending.answered = value !== null;
        resolve(value);
      }, () => resolve(null));
  });
  return pending;
}

/** The helper's side of HELP: requests run one after another, in the order sent. */
let helpQueue = Promise.resolve();
function handleHelp(msg) {
  helpQueue = helpQueue.then(async () => {
    try {
      self.postMessage({ type: Msg.HELPED, id: msg.id, value: await help(msg) });
    } catch (e) {
      self.postMessage({ type: Msg.HELPED, id: msg.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
}

async function help({ op, load: message, settings, replicate, bytes }) {
  switch (op) {
    case 'load':
      load(message);
      return true;
    case 'prepare':
      await engine.init_backend('cpu');
      engine.start(settings, replicate);
      return true;
    case 'ate':
      engine.restore(new Uint8Array(bytes), 0);
      return await engine.ate();
    default:
      throw new Error(`unknown help \`${op}\``);
  }
}

async function handleInit({ module, helper: wantsHelper = false }) {
  try {
    wasmMemory = (await init({ module_or_path: module })).memory;
    engine = new Engine();
    if (wantsHelper && (navigator.hardwareConcurrency ?? 1) > 1) helper = startHelper(module);
    post(Msg.READY);
  } catch (e) {
    fail(Stage.INIT, e);
  }
}

/**
 * A run's step or scoring failed. On WebGPU that is taken for a failed GPU (a lost device
 * often shows first as a failed readback): the error is fatal, so the page ends this worker
 * and goes on on the CPU from the run's last checkpoint.
 */
function failRun(stage, e) {
  if (runBackend !== 'webgpu' || isFatal(e)) {
    fail(stage, e);
    return;
  }
  const message = e instanceof Error ? e.message : String(e);
  post(Msg.ERROR, { stage, message, fatal: true });
}

function refuseWhileBusy(stage) {
  if (!busy) return false;
  post(Msg.ERROR, { stage, message: 'a run is in progress: stop it before doing this', fatal: false });
  return true;
}

/** Loads what a LOAD_SAMPLE, LOAD_CSV or LOAD_FILES message carries; returns the summary. */
function load(msg) {
  switch (msg.type) {
    case Msg.LOAD_SAMPLE:
      return engine.load_sample(BigInt(msg.seed));
    case Msg.LOAD_CSV:
      return engine.load_csv(new Uint8Array(msg.bytes), msg.name, msg.options);
    default:
      return engine.load_files(msg.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) })), msg.name, msg.options, msg.format);
  }
}

/** LOAD_SAMPLE, LOAD_CSV, LOAD_FILES: loads the data, then gives the helper the same. */
function handleLoad(msg) {
  if (refuseWhileBusy(Stage.LOAD)) return;
  try {
    post(Msg.LOADED, { summary: load(msg) });
    // The engine has copied the bytes: the helper can have them.
    const buffers = msg.type === Msg.LOAD_CSV ? [msg.bytes] : msg.type === Msg.LOAD_FILES ? msg.files.map((f) => f.bytes) : [];
    const size = buffers.reduce((n, b) => n + b.byteLength, 0);
    if (size <= HELPER_MAX_BYTES) helperLoad(msg, buffers);
    else helperLoad(null);
  } catch (e) {
    fail(Stage.LOAD, e);
  }
}

async function handleExportH5ad() {
  if (busy) {
    post(Msg.EXPORTED, { error: 'a run is in progress: wait for its results' });
    return;
  }
  try {
    const bytes = await engine.export_h5ad();
    self.postMessage({ type: Msg.EXPORTED, bytes: bytes.buffer }, [bytes.buffer]);
  } catch (e) {
    post(Msg.EXPORTED, { error: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * Starts a run, seed `replicate` of the settings' `seeds`: `checkpoint` (`{bytes, seconds}`,
 * from a run of the same settings and seed on another backend) makes it go on from there.
 */
async function handleTrain({ settings, backend, checkpoint, replicate = 0 }) {
  if (refuseWhileBusy(Stage.START)) return;
  busy = true;
  stopRequested = false;
  try {
    let info;
    try {
      info = await engine.init_backend(backend);
    } catch (e) {
      fail(Stage.BACKEND, e);
      return;
    }
    post(Msg.BACKEND, { info });
    runBackend = info.backend;
    let plan;
    let restored = null;
    try {
      plan = engine.start(settings, replicate);
      helperPrepare(settings, replicate);
      if (checkpoint) restored = engine.restore(new Uint8Array(checkpoint.bytes), checkpoint.seconds);
    } catch (e) {
      fail(Stage.START, e);
      return;
    }
    // Backend auto with WebGPU at hand: a few steps are timed on each device, and the faster
    // one trains (the engine rebuilds the run on the CPU if that one won).
    if (backend === 'auto' && info.backend === 'webgpu' && !checkpoint) {
      try {
        info = await engine.race_backends();
      } catch (e) {
        fail(Stage.BACKEND, e);
        return;
      }
      post(Msg.BACKEND, { info });
      runBackend = info.backend;
    }
    post(Msg.STARTED, { plan, resumed: false, restored });
    await runLoop();
  } finally {
    busy = false;
  }
}

async function handleResume({ epochs }) {
  if (refuseWhileBusy(Stage.TRAIN)) return;
  busy = true;
  stopRequested = false;
  try {
    let progress;
    try {
      progress = engine.extend(epochs);
    } catch (e) {
      fail(Stage.TRAIN, e);
      return;
    }
    post(Msg.STARTED, { plan: null, resumed: true, progress });
    await runLoop();
  } finally {
    busy = false;
  }
}

async function runLoop() {
  let done;
  /** Why the run ended on a loss that was not finite (the engine rolled it back). */
  let diverged = null;
  try {
    done = engine.progress().done;
    lastProvisional = -Infinity;
    while (!done && !stopRequested) {
      if (pendingFault) {
        const kind = pendingFault;
        pendingFault = null;
        // A step that never comes back: only the page's watchdog ends it.
        if (kind === 'hang') await new Promise(() => {});
        throw new WebAssembly.RuntimeError('unreachable executed (fault drill)');
      }
      const report = await engine.step();
      done = report.done;
      diverged = report.diverged ?? null;
      post(Msg.PROGRESS, report);
      // Every few epochs (and at least a few seconds apart) the model gets a provisional score.
      if (report.record && !report.done && report.epoch % PROVISIONAL_EVERY === 0 && performance.now() - lastProvisional > PROVISIONAL_MIN_MS) {
        lastProvisional = performance.now();
        post(Msg.PROVISIONAL, await engine.provisional());
      }
      // On the GPU, the page keeps the state of the last good epoch: a lost device then costs
      // the epochs since, not the run.
      if (runBackend === 'webgpu' && report.record) {
        const bytes = await engine.checkpoint();
        self.postMessage({ type: Msg.CHECKPOINT, bytes: bytes.buffer, epoch: report.epoch, seconds: report.seconds }, [bytes.buffer]);
      }
      // Let queued messages (Stop) run before the next epoch.
      await nextTask();
    }
  } catch (e) {
    failRun(Stage.TRAIN, e);
    return;
  }
  await score(diverged ? 'diverged' : done ? 'finished' : 'stopped');
}

/**
 * Scores the run. Scoring hands control back between its steps, so a STOP is handled while it
 * runs: the engine stops at its next step and the trained model is kept (SCORING_STOPPED).
 */
async function score(reason) {
  post(Msg.EVALUATING, { reason });
  scoring = true;
  try {
    shared = await helperAte().catch(() => null);
    const results = await engine.evaluate(shared?.promise);
    const ateBy = shared?.answered ? 'helper' : 'engine';
    post(Msg.RESULTS, { results, reason, memoryBytes: wasmMemory?.buffer.byteLength ?? null, ateBy });
  } catch (e) {
    if (e?.stopped === true) post(Msg.SCORING_STOPPED, {});
    else failRun(Stage.EVALUATE, e);
  } finally {
    scoring = false;
    shared = null;
  }
}

/** Scores the current run again (SCORE), after its scoring was stopped. */
async function handleScore() {
  if (refuseWhileBusy(Stage.EVALUATE)) return;
  busy = true;
  try {
    await score('finished');
  } finally {
    busy = false;
  }
}

/**
 * Scores the baselines for `settings` (PREVIEW). Messages already queued (a Train click) go
 * first, so a preview never delays the start of a run; during a run it fits between two epochs.
 */
async function handlePreview({ id, settings }) {
  await nextTask();
  const t0 = performance.now();
  try {
    const results = await engine.preview(settings);
    post(Msg.PREVIEWED, { id, results, ms: performance.now() - t0 });
  } catch (e) {
    if (isFatal(e)) {
      fail(Stage.PREVIEW, e);
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    // The engine's borrow is its busy flag: a step in flight refuses other calls.
    if (/engine is busy/.test(message)) post(Msg.PREVIEWED, { id, skipped: message });
    else post(Msg.PREVIEWED, { id, error: message, field: typeof e?.field === 'string' ? e.field : null });
  }
}

const handlers = {
  [Msg.INIT]: handleInit,
  [Msg.LOAD_SAMPLE]: handleLoad,
  [Msg.LOAD_CSV]: handleLoad,
  [Msg.LOAD_FILES]: handleLoad,
  [Msg.EXPORT_H5AD]: handleExportH5ad,
  [Msg.TRAIN]: handleTrain,
  [Msg.RESUME]: handleResume,
  [Msg.PREVIEW]: handlePreview,
  [Msg.HELP]: handleHelp,
  [Msg.SCORE]: handleScore,
  [Msg.STOP]: () => {
    stopRequested = true;
    if (scoring) {
      stop_scoring();
      shared?.cancel();
    }
  },
  [Msg.FAULT]: ({ kind }) => {
    // The drill of a lost GPU: destroy the device the engine uses, as a driver reset would.
    if (kind === 'device-lost') gpuDevice?.destroy();
    else pendingFault = kind ?? 'crash';
  },
};

self.addEventListener('message', (event) => {
  const msg = event.data;
  const handler = msg && handlers[msg.type];
  if (!handler) {
    post(Msg.ERROR, { stage: Stage.INIT, message: `unknown message type \`${msg?.type}\``, fatal: false });
    return;
  }
  if (msg.type !== Msg.INIT && !engine) {
    post(Msg.ERROR, { stage: Stage.INIT, message: 'the engine is not ready yet', fatal: false });
    return;
  }
  Promise.resolve(handler(msg)).catch((e) => fail(Stage.TRAIN, e));
});

self.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  fail(Stage.TRAIN, event.reason);
});
