using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Dispatch
{
    public class CapacityTests
    {
        [Theory]
        [InlineData(1.0, 100, 2, 8, 4, 25)]   // ceil(1.0 * 2 * 100 / 8) = 25
        [InlineData(1.25, 10, 1, 4, 1, 4)]    // ceil(3.125) = 4
        [InlineData(0.1, 10, 1, 4, 4, 4)]     // ceil(0.25) = 1, raised to min 4
        [InlineData(8.0, 10, 2, 2, 1, 10)]    // 80, clamped to T = 10
        [InlineData(1.1, 100, 1, 10, 1, 11)]  // exactly 11; floating point gives ceil(11.000000000000002) = 12
        [InlineData(1.2, 10, 1, 4, 1, 3)]     // exactly 3; 1.2·10/4 = 3.0000000000000004 in doubles
        [InlineData(0.7, 10, 1, 7, 1, 1)]     // exactly 1; 0.7·10/7 = 1.0000000000000002 in doubles
        [InlineData(1.15, 20, 1, 23, 1, 1)]   // exactly 1; 1.15·20 = 22.999999999999996 in doubles
        [InlineData(2.3, 100, 1, 23, 1, 10)]  // exactly 10; 2.3·100/23 = 9.999999999999998 in doubles
        [InlineData(1.0, 3, 1, 3, 1, 1)]      // an exact integer stays
        [InlineData(1.0, 4, 1, 3, 1, 2)]      // 4/3 rounds up
        [InlineData(1e30, 7, 2, 4, 1, 7)]     // beyond decimal's range: every token fits
        [InlineData(1.0, 0, 2, 4, 1, 1)]      // no tokens: the minimum, at most max(T, 1)
        public void FollowsTheFormula(double factor, long tokens, int k, int experts, int min, long expected)
        {
            Capacity.Compute(factor, tokens, k, experts, min).Should().Be(expected);
        }

        [Fact]
        public void DroplessWhenNoFactor() => Capacity.Compute(null, 10, 2, 4, 4).Should().BeNull();

        [Theory]
        [InlineData(0.0)]
        [InlineData(-1.0)]
        [InlineData(double.NaN)]
        public void RejectsNonPositiveFactor(double factor)
        {
            var act = () => Capacity.Compute(factor, 10, 1, 2, 1);
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("capacityFactor must be a finite number > 0*");
        }

        // Six tokens, k = 1, two experts: expert 0 gets tokens 0, 1, 2, 4; expert 1 gets 3, 5. Capacity 2.
        private static readonly long[] Experts = { 0, 0, 0, 1, 0, 1 };
        private static readonly double[] Weights = { 0.1, 0.9, 0.5, 0.6, 0.7, 0.2 };

        [Theory]
        [InlineData(DropPolicy.ByPosition, new[] { 0, 1, 3, 5 })]
        [InlineData(DropPolicy.ByWeight, new[] { 1, 3, 4, 5 })]
        public void KeepsExactlyTheExpectedTokens(DropPolicy policy, int[] keptTokens)
        {
            foreach (IExpertDispatcher dispatcher in new IExpertDispatcher[] { new SortedDispatcher(DispatchStrategy.Grouped), new SortedDispatcher(DispatchStrategy.Padded), new ReferenceDispatcher() })
            {
                var (output, expected, result) = Dispatch(dispatcher, Experts, Weights, 1, 2, policy);
                result.AssignedPerExpert.Should().Equal(4, 2);
                result.KeptPerExpert.Should().Equal(2, 2);
                var outRows = output.shape[0];
                for (var t = 0; t < outRows; t++)
                {
                    if (keptTokens.Contains(t)) TensorAssert.Close(output[t], expected[t], 1e-6, $"token {t} kept");
                    else TensorAssert.Values(output[t]).Should().OnlyContain(v => v == 0, $"token {t} dropped by {dispatcher.GetType().Name}");
                }
            }
        }

        [Fact]
        public void TopTwoKeepsFirstAssignmentsInTokenOrderAcrossSlots()
        {
            // k = 2, E = 2, four tokens all choosing both experts; capacity 3 keeps tokens 0..2 in each expert.
            var experts = new long[] { 0, 1, 1, 0, 0, 1, 1, 0 };
            var weights = Enumerable.Repeat(0.5, 8).ToArray();
            var (output, expected, result) = Dispatch(new SortedDispatcher(), experts, weights, 2, 3, DropPolicy.ByPosition);
            result.KeptPerExpert.Should().Equal(3, 3);
            TensorAssert.Close(output.narrow(0, 0, 3), expected.narrow(0, 0, 3), 1e-6);
            TensorAssert.Values(output[3]).Should().OnlyContain(v => v == 0);
        }

        // k = 2, E = 2, three tokens choosing (0, 1), (1, 0), (0, 1): pairs p = t·2 + j. Capacity 2.
        // Expert 0 gets p0 (first choice of t0), p3 (second choice of t1), p4 (first choice of t2);
        // expert 1 gets p1 (second of t0), p2 (first of t1), p5 (second of t2).
        [Theory]
        [InlineData(DropPolicy.ByPosition, new[] { 0, 3, 1, 2 })]
        [InlineData(DropPolicy.ByChoiceThenPosition, new[] { 0, 4, 2, 1 })]
        public void ChoicePriorityKeepsEveryFirstChoiceBeforeAnySecond(DropPolicy policy, int[] keptPairs)
        {
            var experts = new long[] { 0, 1, 1, 0, 0, 1 };
            var weights = new[] { 0.6, 0.4, 0.7, 0.3, 0.8, 0.2 };
            foreach (IExpertDispatcher dispatcher in new IExpertDispatcher[] { new SortedDispatcher(DispatchStrategy.Grouped), new SortedDispatcher(DispatchStrategy.Padded), new ReferenceDispatcher() })
            {
                var (output, _, result) = Dispatch(dispatcher, experts, weights, 2, 2, policy);
                result.AssignedPerExpert.Should().Equal(3, 3);
                result.KeptPerExpert.Should().Equal(2, 2);
                TensorAssert.Close(output, OutputOfPairs(experts, weights, 2, keptPairs), 1e-6, $"{policy} {dispatcher.GetType().Name}");
            }
        }

        /// <summary>Σ w·expert(x) over the given pairs only, with the same experts and input as <see cref="Dispatch"/>.</summary>
        private static Tensor OutputOfPairs(long[] experts, double[] weights, int k, int[] pairs)
        {
            manual_seed(11);
            var tokens = experts.Length / k;
            IExpertBank blocks = new ExpertBank(2, 3, 4, 3, ExpertActivation.Relu, bias: true);
            var x = randn(tokens, 3);
            var output = zeros(tokens, 3);
            foreach (var p in pairs)
            {
                var t = p / k;
                output[t] += blocks.ForwardExpert((int)experts[p], x.narrow(0, t, 1), tensor(new long[] { t }))[0] * (float)weights[p];
            }
            return output;
        }

        /// <summary>Returns the dispatcher's output and the dropless full output Σⱼ w·expert(x).</summary>
        private static (Tensor Output, Tensor Dropless, DispatchOutput Result) Dispatch(IExpertDispatcher dispatcher, long[] experts,
            double[] weights, int k, long capacity, DropPolicy policy)
        {
            manual_seed(11);
            var tokens = experts.Length / k;
            var bank = new ExpertBank(2, 3, 4, 3, ExpertActivation.Relu, bias: true);
            IExpertBank blocks = bank;
            var x = randn(tokens, 3);
            var indices = tensor(experts).reshape(tokens, k);
            var w = tensor(weights.Select(v => (float)v).ToArray()).reshape(tokens, k);
            var logits = zeros(tokens, 2);
            var routing = new RoutingResult(indices, w, logits, logits.softmax(1));
            var result = dispatcher.Dispatch(x, new RoutedTokens(routing, bank), new DispatchRules(capacity, policy, null));

            var dropless = zeros(tokens, 3);
            for (var t = 0; t < tokens; t++)
            {
                for (var j = 0; j < k; j++)
                {
                    var row = blocks.ForwardExpert((int)experts[t * k + j], x.narrow(0, t, 1), tensor(new long[] { t }));
                    dropless[t] += row[0] * (float)weights[t * k + j];
                }
            }
            return (result.Output, dropless, result);
        }
    }
}
