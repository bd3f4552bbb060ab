using TorchBert.Cli;

return await Cli.InvokeAsync(Commands.Root(), args);
