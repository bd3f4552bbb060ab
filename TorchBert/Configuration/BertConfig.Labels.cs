using System.Text.Json.Nodes;

namespace TorchBert.Configuration;

/// <summary>
/// HF <c>PretrainedConfig</c>'s label fields: <c>num_labels</c>, <c>id2label</c> (JSON keys are strings), <c>label2id</c>.
/// As in HF, <c>id2label</c> is the source of truth and <c>num_labels</c> is its size; the defaults are <c>LABEL_0</c>, <c>LABEL_1</c>.
/// </summary>
public sealed partial class BertConfig
{
    /// <summary>The values HF accepts for <c>problem_type</c>.</summary>
    public static readonly IReadOnlyList<string> ProblemTypes = ["regression", "single_label_classification", "multi_label_classification"];

    private Dictionary<int, string> id2label = DefaultLabels(2);
    private Dictionary<string, int> label2id = Reverse(DefaultLabels(2));
    // Label keys as read from config.json, resolved together once the whole object is read (their order is free).
    private JsonNode? pendingNumLabels, pendingId2Label, pendingLabel2Id;

    /// <summary>
    /// HF <c>num_labels</c> (default 2): the classifier's output size. Setting a different count resets the labels to
    /// <c>LABEL_i</c>, as HF's setter does; use <see cref="SetLabels"/> to name them.
    /// </summary>
    public int NumLabels
    {
        get => id2label.Count;
        set
        {
            ThrowIfFrozen();
            if (value < 1) throw new BertConfigException($"num_labels must be >= 1, got {value}");
            if (value == id2label.Count) return;
            id2label = DefaultLabels(value);
            label2id = Reverse(id2label);
        }
    }

    /// <summary>HF <c>id2label</c>: class index → name.</summary>
    public IReadOnlyDictionary<int, string> Id2Label => id2label;

    /// <summary>HF <c>label2id</c>: name → class index.</summary>
    public IReadOnlyDictionary<string, int> Label2Id => label2id;

    /// <summary>Names the classes: sets num_labels, id2label and label2id consistently (index i = <paramref name="labels"/>[i]).</summary>
    public BertConfig SetLabels(IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ThrowIfFrozen();
        if (labels.Count == 0) throw new ArgumentException("labels is empty; a classifier needs at least one label", nameof(labels));
        for (int i = 0; i < labels.Count; i++)
        {
            if (string.IsNullOrEmpty(labels[i])) throw new ArgumentException($"labels[{i}] is empty", nameof(labels));
            var first = IndexOf(labels, labels[i]);
            if (first != i) throw new ArgumentException($"label '{labels[i]}' appears twice (at {first} and {i})", nameof(labels));
        }
        id2label = labels.Select((l, i) => (l, i)).ToDictionary(p => p.i, p => p.l);
        label2id = Reverse(id2label);
        return this;
    }

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++) if (labels[i] == label) return i;
        return -1;
    }

    private static Dictionary<int, string> DefaultLabels(int n) => Enumerable.Range(0, n).ToDictionary(i => i, i => $"LABEL_{i}");

    private static Dictionary<string, int> Reverse(Dictionary<int, string> id2Label) => id2Label.ToDictionary(kv => kv.Value, kv => kv.Key);

    private bool SetLabelKey(string key, JsonNode? v)
    {
        switch (key)
        {
            case "num_labels": pendingNumLabels = v?.DeepClone(); return true;
            case "id2label": pendingId2Label = v?.DeepClone(); return true;
            case "label2id": pendingLabel2Id = v?.DeepClone(); return true;
            default: return false;
        }
    }

    /// <summary>HF's rule: id2label when given, else num_labels (default 2) labels LABEL_i; label2id must agree with id2label.</summary>
    private void ResolveLabels()
    {
        int? numLabels = pendingNumLabels is null ? null : Int(pendingNumLabels);
        if (numLabels is < 1) throw new BertConfigException($"num_labels must be >= 1, got {numLabels}");
        if (pendingId2Label is JsonObject ids)
        {
            var parsed = new Dictionary<int, string>();
            foreach (var (k, v) in ids)
            {
                if (!int.TryParse(k, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                    throw new BertConfigException($"id2label key '{k}' is not a class index (0, 1, ...)");
                parsed[id] = v?.GetValue<string>() ?? throw new BertConfigException($"id2label['{k}'] is null");
            }
            if (numLabels is { } n && n != parsed.Count)
                throw new BertConfigException($"num_labels is {n} but id2label has {parsed.Count} labels ({string.Join(", ", parsed.Values)})");
            if (parsed.Count == 0) throw new BertConfigException("id2label is empty");
            id2label = parsed;
        }
        else if (pendingId2Label is not null) throw new BertConfigException($"id2label must be an object {{\"0\": \"name\", ...}}, got {pendingId2Label.ToJsonString()}");
        else id2label = DefaultLabels(numLabels ?? 2);

        if (pendingLabel2Id is JsonObject names)
            label2id = names.ToDictionary(kv => kv.Key, kv => kv.Value is null ? throw new BertConfigException($"label2id['{kv.Key}'] is null") : Int(kv.Value));
        else if (pendingLabel2Id is not null) throw new BertConfigException($"label2id must be an object {{\"name\": 0, ...}}, got {pendingLabel2Id.ToJsonString()}");
        else label2id = Reverse(id2label);
        pendingNumLabels = pendingId2Label = pendingLabel2Id = null;
    }

    private void ValidateLabels(Action<bool, string> require)
    {
        var ids = id2label.Keys.Order().ToList();
        require(ids.SequenceEqual(Enumerable.Range(0, ids.Count)),
            $"id2label keys must be 0..{ids.Count - 1}, got {string.Join(", ", ids)}");
        var names = id2label.Values.ToList();
        var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        require(duplicate is null, $"id2label names label '{duplicate?.Key}' more than once");
        var consistent = label2id.Count == id2label.Count && label2id.All(kv => id2label.TryGetValue(kv.Value, out var n) && n == kv.Key);
        require(consistent, $"label2id {{{string.Join(", ", label2id.Select(kv => $"{kv.Key}: {kv.Value}"))}}} does not match " +
                            $"id2label {{{string.Join(", ", id2label.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}: {kv.Value}"))}}}");
    }

    /// <summary>Writes id2label/label2id as HF's save_pretrained does: only when they differ from the default two LABEL_i.</summary>
    private void WriteLabels(JsonObject o)
    {
        var isDefault = id2label.Count == 2 && id2label.All(kv => kv.Value == $"LABEL_{kv.Key}") && label2id.All(kv => kv.Key == $"LABEL_{kv.Value}");
        if (isDefault) return;
        var ids = new JsonObject();
        foreach (var (k, v) in id2label.OrderBy(kv => kv.Key)) ids[k.ToString(System.Globalization.CultureInfo.InvariantCulture)] = v;
        var names = new JsonObject();
        foreach (var (k, v) in label2id.OrderBy(kv => kv.Value)) names[k] = v;
        o["id2label"] = ids;
        o["label2id"] = names;
    }
}
