// The training worker: owns the engine, runs one epoch per step and passes on the engine's
// report of each (epoch, budget, done, training time), so the page never waits on the engine and
// a Stop message is handled between two epochs. The engine keeps the run's state; this keeps none.

import init, { Engine } from '../pkg/cellshift.js';
import { Msg, Stage } from './protocol.js';

let engine = null;
/** True while the epoch loop runs (and until its results are posted). */
let busy = false;
let stopRequested = false;
/** Set by a FAULT drill: the next step fails the way a crashed engine does. */
let pendingFault = null;
/** The last panic message the engine printed (its panic hook writes to console.error). */
let lastPanic = null;

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

async function handleInit({ module }) {
  try {
    await init({ module_or_path: module });
    engine = new Engine();
    post(Msg.READY);
  } catch (e) {
    fail(Stage.INIT, e);
  }
}

function refuseWhileBusy(stage) {
  if (!busy) return false;
  post(Msg.ERROR, { stage, message: 'a run is in progress: stop it before doing this', fatal: false });
  return true;
}

function handleLoadSample({ seed }) {
  if (refuseWhileBusy(Stage.LOAD)) return;
  try {
    post(Msg.LOADED, { summary: engine.load_sample(BigInt(seed)) });
  } catch (e) {
    fail(Stage.LOAD, e);
  }
}

function handleLoadCsv({ bytes, name, options }) {
  if (refuseWhileBusy(Stage.LOAD)) return;
  try {
    post(Msg.LOADED, { summary: engine.load_csv(new Uint8Array(bytes), name, options) });
  } catch (e) {
    fail(Stage.LOAD, e);
  }
}

function handleLoadFiles({ files, name, options, format }) {
  if (refuseWhileBusy(Stage.LOAD)) return;
  try {
    const list = files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) }));
    post(Msg.LOADED, { summary: engine.load_files(list, name, options, format) });
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

async function handleTrain({ settings, backend }) {
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
    let plan;
    try {
      plan = engine.start(settings);
    } catch (e) {
      fail(Stage.START, e);
      return;
    }
    post(Msg.STARTED, { plan, resumed: false });
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
    while (!done && !stopRequested) {
      if (pendingFault) {
        pendingFault = null;
        throw new WebAssembly.RuntimeError('unreachable executed (fault drill)');
      }
      const report = await engine.step();
      done = report.done;
      diverged = report.diverged ?? null;
      post(Msg.PROGRESS, report);
      // Let queued messages (Stop) run before the next epoch.
      await nextTask();
    }
  } catch (e) {
    fail(Stage.TRAIN, e);
    return;
  }
  const reason = diverged ? 'diverged' : done ? 'finished' : 'stopped';
  post(Msg.EVALUATING, { reason });
  try {
    const results = await engine.evaluate();
    post(Msg.RESULTS, { results, reason });
  } catch (e) {
    fail(Stage.EVALUATE, e);
  }
}

const handlers = {
  [Msg.INIT]: handleInit,
  [Msg.LOAD_SAMPLE]: handleLoadSample,
  [Msg.LOAD_CSV]: handleLoadCsv,
  [Msg.LOAD_FILES]: handleLoadFiles,
  [Msg.EXPORT_H5AD]: handleExportH5ad,
  [Msg.TRAIN]: handleTrain,
  [Msg.RESUME]: handleResume,
  [Msg.STOP]: () => {
    stopRequested = true;
  },
  [Msg.FAULT]: ({ kind }) => {
    pendingFault = kind ?? 'crash';
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
