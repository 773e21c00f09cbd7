/**
 * Opens an ONNX file in a real onnxruntime session (CPU, as the embedder would) and checks its inputs and outputs
 * against the manifest: one float32 image input 1x3xHxW named `input.name`, and a float32 output 1xDxhxw named
 * `output.name` with D = `output.dim` where the graph fixes it. Symbolic dimensions are accepted.
 */
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../../core/manifest';

export class ModelMismatchError extends Error {
  override name = 'ModelMismatchError';
}

type Metadata = ort.InferenceSession.ValueMetadata;

/** Throws ModelMismatchError naming the first difference; `label` names the file in messages. */
export async function checkOnnxAgainstManifest(onnxPath: string, manifest: ModelManifest, label = onnxPath): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'] });
  } catch (error) {
    throw new ModelMismatchError(`${label}: onnxruntime cannot open it as a model (${firstLine(error)})`);
  }
  try {
    const problem = inputProblem(session.inputMetadata, manifest) ?? outputProblem(session.outputMetadata, manifest);
    if (problem) throw new ModelMismatchError(`${label} does not match model.json: ${problem}`);
  } finally {
    await session.release();
  }
}

function inputProblem(inputs: readonly Metadata[], manifest: ModelManifest): string | null {
  const names = inputs.map((m) => m.name).join(', ');
  if (inputs.length !== 1) return `the model takes ${inputs.length} inputs (${names}); the studio feeds exactly one image`;
  const [input] = inputs;
  if (input.name !== manifest.input.name) return `input.name is "${manifest.input.name}" but the model's input is "${input.name}"`;
  return tensorProblem('input', input, 3, 'channels');
}

function outputProblem(outputs: readonly Metadata[], manifest: ModelManifest): string | null {
  const output = outputs.find((m) => m.name === manifest.output.name);
  if (!output) return `output.name is "${manifest.output.name}" but the model's outputs are ${outputs.map((m) => `"${m.name}"`).join(', ')}`;
  return tensorProblem('output', output, manifest.output.dim, 'output.dim');
}

/** A float32 tensor of rank 4 whose dimension 1 is `channels` (when the graph fixes it). */
function tensorProblem(role: string, metadata: Metadata, channels: number, what: string): string | null {
  if (!metadata.isTensor) return `${role} "${metadata.name}" is not a tensor`;
  if (metadata.type !== 'float32') return `${role} "${metadata.name}" is ${metadata.type}, not float32`;
  const { shape } = metadata;
  if (shape.length && shape.length !== 4) return `${role} "${metadata.name}" has shape [${shape.join(', ')}], not 1xCxHxW`;
  if (typeof shape[1] === 'number' && shape[1] !== channels) {
    return `${role} "${metadata.name}" has ${shape[1]} channels but ${what} is ${channels}`;
  }
  return null;
}

function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0];
}
