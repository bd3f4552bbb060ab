// Encodes/decodes JSON cases with HF tokenizers. Usage: node oracle.js TOKENIZER_JSON < cases.json > out.jsonl
// A case (one JSON line out per case, in order):
//   {text, pair?, add?: bool, trunc?: {max, strategy?: "LongestFirst"|"OnlyFirst"|"OnlySecond", stride?},
//    pad?: {max?, multiple?}, overflow?: bool, whole?: bool, maps?: bool}
//   {batch: [{text, pair?}, ...], add?, trunc?, pad?, overflow?}      (a batch: rows + overflow_to_sample_mapping)
//   {decode: [ids], skip?: bool}
// Out: ids, types, mask, special, tokens, offsets (code points, as in Python), words (word_ids), seqs (sequence_ids)
// of the row, plus `overflowing` (the windows, as Python's `[encoding] + encoding.overflowing` sees them: one level)
// when overflow is set; for a batch `rows` and `mapping`; or the error HF raised.
//
// whole: true reproduces tokenizers <= 0.22 (and huggingface/tokenizers#2098), whose windows cover the whole input:
// since 0.23.1 encode() stops tokenizing at max_length when truncating (#2091). The sequences are tokenized without
// truncation by a copy of the tokenizer without post-processor (as do_tokenize leaves them), then HF's own
// post_process (truncate_encodings + TemplateProcessing + merge + padding) runs on them via postProcess(). The pair
// must enter with type id 1 (do_tokenize gives it) and no sequence ranges (do_tokenize sets none); the Node API gives
// one or the other (encode('', pair) / encode(pair)), so the type ids come from the first run and the sequence ids
// from the second: each output field depends only on the input property that run gets right.
const { Tokenizer } = require('tokenizers');
const fs = require('fs');

const row = (e) => ({
  ids: e.getIds(), types: e.getTypeIds(), mask: e.getAttentionMask(), special: e.getSpecialTokensMask(),
  tokens: e.getTokens(), offsets: e.getOffsets(), words: e.getWordIds().map((w) => w ?? null),
  seqs: e.getSequenceIds().map((s) => s ?? null),
});
// maps: true adds, for sequence 0 and 1, word_to_tokens / word_to_chars of words 0..(max word id + 1) and
// char_to_token of every code point 0..(text length) of that sequence's text.
const maps = (e, c) => {
  const out = {};
  const maxWord = Math.max(-1, ...e.getWordIds().map((w) => w ?? -1));
  for (const seq of [0, 1]) {
    const text = seq === 0 ? c.text : (c.pair ?? '');
    const n = [...text].length;
    const nul = (x) => (x === undefined ? null : x);
    out[`w2t${seq}`] = [...Array(maxWord + 2).keys()].map((w) => nul(e.wordToTokens(w, seq)));
    out[`w2c${seq}`] = [...Array(maxWord + 2).keys()].map((w) => nul(e.wordToChars(w, seq)));
    out[`c2t${seq}`] = [...Array(n + 1).keys()].map((p) => nul(e.charToToken(p, seq)));
  }
  return out;
};

(async () => {
  const path = process.argv[2];
  const json = JSON.parse(fs.readFileSync(path, 'utf8'));
  const tok = Tokenizer.fromFile(path);
  const rawJson = { ...json, post_processor: null, truncation: null, padding: null };
  const raw = Tokenizer.fromString(JSON.stringify(rawJson));
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
  const configure = (c) => {
    tok.disableTruncation();
    tok.disablePadding();
    if (c.trunc) tok.setTruncation(c.trunc.max, { strategy: c.trunc.strategy || 'LongestFirst', stride: c.trunc.stride || 0 });
    if (c.pad) tok.setPadding({ maxLength: c.pad.max, padToMultipleOf: c.pad.multiple });
  };
  const withOverflow = (c, e) => {
    const one = (x) => (c.maps ? { ...row(x), ...maps(x, c) } : row(x));
    const out = one(e);
    if (c.overflow) out.overflowing = e.getOverflowing().map(one);
    return out;
  };
  const whole = async (c) => {
    const options = { addSpecialTokens: false };
    const a = await raw.encode(c.text, null, options);
    configure(c);
    if (c.pair == null) return withOverflow(c, tok.postProcess(a, null, c.add !== false));
    const typed = tok.postProcess(a, await raw.encode('', c.pair, options), c.add !== false);
    const ranged = tok.postProcess(a, await raw.encode(c.pair, null, options), c.add !== false);
    const merge = (t, r) => ({ ...row(t), seqs: row(r).seqs });
    const out = merge(typed, ranged);
    const t = typed.getOverflowing(), r = ranged.getOverflowing();
    if (t.length !== r.length) throw new Error(`oracle: ${t.length} vs ${r.length} windows`);
    out.overflowing = t.map((e, i) => merge(e, r[i]));
    return out;
  };
  for (const c of cases) {
    if (c.decode) {
      console.log(JSON.stringify({ decode: c.decode, skip: !!c.skip, out: await tok.decode(c.decode, !!c.skip) }));
      continue;
    }
    const echo = { ...c };
    try {
      if (c.batch) {
        // Python's fast batch: each input encoded (truncated, post-processed) on its own, then, for padding to the
        // longest, every row padded (HF's Encoding.pad, windows included) to the longest row, rounded up to the
        // multiple; rows are [encoding] + encoding.overflowing per input, overflow_to_sample_mapping their input.
        // (encodeBatch of the Node binding takes no pairs.)
        const longest = c.pad && c.pad.max == null;
        configure(longest ? { ...c, pad: undefined } : c);
        const es = [];
        for (const x of c.batch) es.push(await tok.encode(x.text, x.pair ?? null, { addSpecialTokens: c.add !== false }));
        if (longest) {
          let n = Math.max(0, ...es.map((e) => e.getLength()));
          const m = c.pad.multiple;
          if (m && n % m !== 0) n += m - (n % m);
          for (const e of es) e.pad(n, { padId: tok.tokenToId('[PAD]'), padTypeId: 0, padToken: '[PAD]' });
        }
        const rows = [], mapping = [];
        es.forEach((e, i) => {
          for (const w of [e, ...(c.overflow ? e.getOverflowing() : [])]) { rows.push(row(w)); mapping.push(i); }
        });
        console.log(JSON.stringify({ ...echo, rows, mapping: c.overflow ? mapping : undefined }));
      } else if (c.whole) {
        if (!c.trunc || !c.overflow) throw new Error('oracle: whole needs trunc and overflow');
        console.log(JSON.stringify({ ...echo, ...(await whole(c)) }));
      } else {
        configure(c);
        const e = await tok.encode(c.text, c.pair ?? null, { addSpecialTokens: c.add !== false });
        console.log(JSON.stringify({ ...echo, ...withOverflow(c, e) }));
      }
    } catch (err) {
      console.log(JSON.stringify({ ...echo, error: String(err) }));
    }
  }
})();
