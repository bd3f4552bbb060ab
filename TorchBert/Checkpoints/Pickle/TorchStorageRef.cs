using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>
/// A storage named by a persistent id: <c>('storage', torch.FloatStorage, key, location, numel[, view_metadata])</c>.
/// <see cref="ElementOffset"/> is non-zero only for a legacy storage view into its root storage <see cref="Key"/>.
/// </summary>
internal sealed record TorchStorageRef(string Key, ScalarType DType, long Numel, string Location, long ElementOffset = 0)
{
    /// <summary>Parses the common part of a persistent id tuple; <paramref name="extra"/> gets what follows numel.</summary>
    public static TorchStorageRef Parse(object? pid, PickleInput input, out object?[] extra)
    {
        if (pid is not object?[] t || t.Length < 5 || t[0] is not "storage")
            throw input.Fail($"persistent id {Describe(pid)} is not a ('storage', type, key, location, numel) tuple");
        if (t[1] is not PickleGlobal { Kind: PickleGlobalKind.Storage } type)
            throw input.Fail($"persistent id storage type {Describe(t[1])} is not a torch storage class");
        if (t[2] is not string { Length: > 0 } key || t[3] is not string location)
            throw input.Fail("persistent id key or location is not a string");
        if (t[4] is not long numel || numel < 0)
            throw input.Fail($"persistent id numel {Describe(t[4])} is not a non-negative integer");
        extra = t[5..];
        return new TorchStorageRef(key, type.StorageDType, numel, location);
    }

    /// <summary>A short description of an unpickled value for error messages (never recursive).</summary>
    public static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"'{(s.Length > 60 ? s[..60] + "..." : s)}'",
        object?[] t => $"tuple of {t.Length}",
        _ => value.GetType().Name,
    };
}
