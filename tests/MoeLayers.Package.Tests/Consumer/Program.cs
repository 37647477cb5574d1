// A consumer's first program, built outside the solution against the packed MoeLayers package.
using System;
using MoeLayers;
using TorchSharp;
using static TorchSharp.torch;

manual_seed(0);
var moe = Moe.Create(new MoeLayerOptions { InputDim = 64, HiddenDim = 256, NumExperts = 8, TopK = 2 });
var model = nn.Sequential(("in", nn.Linear(32, 64)), ("moe", moe), ("out", nn.Linear(64, 1)));
var optimizer = optim.AdamW(model.parameters(), lr: 1e-3);
var x = randn(256, 32);
var y = x.sum(1, keepdim: true);
float first = 0, last = 0, aux = 0;
for (var step = 0; step < 60; step++)
{
    using var scope = NewDisposeScope();
    optimizer.zero_grad();
    var loss = nn.functional.mse_loss(model.call(x), y);
    var auxiliary = MoeAuxiliaryLoss.Collect(model);
    (loss + auxiliary).backward();
    optimizer.step();
    if (step == 0) first = loss.item<float>();
    last = loss.item<float>();
    aux = auxiliary.item<float>();
}
Console.WriteLine($"first_loss={first} last_loss={last} aux_loss={aux}");
Console.WriteLine(moe.Statistics);
if (!(last < 0.5f * first) || !float.IsFinite(aux)) return 1;

// The whole model in bfloat16 (the router keeps float32), and one forward's values returned explicitly.
model.to(ScalarType.BFloat16);
var inference = moe.Run(randn(4, 64).to(ScalarType.BFloat16));
Console.WriteLine($"bf16_output={inference.Output.dtype} router={moe.state_dict()["router.weight"].dtype}");
if (inference.Output.dtype != ScalarType.BFloat16 || !float.IsFinite(inference.AuxiliaryLoss.item<float>())) return 1;
Console.WriteLine("CONSUMER OK");
return 0;
