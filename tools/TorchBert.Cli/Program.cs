using System.CommandLine;
using TorchBert.Cli;

var root = new RootCommand("torchbert: HuggingFace-identical BERT on TorchSharp (fill-mask, embeddings, tokenization, conversion)");
foreach (var command in Commands.All()) root.Subcommands.Add(command);
return root.Parse(args).Invoke();
