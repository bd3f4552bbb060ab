using System.Text.Json;
using System.Text.RegularExpressions;

namespace TorchBert.Tests.Deploy;

/// <summary>The repository's deploy/ folder, copied beside the test assembly (TorchBert.Tests.csproj).</summary>
public static class DeployFiles
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "deploy");
    public static string Path_(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>What the server promises the manifests (its routes and drain default); see ServerContract.</summary>
    public static readonly string[] ProbePaths = ServerContract.Routes;
}

/// <summary>
/// One instruction of a Dockerfile (continuations joined, comments dropped), with the stage it belongs to.
/// </summary>
public sealed record DockerInstruction(string Keyword, string Arguments, int Stage, string? StageName)
{
    /// <summary>The arguments as a JSON array (exec form), or null when they are in shell form.</summary>
    public string[]? ExecForm
    {
        get
        {
            var a = Arguments.Trim();
            if (!a.StartsWith('[')) return null;
            try { return JsonSerializer.Deserialize<string[]>(a); }
            catch (JsonException) { return null; }
        }
    }
}

/// <summary>A deliberately small Dockerfile reader: enough to check structure (stages, USER, ENTRYPOINT form, ...).</summary>
public static class Dockerfile
{
    public static List<DockerInstruction> Parse(string path)
    {
        var logical = new List<string>();
        var current = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.TrimEnd();
            if (current.Length == 0 && line.TrimStart().StartsWith('#')) continue;
            if (current.Length > 0 && line.TrimStart().StartsWith('#')) continue;      // comments inside continuations
            if (line.EndsWith('\\')) { current += line[..^1] + " "; continue; }
            current += line;
            if (current.Trim().Length > 0) logical.Add(current.Trim());
            current = "";
        }
        var result = new List<DockerInstruction>();
        int stage = -1;
        string? name = null;
        foreach (var l in logical)
        {
            var m = Regex.Match(l, @"^(\w+)\s+(.*)$", RegexOptions.Singleline);
            if (!m.Success) throw new FormatException($"{path}: cannot read '{l}'");
            var keyword = m.Groups[1].Value.ToUpperInvariant();
            if (keyword == "FROM")
            {
                stage++;
                var asName = Regex.Match(m.Groups[2].Value, @"\s+AS\s+(\S+)\s*$", RegexOptions.IgnoreCase);
                name = asName.Success ? asName.Groups[1].Value : null;
            }
            result.Add(new DockerInstruction(keyword, m.Groups[2].Value, stage, name));
        }
        return result;
    }
}
