using System.Globalization;
using System.Text.Json;

namespace TorchBert.Server;

/// <summary>TEI's error kinds (<c>router/src/lib.rs</c> <c>ErrorType</c>), plus what TEI answers outside its enum.</summary>
public enum ErrorKind { Unhealthy, Backend, Overloaded, Validation, Tokenizer, Empty, PayloadTooLarge, Unauthorized, ModelNotFound }

/// <summary>A request that fails with a status and TEI error type; turned into the route family's error body.</summary>
public sealed class ApiException(ErrorKind kind, string message, string? param = null) : Exception(message)
{
    public ErrorKind Kind { get; } = kind;
    /// <summary>The request field at fault, when known (OpenAI's <c>param</c>).</summary>
    public string? Param { get; } = param;

    /// <summary>Already counted in te_request_failure.</summary>
    internal bool Counted { get; set; }

    public int Status => Kind switch
    {
        ErrorKind.Empty => 400,
        ErrorKind.Unauthorized => 401,
        ErrorKind.ModelNotFound => 404,
        ErrorKind.PayloadTooLarge => 413,
        ErrorKind.Validation or ErrorKind.Tokenizer => 422,
        ErrorKind.Backend => 424,
        ErrorKind.Overloaded => 429,
        ErrorKind.Unhealthy => 503,
        _ => 500,
    };

    /// <summary>The wire name of <c>error_type</c> (serde writes the variant names as they are).</summary>
    public string TeiType => Kind switch
    {
        ErrorKind.PayloadTooLarge or ErrorKind.ModelNotFound or ErrorKind.Unauthorized => "Validation",
        _ => Kind.ToString(),
    };
}

/// <summary>Shortest-round-trip float text exactly as serde_json writes an <c>f32</c> (the ryu crate's layout).</summary>
public static class RyuFloat
{
    /// <summary>
    /// ryu's <c>format32</c>: integers up to 13 digits as <c>123.0</c>, decimals as <c>0.00123</c> down to 1e-6,
    /// otherwise scientific <c>1.5e-7</c> / <c>1e20</c>; non-finite values are <c>null</c> as serde_json writes them.
    /// </summary>
    public static string Format(float f)
    {
        if (float.IsNaN(f) || float.IsInfinity(f)) return "null";
        if (f == 0) return float.IsNegative(f) ? "-0.0" : "0.0";
        var r = f.ToString("R", CultureInfo.InvariantCulture);
        var negative = r[0] == '-';
        if (negative) r = r[1..];
        int exp = 0;
        var e = r.IndexOfAny(['E', 'e']);
        if (e >= 0) { exp = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture); r = r[..e]; }
        var dot = r.IndexOf('.');
        string digits;
        if (dot >= 0) { digits = r[..dot] + r[(dot + 1)..]; exp -= r.Length - dot - 1; }
        else digits = r;
        // value = digits × 10^exp; normalise (no leading/trailing zeros)
        var trimmedLead = digits.TrimStart('0');
        digits = trimmedLead;
        var trailing = digits.Length - digits.TrimEnd('0').Length;
        digits = digits.TrimEnd('0');
        exp += trailing;
        int length = digits.Length, k = exp, kk = length + k;
        string s;
        if (0 <= k && kk <= 13) s = digits + new string('0', k) + ".0";
        else if (0 < kk && kk <= 13) s = digits[..kk] + "." + digits[kk..];
        else if (-6 < kk && kk <= 0) s = "0." + new string('0', -kk) + digits;
        else if (length == 1) s = digits + "e" + (kk - 1).ToString(CultureInfo.InvariantCulture);
        else s = digits[0] + "." + digits[1..] + "e" + (kk - 1).ToString(CultureInfo.InvariantCulture);
        return negative ? "-" + s : s;
    }

    /// <summary>Writes <paramref name="f"/> as serde_json would.</summary>
    public static void WriteFloat(this Utf8JsonWriter w, float f) => w.WriteRawValue(Format(f), skipInputValidation: true);

    /// <summary>Writes a property holding <paramref name="f"/> as serde_json would.</summary>
    public static void WriteFloat(this Utf8JsonWriter w, string name, float f) { w.WritePropertyName(name); w.WriteFloat(f); }

    /// <summary>Writes a float array.</summary>
    public static void WriteFloats(this Utf8JsonWriter w, ReadOnlySpan<float> values)
    {
        w.WriteStartArray();
        foreach (var v in values) w.WriteFloat(v);
        w.WriteEndArray();
    }
}

/// <summary>Typed reads of a request body's fields, with 422 errors naming the field.</summary>
internal static class Fields
{
    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };

    public static ApiException Wrong(string field, string expected, JsonElement got) =>
        new(ErrorKind.Validation, $"`{field}`: expected {expected}, got {Kind(got)}", field);

    public static JsonElement Root(JsonDocument doc)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ApiException(ErrorKind.Validation, $"the request body must be a JSON object, got {Kind(doc.RootElement)}");
        return doc.RootElement;
    }

    public static JsonElement? Get(JsonElement obj, string field) =>
        obj.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement Required(JsonElement obj, string field) =>
        Get(obj, field) ?? throw new ApiException(ErrorKind.Validation, $"missing field `{field}`", field);

    public static bool? Bool(JsonElement obj, string field) => Get(obj, field) is { } v
        ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Wrong(field, "a boolean", v) }
        : null;

    public static string? String(JsonElement obj, string field) => Get(obj, field) is { } v
        ? v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(field, "a string", v)
        : null;

    public static string RequiredString(JsonElement obj, string field)
    {
        var v = Required(obj, field);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(field, "a string", v);
    }

    public static int? Int(JsonElement obj, string field, int min = int.MinValue) => Get(obj, field) is { } v
        ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n)
            ? n >= min ? n : throw new ApiException(ErrorKind.Validation, $"`{field}` must be >= {min}, got {n}", field)
            : throw Wrong(field, "an integer", v)
        : null;

    public static List<string> Strings(JsonElement obj, string field)
    {
        var v = Required(obj, field);
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(field, "a list of strings", v);
        var list = new List<string>();
        int i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw Wrong($"{field}[{i}]", "a string", item);
            list.Add(item.GetString()!);
            i++;
        }
        return list;
    }

    /// <summary>TEI <c>truncation_direction</c>: Right (default) or Left, any case.</summary>
    public static bool Left(JsonElement obj) => String(obj, "truncation_direction") switch
    {
        null => false,
        var s when s.Equals("right", StringComparison.OrdinalIgnoreCase) => false,
        var s when s.Equals("left", StringComparison.OrdinalIgnoreCase) => true,
        var s => throw new ApiException(ErrorKind.Validation, $"`truncation_direction`: unknown variant `{s}`, expected `Left` or `Right`", "truncation_direction"),
    };
}
