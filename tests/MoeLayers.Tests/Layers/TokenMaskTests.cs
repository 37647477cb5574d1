using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>Padding takes no capacity and gets zero output; only bool or 0/1 masks are accepted.</summary>
    public class TokenMaskTests
    {
        [Theory]
        [InlineData(DispatchStrategy.Grouped)]
        [InlineData(DispatchStrategy.Padded)]
        [InlineData(DispatchStrategy.Reference)]
        public void PaddingTakesNoCapacityAndGetsZeroOutput(DispatchStrategy strategy)
        {
            manual_seed(21);
            var options = new MoeLayerOptions
            {
                InputDim = 6, HiddenDim = 5, NumExperts = 3, TopK = 2, CapacityFactor = 1.0, MinCapacity = 1, Dispatch = strategy,
            };
            var layer = new MoeLayer(options);
            var real = randn(7, 6, ScalarType.Float64);
            layer.to(ScalarType.Float64);
            // The same 7 real tokens with 5 padding tokens interleaved.
            var isReal = new[] { true, false, true, true, false, false, true, true, false, true, false, true };
            var padded = zeros(12, 6, ScalarType.Float64);
            var realRows = Enumerable.Range(0, 12).Where(i => isReal[i]).ToArray();
            padded.index_copy_(0, tensor(realRows.Select(i => (long)i).ToArray()), real);
            padded.index_copy_(0, tensor(Enumerable.Range(0, 12).Where(i => !isReal[i]).Select(i => (long)i).ToArray()), randn(5, 6, ScalarType.Float64) * 10);

            var alone = layer.Run(real);
            var masked = layer.Run(padded, tensor(isReal));

            TensorAssert.Close(masked.Output.index_select(0, tensor(realRows.Select(i => (long)i).ToArray())), alone.Output, 1e-12, "real tokens");
            masked.Output.index_select(0, tensor(Enumerable.Range(0, 12).Where(i => !isReal[i]).Select(i => (long)i).ToArray()))
                .abs().max().item<double>().Should().Be(0, "padding gets zero output");
            masked.Statistics!.Capacity.Should().Be(alone.Statistics!.Capacity, "capacity counts real tokens only: ceil(1.0·2·7/3) = 5");
            masked.Statistics.Capacity.Should().Be(5);
            masked.Statistics.AssignedPerExpert.Should().Equal(alone.Statistics.AssignedPerExpert);
            masked.Statistics.KeptPerExpert.Should().Equal(alone.Statistics.KeptPerExpert);
            TensorAssert.Close(masked.AuxiliaryLoss, alone.AuxiliaryLoss, 1e-6, "auxiliary loss");
        }

        [Fact]
        public void ZeroOneMasksOfAnyNumericDtypeEqualABoolMask()
        {
            manual_seed(22);
            var layer = new MoeLayer(new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 2, TopK = 2 });
            var x = randn(2, 3, 4);
            var mask = tensor(new[] { true, true, false, true, false, true }).reshape(2, 3);
            var byBool = layer.Run(x, mask).Output;
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Int64, ScalarType.Int32, ScalarType.Float64 })
                TensorAssert.Close(layer.Run(x, mask.to(dtype)).Output, byBool, 0, dtype.ToString());
        }

        [Theory]
        [InlineData(5.0, "*found 5 at flat position 2*")]
        [InlineData(-3.0, "*found -3 at flat position 2*")]
        [InlineData(double.NaN, "*found NaN at flat position 2*")]
        [InlineData(0.5, "*found 0.5 at flat position 2*")]
        public void MaskValuesOtherThanZeroAndOneAreRefused(double value, string message)
        {
            var layer = new MoeLayer(new MoeLayerOptions { InputDim = 4, HiddenDim = 3, NumExperts = 2, TopK = 2 });
            var mask = tensor(new[] { 1.0, 0.0, value, 1.0 });
            var act = () => layer.Run(randn(4, 4), mask);
            act.Should().Throw<ArgumentException>().WithMessage("tokenMask must be a bool tensor or hold only 0 and 1*" + message.TrimStart('*'))
                .Which.ParamName.Should().Be("tokenMask");
        }

        [Fact]
        public void LossFunctionsRefuseBadMasksToo()
        {
            var logits = randn(3, 4);
            var routing = new RoutingResult(tensor(new long[] { 0, 1, 2 }).reshape(3, 1), ones(3, 1), logits, logits.softmax(1));
            var act = () => SwitchLoadBalancingLoss.Compute(routing, tensor(new[] { 1f, 2f, 0f }));
            act.Should().Throw<ArgumentException>().WithMessage("mask must be a bool tensor or hold only 0 and 1*found 2*").Which.ParamName.Should().Be("mask");
        }
    }
}
