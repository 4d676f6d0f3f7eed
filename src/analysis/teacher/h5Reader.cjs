// The HDF5 reader's worker thread (teacher/keras.ts readH5Tree): reads the whole tree in one pass,
// so nothing of h5wasm crosses back. Plain CommonJS, run as a file: scripts/build.mjs copies it
// beside the engine bundle; from the sources it is read here.
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const fs = require('node:fs');
// The HDF5 library writes its error stack for a damaged file straight to file descriptor 2, past
// the thread's own stderr: keep it here instead, and name its first reason in the one-line error.
let diagnostics = '';
const writeSync = fs.writeSync;
fs.writeSync = function (fd, data, ...rest) {
  if (fd !== 2) return writeSync.call(fs, fd, data, ...rest);
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset + (rest[0] || 0), rest[1] ?? data.byteLength).toString('utf8');
  diagnostics = (diagnostics + text).slice(-20000);
  return typeof data === 'string' ? Buffer.byteLength(data) : (rest[1] ?? data.byteLength);
};
/** "H5Fopen(): unable to synchronously open file" from the first entry of the HDF5 error stack. */
const reason = () => {
  const m = /#000: .* in (\w+\(\)): ([^\n]+)/.exec(diagnostics);
  return m ? `${m[1]}: ${m[2].trim()}` : undefined;
};
(async () => {
  const h5 = await import(pathToFileURL(workerData.module).href);
  await h5.ready;
  const f = new h5.File(workerData.path, 'r');
  let count = 0;
  const attrs = (o) => {
    const out = {};
    for (const [k, a] of Object.entries(o.attrs)) out[k] = a.value;
    return out;
  };
  const walk = (o, depth) => {
    if (++count > 100000) throw new Error('more than 100000 HDF5 objects');
    if (depth > 32) throw new Error('HDF5 groups nested deeper than 32');
    if (o instanceof h5.Dataset) return { attrs: attrs(o), shape: o.shape, dtype: o.dtype, value: o.value };
    if (o instanceof h5.Group) {
      const children = {};
      for (const k of o.keys()) {
        const c = o.get(k);
        if (c) children[k] = walk(c, depth + 1);
      }
      return { attrs: attrs(o), children };
    }
    return { attrs: {} };
  };
  try {
    parentPort.postMessage({ ok: true, tree: walk(f, 0) });
  } finally {
    f.close();
  }
})().catch((e) => {
  const message = String((e && e.message) || e).split('\n')[0];
  const why = reason();
  parentPort.postMessage({ ok: false, message: why ? `${why}; ${message}` : message });
});
