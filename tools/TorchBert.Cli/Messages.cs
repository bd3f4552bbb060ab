using System.Text.RegularExpressions;

namespace TorchBert.Cli;

/// <summary>
/// Error text for people, not for .NET developers: one line, no <c>(Parameter 'x')</c>, no <c>System.Double</c>, and
/// System.Text.Json's 0-based <c>LineNumber</c>/<c>BytePositionInLine</c> as 1-based line and column.
/// </summary>
internal static partial class Messages
{
    public static string Clean(Exception e) => Clean(e.Message);

    public static string Clean(string message)
    {
        var s = string.Join("; ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        s = ParameterSuffix().Replace(s, "");
        s = JsonPosition().Replace(s, m =>
        {
            var path = m.Groups["path"].Success && m.Groups["path"].Value != "$" ? $" at {m.Groups["path"].Value}" : "";
            var line = long.Parse(m.Groups["line"].Value) + 1;
            return m.Groups["col"].Success ? $"{path} (line {line}, column {long.Parse(m.Groups["col"].Value) + 1})" : $"{path} (line {line})";
        });
        s = ClrType().Replace(s, m => m.Groups[1].Value switch
        {
            "Double" or "Single" or "Decimal" => "number",
            "Int16" or "Int32" or "Int64" or "UInt16" or "UInt32" or "UInt64" or "Byte" => "integer",
            "String" or "Char" => "string",
            "Boolean" => "true/false",
            var other => other,
        });
        s = LibraryName().Replace(s, m => m.Value switch
        {
            "aggregation_strategy" => "--aggregation",
            "MaxLength" => "--max-length",
            var name => "--" + name.Replace('_', '-'),
        });
        return s.TrimEnd();
    }

    // The library speaks HF's parameter names (top_k, doc_stride); the CLI user typed options (--top-k, --doc-stride).
    [GeneratedRegex(@"(?<![\w-])(top_k|max_answer_len|max_seq_len|doc_stride|aggregation_strategy|eval_strategy|save_strategy|eval_steps|save_steps|logging_steps|metric_for_best_model|lr_scheduler_type|learning_rate|num_train_epochs|max_steps|warmup_steps|warmup_ratio|weight_decay|max_grad_norm|gradient_accumulation_steps|per_device_train_batch_size|per_device_eval_batch_size|save_total_limit|MaxLength)(?![\w-])")]
    private static partial Regex LibraryName();

    [GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial Regex ParameterSuffix();

    [GeneratedRegex(@"\.?\s*(Path: (?<path>\S*) \| )?LineNumber: (?<line>\d+)( \| BytePositionInLine: (?<col>\d+))?\.?")]
    private static partial Regex JsonPosition();

    [GeneratedRegex(@"'?System\.(Double|Single|Decimal|Int16|Int32|Int64|UInt16|UInt32|UInt64|Byte|String|Char|Boolean)'?")]
    private static partial Regex ClrType();
}

/// <summary>
/// The one progress line on stderr (downloads, training, JSONL batches): redrawn in place on a terminal, ended with a
/// newline before anything else is printed, so messages never start mid-line and no empty line comes before them.
/// </summary>
internal static class ProgressLine
{
    private static readonly Lock Gate = new();
    private static bool open;

    /// <summary>Redraws the line in place (\r).</summary>
    public static void Draw(string text)
    {
        lock (Gate)
        {
            Console.Error.Write("\r" + text);
            open = true;
        }
    }

    /// <summary>Ends the line if one is open.</summary>
    public static void End()
    {
        lock (Gate)
        {
            if (open) Console.Error.WriteLine();
            open = false;
        }
    }

    /// <summary>A message on its own line (the progress line, if any, is ended first).</summary>
    public static void Print(string line)
    {
        lock (Gate)
        {
            if (open) Console.Error.WriteLine();
            open = false;
            Console.Error.WriteLine(line);
        }
    }
}
