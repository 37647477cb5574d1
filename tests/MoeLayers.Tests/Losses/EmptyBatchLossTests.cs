using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Losses
{
    /// <summary>T = 0 gives 0, never NaN, with or without a mask.</summary>
    public class EmptyBatchLossTests
    {
        private static RoutingResult Empty(int k = 2)
        {
            var logits = zeros(0, 4);
            return new RoutingResult(zeros(new long[] { 0, k }, ScalarType.Int64), zeros(0, k), logits, logits.softmax(1));
        }

        [Fact]
        public void SwitchLossOfNoTokensIsZero()
        {
            SwitchLoadBalancingLoss.Compute(Empty()).item<float>().Should().Be(0);
            SwitchLoadBalancingLoss.Compute(Empty(), zeros(0)).item<float>().Should().Be(0);
            SwitchLoadBalancingLoss.Compute(zeros(0, 4), zeros(new long[] { 0, 1 }, ScalarType.Int64)).item<float>().Should().Be(0);
        }

        [Fact]
        public void ZLossOfNoTokensIsZero()
        {
            RouterZLoss.Compute(Empty()).item<float>().Should().Be(0);
            RouterZLoss.Compute(zeros(0, 4), zeros(0)).item<float>().Should().Be(0);
        }

        [Fact]
        public void ImportanceLoadLossOfNoTokensIsZero()
        {
            var value = ImportanceLoadLoss.Compute(Empty()).item<float>();
            float.IsNaN(value).Should().BeFalse();
            value.Should().Be(0);
        }

        [Fact]
        public void AnAllPaddingBatchGivesZeroLosses()
        {
            var logits = randn(3, 4);
            var routing = new RoutingResult(tensor(new long[] { 0, 1, 2, 3, 1, 0 }).reshape(3, 2), full(3, 2, 0.5f), logits, logits.softmax(1));
            var none = zeros(3, ScalarType.Bool);
            SwitchLoadBalancingLoss.Compute(routing, none).item<float>().Should().Be(0);
            RouterZLoss.Compute(routing, none).item<float>().Should().Be(0);
            ImportanceLoadLoss.Compute(routing, none).item<float>().Should().Be(0);
        }
    }
}
