// llama.cpp's speed on a GGUF file, through node-llama-cpp's prebuilt CPU binaries (nothing is
// downloaded or compiled: getLlama({build: "never"})). Prints one JSON object:
//   prefill_tokens_per_s   one --prefill-tokens prompt, one sequence
//   decode_tokens_per_s    {N: tokens/s}: N sequences of one context, each prefilled with
//                          --prompt-tokens ids, then --decode-steps greedy steps, batched (the
//                          way llama-server decodes its parallel slots)
//   agreement              with --reference FILE (lmeye export-gguf --greedy-reference): the
//                          greedy tokens on the same prompt, and how many match ours
// Each timing is the median of --repeats runs after one warm-up.
//
// Usage: node llama_cpp_bench.mjs --model FILE.gguf [--threads 2] [--prefill-tokens 512]
//          [--prompt-tokens 64] [--decode-steps 32] [--batch-sizes 1,8,32] [--repeats 1]
//          [--reference FILE.json] [--node-modules DIR]
import {readFileSync} from "node:fs";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

function parseArgs(argv) {
  const args = {threads: 2, prefillTokens: 512, promptTokens: 64, decodeSteps: 32,
                batchSizes: [1, 8, 32], repeats: 1, reference: "", nodeModules: ""};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const camel = flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(camel in args) && camel !== "model") throw new Error(`unknown flag ${flag}`);
    if (camel === "batchSizes") args.batchSizes = value.split(",").map(Number);
    else if (typeof args[camel] === "number") args[camel] = Number(value);
    else args[camel] = value;
  }
  if (!args.model) throw new Error("--model FILE.gguf is required");
  return args;
}

const args = parseArgs(process.argv.slice(2));
// node-llama-cpp lives in a cache folder outside the checkout (bench_peers.sh installs it).
const moduleDir = args.nodeModules || process.env.LMEYE_PEERS_NODE_MODULES;
const {getLlama} = await import(moduleDir
    ? pathToFileURL(join(moduleDir, "node-llama-cpp", "dist", "index.js")).href
    : "node-llama-cpp");

const llama = await getLlama({build: "never", gpu: false, maxThreads: args.threads,
                              logLevel: "error"});
const model = await llama.loadModel({modelPath: args.model, gpuLayers: 0});
const nVocab = Math.min(32000, Number(model.fileInfo?.metadata?.llama?.vocab_size ?? 32000));

// Deterministic prompt ids inside the SentencePiece pieces (past the control and byte pieces).
function promptIds(n, seed) {
  let x = BigInt(seed) * 6364136223846793005n + 1442695040888963407n;
  const ids = [1];
  while (ids.length < n) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    ids.push(259 + Number((x >> 33n) % BigInt(nVocab - 259)));
  }
  return ids;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const out = {stack: "llama.cpp", binding: "node-llama-cpp", threads: args.threads,
             system_info: llama.systemInfo, decode_tokens_per_s: {}};

// Prefill.
{
  const context = await model.createContext({contextSize: args.prefillTokens + 64,
                                             batchSize: args.prefillTokens, sequences: 1,
                                             threads: args.threads, flashAttention: true});
  out.flash_attention = context.flashAttention;
  const seq = context.getSequence();
  const ids = promptIds(args.prefillTokens, 1);
  const times = [];
  for (let r = 0; r <= args.repeats; ++r) {
    await seq.clearHistory();
    const s = await timed(() => seq.evaluateWithoutGeneratingNewTokens(ids));
    if (r > 0) times.push(s);  // run 0 warms up
  }
  out.prefill_tokens = args.prefillTokens;
  out.prefill_tokens_per_s = args.prefillTokens / median(times);
  await context.dispose();
}

// Batched greedy decode: N sequences of one context step together.
for (const n of args.batchSizes) {
  const context = await model.createContext({
    contextSize: args.promptTokens + args.decodeSteps + 64, sequences: n,
    batchSize: Math.max(512, n), threads: args.threads, flashAttention: true});
  const seqs = Array.from({length: n}, () => context.getSequence());
  const prompts = seqs.map((_, i) => promptIds(args.promptTokens, 100 + i));
  const times = [];
  for (let r = 0; r <= args.repeats; ++r) {
    await Promise.all(seqs.map(async (seq, i) => {
      await seq.clearHistory();
      await seq.evaluateWithoutGeneratingNewTokens(prompts[i].slice(0, -1));
    }));
    const s = await timed(() => Promise.all(seqs.map(async (seq, i) => {
      let steps = 0;
      for await (const token of seq.evaluate(prompts[i].slice(-1), {temperature: 0})) {
        if (++steps >= args.decodeSteps) break;
      }
    })));
    if (r > 0) times.push(s);
  }
  out.decode_tokens_per_s[n] = n * args.decodeSteps / median(times);
  await context.dispose();
}

// Greedy agreement with lmeye's own tokens on the reference prompt.
if (args.reference) {
  const ref = JSON.parse(readFileSync(args.reference, "utf8"));
  const context = await model.createContext({contextSize: ref.prompt.length + ref.tokens.length + 64,
                                             sequences: 1, threads: args.threads});
  const seq = context.getSequence();
  const tokens = [];
  for await (const token of seq.evaluate(ref.prompt, {temperature: 0})) {
    tokens.push(token);
    if (tokens.length >= ref.tokens.length) break;
  }
  let prefix = 0;
  while (prefix < tokens.length && tokens[prefix] === ref.tokens[prefix]) ++prefix;
  out.agreement = {steps: ref.tokens.length, matching_prefix: prefix,
                   matching: tokens.filter((t, i) => t === ref.tokens[i]).length,
                   // ours at the first difference: a small margin means a near-tie
                   first_difference_margin: prefix < tokens.length ? ref.margins[prefix] : null,
                   llama_cpp: tokens, lmeye: ref.tokens};
  await context.dispose();
}
await model.dispose();
console.log(JSON.stringify(out));
