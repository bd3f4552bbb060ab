using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchBert.Tokenization;

namespace TorchBert.Training;

/// <summary>Labels as HF's scripts list them: sorted unique values (numerically when all are integers).</summary>
internal static class LabelList
{
    /// <summary>The sorted distinct labels of <paramref name="values"/> (HF's label list order).</summary>
    public static List<string> FromValues(IEnumerable<string> values)
    {
        var unique = values.Distinct(StringComparer.Ordinal).ToList();
        return unique.All(v => long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            ? unique.OrderBy(v => long.Parse(v, CultureInfo.InvariantCulture)).ToList()
            : unique.OrderBy(v => v, StringComparer.Ordinal).ToList();
    }

    internal static long IdOf(IReadOnlyDictionary<string, int> label2Id, string label, string where) =>
        label2Id.TryGetValue(label, out var id) ? id
            : throw new DataFileException($"{where}: unknown label '{label}' (the model's labels: {string.Join(", ", label2Id.OrderBy(kv => kv.Value).Select(kv => kv.Key))})");
}

/// <summary>
/// Sequence classification data (HF run_glue): CSV/TSV/JSONL with <c>text</c> (or <c>sentence</c>), optional
/// <c>text_pair</c>, and <c>label</c>; or pre-tokenized <c>input_ids</c> [, <c>attention_mask</c>, <c>token_type_ids</c>].
/// Texts are tokenized with truncation to max_seq_length, no padding (the collator pads per batch).
/// </summary>
public static class TextClassificationData
{
    /// <summary>Reads a CSV, TSV or JSON Lines file.</summary>
    public static List<DataRecord> Read(string path) => DataFiles.ReadTable(path);

    /// <summary>The <c>label</c> values of the records, as <see cref="LabelList"/> orders them.</summary>
    public static List<string> Labels(IReadOnlyList<DataRecord> records) => LabelList.FromValues(records.Select(Label));

    /// <summary>A record's label; an empty one is a data error naming file:line (it cannot name a class).</summary>
    private static string Label(DataRecord r) =>
        r.Text("label") is { } label && !string.IsNullOrWhiteSpace(label) ? label : throw new DataFileException($"{r.Where}: the label is empty");

    /// <summary>
    /// Tokenizes the records (text or text pair) with labels mapped through <paramref name="label2Id"/>; pre-tokenized
    /// records (<c>input_ids</c>) are taken as they are, and need no <paramref name="tokenizer"/>.
    /// </summary>
    public static List<Feature> Features(IReadOnlyList<DataRecord> records, BertTokenizer? tokenizer, IReadOnlyDictionary<string, int> label2Id, int maxLength)
    {
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        var result = new List<Feature>(records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            var label = LabelList.IdOf(label2Id, Label(r), r.Where);
            if (r.Has("input_ids"))
            {
                var ids = r.Ints("input_ids");
                if (ids.Length == 0) throw new DataFileException($"{r.Where}: input_ids is empty");
                var mask = r.Has("attention_mask") ? r.Ints("attention_mask") : null;
                var types = r.Has("token_type_ids") ? r.Ints("token_type_ids") : null;
                if (mask is not null && mask.Length != ids.Length) throw new DataFileException($"{r.Where}: attention_mask has {mask.Length} values, input_ids {ids.Length}");
                if (types is not null && types.Length != ids.Length) throw new DataFileException($"{r.Where}: token_type_ids has {types.Length} values, input_ids {ids.Length}");
                result.Add(new Feature { InputIds = ids, AttentionMask = mask, TokenTypeIds = types, Label = label, ExampleIndex = i, Source = r.Where });
                continue;
            }
            var column = r.Has("text") ? "text" : r.Has("sentence") ? "sentence" : r.Has("sentence1") ? "sentence1" : "text";
            var text = r.Text(column);
            string? pair = r.Has("text_pair") ? r.Text("text_pair") : r.Has("sentence2") ? r.Text("sentence2") : null;
            if (tokenizer is null)
                throw new DataFileException($"{r.Where}: this row has text but the model has no tokenizer (no vocab.txt or tokenizer.json); give input_ids, or use a model folder with its tokenizer files");
            var enc = tokenizer.Encode(text, pair, options);
            result.Add(new Feature { InputIds = enc.InputIds, AttentionMask = enc.AttentionMask, TokenTypeIds = enc.TokenTypeIds, Label = label, ExampleIndex = i, Source = r.Where });
        }
        return result;
    }
}

/// <summary>A sentence for token classification: words and one tag per word.</summary>
public sealed record TaggedSentence(IReadOnlyList<string> Words, IReadOnlyList<string> Tags, string Source);

/// <summary>
/// Token classification data (HF run_ner): CoNLL-style text (one "word ... tag" per line, the tag in the last column,
/// blank lines between sentences, <c>-DOCSTART-</c> skipped) or JSONL with <c>tokens</c>/<c>words</c> and
/// <c>ner_tags</c>/<c>tags</c>/<c>labels</c>. Labels are aligned as run_ner does (<c>label_all_tokens=False</c>): the
/// first sub-token of each word carries its tag, the other sub-tokens and the special tokens -100.
/// </summary>
public static class TokenClassificationData
{
    /// <summary>Reads CoNLL-style (token and tag per line) or JSON Lines (tokens, tags) sentences.</summary>
    public static List<TaggedSentence> Read(string path)
    {
        if (!File.Exists(path)) throw new DataFileException($"{path}: file not found");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var sentences = ext is ".jsonl" or ".json" ? ReadJsonLines(path) : ReadConll(path);
        if (sentences.Count == 0) throw new DataFileException($"{path}: no sentences (the file is empty)");
        return sentences;
    }

