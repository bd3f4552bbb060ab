// Runs transformers.js' pipelines on the ONNX exports prepare.py writes (models/*) and prints one JSON line per case of
// cases.json: the case, and what transformers.js returned (or the error it threw). TorchBert.Tests reads the committed
// lines (TorchBert.Tests/Fixtures/transformersjs-oracle/results.jsonl) in TransformersJsCrossCheckTests.
//
//   node run.mjs > ../../TorchBert.Tests/Fixtures/transformersjs-oracle/results.jsonl
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { pipeline, env, Tensor } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
env.allowRemoteModels = false;
env.localModelPath = path.join(here, 'models') + '/';

const cases = JSON.parse(readFileSync(path.join(here, 'cases.json'), 'utf8'));
const pipes = new Map();
async function get(task, model) {
    const key = `${task}/${model}`;
    if (!pipes.has(key)) pipes.set(key, await pipeline(task, model, { dtype: 'fp32' }));
    return pipes.get(key);
}

for (const c of cases) {
    const pipe = await get(c.task, c.model);
    let output, error;
    try {
        if (c.task === 'question-answering') output = await pipe(c.question, c.context, c.options ?? {});
        else if (c.task === 'zero-shot-classification') output = await pipe(c.inputs, c.candidate_labels, c.options ?? {});
        else output = await pipe(c.inputs, c.options ?? {});
        if (output instanceof Tensor) {
            // feature-extraction: the (padded) tensor, and each input's real length from transformers.js' own tokenizer
            const mask = pipe.tokenizer(c.inputs, { padding: true, truncation: true }).attention_mask.tolist();
            output = { dims: output.dims, data: Array.from(output.data), lengths: mask.map((r) => r.reduce((a, b) => a + Number(b), 0)) };
        }
    } catch (e) {
        error = String(e.message ?? e);
    }
    process.stdout.write(JSON.stringify({ ...c, ...(error === undefined ? { output } : { error }) }) + '\n');
}
