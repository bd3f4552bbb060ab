using TorchSharp;
using static TorchSharp.torch;
var t = torch.randn(2, 3);
Console.WriteLine(t.ToString(TorchSharp.TensorStringStyle.Numpy));
var q = torch.randn(1, 2, 4, 8);
var o = nn.functional.scaled_dot_product_attention(q, q, q);
Console.WriteLine(string.Join(",", o.shape));
Console.WriteLine(torch.cuda.is_available());
