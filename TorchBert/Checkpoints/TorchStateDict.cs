namespace TorchBert.Checkpoints;

/// <summary>Turns an unpickled state dict (<c>{name: tensor}</c>, dict or OrderedDict) into named tensor records.</summary>
internal static class TorchStateDict
{
    public static List<(string Name, TorchTensorRecord Record)> Entries(object? root, string path)
    {
        if (root is not PickleDict dict)
            throw new CheckpointException($"{path}: the pickled object is a {TorchStorageRef.Describe(root)}, not a state dict");
        var result = new List<(string, TorchTensorRecord)>(dict.Count);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name)
                throw new CheckpointException($"{path}: state dict key {TorchStorageRef.Describe(key)} is not a string");
            if (value is not TorchTensorRecord record)
                throw new CheckpointException($"{path}: state dict entry '{name}' is a {TorchStorageRef.Describe(value)}, not a tensor");
            result.Add((name, record));
        }
        return result;
    }
}
