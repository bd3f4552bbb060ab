using System.Text.Json.Nodes;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Pipelines;

/// <summary>
/// Model folders for the task pipelines' tests, made from the tiny task fixtures: tiny-bert-seqcls and tiny-bert-tokcls
/// have a 2000-token vocabulary and no vocab.txt, so each gets the first 2000 lines of tiny-bert-mlm's (bert-base-uncased)
/// vocab.txt, a few [unusedN] lines replaced by word pieces so that words split into sub-words (##) exist.
/// </summary>
public static class TaskPipelineFixtures
{
    /// <summary>Pieces written over [unused1..]: "playing" = play ##ing, "Café" = caf ##e, "newyork" = new ##york, "johnson" = john ##son.</summary>
    public static readonly string[] ExtraPieces = ["play", "##ing", "caf", "##e", "new", "##york", "john", "##son", "##s", "paris", "lo", "##ndon"];

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, string> Made = [];

    /// <summary>A folder with the fixture's config.json (edited by <paramref name="editConfig"/>), weights and the vocabulary.</summary>
    public static string Folder(string fixture, string variant = "", Action<JsonObject>? editConfig = null)
    {
        lock (Gate)
        {
            var key = fixture + "/" + variant;
            if (Made.TryGetValue(key, out var done)) return done;
            var src = Fixtures.Dir(fixture);
            var dir = ProcessTempFolders.Create($"torchbert-w16-{fixture}-{variant}");
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(src, "config.json")))!.AsObject();
            editConfig?.Invoke(config);
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
            File.Copy(Path.Combine(src, "model.safetensors"), Path.Combine(dir, "model.safetensors"), overwrite: true);
            if (File.Exists(Path.Combine(src, "vocab.txt"))) File.Copy(Path.Combine(src, "vocab.txt"), Path.Combine(dir, "vocab.txt"), overwrite: true);
            else
            {
                var vocab = File.ReadLines(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "vocab.txt")).Take(2000).Select(l => l.TrimEnd('\r')).ToArray();
                for (int i = 0; i < ExtraPieces.Length; i++) vocab[2 + i] = ExtraPieces[i];   // [unused1] is id 2
                File.WriteAllLines(Path.Combine(dir, "vocab.txt"), vocab);
            }
            Made[key] = dir;
            return dir;
        }
    }

    /// <summary>tiny-bert-seqcls relabelled as an NLI model (contradiction / neutral / entailment).</summary>
    public static string Nli(string[]? labels = null)
    {
        labels ??= ["contradiction", "neutral", "entailment"];
        return Folder("tiny-bert-seqcls", "nli-" + string.Join("-", labels), c =>
        {
            c["id2label"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(i.ToString(), (JsonNode?)l)));
            c["label2id"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(l, (JsonNode?)i)));
        });
    }
}
