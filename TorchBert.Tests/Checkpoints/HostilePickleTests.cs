using TorchBert.Checkpoints;

namespace TorchBert.Tests.Checkpoints;

/// <summary>Pickles that would run code under a plain unpickler are refused when the global is named; nothing runs.</summary>
public class HostilePickleTests
{
    public static TheoryData<string, string, string> Payloads()
    {
        var data = new TheoryData<string, string, string>();
        var targets = new[] { ("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
            ("subprocess", "Popen"), ("__builtin__", "getattr"), ("torch", "load"), ("collections", "defaultdict") };
        foreach (var (module, name) in targets)
            foreach (var via in new[] { "GLOBAL+REDUCE", "STACK_GLOBAL", "INST", "OBJ", "NEWOBJ", "inside state dict" })
                data.Add(module, name, via);
        return data;
    }

    /// <summary>A pickle that, unpickled by Python, would call <c>module.name(command)</c>.</summary>
    internal static byte[] Hostile(string module, string name, string via, string command)
    {
        var p = new PickleBuilder();
        return via switch
        {
            "GLOBAL+REDUCE" => p.Proto().Global(module, name).Str(command).Tuple1().Reduce().Stop().ToArray(),
            "STACK_GLOBAL" => Framed(new PickleBuilder().ShortStr(module).Memoize().ShortStr(name).Memoize().StackGlobal()
                .ShortStr(command).Tuple1().Reduce().Stop().ToArray()),
            "INST" => p.Mark().Str(command).Inst(module, name).Stop().ToArray(),
            "OBJ" => p.Mark().Global(module, name).Str(command).Obj().Stop().ToArray(),
            "NEWOBJ" => p.Proto().Global(module, name).Str(command).Tuple1().NewObj().Stop().ToArray(),
            "inside state dict" => p.Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
                .Str("bert.x").Global(module, name).Str(command).Tuple1().Reduce().SetItem().Stop().ToArray(),
            _ => throw new ArgumentException(via),
        };
    }

    /// <summary>Protocol 4 as Python writes it: PROTO 4, then FRAME with the length of what follows.</summary>
    internal static byte[] Framed(byte[] body) => new PickleBuilder().Proto(4).Frame((ulong)body.Length).Raw(body).ToArray();

    private static string Command(string marker, string name) =>
        name is "eval" or "exec" ? $"__import__('os').system('touch {marker}')" : $"touch {marker}";

    [Theory]
    [MemberData(nameof(Payloads))]
    public void Unpickler_refuses_the_global_and_runs_nothing(string module, string name, string via)
    {
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        var bytes = Hostile(module, name, via, Command(marker, name));
        var act = () => RestrictedUnpickler.Load(new PickleInput(new MemoryStream(bytes), bytes.Length, "hostile.pkl"), _ => null);
        act.Should().Throw<CheckpointException>().WithMessage($"hostile.pkl: *refuses global '{module}.{name}'*");
        File.Exists(marker).Should().BeFalse();
    }

    [Theory]
    [MemberData(nameof(Payloads))]
    public void Zip_and_legacy_files_carrying_the_pickle_are_refused(string module, string name, string via)
    {
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        var bytes = Hostile(module, name, via, Command(marker, name));
        string zip = dir.File("pytorch_model.bin");
        TorchFiles.WriteZip(zip, bytes, []);
        var openZip = () => CheckpointFiles.Open(zip);
        openZip.Should().Throw<CheckpointException>().WithMessage($"*archive/data.pkl*refuses global '{module}.{name}'*");

        string legacy = dir.File("legacy.bin");
        File.WriteAllBytes(legacy, TorchFiles.Legacy(bytes, []));
        var openLegacy = () => CheckpointFiles.Open(legacy);
        openLegacy.Should().Throw<CheckpointException>().WithMessage($"*legacy.bin*refuses global '{module}.{name}'*");
        File.Exists(marker).Should().BeFalse();
    }

    [Fact]
    public void Hostile_magic_number_pickle_in_a_legacy_file_is_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("legacy.bin");
        var bytes = Hostile("os", "system", "GLOBAL+REDUCE", "true");
        File.WriteAllBytes(path, [.. bytes, .. TorchFiles.Legacy(TorchFiles.StateDictPickle([], legacy: true), [])]);
        var act = () => TorchLegacyReader.Open(path);
        act.Should().Throw<CheckpointException>().WithMessage("*refuses global 'os.system'*");
    }

    [Theory]
    [InlineData("storage class called", "torch.FloatStorage may only appear in a persistent id")]
    [InlineData("OrderedDict with arguments", "collections.OrderedDict called with 1 arguments")]
    [InlineData("REDUCE on a string", "cannot call a 'x'")]
    [InlineData("BUILD on a tensor list", "BUILD on a List")]
    [InlineData("persistent id without a storage", "not a ('storage', type, key, location, numel) tuple")]
    [InlineData("rebuild of a non-storage", "_rebuild_tensor_v2 storage is a 'x'")]
    [InlineData("EXT1", "refuses EXT opcodes")]
    public void Allowed_globals_cannot_be_misused(string what, string expected)
    {
        var p = new PickleBuilder().Proto();
        byte[] bytes = what switch
        {
            "storage class called" => p.Global("torch", "FloatStorage").Int(10).Tuple1().Reduce().Stop().ToArray(),
            "OrderedDict with arguments" => p.Global("collections", "OrderedDict").EmptyList().Tuple1().Reduce().Stop().ToArray(),
            "REDUCE on a string" => p.Str("x").EmptyTuple().Reduce().Stop().ToArray(),
            "BUILD on a tensor list" => p.EmptyList().EmptyDict().Build().Stop().ToArray(),
            "persistent id without a storage" => p.Str("x").BinPersId().Stop().ToArray(),
            "rebuild of a non-storage" => p.Global("torch._utils", "_rebuild_tensor_v2").Mark().Str("x").Int(0).IntTuple(1).IntTuple(1)
                .False().None().Tuple().Reduce().Stop().ToArray(),
            "EXT1" => p.Raw(0x82, 1).Stop().ToArray(),
            _ => throw new ArgumentException(what),
        };
        var act = () => RestrictedUnpickler.Load(new PickleInput(new MemoryStream(bytes), bytes.Length, "p.pkl"),
            pid => TorchStorageRef.Parse(pid, new PickleInput(Stream.Null, 0, "p.pkl"), out _));
        act.Should().Throw<CheckpointException>().WithMessage($"*{expected}*");
    }
}