    private static List<TaggedSentence> ReadJsonLines(string path)
    {
        var result = new List<TaggedSentence>();
        foreach (var r in DataFiles.ReadJsonLines(path))
        {
            var words = r.Strings(r.Has("tokens") ? "tokens" : "words");
            var tags = r.Strings(r.Has("ner_tags") ? "ner_tags" : r.Has("tags") ? "tags" : "labels");
            if (words.Length != tags.Length) throw new DataFileException($"{r.Where}: {words.Length} words but {tags.Length} tags");
            if (words.Length == 0) continue;
            result.Add(new TaggedSentence(words, tags, r.Where));
        }
        return result;
    }

    private static List<TaggedSentence> ReadConll(string path)
    {
        var result = new List<TaggedSentence>();
        var words = new List<string>();
        var tags = new List<string>();
        int start = 1;
        void Flush()
        {
            if (words.Count > 0) result.Add(new TaggedSentence(words.ToList(), tags.ToList(), $"{path}:{start}"));
            words.Clear();
            tags.Clear();
        }
        foreach (var (lineNo, raw) in DataFiles.Lines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("-DOCSTART-", StringComparison.Ordinal)) { Flush(); start = lineNo + 1; continue; }
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2) throw new DataFileException($"{path}:{lineNo}: expected 'word ... tag', got '{DataRecord.Shorten(line)}'");
            if (words.Count == 0) start = lineNo;
            words.Add(parts[0]);
            tags.Add(parts[^1]);
        }
        Flush();
        return result;
    }

    /// <summary>The label list of tagged sentences.</summary>
    public static List<string> Labels(IEnumerable<TaggedSentence> sentences) => LabelList.FromValues(sentences.SelectMany(s => s.Tags));

    /// <summary>
    /// HF's <c>tokenizer(words, is_split_into_words=True, truncation=True, max_length)</c>: each word tokenized on its
    /// own, <c>[CLS] ... [SEP]</c>, truncated at the end; labels aligned as described on the class.
    /// <see cref="Feature.ExampleIndex"/> is the sentence index; <c>WordStarts</c> gives the first token of each word.
    /// </summary>
    public static List<Feature> Features(IReadOnlyList<TaggedSentence> sentences, BertTokenizer tokenizer, IReadOnlyDictionary<string, int> label2Id, int maxLength)
    {
        var result = new List<Feature>(sentences.Count);
        for (int s = 0; s < sentences.Count; s++)
        {
            var sentence = sentences[s];
            var ids = new List<long> { tokenizer.ClsTokenId };
            var labels = new List<long> { -100 };
            for (int w = 0; w < sentence.Words.Count; w++)
            {
                var label = LabelList.IdOf(label2Id, sentence.Tags[w], $"{sentence.Source} (word {w + 1} '{sentence.Words[w]}')");
                var pieces = tokenizer.ConvertTokensToIds(tokenizer.Tokenize(sentence.Words[w]));
                for (int p = 0; p < pieces.Length && ids.Count < maxLength - 1; p++)
                {
                    ids.Add(pieces[p]);
                    labels.Add(p == 0 ? label : -100);
                }
            }
            ids.Add(tokenizer.SepTokenId);
            labels.Add(-100);
            result.Add(new Feature
            {
                InputIds = ids.ToArray(), AttentionMask = Enumerable.Repeat(1L, ids.Count).ToArray(), TokenTypeIds = new long[ids.Count],
                Labels = labels.ToArray(), ExampleIndex = s, Source = sentence.Source,
            });
        }
        return result;
    }
}

