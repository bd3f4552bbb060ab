using System.CommandLine;
using System.CommandLine.Invocation;
using TorchBert.Cli;

var root = new RootCommand("torchbert: HuggingFace-identical BERT on TorchSharp (fill-mask, embeddings, tokenization, conversion)");
foreach (var command in Commands.All()) root.Subcommands.Add(command);
var parsed = root.Parse(args);
if (parsed.Action is ParseErrorAction)
{
    // System.CommandLine would print every error plus the whole help text and exit 1; a bad command line is a usage
    // error like the others: one line on stderr, exit code 2.
    var command = parsed.CommandResult.Command is RootCommand ? "torchbert" : $"torchbert {parsed.CommandResult.Command.Name}";
    Console.Error.WriteLine($"torchbert: error: {string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')))} (see '{command} --help')");
    return 2;
}
return parsed.Invoke();
