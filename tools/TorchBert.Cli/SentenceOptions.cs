using System.CommandLine;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Pipelines;

namespace TorchBert.Cli;

/// <summary>
/// embed / similarity: the model folder's sentence-transformers files decide pooling, normalization and prompts;
/// these flags override them.
/// </summary>
internal sealed class SentenceOptions
{
    public readonly Option<string?> Pooling = new("--pooling") { Description = "cls | mean | max | mean_sqrt_len | weightedmean | lasttoken (default: the model folder's 1_Pooling/config.json, else mean)" };
    public readonly Option<bool> Normalize = new("--normalize") { Description = "L2-normalize the vectors (default: as the folder's modules.json says; normalized when it has none)" };
    public readonly Option<bool> NoNormalize = new("--no-normalize") { Description = "do not L2-normalize the vectors" };
    public readonly Option<string?> PromptName = new("--prompt-name") { Description = "one of the model's prompts (config_sentence_transformers.json), prepended to each text" };
    public readonly Option<string?> Prompt = new("--prompt") { Description = "a literal prompt prepended to each text (\"\" = none, even when the model has a default prompt)" };

    public void AddTo(Command c) { c.Options.Add(Pooling); c.Options.Add(Normalize); c.Options.Add(NoNormalize); c.Options.Add(PromptName); c.Options.Add(Prompt); }

    /// <summary>The overrides of the folder's settings.</summary>
    public SentenceEmbeddingOptions Options(ParseResult p)
    {
        if (p.GetValue(Normalize) && p.GetValue(NoNormalize)) throw new UsageException("--normalize and --no-normalize contradict each other");
        Pooling? pooling = null;
        if (p.GetValue(Pooling) is { } name)
            pooling = SentenceTransformerConfig.ParsePooling(name)
                ?? throw new UsageException($"--pooling must be one of cls | mean | max | mean_sqrt_len | weightedmean | lasttoken, got '{name}'");
        return new SentenceEmbeddingOptions
        {
            Pooling = pooling,
            Normalize = p.GetValue(Normalize) ? true : p.GetValue(NoNormalize) ? false : null,
        };
    }

    /// <summary>The per-call prompt.</summary>
    public SentenceEmbeddingParameters Parameters(ParseResult p) => new() { PromptName = p.GetValue(PromptName), Prompt = p.GetValue(Prompt) };
}