/// <summary>One SQuAD question: its context and answers (character offsets in the context, UTF-16).</summary>
public sealed record SquadExample(string Id, string Question, string Context, IReadOnlyList<(string Text, int Start)> Answers, string Source);

/// <summary>
/// SQuAD-format JSON (<c>data[].paragraphs[].qas[]</c>) and HF run_qa's <c>prepare_train_features</c> /
/// <c>prepare_validation_features</c>: question + context with <c>truncation="only_second"</c>, overflowing windows
/// with <c>doc_stride</c> overlap, answer character spans mapped to start/end token positions ([CLS] = 0 when the
/// answer is not inside the window).
/// </summary>
public static class QuestionAnsweringData
{
    /// <summary>Reads a SQuAD-format JSON file (or JSON Lines with context/question/answers).</summary>
    public static List<SquadExample> Read(string path)
    {
        if (!File.Exists(path)) throw new DataFileException($"{path}: file not found");
        var text = DataFiles.ReadAllText(path);
        if (string.IsNullOrWhiteSpace(text)) throw new DataFileException($"{path}: the file is empty");
        JsonNode? root;
        try { root = JsonNode.Parse(text); }
        catch (JsonException e) { throw new DataFileException($"{path}: invalid JSON ({e.Message})"); }
        if (root?["data"] is not JsonArray data) throw new DataFileException($"{path}: no 'data' list (SQuAD format: {{\"data\": [{{\"paragraphs\": [...]}}]}})");
        var result = new List<SquadExample>();
        for (int a = 0; a < data.Count; a++)
        {
            if (data[a]?["paragraphs"] is not JsonArray paragraphs) throw new DataFileException($"{path}: data[{a}] has no 'paragraphs' list");
            for (int p = 0; p < paragraphs.Count; p++)
            {
                var where = $"{path}: data[{a}].paragraphs[{p}]";
                var context = StringOf(paragraphs[p]?["context"], $"{where}: 'context'") ?? throw new DataFileException($"{where} has no 'context'");
                if (paragraphs[p]?["qas"] is not JsonArray qas) throw new DataFileException($"{where} has no 'qas' list");
                foreach (var qa in qas)
                {
                    var id = qa?["id"]?.ToString() ?? throw new DataFileException($"{where}: a question has no 'id'");
                    var question = StringOf(qa["question"], $"{where}: question '{id}': 'question'") ?? throw new DataFileException($"{where}: question '{id}' has no 'question' text");
                    var answers = new List<(string, int)>();
                    if (qa["answers"] is JsonArray list)
                    {
                        foreach (var ans in list)
                        {
                            var t = StringOf(ans?["text"], $"{where}: question '{id}': an answer's 'text'") ?? throw new DataFileException($"{where}: question '{id}': an answer has no 'text'");
                            var startNode = ans!["answer_start"] ?? throw new DataFileException($"{where}: question '{id}': answer '{t}' has no 'answer_start'");
                            if (startNode is not JsonValue sv || !sv.TryGetValue<int>(out var codePoint))
                                throw new DataFileException($"{where}: question '{id}': answer_start of '{DataRecord.Shorten(t)}' must be an integer, got {startNode.ToJsonString()}");
                            int start = Utf16Index(context, codePoint);
                            if (start < 0 || start + t.Length > context.Length || string.CompareOrdinal(context, start, t, 0, t.Length) != 0)
                                throw new DataFileException($"{where}: question '{id}': answer '{DataRecord.Shorten(t)}' at answer_start {startNode} is not in the context " +
                                                            $"(the context there reads '{DataRecord.Shorten(Slice(context, start, t.Length))}')");
                            answers.Add((t, start));
                        }
                    }
                    result.Add(new SquadExample(id, question, context, answers, $"{where} question '{id}'"));
                }
            }
        }
        if (result.Count == 0) throw new DataFileException($"{path}: no questions");
        return result;
    }

    /// <summary>A JSON string, null when absent; another JSON type is a data error naming where it is.</summary>
    private static string? StringOf(JsonNode? node, string what) =>
        node is null ? null
        : node is JsonValue v && v.TryGetValue<string>(out var s) ? s
        : throw new DataFileException($"{what} must be a string, got {node.ToJsonString()}");

    private static string Slice(string s, int start, int length) =>
        start < 0 || start >= s.Length ? "" : s.Substring(start, Math.Min(length, s.Length - start));

