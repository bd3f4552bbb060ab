// Encodes/decodes JSON cases with HF tokenizers. Usage: node oracle.js TOKENIZER_JSON < cases.json > out.jsonl
// A case: {text, pair?, add?: bool, trunc?: {max, strategy?: "LongestFirst"|"OnlyFirst"|"OnlySecond"},
//          pad?: {max?, multiple?}}  or  {decode: [ids], skip?: bool}   (one JSON line out per case).
// Offsets come back in code points, as in Python.
const { Tokenizer } = require('tokenizers');
const fs = require('fs');

(async () => {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
  for (const c of cases) {
    if (c.decode) {
      console.log(JSON.stringify({ decode: c.decode, skip: !!c.skip, out: await tok.decode(c.decode, !!c.skip) }));
      continue;
    }
    tok.disableTruncation();
    tok.disablePadding();
    if (c.trunc) tok.setTruncation(c.trunc.max, { strategy: c.trunc.strategy || 'LongestFirst' });
    if (c.pad) tok.setPadding({ maxLength: c.pad.max, padToMultipleOf: c.pad.multiple });
    try {
      const e = await tok.encode(c.text, c.pair ?? null, { addSpecialTokens: c.add !== false });
      console.log(JSON.stringify({
        text: c.text, pair: c.pair, ids: e.getIds(), types: e.getTypeIds(), mask: e.getAttentionMask(),
        tokens: e.getTokens(), offsets: e.getOffsets(),
      }));
    } catch (err) {
      console.log(JSON.stringify({ text: c.text, pair: c.pair, error: String(err) }));
    }
  }
})();
