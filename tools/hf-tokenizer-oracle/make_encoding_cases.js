// Builds the encoding cases (word_ids, sequence_ids, pair offsets, stride/overflow windows with every truncation
// strategy, padding, batches, errors) and runs them through oracle.js, one JSON line per case:
//   node make_encoding_cases.js TOKENIZER_JSON > ../../TorchBert.Tests/Fixtures/tokenizer-oracle/encodings.jsonl
// Deterministic (seeded). HF panics (a stride tokenizers cannot use) abort the Node process, so cases run in chunks
// and a chunk that dies is split until the panicking case is alone; it is recorded as {"panic": message}.
const { spawnSync } = require('child_process');
const path = require('path');

const tokenizerJson = process.argv[2];
let seed = 16;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (xs) => xs[Math.floor(random() * xs.length)];

const short = [
  'The quick brown fox jumps over the lazy dog.',
  'Héllo wörld, café naïve résumé — déjà vu!',
  '我爱北京天安门，北京是中国的首都。',
  'Emoji 😀 test 👍🏽 with 🇫🇷 flags and ZWJ 👩‍👩‍👧 family.',
  'Hello, Mr. Bert! How is it [MASK]? [SEP] ok',
  'unaffable unaffable unaffable',
  "don't stop-believing... (really) $100 & 50% off!!",
  'ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ and ﬁ ligature',
  'tab\tnew\nline\r\ncarriage  double  spaces',
  'a\u200bb c\u00add e\u0000f',
  'İstanbul ß ǅ Ω Ångström',
  '한국어 텍스트 입니다',
  'x',
  '',
  '   ',
  '𝐁𝐨𝐥𝐝 𠀋𠀍 math and rare CJK',
];
const questions = ['Who?', 'What is the capital of France?', 'Où est le café ?', '', 'Why 😀 [MASK]?', '北京在哪里？',
  'one two three four five six seven eight nine ten eleven twelve'];
const words = ['the', 'city', 'of', 'paris', 'is', 'capital', 'france', 'café', 'naïve', 'résumé', '北京', '天安门',
  '😀', '👍🏽', 'emoji', 'unaffable', 'running', ',', '.', '!', '(', ')', 'don\'t', 'Ångström', 'München', 'über',
  'x', '42', '3.14', '[MASK]', 'hello', 'world', 'tokenizers', 'overflow', 'stride', 'window', '𠀋', 'Straße'];
const longText = (n) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push(pick(words));
  return out.join(pick([' ', ' ', ' ', '  ', '\n']));
};
const texts = [...short, longText(40), longText(80), longText(150), longText(220)];
const contexts = [...short.slice(0, 8), longText(30), longText(60), longText(120), longText(200), ''];
const strategies = ['LongestFirst', 'OnlyFirst', 'OnlySecond'];

