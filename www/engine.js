// The engine as the page sees it: its wasm exports on this thread (the settings schema and
// checks, the live curves, the comparison and every chart, which needs the DOM) and the worker
// that owns the training Engine.
// A load request is a promise answered by LOADED or a load ERROR; other messages go to the
// handlers given to `spawnWorker`, and a crashed worker is reported to its `onCrash`. Train all
// starts further workers on the same compiled module (`spawnRunWorker`) and talks to them itself.

import { Msg, Stage } from './protocol.js';
import { logEvent } from './state.js';

const WASM_URL = new URL('../pkg/cellshift_bg.wasm', import.meta.url);
const GLUE_URL = new URL('../pkg/cellshift.js', import.meta.url);

/** Engine exports used on this thread; null until `loadEngine` has run. */
export let wasm = null;
let wasmModule = null;
let worker = null;
let handlers = {};
let onCrash = () => {};
/** `{resolve, reject}` of the worker's READY and of the load in flight. */
let readyWaiter = null;
let pendingLoad = null;
let pendingExport = null;

/** Fetches and compiles the wasm module once, and instantiates it on this thread. */
export async function loadEngine() {
  const response = await fetch(WASM_URL);
  if (!response.ok) throw new Error(`${WASM_URL.pathname} answered ${response.status} ${response.statusText}`);
  wasmModule = await WebAssembly.compileStreaming(response);
  const glue = await import(GLUE_URL.href);
  await glue.default({ module_or_path: wasmModule });
  wasm = glue;
}

/**
 * Starts a worker on the compiled module. `on` maps message types (BACKEND, STARTED, PROGRESS,
 * EVALUATING, RESULTS, ERROR) to handlers; `crashed(message)` is called when the engine is gone.
 * Resolves when the engine is ready.
 */
export function spawnWorker(on, crashed) {
  handlers = on;
  onCrash = crashed;
  const ready = new Promise((resolve, reject) => {
    readyWaiter = { resolve, reject };
  });
  worker = spawnRunWorker(onWorkerMessage, (message) => onCrash(message), { helper: true });
  return ready;
}

/**
 * Starts a worker on the compiled module: the page's own (`spawnWorker`), or one for a run of
 * its own beside it (Train all). Every message from it goes to `onMessage`, and
 * `onCrash(message)` is told when it dies. Its engine is ready when it answers READY. With
 * `helper`, it scores with a helper worker beside it (see HELP in protocol.js).
 */
export function spawnRunWorker(onMessage, onCrash, { helper = false } = {}) {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  w.addEventListener('message', (e) => onMessage(e.data));
  w.addEventListener('error', (e) => {
    e.preventDefault();
    onCrash(e.message || 'the worker stopped unexpectedly');
  });
  w.addEventListener('messageerror', () => onCrash('a message from the worker could not be read'));
  w.postMessage({ type: Msg.INIT, module: wasmModule, helper });
  return w;
}

/** Drops a crashed worker: waiting requests fail with `message`. */
export function abandonWorker(message) {
  pendingLoad?.reject(new Error(`the engine crashed: ${message}`));
  pendingLoad = null;
  readyWaiter?.reject(new Error(message));
  readyWaiter = null;
  worker?.terminate();
}

/** Sends a message that needs no reply. */
export function post(msg) {
  worker.postMessage(msg);
}

/** Asks the worker for the current run's cells as .h5ad; resolves to its bytes. */
export function requestExport() {
  return new Promise((resolve, reject) => {
    pendingExport = { resolve, reject };
    worker.postMessage({ type: Msg.EXPORT_H5AD });
  });
}

/** Sends a load request; resolves to the data summary. */
export function request(msg, transfer = []) {
  return new Promise((resolve, reject) => {
    pendingLoad = { resolve, reject };
    worker.postMessage(msg, transfer);
  });
}

function onWorkerMessage(msg) {
  const detail = { [Msg.PROGRESS]: { epoch: msg.epoch, seconds: msg.seconds }, [Msg.RESULTS]: { memoryBytes: msg.memoryBytes, ateBy: msg.ateBy } };
  logEvent(msg.type, detail[msg.type]);
  switch (msg.type) {
    case Msg.READY:
      readyWaiter?.resolve();
      readyWaiter = null;
      break;
    case Msg.LOADED:
      pendingLoad?.resolve(msg.summary);
      pendingLoad = null;
      break;
    case Msg.EXPORTED:
      if (msg.error) pendingExport?.reject(new Error(msg.error));
      else pendingExport?.resolve(msg.bytes);
      pendingExport = null;
      break;
    case Msg.ERROR:
      onWorkerError(msg);
      break;
    default:
      if (handlers[msg.type]) handlers[msg.type](msg);
      else console.warn('unknown message from the worker', msg);
  }
}

function onWorkerError(msg) {
  if (msg.fatal) {
    onCrash(msg.message);
    return;
  }
  if (msg.stage === Stage.INIT && readyWaiter) {
    readyWaiter.reject(new Error(msg.message));
    readyWaiter = null;
    return;
  }
  if (msg.stage === Stage.LOAD && pendingLoad) {
    pendingLoad.reject(new Error(msg.message));
    pendingLoad = null;
    return;
  }
  handlers[Msg.ERROR](msg);
}
