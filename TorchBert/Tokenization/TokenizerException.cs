namespace TorchBert.Tokenization;

/// <summary>
/// A tokenizer file, setting or request that cannot be honoured (bad vocabulary or tokenizer.json, a
/// truncation that cannot fit, ...). The message names the file or value at fault.
/// </summary>
public sealed class TokenizerException(string message, Exception? inner = null) : TorchBertException(message, inner);
