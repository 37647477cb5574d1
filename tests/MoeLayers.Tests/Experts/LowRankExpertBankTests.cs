using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    public class LowRankExpertBankTests
    {
        [Theory]
        [InlineData(DispatchStrategy.Grouped)]
        [InlineData(DispatchStrategy.Padded)]
        [InlineData(DispatchStrategy.Reference)]
        public void WithFullRankAndIdentityUpProjectionTheFactorizedGateEqualsAnUnfactorizedOne(DispatchStrategy strategy)
        {
            const int experts = 4, d = 6, h = 5, output = 7, tokens = 23, k = 2;
            manual_seed(40);
            var lowRank = new LowRankExpertBank(experts, d, h, output, lowRank: h);
            var dense = new ExpertBank(experts, d, h, output, ExpertActivation.SwiGlu);
            lowRank.to(ScalarType.Float64);
            dense.to(ScalarType.Float64);
            using (no_grad())
            {
                lowRank.UpWeight.copy_(eye(h, dtype: ScalarType.Float64).expand(experts, h, h));
                dense.GateWeight!.copy_(lowRank.DownWeight.view(d, experts, h).permute(1, 0, 2));
                dense.InputWeight.copy_(lowRank.InputWeight);
                dense.OutputWeight.copy_(lowRank.OutputWeight);
            }
            var generator = new Generator(41);
            var (routing, _) = RandomRouting.Create(tokens, experts, k, generator);
            var x = randn(new long[] { tokens, d }, ScalarType.Float64, generator: generator);
            var upstream = randn(new long[] { tokens, output }, ScalarType.Float64, generator: generator);
            IExpertDispatcher dispatcher = strategy == DispatchStrategy.Reference ? new ReferenceDispatcher() : new SortedDispatcher(strategy);

            var xDense = x.clone().requires_grad_(true);
            var yDense = dispatcher.Dispatch(xDense, new RoutedTokens(routing, dense), new DispatchRules(null, DropPolicy.ByPosition, null)).Output;
            (yDense * upstream).sum().backward();

            var xLowRank = x.clone().requires_grad_(true);
            var activations = SelectedActivations.Select(lowRank.Down(xLowRank), routing.ExpertIndices, experts);
            using var continuation = lowRank.Continue(activations);
            var yLowRank = dispatcher.Dispatch(xLowRank, new RoutedTokens(routing, continuation), new DispatchRules(null, DropPolicy.ByPosition, null)).Output;
            (yLowRank * upstream).sum().backward();

            TensorAssert.Close(yLowRank, yDense, 1e-12, "output");
            TensorAssert.Close(xLowRank.grad!, xDense.grad!, 1e-12, "input gradient");
            TensorAssert.Close(lowRank.DownWeight.grad!, dense.GateWeight!.grad!.permute(1, 0, 2).reshape(d, experts * h), 1e-12, "gate gradient");
            TensorAssert.Close(lowRank.InputWeight.grad!, dense.InputWeight.grad!, 1e-12, "input weight gradient");
            TensorAssert.Close(lowRank.OutputWeight.grad!, dense.OutputWeight.grad!, 1e-12, "output weight gradient");
        }

        [Fact]
        public void SelectedActivationsKeepOnlyTheChosenRows()
        {
            const int tokens = 3, experts = 4, rank = 2;
            var all = arange(tokens * experts * rank, ScalarType.Float32).view(tokens, experts * rank);
            var indices = tensor(new long[] { 2, 0, 1, 3, 3, 2 }, new long[] { tokens, 2 });
            var selected = SelectedActivations.Select(all, indices, experts);
            selected.Count.Should().Be(tokens * 2);
            selected.LowRank.Should().Be(rank);
            // Token 1, expert 3 is flat assignment 1·4 + 3 = 7: columns 6..7 of row 1 = 14, 15.
            TensorAssert.Values(selected.Gather(tensor(new long[] { 7, 2, 10 }))).Should().Equal(14, 15, 4, 5, 20, 21);
        }

        [Theory]
        [InlineData(0, "lowRank must be in [1, 6]; got 0.*")]
        [InlineData(7, "lowRank must be in [1, 6]; got 7.*")]
        public void RejectsRankOutsideOneToInputWidth(int rank, string message)
        {
            var act = () => new LowRankExpertBank(2, 6, 5, 6, rank);
            act.Should().Throw<ArgumentException>().WithMessage(message).Which.ParamName.Should().Be("lowRank");
        }

        [Fact]
        public void RejectsActivationsOfAnotherRank()
        {
            var bank = new LowRankExpertBank(2, 6, 5, 6, lowRank: 3);
            var activations = SelectedActivations.Select(zeros(4, 2 * 2), zeros(new long[] { 4, 1 }, ScalarType.Int64), 2);
            var act = () => bank.Continue(activations);
            act.Should().Throw<ArgumentException>().WithMessage("activations must have rank 3; got 2.*");
        }

        [Fact]
        public void ParameterCountIsRdPlusRhPlusTwoDhPerExpert()
        {
            var bank = new LowRankExpertBank(3, 6, 5, 6, lowRank: 2);
            bank.parameters().Sum(p => p.numel()).Should().Be(3 * (2 * 6 + 2 * 5 + 2 * 6 * 5));
        }
    }
}
