using System.Diagnostics;

namespace TorchBert.Bench;

/// <summary>
/// Warm-up, then the engines take turns (A, B, A, B, …) so drift and noise hit both alike. Each timed call follows an
/// untimed pause: ONNX Runtime's intra-op threads keep spinning for a while after a call, and on a 2-core machine they
/// steal the cores from whatever runs next. Measured at b1×t16: TorchBert 34 ms after a 20 ms pause, 19 ms after
/// 200 ms, 17 ms with ORT's spinning switched off or with no ORT in the process.
/// </summary>
public static class Timer
{
    private const int PauseMs = 250;

    public static Timing[] Alternate(IReadOnlyList<IEngine> engines, Batch batch, int warmUp, int repeats)
    {
        foreach (var e in engines)
            for (var i = 0; i < warmUp; i++) e.Run(batch);
        var ms = engines.Select(_ => new List<double>()).ToArray();
        var faults = engines.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < repeats; r++)
        {
            // Rotate who goes first each round.
            for (var k = 0; k < engines.Count; k++)
            {
                var j = (r + k) % engines.Count;
                Thread.Sleep(PauseMs);
                var f = Machine.MinorFaults();
                ms[j].Add(Time(() => engines[j].Run(batch)));
                faults[j].Add(Machine.MinorFaults() - f);
            }
        }
        return engines.Select((e, i) => new Timing(e.Name, ms[i]) { Faults = faults[i] }).ToArray();
    }

    /// <summary>
    /// Warm, back-to-back latency: the engines take turns in blocks; each block follows the same pause (ORT's spinning
    /// threads stop), runs one untimed call that wakes the engine's threads and brings its weights into the caches, then
    /// <paramref name="perBlock"/> timed calls back to back, as a busy server or a loop over inputs sees them. The
    /// after-idle numbers of <see cref="Alternate"/> pay, per call, thread wake-ups and weights read from memory.
    /// </summary>
    public static Timing[] Blocks(IReadOnlyList<IEngine> engines, Batch batch, int rounds, int perBlock)
    {
        var ms = engines.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < rounds; r++)
            for (var k = 0; k < engines.Count; k++)
            {
                var j = (r + k) % engines.Count;
                Thread.Sleep(PauseMs);
                engines[j].Run(batch);
                for (var i = 0; i < perBlock; i++) ms[j].Add(Time(() => engines[j].Run(batch)));
            }
        return engines.Select((e, i) => new Timing(e.Name, ms[i])).ToArray();
    }

    public static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalMilliseconds;
    }
}
