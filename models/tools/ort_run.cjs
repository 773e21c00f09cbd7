#!/usr/bin/env node
/**
 * Run one ONNX model through onnxruntime-node (the runtime the studio uses) on a .npy input.
 *
 *   node models/tools/ort_run.cjs MODEL.onnx INPUT.npy OUTPUT.npy [--threads N] [--repeat K] [--spin 0|1]
 *
 * INPUT.npy: float32 1x3xHxW (C order, little endian). OUTPUT.npy: the model's first output, float32.
 * Prints one JSON line: {"shape": [...], "ms": [wall ms per run], "medianMs", "cpuMs": [process CPU ms per run]}.
 * On a shared, oversubscribed machine wall time mostly measures the neighbours; CPU time with --spin 0 (worker
 * threads sleep instead of spinning) is the honest cost: uncontended 2-thread wall time is about cpuMs / 2.
 * The export scripts call this for the parity check; it is also the CPU timing tool.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// Resolve onnxruntime-node from the repository root, whatever the working directory.
const ort = require(require.resolve('onnxruntime-node', { paths: [path.resolve(__dirname, '..', '..')] }));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: expected little-endian float32, got ${header}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const offset = start + headerLen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + buf.length));
  return { shape, data };
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const value = Number(args[i + 1]);
    args.splice(i, 2);
    return value;
  };
  const threads = option('--threads', 2);
  const repeat = option('--repeat', 1);
  const spin = option('--spin', 1);
  const [modelFile, inputFile, outputFile] = args;
  if (!modelFile || !inputFile) throw new Error('usage: ort_run.cjs MODEL.onnx INPUT.npy [OUTPUT.npy] [--threads N] [--repeat K]');
  const session = await ort.InferenceSession.create(modelFile, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
  });
  const input = readNpy(inputFile);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
  const ms = [], cpuMs = [];
  let result;
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    result = await session.run(feeds);
    const cpu = process.cpuUsage(c0);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpuMs.push((cpu.user + cpu.system) / 1000);
  }
  const output = result[session.outputNames[0]];
  if (outputFile) writeNpy(outputFile, output.dims, output.data);
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(JSON.stringify({ shape: output.dims, ms, medianMs: sorted[Math.floor(sorted.length / 2)], cpuMs }));
}

main().catch((error) => { console.error(error.stack || String(error)); process.exit(1); });
