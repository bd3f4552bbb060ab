using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// PyTorch's <c>Module.__repr__</c> for TorchSharp modules: "Name(\n  (child): ...\n)", leaf modules with their
/// <c>extra_repr</c>, and runs of identical ModuleList entries collapsed as "(0-11): 12 x BertLayer(".
/// </summary>
internal static class ModuleRepr
{
    private static readonly ConditionalWeakTable<nn.Module, string> Extras = new();

    /// <summary>Adds text to a module's extra_repr (e.g. an Embedding's padding_idx, which TorchSharp doesn't keep).</summary>
    public static void Annotate(nn.Module module, string extra) => Extras.AddOrUpdate(module, extra);

    /// <summary>The module tree as PyTorch's <c>print(model)</c> shows it.</summary>
    public static string Format(nn.Module module)
    {
        var children = module.named_children().ToList();
        var extra = ExtraRepr(module);
        var isList = module.GetType().IsGenericType && module.GetType().GetGenericTypeDefinition() == typeof(ModuleList<>);
        // torch's activation modules keep torch's print name (ReLU(), Tanh()) though their C# classes are named
        // ...Activation so they don't clash with TorchSharp.Modules.ReLU/Tanh
        var name = isList ? "ModuleList" : module is TiedLinear ? "Linear"
            : module is ReLUActivation or SiLUActivation or TanhActivation ? module.GetName() : module.GetType().Name;
        if (children.Count == 0) return $"{name}({extra})";

        var lines = new List<string>();
        if (extra.Length > 0) lines.Add(extra);
        lines.AddRange(isList ? ListChildren(children) : children.Select(c => $"({c.name}): {Format(c.module)}"));
        var sb = new StringBuilder(name).Append('(');
        foreach (var line in lines) sb.Append("\n  ").Append(line.Replace("\n", "\n  "));
        return sb.Append("\n)").ToString();
    }

    // PyTorch ≥ 2.0 ModuleList.__repr__: consecutive identical reprs are grouped.
    private static IEnumerable<string> ListChildren(List<(string name, nn.Module module)> children)
    {
        var reprs = children.Select(c => Format(c.module)).ToList();
        for (int start = 0; start < reprs.Count;)
        {
            int end = start;
            while (end + 1 < reprs.Count && reprs[end + 1] == reprs[start]) end++;
            yield return end == start
                ? $"({children[start].name}): {reprs[start]}"
                : $"({children[start].name}-{children[end].name}): {end - start + 1} x {reprs[start]}";
            start = end + 1;
        }
    }

    private static string ExtraRepr(nn.Module m)
    {
        var own = m switch
        {
            Linear l => $"in_features={l.in_features}, out_features={l.out_features}, bias={Bool(l.bias is not null)}",
            TiedLinear t => $"in_features={t.in_features}, out_features={t.out_features}, bias={Bool(t.bias is not null)}",
            Embedding e => $"{e.weight!.shape[0]}, {e.weight!.shape[1]}",
            LayerNorm ln => $"({string.Join(", ", ln.normalized_shape)},), eps={Py(ln.eps)}, elementwise_affine={Bool(ln.elementwise_affine)}",
            Dropout d => $"p={Py(d.p)}, inplace={Bool(d.inplace)}",
            _ => "",
        };
        return Extras.TryGetValue(m, out var extra) ? (own.Length > 0 ? $"{own}, {extra}" : extra) : own;
    }

    private static string Bool(bool b) => b ? "True" : "False";

    /// <summary>Python's float repr: shortest round-trip, "1e-12", "1e-05", "0.1", "0.0".</summary>
    internal static string Py(double v)
    {
        var s = v.ToString("R", CultureInfo.InvariantCulture);
        if (s.Contains('E'))
        {
            var parts = s.Split('E');
            var exp = int.Parse(parts[1], CultureInfo.InvariantCulture);
            return $"{parts[0]}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
        }
        return s.Contains('.') ? s : s + ".0";
    }
}