    /// <summary>Python's answer_start counts code points; .NET strings index UTF-16 units.</summary>
    internal static int Utf16Index(string s, int codePoints)
    {
        int i = 0;
        for (int cp = 0; cp < codePoints; cp++)
        {
            if (i >= s.Length) return i + (codePoints - cp);
            i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
        }
        return i;
    }

    /// <summary>
    /// The windows of one example: [CLS] question [SEP] context-window [SEP], each window holding up to
    /// max_length − len(question) − 3 context tokens and starting (that − stride) tokens after the previous one, as the
    /// fast tokenizer's overflow does. Training features get start/end positions; every feature keeps the context
    /// offsets of its tokens for answer extraction.
    /// </summary>
    public static List<Feature> Features(IReadOnlyList<SquadExample> examples, BertTokenizer tokenizer, int maxLength, int docStride, bool training)
    {
        var plain = new EncodeOptions { AddSpecialTokens = false };
        var result = new List<Feature>();
        for (int e = 0; e < examples.Count; e++)
        {
            var ex = examples[e];
            var q = tokenizer.Encode(ex.Question.TrimStart(), null, plain);
            var c = tokenizer.Encode(ex.Context, null, plain);
            int window = maxLength - q.Length - 3;
            if (window <= 0) throw new DataFileException($"{ex.Source}: the question has {q.Length} tokens; with max_seq_length {maxLength} no context fits");
            if (docStride >= window) throw new DataFileException($"{ex.Source}: doc_stride {docStride} must be smaller than the context window ({window} tokens)");
            var starts = new List<int>();
            for (int s = 0; ; s += window - docStride)
            {
                starts.Add(s);
                if (s + window >= c.Length) break;
            }
            foreach (var s in starts)
            {
                int n = Math.Min(window, c.Length - s);
                var ids = new List<long> { tokenizer.ClsTokenId };
                ids.AddRange(q.InputIds);
                ids.Add(tokenizer.SepTokenId);
                int contextStart = ids.Count;
                for (int i = 0; i < n; i++) ids.Add(c.InputIds[s + i]);
                ids.Add(tokenizer.SepTokenId);
                var types = new long[ids.Count];
                for (int i = contextStart; i < ids.Count; i++) types[i] = 1;
                var offsets = new (int, int)?[ids.Count];
                for (int i = 0; i < n; i++) offsets[contextStart + i] = c.Offsets[s + i];
                long? startPos = null, endPos = null;
                if (training)
                {
                    (startPos, endPos) = (0, 0); // cls_index
                    if (ex.Answers.Count > 0 && n > 0)
                    {
                        var (text, startChar) = ex.Answers[0];
                        int endChar = startChar + text.Length;
                        int first = contextStart, last = contextStart + n - 1;
                        if (offsets[first]!.Value.Item1 <= startChar && offsets[last]!.Value.Item2 >= endChar)
                        {
                            int ts = first;
                            while (ts <= last && offsets[ts]!.Value.Item1 <= startChar) ts++;
                            int te = last;
                            while (te >= first && offsets[te]!.Value.Item2 >= endChar) te--;
                            (startPos, endPos) = (ts - 1, te + 1);
                        }
                    }
                }
                result.Add(new Feature
                {
                    InputIds = ids.ToArray(), AttentionMask = Enumerable.Repeat(1L, ids.Count).ToArray(), TokenTypeIds = types,
                    StartPosition = startPos, EndPosition = endPos, ExampleIndex = e, ContextOffsets = offsets, Source = ex.Source,
                });
            }
        }
        return result;
    }
}

/// <summary>Plain text for masked-LM training (HF run_mlm <c>--line_by_line</c>): each non-empty line one sequence.</summary>
public static class MaskedLMData
{
    /// <summary>Tokenizes a fill-mask text file into rows of at most <paramref name="maxLength"/> tokens.</summary>
    public static List<Feature> Features(string path, BertTokenizer tokenizer, int maxLength)
    {
        if (!File.Exists(path)) throw new DataFileException($"{path}: file not found");
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        var result = new List<Feature>();
        foreach (var (lineNo, line) in DataFiles.Lines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var enc = tokenizer.Encode(line, null, options);
            result.Add(new Feature
            {
                InputIds = enc.InputIds, AttentionMask = enc.AttentionMask, TokenTypeIds = enc.TokenTypeIds,
                SpecialTokensMask = enc.SpecialTokensMask, ExampleIndex = result.Count, Source = $"{path}:{lineNo}",
            });
        }
        if (result.Count == 0) throw new DataFileException($"{path}: no text lines (the file is empty)");
        return result;
    }
}
