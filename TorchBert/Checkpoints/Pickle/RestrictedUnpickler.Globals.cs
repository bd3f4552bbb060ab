namespace TorchBert.Checkpoints;

/// <summary>The allow-list and what the allowed callables do (build records; nothing is executed).</summary>
internal sealed partial class RestrictedUnpickler
{
    private static readonly Dictionary<string, PickleGlobal> Allowed = BuildAllowList();

    /// <summary>The allow-listed globals as "module.name", for messages and tests.</summary>
    public static IEnumerable<string> AllowedNames => Allowed.Keys;

    private static Dictionary<string, PickleGlobal> BuildAllowList()
    {
        var list = new List<PickleGlobal>
        {
            new("collections", "OrderedDict", PickleGlobalKind.OrderedDict),
            new("torch._utils", "_rebuild_tensor_v2", PickleGlobalKind.RebuildTensorV2),
            new("torch._utils", "_rebuild_parameter", PickleGlobalKind.RebuildParameter),
            new("torch._utils", "_rebuild_parameter_with_state", PickleGlobalKind.RebuildParameterWithState),
        };
        foreach (var storage in new[] { "Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool" })
        {
            CheckpointDTypes.TryFromTorchStorage(storage + "Storage", out var dtype);
            list.Add(new("torch", storage + "Storage", PickleGlobalKind.Storage, dtype));
        }
        return list.ToDictionary(g => g.ToString(), StringComparer.Ordinal);
    }

    /// <summary>GLOBAL / STACK_GLOBAL / INST: anything not allow-listed is refused here, before it could be called.</summary>
    private PickleGlobal ResolveGlobal(string module, string name)
    {
        string full = $"{module}.{name}";
        if (Allowed.TryGetValue(full, out var g)) return g;
        string shown = full.Length > 120 ? full[..120] + "..." : full;
        shown = new string(shown.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        throw _in.Fail($"refuses global '{shown}': only state-dict globals are allowed (collections.OrderedDict, "
            + "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage)");
    }

    /// <summary>REDUCE / INST / OBJ: <c>f(*args)</c> for an allow-listed <paramref name="f"/>.</summary>
    private object? Call(object? f, object?[] args)
    {
        if (f is not PickleGlobal g) throw _in.Fail($"cannot call a {TorchStorageRef.Describe(f)}");
        switch (g.Kind)
        {
            case PickleGlobalKind.OrderedDict when args.Length == 0:
                return new PickleDict();
            case PickleGlobalKind.RebuildTensorV2 when args.Length is 6 or 7:
                return RebuildTensor(args);
            case PickleGlobalKind.RebuildParameter when args.Length == 3:
            case PickleGlobalKind.RebuildParameterWithState when args.Length == 4:
                return args[0] as TorchTensorRecord ?? throw _in.Fail($"{g} of a {TorchStorageRef.Describe(args[0])}, not a tensor");
            case PickleGlobalKind.Storage:
                throw _in.Fail($"{g} may only appear in a persistent id, not be called");
            default:
                throw _in.Fail($"{g} called with {args.Length} arguments");
        }
    }

    /// <summary>NEWOBJ: <c>cls.__new__(cls, *args)</c>; only an empty OrderedDict.</summary>
    private object? New(object? cls, object?[] args) =>
        cls is PickleGlobal { Kind: PickleGlobalKind.OrderedDict } && args.Length == 0
            ? new PickleDict()
            : throw _in.Fail($"NEWOBJ of a {TorchStorageRef.Describe(cls)} is not allowed");

    private object? NewEx(object? cls, object?[] args, object? kwargs) =>
        kwargs is PickleDict { Count: 0 } ? New(cls, args) : throw _in.Fail("NEWOBJ_EX with keyword arguments is not allowed");

    /// <summary>BUILD: only an OrderedDict's state (its <c>_metadata</c> attribute), which a state dict does not need.</summary>
    private void Build(object? instance, object? state)
    {
        if (instance is PickleDict && state is PickleDict or null) return;
        throw _in.Fail($"BUILD on a {TorchStorageRef.Describe(instance)} is not allowed");
    }

    /// <summary><c>_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])</c>.</summary>
    private TorchTensorRecord RebuildTensor(object?[] a)
    {
        if (a[0] is not TorchStorageRef storage)
            throw _in.Fail($"_rebuild_tensor_v2 storage is a {TorchStorageRef.Describe(a[0])}");
        if (a[1] is not long offset || offset < 0)
            throw _in.Fail("_rebuild_tensor_v2 storage_offset is not a non-negative integer");
        long[] size = Longs(a[2], "size"), stride = Longs(a[3], "stride");
        if (size.Length != stride.Length)
            throw _in.Fail($"_rebuild_tensor_v2 size has {size.Length} dims but stride has {stride.Length}");
        if (a[4] is not bool)
            throw _in.Fail("_rebuild_tensor_v2 requires_grad is not a bool");
        return new TorchTensorRecord(storage, offset, size, stride);
    }

    private long[] Longs(object? value, string what)
    {
        if (value is not object?[] t || t.Length > 64)
            throw _in.Fail($"_rebuild_tensor_v2 {what} is not a tuple of at most 64 integers");
        var result = new long[t.Length];
        for (int i = 0; i < t.Length; i++)
            result[i] = t[i] is long v && v >= 0 ? v : throw _in.Fail($"_rebuild_tensor_v2 {what}[{i}] is not a non-negative integer");
        return result;
    }
}