const cases = [];
const trunc = (max, strategy, stride) => ({ max, strategy, stride });
// Plain encodes: word_ids, sequence_ids, offsets of singles and pairs.
for (const t of short) cases.push({ text: t });
for (let i = 0; i < 30; i++) cases.push({ text: pick(questions), pair: pick(contexts) });
for (let i = 0; i < 10; i++) cases.push({ text: pick(texts), pair: pick(contexts), add: false });
// Single texts, windows with stride: exactly 0.23.2 (early stop) and whole-input windows.
for (const whole of [false, true]) {
  for (let i = 0; i < 90; i++) {
    const max = pick([4, 5, 6, 8, 12, 16, 24, 33]);
    const stride = pick([0, 0, 1, 2, 3, Math.floor(max / 2), max - 3]);
    cases.push({ text: pick(texts), trunc: trunc(max, pick(['LongestFirst', 'OnlyFirst']), Math.max(0, stride)),
      overflow: whole || random() < 0.8, whole: whole || undefined, add: random() < 0.1 ? false : undefined });
  }
}
// Pairs (question + context, context + question): every strategy.
for (const whole of [false, true]) {
  for (let i = 0; i < 130; i++) {
    const max = pick([5, 6, 8, 10, 12, 16, 20, 32, 48]);
    const stride = pick([0, 0, 1, 2, 3, Math.floor(max / 4)]);
    const qa = random() < 0.6;
    const [a, b] = qa ? [pick(questions), pick(contexts)] : [pick(texts), pick(random() < 0.5 ? questions : contexts)];
    cases.push({ text: a, pair: b, trunc: trunc(max, pick(strategies), stride), overflow: whole || random() < 0.85,
      whole: whole || undefined, add: random() < 0.1 ? false : undefined });
  }
}
// Empty second sequence, max_length leaving no room (budget 0), a truncation that needs nothing.
for (const whole of [false, true]) {
  for (const s of strategies) {
    cases.push({ text: 'one two three four five six', pair: '', trunc: trunc(6, s, 1), overflow: true, whole: whole || undefined });
    cases.push({ text: 'x y', pair: 'z', trunc: trunc(3, s, 0), overflow: true, whole: whole || undefined });
    cases.push({ text: 'one two three', pair: 'four five six seven', trunc: trunc(3, s, 0), overflow: true, whole: whole || undefined });
    cases.push({ text: 'a b', pair: 'c d', trunc: trunc(20, s, 2), overflow: true, whole: whole || undefined });
  }
  cases.push({ text: longText(30), trunc: trunc(2, 'LongestFirst', 0), overflow: true, whole: whole || undefined });
}
// Padding of the windows (to the row, to max_length, to a multiple).
for (const whole of [false, true]) {
  for (let i = 0; i < 12; i++) {
    const max = pick([8, 12, 16]);
    const pair = random() < 0.5 ? pick(contexts) : undefined;
    const pad = pick([{}, { multiple: 8 }, { max }]);
    cases.push({ text: pick(pair ? questions : texts), pair, trunc: trunc(max, pair ? 'OnlySecond' : 'LongestFirst', 2),
      pad, overflow: true, whole: whole || undefined });
  }
}
// Batches: rows + overflow_to_sample_mapping (exactly 0.23.2).
for (let i = 0; i < 20; i++) {
  const n = 1 + Math.floor(random() * 4);
  const pairs = random() < 0.5;
  const batch = [];
  for (let k = 0; k < n; k++) batch.push(pairs ? { text: pick(questions), pair: pick(contexts) } : { text: pick(texts) });
  const max = pick([10, 16, 24]);
  cases.push({ batch, trunc: trunc(max, pairs ? 'OnlySecond' : 'LongestFirst', pick([0, 2, 4])), overflow: random() < 0.8,
    pad: pick([undefined, {}, { multiple: 8 }, { max }]) });
}
// Errors: stride too large for max_length or for the truncated sequence, only_second without a pair, too short.
cases.push({ text: longText(20), trunc: trunc(8, 'LongestFirst', 7), overflow: true });
cases.push({ text: 'short', trunc: trunc(8, 'LongestFirst', 7), overflow: true });
cases.push({ text: longText(20), pair: longText(20), trunc: trunc(12, 'LongestFirst', 5), overflow: true });
cases.push({ text: longText(20), trunc: trunc(8, 'OnlySecond', 1), overflow: true });
cases.push({ text: longText(20), pair: 'a', trunc: trunc(8, 'OnlySecond', 1), overflow: true });

function run(chunk) {
  const r = spawnSync('node', [path.join(__dirname, 'oracle.js'), tokenizerJson], { input: JSON.stringify(chunk), maxBuffer: 1 << 30 });
  if (r.status === 0) return r.stdout.toString().trim().split('\n');
  if (chunk.length === 1) {
    const message = (r.stderr.toString().split('\n').find((l) => l.includes('stride') || l.includes('Error')) || 'panic').trim();
    return [JSON.stringify({ ...chunk[0], panic: message })];
  }
  const half = Math.floor(chunk.length / 2);
  return [...run(chunk.slice(0, half)), ...run(chunk.slice(half))];
}
// Kept small: token strings dropped (the ids say it), cases with more than 40 windows left out (LongestFirst
// on two long sequences multiplies their windows).
const lines = [];
for (let i = 0; i < cases.length; i += 64) {
  for (const line of run(cases.slice(i, i + 64))) {
    const c = JSON.parse(line);
    const rows = c.rows || (c.ids ? [c, ...(c.overflowing || [])] : []);
    if (rows.length > 40) continue;
    for (const r of rows) delete r.tokens;
    lines.push(JSON.stringify(c));
  }
}
process.stdout.write(lines.join('\n') + '\n');
