using TorchBert.Configuration;
using TorchBert.Hub;
using TorchBert.Tokenization;

namespace TorchBert.Loading;

/// <summary>
/// The files of a model folder, beside <c>config.json</c> and the weights, that decide how the model behaves: the
/// tokenizer files (<see cref="BertTokenizer.FileNames"/>) and the sentence-transformers files
/// (<see cref="SentenceTransformerConfig"/>: <c>modules.json</c>, module folders such as <c>1_Pooling/</c>,
/// <c>sentence_bert_config.json</c>, <c>config_sentence_transformers.json</c>). One list: <c>convert</c> copies these,
/// and sentence embeddings of a Hub id fetch them.
/// </summary>
public static class ModelFolderFiles
{
    /// <summary>The behaviour-deciding files that exist in <paramref name="folder"/>, as paths relative to it ('/'-separated).</summary>
    public static IReadOnlyList<string> BehaviourFilesIn(string folder) =>
        [.. BertTokenizer.FileNames.Where(f => File.Exists(Path.Combine(folder, f))), .. SentenceTransformerConfig.FilesIn(folder)];

    /// <summary>A Hub selection that also fetches the sentence-transformers files (and the module configs <c>modules.json</c> names).</summary>
    public static ModelFileSelection WithSentenceTransformers(ModelFileSelection? selection = null) => (selection ?? new ModelFileSelection()) with
    {
        OptionalFiles = SentenceTransformerConfig.TopLevelFiles,
        FollowUpFiles = folder => SentenceTransformerConfig.ModuleFolders(folder).Select(m => $"{m}/config.json"),
    };
}
