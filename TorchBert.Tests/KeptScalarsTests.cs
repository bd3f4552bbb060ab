using System.Diagnostics;
using System.Text.RegularExpressions;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests;

/// <summary>
/// <see cref="KeptScalars"/>: the numbers the library passes to tensor ops survive a garbage collection on another thread
/// while the native op runs (TorchSharp's temporary Scalars do not: with the plain operators this loop fails a few times
/// a second here, with libtorch's "Expected false to be true" or a wrong value).
/// Runs alone: its collector forces thousands of collections, which would slow every test running beside it.
/// </summary>
[Collection(nameof(Robustness.MemoryMeasurements))]
public sealed class KeptScalarsTests
{
    [Fact]
    public void Ops_with_kept_scalars_survive_a_collecting_thread_and_give_the_right_values()
    {
        using var a = ones(64, 384, dtype: ScalarType.BFloat16);
        using var b = ones(64, 384, dtype: ScalarType.BFloat16);
        using var mask = ones(8, 32, dtype: ScalarType.Int64);
        var stop = false;
        var collections = 0;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop)) { GC.Collect(0); GC.WaitForPendingFinalizers(); collections++; } // young temporaries die in gen 0
        });
        collector.Start();
        var failures = new List<string>();
        var watch = Stopwatch.StartNew();
        var rounds = 0;
        try
        {
            while (watch.Elapsed < TimeSpan.FromSeconds(3))
            {
                using var scope = NewDisposeScope();
                try
                {
                    var sum = a.Plus(b);                                          // 2
                    for (var i = 0; i < 200; i++) a.Plus(b);                       // the op most exposed: alpha = 1 on every add
                    var scaled = sum.Times(0.5).Plus(1.0).Over(2.0);              // (1 + 1) / 2 = 1
                    var extended = mask.to(ScalarType.Float32).OneMinus().Times(-3.0); // 0
                    var positions = KeptScalars.Arange(0, 32);                   // 0..31
                    var filled = KeptScalars.With(7.0, v => zeros(4).masked_fill(ones(4, dtype: ScalarType.Bool), v));
                    if (++rounds % 200 != 0) continue;
                    using var readBack = NewDisposeScope();
                    if (!(KeptScalars.With(2.0, two => sum.to(ScalarType.Float32).eq(two)).all().item<bool>()
                          && scaled.to(ScalarType.Float32).eq(KeptScalars.One).all().item<bool>()
                          && extended.eq(KeptScalars.Zero).all().item<bool>()
                          && positions.data<long>().SequenceEqual(Enumerable.Range(0, 32).Select(i => (long)i))
                          && filled.data<float>().All(x => x == 7f)))
                        failures.Add($"round {rounds}: wrong values");
                }
                catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or InvalidOperationException)
                {
                    failures.Add($"round {rounds}: {e.Message.Split('\n')[0]}");
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        collections.Should().BeGreaterThan(100, "the collector ran throughout");
        failures.Should().BeEmpty($"{rounds} rounds under {collections} collections");
    }

    [Fact]
    public void The_library_passes_no_literal_number_where_torchsharp_makes_a_temporary_scalar()
    {
        // The common forms: a literal compared or filled (x.ne(0), masked_fill(m, -1e9), clamp_min(1e-9)), and arange,
        // whose long overloads make three temporaries. KeptScalars.cs is where the kept ones are made.
        var literal = new Regex(@"\.(eq|ne|lt|le|gt|ge|clamp|clamp_min|clamp_max|mul_|div_|add_|fill_|masked_fill_?)\((?:[^()]*,\s*)?-?(?:\d|double\.|float\.)");
        var bareArange = new Regex(@"(?<![\w.])arange\(");
        var found = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoPaths.Root(), "TorchBert"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || Path.GetFileName(file) == "KeptScalars.cs") continue;
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var code = lines[i].Split("//")[0];
                if (literal.IsMatch(code) || bareArange.IsMatch(code)) found.Add($"{Path.GetFileName(file)}:{i + 1}: {code.Trim()}");
            }
        }
        found.Should().BeEmpty("numbers reach tensor ops through KeptScalars");
    }
}
