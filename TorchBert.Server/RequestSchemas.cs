using System.ComponentModel;

namespace TorchBert.Server;

// Request bodies as the OpenAPI document (/openapi/v1.json, /docs) describes them. The handlers read the JSON themselves
// (TEI's untagged unions and its error messages naming the field); these records only document the shapes.
#pragma warning disable CS1591

[Description("TEI /embed, /embed_all, /embed_sparse: inputs is a string, a list of strings, token ids or a list of those")]
public sealed record EmbedRequest(object Inputs, bool? Truncate = null, string? TruncationDirection = "Right", string? PromptName = null,
    bool Normalize = true, int? Dimensions = null, string? Model = null);

[Description("TEI /predict: inputs is a string, a pair [a, b], or a batch of [a] / [a, b]")]
public sealed record PredictRequest(object Inputs, bool? Truncate = null, string? TruncationDirection = "Right", bool RawScores = false, string? Model = null);

[Description("TEI /rerank")]
public sealed record RerankRequest(string Query, IReadOnlyList<string> Texts, bool? Truncate = null, string? TruncationDirection = "Right",
    bool RawScores = false, bool ReturnText = false, string? Model = null);

[Description("Cohere-style /v2/rerank: documents are strings or {\"text\"} objects")]
public sealed record CohereRerankRequest(string Query, IReadOnlyList<object> Documents, int? TopN = null, bool ReturnDocuments = false, string? Model = null);

public sealed record SimilarityInputs(string SourceSentence, IReadOnlyList<string> Sentences);
public sealed record SimilarityParameters(bool? Truncate = null, string? TruncationDirection = "Right", string? PromptName = null);

[Description("TEI /similarity")]
public sealed record SimilarityRequest(SimilarityInputs Inputs, SimilarityParameters? Parameters = null, string? Model = null);

[Description("TEI /tokenize: inputs is a string or a list of strings")]
public sealed record TokenizeRequest(object Inputs, bool AddSpecialTokens = true, string? PromptName = null, string? Model = null);

[Description("TEI /decode: ids is a list of token ids or a list of lists")]
public sealed record DecodeRequest(object Ids, bool SkipSpecialTokens = true, string? Model = null);

[Description("OpenAI /v1/embeddings: input is a string, a list of strings, token ids or a list of those; encoding_format float or base64")]
public sealed record OpenAIEmbeddingRequest(object Input, string? Model = null, string EncodingFormat = "float", int? Dimensions = null, string? User = null);

[Description("/token_classification (HF pipeline): aggregation_strategy none, simple, first, average or max")]
public sealed record TokenClassificationRequest(object Inputs, TokenClassificationParameters? Parameters = null, string? Model = null);
public sealed record TokenClassificationParameters(string AggregationStrategy = "none", IReadOnlyList<string>? IgnoreLabels = null, int? Stride = null);

public sealed record QuestionContextInput(string Question, string Context);
[Description("/question_answering (HF pipeline): inputs is {question, context} or a list of them")]
public sealed record QuestionAnsweringRequest(object Inputs, QuestionAnsweringParameters? Parameters = null, string? Model = null);
public sealed record QuestionAnsweringParameters(int TopK = 1, int MaxAnswerLen = 15, int? MaxSeqLen = null, int? DocStride = null,
    bool HandleImpossibleAnswer = false, bool AlignToWords = true);

[Description("/zero_shot (HF pipeline): candidate_labels is a list or a comma-separated string")]
public sealed record ZeroShotRequest(object Inputs, ZeroShotParameters Parameters, string? Model = null);
public sealed record ZeroShotParameters(object CandidateLabels, string HypothesisTemplate = "This example is {}.", bool MultiLabel = false);

[Description("TEI's error body")]
public sealed record ErrorResponse(string Error, string ErrorType);
#pragma warning restore CS1591
