// word_to_tokens, word_to_chars and char_to_token of rows and overflowing windows (tokenizers 0.23.2's encode()):
//   node make_word_maps.js TOKENIZER_JSON > ../../TorchBert.Tests/Fixtures/tokenizer-oracle/word-maps.jsonl
const { execFileSync } = require('child_process');
const path = require('path');

const texts = ['Héllo wörld, café naïve résumé — déjà vu!', 'Emoji 😀 test 👍🏽 with 🇫🇷 flags.', '我爱北京天安门，北京是中国的首都。',
  'unaffable unaffable running jumped', 'Hello, Mr. Bert! How is it [MASK]?', "don't stop-believing... (really)", '',
  '𝐁𝐨𝐥𝐝 𠀋𠀍 math and rare CJK'];
const questions = ['Who?', 'Où est le café 😀 ?', ''];
const cases = [];
for (const t of texts) cases.push({ text: t, maps: true });
for (const q of questions) for (const t of texts) cases.push({ text: q, pair: t, maps: true });
for (const t of texts) cases.push({ text: t, trunc: { max: 7, strategy: 'LongestFirst', stride: 2 }, overflow: true, maps: true });
for (const q of questions.slice(0, 2)) {
  for (const t of texts) {
    cases.push({ text: q, pair: t, trunc: { max: 14, strategy: 'OnlySecond', stride: 3 }, overflow: true, maps: true });
  }
}
const out = execFileSync('node', [path.join(__dirname, 'oracle.js'), process.argv[2]], { input: JSON.stringify(cases), maxBuffer: 1 << 28 });
const lines = out.toString().trim().split('\n').map((line) => {
  const c = JSON.parse(line);
  for (const r of [c, ...(c.overflowing || [])]) delete r.tokens;
  return JSON.stringify(c);
});
process.stdout.write(lines.join('\n') + '\n');
