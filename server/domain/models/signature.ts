// Checks a model's input/output signature against its feature spec before it is stored or served:
// one float input of shape [N, F] with F = the number of declared features, and a float score
// output of shape [N] or [N, 1]. Symbolic (string) or -1 dimensions count as "any".

export interface TensorSignature {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

const isAny = (d: number | string | undefined) => typeof d === "string" || d === -1 || d === undefined;

export function checkSignature(inputs: readonly TensorSignature[], outputs: readonly TensorSignature[], featureCount: number): string[] {
  const problems: string[] = [];
  if (inputs.length !== 1) problems.push(`the model has ${inputs.length} inputs; a ranker takes exactly one [N, ${featureCount}] float input`);
  const input = inputs[0];
  if (input) {
    if (!input.isTensor || input.type !== "float32") problems.push(`input "${input.name}" must be a float32 tensor, not ${input.type ?? "a non-tensor"}`);
    const shape = input.shape ?? [];
    if (shape.length !== 2) problems.push(`input "${input.name}" has shape [${shape.join(", ")}]; expected [N, ${featureCount}]`);
    else if (!isAny(shape[1]) && shape[1] !== featureCount) {
      problems.push(`input "${input.name}" takes ${shape[1]} features but the feature spec declares ${featureCount}`);
    } else if (!isAny(shape[0])) problems.push(`input "${input.name}" has a fixed batch size ${shape[0]}; the first dimension must be dynamic (N)`);
  }
  if (outputs.length < 1) problems.push("the model has no output");
  const output = outputs[0];
  if (output) {
    if (!output.isTensor || output.type !== "float32") problems.push(`output "${output.name}" must be a float32 tensor, not ${output.type ?? "a non-tensor"}`);
    const shape = output.shape ?? [];
    const ok = shape.length === 1 || (shape.length === 2 && (shape[1] === 1 || isAny(shape[1])));
    if (!ok) problems.push(`output "${output.name}" has shape [${shape.join(", ")}]; expected [N] or [N, 1]`);
  }
  return problems;
}
