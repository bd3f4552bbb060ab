using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TorchBert.Tests.Cli;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Packaging;

/// <summary>
/// THIRD-PARTY-NOTICES.md against what the build says the tool ships: every NuGet package with runtime or native
/// assets in the CLI's <c>torchbert.deps.json</c> is named, and the licence files the tool packs (licenses/) are the
/// ones inside the restored packages of the versions in use. (PackageConsumerTests opens the packed .nupkg files.)
/// </summary>
public sealed class NoticesTests
{
    /// <summary>The packages (id → version) whose files the CLI's build copies next to it.</summary>
    private static Dictionary<string, string> ShippedPackages()
    {
        var deps = JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(CliRunner.DllPath, ".deps.json")))!;
        var libraries = deps["libraries"]!.AsObject();
        var target = deps["targets"]!.AsObject().First().Value!.AsObject();
        return target
            .Where(kv => (string?)libraries[kv.Key]!["type"] == "package")
            .Where(kv => kv.Value!["runtime"] is not null || kv.Value!["native"] is not null || kv.Value!["runtimeTargets"] is not null)
            .Select(kv => kv.Key.Split('/'))
            .ToDictionary(p => p[0], p => p[1]);
    }

    private static string Lf(string path) => File.ReadAllText(path).ReplaceLineEndings("\n");

    [Fact]
    public void Every_package_the_tool_ships_is_named_in_the_notices()
    {
        var shipped = ShippedPackages();
        shipped.Keys.Should().Contain(["TorchSharp", "SkiaSharp", "HarfBuzzSharp", "ScottPlot", "Parquet.Net"], "the deps file lists the tool's packages");
        shipped.Keys.Should().Contain(k => k.StartsWith("libtorch-cpu-", StringComparison.Ordinal));
        var notices = File.ReadAllText(Path.Combine(RepoPaths.Root(), "THIRD-PARTY-NOTICES.md"));
        var named = Regex.Matches(notices, "`([^`]+)`").Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        shipped.Keys.Where(id => !named.Contains(id)).Should().BeEmpty("THIRD-PARTY-NOTICES.md names (in `backticks`) every package whose files the torchbert tool redistributes");
    }

    [Fact]
    public void The_packed_licence_files_are_those_of_the_restored_packages()
    {
        var repo = RepoPaths.Root();
        var shipped = ShippedPackages();
        var packages = RepoPaths.GlobalPackagesFolder();
        var torchSharp = shipped["TorchSharp"];
        Lf(Path.Combine(repo, "licenses", "LICENSE-LIBTORCH.txt")).Should().Be(
            Lf(Path.Combine(packages, "torchsharp-cpu", torchSharp, "LICENSE-LIBTORCH.txt")), $"TorchSharp-cpu {torchSharp}'s LICENSE-LIBTORCH.txt");
        var libtorch = shipped.Single(kv => kv.Key == "libtorch-cpu-" + TorchSharpRid()).Key;
        Lf(Path.Combine(repo, "licenses", "LICENSE-LIBTORCH.txt")).Should().Be(
            Lf(Path.Combine(packages, libtorch, shipped[libtorch], "LICENSE-LIBTORCH.txt")), $"{libtorch}'s copy is the same file");
        var skia = shipped.Keys.Where(k => k.StartsWith("SkiaSharp.NativeAssets.", StringComparison.Ordinal) || k.StartsWith("HarfBuzzSharp.NativeAssets.", StringComparison.Ordinal)).ToList();
        skia.Should().NotBeEmpty();
        foreach (var id in skia)
            Lf(Path.Combine(repo, "licenses", "SkiaSharp-THIRD-PARTY-NOTICES.txt")).Should().Be(
                Lf(Path.Combine(packages, id.ToLowerInvariant(), shipped[id], "THIRD-PARTY-NOTICES.txt")), $"{id} {shipped[id]}'s THIRD-PARTY-NOTICES.txt");
        File.ReadAllText(Path.Combine(repo, "TorchBert.Plotting", "Fonts", "DejaVuSans-LICENSE.txt")).Should().Contain("Bitstream Vera").And.Contain("Copyright (c) 2003 by Bitstream, Inc.");
    }

    private static string TorchSharpRid() =>
        OperatingSystem.IsWindows() ? "win-x64" : OperatingSystem.IsMacOS() ? "osx-arm64" : "linux-x64";
}
