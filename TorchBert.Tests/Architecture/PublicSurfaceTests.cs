using System.Reflection;
using TorchBert.Modeling;

namespace TorchBert.Tests.Architecture;

/// <summary>
/// The public surface does not clash with what users import beside TorchBert (issue 21: <c>Encoding</c> vs System.Text,
/// <c>ReLU</c>/<c>SiLU</c>/<c>Tanh</c> vs TorchSharp.Modules, <c>Task</c> properties vs System.Threading.Tasks). The oracle is
/// the other libraries' own exported types, read by reflection: a new clash on either side fails the test.
/// </summary>
public class PublicSurfaceTests
{
    private static readonly Assembly Library = typeof(BertModel).Assembly;

    /// <summary>Namespaces a TorchBert user typically has in scope at the same time (implicit usings + TorchSharp + M.E.AI).</summary>
    private static readonly string[] ImportedBeside =
    [
        "System", "System.IO", "System.Linq", "System.Collections.Generic", "System.Net.Http", "System.Threading",
        "System.Threading.Tasks", "System.Text", "TorchSharp", "TorchSharp.Modules", "Microsoft.Extensions.AI",
        "Microsoft.Extensions.Logging", "Microsoft.Extensions.DependencyInjection",
    ];

    private static IEnumerable<Type> Exported(Assembly a)
    {
        try { return a.GetExportedTypes(); }
        catch (Exception e) when (e is ReflectionTypeLoadException or NotSupportedException or FileNotFoundException) { return []; }
    }

    /// <summary>Simple names of the public types of <see cref="ImportedBeside"/>, from every assembly the test process has loaded.</summary>
    private static Dictionary<string, string> ForeignNames()
    {
        // Make sure the assemblies behind those namespaces are loaded.
        _ = typeof(TorchSharp.Modules.ReLU);
        _ = typeof(Microsoft.Extensions.AI.IEmbeddingGenerator);
        _ = typeof(Microsoft.Extensions.Logging.ILogger);
        _ = typeof(Microsoft.Extensions.DependencyInjection.IServiceCollection);
        _ = typeof(System.Net.Http.HttpClient);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var a in AppDomain.CurrentDomain.GetAssemblies().Where(a => a != Library && !a.IsDynamic))
            foreach (var t in Exported(a).Where(t => !t.IsNested && t.Namespace is { } ns && ImportedBeside.Contains(ns)))
                names.TryAdd(StripArity(t.Name), t.FullName!);
        return names;
    }

    private static string StripArity(string name) => name.IndexOf('`') is var i and >= 0 ? name[..i] : name;

    [Fact]
    public void No_public_type_has_the_name_of_a_type_users_import_beside_it()
    {
        var foreign = ForeignNames();
        foreign.Should().ContainKeys(["Encoding", "Task", "ReLU", "Tanh", "SiLU", "IEmbeddingGenerator"], "the oracle really holds the namespaces' types");
        var clashes = Exported(Library).Where(t => !t.IsNested && foreign.ContainsKey(StripArity(t.Name)))
            .Select(t => $"{t.FullName} vs {foreign[StripArity(t.Name)]}").ToList();
        clashes.Should().BeEmpty();
    }

    [Fact]
    public void No_public_member_is_named_Task()
    {
        // A property or method named Task beside 'using System.Threading.Tasks' reads as the type in user code (issue 21).
        var members = Exported(Library)
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => m.Name == "Task").Select(m => $"{t.FullName}.{m.Name}"))
            .ToList();
        members.Should().BeEmpty();
    }
}
