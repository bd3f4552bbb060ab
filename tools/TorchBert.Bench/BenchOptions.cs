namespace TorchBert.Bench;

/// <summary>Command line of the benchmark.</summary>
public sealed record BenchOptions
{
    public bool Quick { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int? MemoryCalls { get; init; }
    public string? JsonPath { get; init; }
    /// <summary>Hidden: measure one load in this (fresh) process and print its memory, for the parent's load section.</summary>
    public string? LoadChild { get; init; }
    /// <summary>Hidden: run each profile stage this many times for callgrind (scripts/callgrind-profile.sh), then exit.</summary>
    public int? CallgrindCalls { get; init; }
    public HashSet<string> Sections { get; init; } = [.. All];

    public static readonly string[] All = ["inference", "levers", "profile", "dtypes", "tokenization", "load", "memory", "batching", "pipeline", "server"];

    public int FillMaskCalls => MemoryCalls ?? (Quick ? 1_000 : 10_000);

    public const string Usage =
        "usage: torchbert-bench [--quick] [--threads N] [--memory-calls N] [--only a,b] [--json FILE]\n" +
        "  sections: inference, levers, profile, dtypes, tokenization, load, memory, batching, pipeline, server (default: all)";

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive(string name)
            {
                var v = Value();
                return int.TryParse(v, out var n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive integer, got '{v}'");
            }
            o = args[i] switch
            {
                "--quick" => o with { Quick = true },
                "--threads" => o with { Threads = Positive("--threads") },
                "--memory-calls" => o with { MemoryCalls = Positive("--memory-calls") },
                "--json" => o with { JsonPath = Value() },
                "--load-child" => o with { LoadChild = Value() },
                "--callgrind" => o with { CallgrindCalls = Positive("--callgrind") },
                "--only" => o with { Sections = ParseSections(Value()) },
                "-h" or "--help" => throw new HelpRequested(),
                var a => throw new ArgumentException($"unknown argument '{a}'"),
            };
        }
        return o;
    }

    private static HashSet<string> ParseSections(string list)
    {
        var set = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        var unknown = set.Except(All).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"unknown section(s) {string.Join(", ", unknown)}; known: {string.Join(", ", All)}");
        return set;
    }
}

public sealed class HelpRequested : Exception;
