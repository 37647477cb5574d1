using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Support
{
    /// <summary>Trains a model on a fixed regression batch, each step in its own dispose scope, and counts live tensors.</summary>
    internal static class TrainingRun
    {
        public sealed record Result(float FirstLoss, float LastLoss, long LiveAfterWarmup, long LiveAtEnd);

        /// <summary>Adam on MSE + the model's MoE auxiliary losses, learning y = Σ x.</summary>
        public static Result Fit(nn.Module<Tensor, Tensor> model, Tensor x, int steps = 100, double learningRate = 1e-2)
        {
            var optimizer = optim.Adam(model.parameters(), learningRate);
            var target = x.sum(1, keepdim: true);
            float first = 0, last = 0;
            long liveAfterWarmup = 0;
            for (var step = 0; step < steps; step++)
            {
                using (var scope = NewDisposeScope())
                {
                    optimizer.zero_grad();
                    var loss = nn.functional.mse_loss(model.call(x), target) + MoeAuxiliaryLoss.Collect(model);
                    loss.backward();
                    optimizer.step();
                    if (step == 0) first = loss.item<float>();
                    last = loss.item<float>();
                }
                if (step == 1) liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            }
            return new Result(first, last, liveAfterWarmup, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
    }
}
