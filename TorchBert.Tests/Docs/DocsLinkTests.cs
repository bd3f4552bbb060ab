using System.Text.RegularExpressions;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Docs;

/// <summary>
/// The README is a front page over docs/: every relative link in README.md and docs/**/*.md must name a file of the
/// repository, and every #anchor a heading of its target (GitHub's slugs), so a moved section cannot leave a dead link.
/// </summary>
public sealed partial class DocsLinkTests
{
    [GeneratedRegex(@"(?<!`)!?\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"[^\p{L}\p{N}\- _]")]
    private static partial Regex NotSlug();

    /// <summary>GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered.</summary>
    internal static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var fence = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("```")) fence = !fence;
            if (fence || !line.StartsWith('#')) continue;
            var title = line.TrimStart('#').Trim();
            var slug = NotSlug().Replace(title.ToLowerInvariant(), "").Replace(' ', '-');
            var unique = slug;
            for (var n = 1; !anchors.Add(unique); n++) unique = $"{slug}-{n}";
        }
        return anchors;
    }

    private static IEnumerable<(string Line, string Target)> Links(string markdown)
    {
        var fence = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("```")) fence = !fence;
            if (fence) continue;
            foreach (Match m in Link().Matches(Regex.Replace(line, "`[^`]*`", "")))
                yield return (line, m.Groups[1].Value);
        }
    }

    [Fact]
    public void Slugs_follow_github()
    {
        Anchors("## Task pipelines (HF's `pipeline(...)`: text-classification, zero-shot)\n## A b\n## A b")
            .Should().BeEquivalentTo(["task-pipelines-hfs-pipeline-text-classification-zero-shot", "a-b", "a-b-1"]);
    }

    [Fact]
    public void Every_relative_link_of_the_readme_and_docs_resolves()
    {
        var root = RepoPaths.Root();
        var files = new[] { Path.Combine(root, "README.md") }
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories)).ToList();
        var broken = new List<string>();
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            foreach (var (line, target) in Links(text))
            {
                if (Regex.IsMatch(target, "^[a-z]+:")) continue;   // http(s), mailto
                var hash = target.IndexOf('#');
                var path = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : target[(hash + 1)..];
                var resolved = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, Uri.UnescapeDataString(path)));
                var where = $"{Path.GetRelativePath(root, file)}: ({target})";
                if (!File.Exists(resolved) && !Directory.Exists(resolved)) { broken.Add($"{where}: no such file"); continue; }
                if (anchor is not null && resolved.EndsWith(".md") && !Anchors(File.ReadAllText(resolved)).Contains(anchor))
                    broken.Add($"{where}: no heading #{anchor} in {Path.GetRelativePath(root, resolved)}");
            }
        }
        files.Should().Contain(f => f.EndsWith("README.md"));
        broken.Should().BeEmpty();
    }
}
