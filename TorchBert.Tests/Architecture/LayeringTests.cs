using System.Reflection;
using NetArchTest.Rules;
using TorchBert.Modeling;

namespace TorchBert.Tests.Architecture;

/// <summary>
/// The library's layers point one way (docs/architecture.md). Checked on the compiled assembly with NetArchTest, which
/// reads every type's IL through Mono.Cecil: base types, interfaces, fields, signatures, attributes, and the operands of
/// method bodies (calls, <c>newobj</c>, field loads, casts), including compiler-generated lambda and async types.
/// </summary>
public class LayeringTests
{
    /// <summary>
    /// Lowest first. A namespace may use namespaces of lower layers only: not its own layer's siblings, not anything above.
    /// </summary>
    internal static readonly string[][] Layers =
    [
        ["TorchBert"],                                      // NativeRuntime, CpuFeatures, TorchBertException
        ["TorchBert.Configuration"],
        ["TorchBert.Tokenization"],
        ["TorchBert.Checkpoints"],                          // readers, writers, ModelSource (an opened model)
        ["TorchBert.Hub", "TorchBert.Onnx"],                // Hub: transport only; Onnx: the ONNX importer
        ["TorchBert.Modeling"],
        ["TorchBert.Loading"],                              // ModelLocator, resolvers, DefaultModel, ModelConverter, FromPretrained
        ["TorchBert.Pipelines", "TorchBert.Serving"],       // Serving: the server's batching core (queue, permits) over tokenized rows
        ["TorchBert.Training", "TorchBert.Analysis", "TorchBert.Embeddings", "TorchBert.Corpus"],   // Embeddings: IEmbeddingGenerator over the pipeline (+ its DI registration); Corpus: sharded corpus jobs over Pipelines
    ];

    private static readonly Assembly Library = typeof(BertModel).Assembly;

    public static TheoryData<string> Namespaces() => [.. Layers.SelectMany(l => l)];

    [Theory]
    [MemberData(nameof(Namespaces))]
    public void A_layer_uses_only_the_layers_below_it(string ns)
    {
        var forbidden = Forbidden(ns);
        var result = TypesIn(ns).ShouldNot().HaveDependencyOnAny(forbidden).GetResult();
        result.IsSuccessful.Should().BeTrue(
            $"{ns} may use only {string.Join(", ", Allowed(ns))}; offending types: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Every_namespace_of_the_library_has_a_layer()
    {
        var known = Layers.SelectMany(l => l).ToHashSet();
        var namespaces = Library.GetTypes().Select(t => t.Namespace).Where(n => n is not null && n.StartsWith("TorchBert", StringComparison.Ordinal))
            .Select(n => n!.Split('.').Length > 2 ? string.Join('.', n!.Split('.').Take(2)) : n!).Distinct();
        namespaces.Should().BeSubsetOf(known, "each namespace of TorchBert.Core is placed in a layer of docs/architecture.md");
    }

    [Fact]
    public void The_check_sees_references_inside_method_bodies()
    {
        // The rule must not pass because the checker is blind: Modeling's Pretrained.Load calls CheckDType only in its body,
        // and the Loading layer's FromPretrained (a lambda-free static call) is seen as a dependency of Loading on Modeling.
        Types.InAssembly(Library).That().HaveNameStartingWith("PretrainedLoading").Should().HaveDependencyOn("TorchBert.Modeling")
            .GetResult().IsSuccessful.Should().BeTrue();
        Types.InAssembly(Library).That().ResideInNamespace("TorchBert.Loading").And().HaveNameStartingWith("EmbeddedModelResolver")
            .Should().HaveDependencyOn("TorchBert.NativeRuntime").GetResult().IsSuccessful.Should().BeTrue("EmbeddedModelResolver calls NativeRuntime.EnsureLoaded in an async-free method body");
    }

    /// <summary>Types of exactly <paramref name="ns"/> and its sub-namespaces (the root layer is the root namespace only).</summary>
    private static PredicateList TypesIn(string ns) => ns == "TorchBert"
        ? Types.InAssembly(Library).That().ResideInNamespaceMatching(@"^TorchBert$")
        : Types.InAssembly(Library).That().ResideInNamespace(ns);

    private static int LayerOf(string ns) => Array.FindIndex(Layers, l => l.Contains(ns));

    private static string[] Allowed(string ns) => Layers.Take(LayerOf(ns)).SelectMany(l => l).ToArray();

    /// <summary>Every namespace of the same or a higher layer except <paramref name="ns"/> itself.</summary>
    private static string[] Forbidden(string ns) => Layers.Skip(LayerOf(ns)).SelectMany(l => l).Where(n => n != ns).ToArray();
}
