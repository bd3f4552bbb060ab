// Per code point, HF's view: NFD, BertNormalizer strip-accents only, lowercase, clean_text, CJK split, punctuation.
// Usage: node unicode_dump.js  (writes hf_unicode.tsv; see README.md)
const t = require('tokenizers');
const fs = require('fs');
const nfd = t.nfdNormalizer();
const strip = t.bertNormalizer({cleanText:false, handleChineseChars:false, lowercase:false, stripAccents:true});
const low = t.lowercase();
const clean = t.bertNormalizer({cleanText:true, handleChineseChars:false, lowercase:false, stripAccents:false});
const chin = t.bertNormalizer({cleanText:false, handleChineseChars:true, lowercase:false, stripAccents:false});
const pt = t.bertPreTokenizer();
const hex = s => Array.from(s).map(c => c.codePointAt(0).toString(16)).join(' ');
const out = [];
for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;
  const ch = String.fromCodePoint(cp);
  out.push([cp.toString(16), hex(nfd.normalizeString(ch)), hex(strip.normalizeString(ch)), hex(low.normalizeString(ch)),
    hex(clean.normalizeString(ch)), chin.normalizeString(ch).length > ch.length ? 1 : 0, pt.preTokenizeString('a' + ch + 'b').length].join('\t'));
}
fs.writeFileSync('hf_unicode.tsv', out.join('\n') + '\n');
