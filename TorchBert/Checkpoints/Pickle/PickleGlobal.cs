using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>What an allow-listed global is for.</summary>
internal enum PickleGlobalKind { OrderedDict, RebuildTensorV2, RebuildParameter, RebuildParameterWithState, Storage }

/// <summary>
/// An allow-listed global (<c>module.name</c>) pushed by GLOBAL / STACK_GLOBAL / INST. Only these ever exist on the
/// unpickler's stack; anything else is refused when it is named, before anything could be called.
/// </summary>
internal sealed record PickleGlobal(string Module, string Name, PickleGlobalKind Kind, ScalarType StorageDType = default)
{
    public override string ToString() => $"{Module}.{Name}";
}
