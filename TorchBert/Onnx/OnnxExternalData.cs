using System.Globalization;

namespace TorchBert.Onnx;

/// <summary>
/// Tensors stored outside the model (TensorProto.data_location = EXTERNAL): external_data's "location" is a file
/// relative to the model's directory (it may not leave it), "offset" and "length" a byte range in it.
/// </summary>
internal static class OnnxExternalData
{
    public static void Read(OnnxModel model, OnnxTensorInfo t, Span<byte> dest)
    {
        if (!t.External.TryGetValue("location", out var location) || location.Length == 0)
            throw OnnxTensorData.Error(model, t, "has external data without a 'location'");
        var dir = Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(model.Path))!);
        var file = Path.GetFullPath(Path.Combine(dir, location));
        if (Path.IsPathRooted(location) || !file.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw OnnxTensorData.Error(model, t, $"external data location '{location}' is outside the model's directory");
        if (!File.Exists(file))
            throw OnnxTensorData.Error(model, t, $"external data file '{location}' not found (looked for {file})");
        var offset = Number(model, t, "offset") ?? 0;
        var length = Number(model, t, "length");
        if (length is { } l && l != dest.Length)
            throw OnnxTensorData.Error(model, t, $"external data length {l} does not match its dims ({dest.Length} bytes)");
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        if (offset > stream.Length - dest.Length)
            throw OnnxTensorData.Error(model, t,
                $"external data [{offset}, +{dest.Length}) runs past the end of '{location}' ({stream.Length} bytes)");
        stream.Position = offset;
        stream.ReadExactly(dest);
    }

    private static long? Number(OnnxModel model, OnnxTensorInfo t, string key)
    {
        if (!t.External.TryGetValue(key, out var text)) return null;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v : throw OnnxTensorData.Error(model, t, $"external data {key} '{text}' is not a non-negative integer");
    }
}
