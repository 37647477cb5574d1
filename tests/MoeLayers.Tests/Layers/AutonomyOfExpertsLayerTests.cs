using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    public class AutonomyOfExpertsLayerTests
    {
        private static MoeLayerOptions Options(int experts = 5, int k = 2, int rank = 3) => new()
        {
            InputDim = 8, HiddenDim = 12, LowRank = rank, NumExperts = experts, TopK = k, Router = RouterKind.AutonomyOfExperts,
            Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0,
        };

        [Theory]
        [InlineData(0, 1)]
        [InlineData(1, 2)]
        [InlineData(2, 3)]
        [InlineData(3, 5)]
        public void SelectsTheExpertsWithTheLargestActivationNorms(int seed, int k)
        {
            manual_seed(seed);
            var layer = new MoeLayer(Options(k: k));
            var x = randn(64, 8);
            var routing = layer.Run(x).Routing;
            var reference = NaiveAutonomyOfExperts.Run(layer.LowRankExperts, x, k, k > 1);
            var indices = routing.ExpertIndices.data<long>().ToArray();
            for (var t = 0; t < 64; t++)
            {
                indices.Skip(t * k).Take(k).Should().Equal(reference.Selected[t], $"token {t}");
            }
            TensorAssert.Close(routing.Probabilities, reference.Probabilities, 1e-6);
            TensorAssert.Close(routing.Logits.softmax(1), reference.Probabilities, 1e-6);
        }

        public static TheoryData<DispatchStrategy, bool?, TopKOrder, int> ReferenceCases() => new()
        {
            { DispatchStrategy.Grouped, null, TopKOrder.SoftmaxThenTopK, 2 },
            { DispatchStrategy.Padded, false, TopKOrder.SoftmaxThenTopK, 2 },
            { DispatchStrategy.Auto, false, TopKOrder.SoftmaxThenTopK, 1 },
            { DispatchStrategy.Auto, true, TopKOrder.SoftmaxThenTopK, 3 },
            { DispatchStrategy.Reference, null, TopKOrder.SoftmaxThenTopK, 3 },
            { DispatchStrategy.Grouped, null, TopKOrder.TopKThenSoftmax, 2 },
        };

        [Theory]
        [MemberData(nameof(ReferenceCases))]
        public void OutputsAndGradientsMatchTheNaiveReference(DispatchStrategy strategy, bool? renormalize, TopKOrder order, int k)
        {
            manual_seed(10 + k);
            var options = Options(k: k);
            options.Dispatch = strategy;
            options.RenormalizeWeights = renormalize;
            options.TopKOrder = order;
            options.LoadBalancingCoefficient = 0.3;
            var layer = new MoeLayer(options);
            layer.to(ScalarType.Float64);
            var x = randn(new long[] { 3, 13, 8 }, ScalarType.Float64).requires_grad_(true);
            var upstream = randn(new long[] { 3, 13, 8 }, ScalarType.Float64);

            var step = layer.Run(x);
            var y = step.Output;
            ((y * upstream).sum() + step.AuxiliaryLoss).backward();
            var actual = Gradients(layer, x);
            ClearGradients(layer, x);

            var reference = NaiveAutonomyOfExperts.Run(layer.LowRankExperts, x.reshape(39, 8), k, renormalize ?? k > 1, order == TopKOrder.TopKThenSoftmax);
            var selected = tensor(reference.Selected.SelectMany(s => s).ToArray(), new long[] { 39, k });
            var referenceAux = 0.3 * SwitchLoadBalancingLoss.Compute(reference.Probabilities, selected);
            ((reference.Output.reshape(3, 13, 8) * upstream).sum() + referenceAux).backward();
            var expected = Gradients(layer, x);

            TensorAssert.Close(y, reference.Output.reshape(3, 13, 8), 1e-6, "output");
            TensorAssert.Close(step.AuxiliaryLoss, referenceAux, 1e-6, "auxiliary loss");
            TensorAssert.Close(step.Routing.CombineWeights, reference.Gates.gather(1, selected), 1e-6, "weights");
            foreach (var (name, gradient) in actual)
            {
                TensorAssert.Close(gradient, expected[name], 1e-6, name);
            }
        }

        [Theory]
        [InlineData(DropPolicy.ByPosition)]
        [InlineData(DropPolicy.ByWeight)]
        public void CapacityDropsTheSamePairsInEveryDispatchStrategy(DropPolicy policy)
        {
            manual_seed(20);
            var x = randn(new long[] { 40, 8 }, ScalarType.Float64);
            var state = new MoeLayer(Options()).state_dict();
            var results = new Dictionary<DispatchStrategy, (long[] Kept, Dictionary<string, Tensor> Tensors)>();
            foreach (var strategy in Enum.GetValues<DispatchStrategy>())
            {
                var options = Options();
                options.CapacityFactor = 0.6;
                options.MinCapacity = 1;
                options.DropPolicy = policy;
                options.Dispatch = strategy;
                var layer = new MoeLayer(options);
                layer.load_state_dict(state);
                layer.to(ScalarType.Float64);
                var input = x.clone().requires_grad_(true);
                var step = layer.Run(input);
                (step.Output.square().sum() + step.AuxiliaryLoss).backward();
                var tensors = Gradients(layer, input);
                tensors["output"] = step.Output.detach();
                results[strategy] = (step.Statistics!.KeptPerExpert.ToArray(), tensors);
                step.Statistics.DroppedFraction.Should().BeGreaterThan(0, "capacity 0.6 must drop pairs");
            }
            var reference = results[DispatchStrategy.Reference];
            foreach (var (strategy, result) in results)
            {
                result.Kept.Should().Equal(reference.Kept, strategy.ToString());
                foreach (var (name, value) in result.Tensors) TensorAssert.Close(value, reference.Tensors[name], 1e-10, $"{strategy} {name}");
            }
        }

        [Fact]
        public void ExposesAuxiliaryLossAndStatisticsWithoutZLoss()
        {
            manual_seed(30);
            var options = Options();
            options.LoadBalancingCoefficient = 0.5;
            var layer = new MoeLayer(options);
            var output = layer.Run(randn(32, 8));
            var stats = output.Statistics!;
            stats.AssignedPerExpert.Sum().Should().Be(64);
            stats.ZLoss.Should().Be(0);
            stats.LoadBalancingLoss.Should().BeGreaterThan(0.9, "the Switch loss is at least about 1 for any routing");
            stats.RouterEntropy.Should().BeInRange(0, Math.Log(5) + 1e-6);
            output.AuxiliaryLoss.requires_grad.Should().BeTrue();
            output.AuxiliaryLoss.item<float>().Should().BeApproximately((float)(0.5 * stats.LoadBalancingLoss), 1e-6f);
        }

        [Fact]
        public void InferenceWithoutGradientGivesTheTrainingOutput()
        {
            manual_seed(31);
            var layer = new MoeLayer(Options());
            var x = randn(2, 9, 8);
            var training = layer.call(x).detach();
            layer.eval();
            using (no_grad())
            {
                TensorAssert.Close(layer.call(x), training, 0);
            }
        }

        [Fact]
        public void TrainsAndDoesNotLeakTensorsOver100Steps()
        {
            manual_seed(32);
            var model = nn.Sequential(("aoe", new MoeLayer(Options(experts: 4))), ("head", nn.Linear(8, 1)));
            var run = TrainingRun.Fit(model, randn(64, 8));
            run.LastLoss.Should().BeLessThan(run.FirstLoss * 0.5f);
            run.LiveAtEnd.Should().BeLessThanOrEqualTo(run.LiveAfterWarmup);
        }

        [Fact]
        public void StateDictRoundTripsThroughAFile()
        {
            manual_seed(33);
            var layer = new MoeLayer(Options());
            layer.state_dict().Keys.Should().BeEquivalentTo("experts.w_down", "experts.w_up", "experts.w_in", "experts.w_out");
            layer.LowRankExperts.DownWeight.shape.Should().Equal(8, 15);
            layer.LowRankExperts.UpWeight.shape.Should().Equal(5, 3, 12);
            var path = Path.Combine(Path.GetTempPath(), $"aoe-{Guid.NewGuid():N}.bin");
            try
            {
                layer.save(path);
                var copy = new MoeLayer(Options());
                copy.load(path);
                var x = randn(12, 8);
                TensorAssert.Close(copy.call(x), layer.call(x), 0);
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void FactoriesBuildTheMoeLayer()
        {
            Moe.Create(Options()).Should().BeOfType<MoeLayer>().Which.Options.LowRank.Should().Be(3);
            var layer = Moe.AutonomyOfExperts(inputDim: 16, hiddenDim: 24, lowRank: 4, numExperts: 6, topK: 2);
            layer.Options.Activation.Should().Be(ExpertActivation.SwiGlu);
            layer.call(randn(5, 16)).shape.Should().Equal(5, 16);
        }

        [Fact]
        public void ParameterCountsMatchTheHelper()
        {
            // (3·4·4 − 2·4)/(2 + 2·4) = 4 exactly: the AoE experts have the MoE experts' parameter count.
            var exact = AutonomyOfExperts.ParameterMatchedHiddenDim(4, 4, 2);
            exact.Should().Be(4);
            CountParameters(Moe.AutonomyOfExperts(4, exact, 2, numExperts: 3)).Should().Be(3 * 3 * 4 * 4);

            const int d = 16, h = 40, r = 4, experts = 3;
            var moe = new MoeLayer(new MoeLayerOptions { InputDim = d, HiddenDim = h, NumExperts = experts, Activation = ExpertActivation.SwiGlu });
            var moeExperts = CountParameters(moe.Experts);
            CountParameters(moe).Should().Be(moeExperts + experts * d, "the MoE layer also has a router");
            moeExperts.Should().Be(experts * 3 * d * h);
            var nearest = CountParameters(Moe.AutonomyOfExperts(d, AutonomyOfExperts.ParameterMatchedHiddenDim(d, h, r), r, experts));
            var floor = CountParameters(Moe.AutonomyOfExperts(d, AutonomyOfExperts.ParameterMatchedHiddenDim(d, h, r, MidpointRounding.ToZero), r, experts));
            var ceiling = CountParameters(Moe.AutonomyOfExperts(d, AutonomyOfExperts.ParameterMatchedHiddenDim(d, h, r, MidpointRounding.ToPositiveInfinity), r, experts));
            Math.Abs(nearest - moeExperts).Should().BeLessThanOrEqualTo(experts * (r + 2 * d) / 2);
            floor.Should().BeLessThanOrEqualTo(moeExperts);
            ceiling.Should().BeGreaterThanOrEqualTo(moeExperts);
            (ceiling - floor).Should().Be(experts * (r + 2 * d), "one unit of hidden width costs r + 2d per expert");
        }

        [Theory]
        [InlineData(784, 10, 4, 7960, 6)]     // MNIST: ReLU expert 784→10→10 with biases; (7960 − 3136)/798 = 6.05
        [InlineData(128, 128, 32, 131072, 441)] // tiny-shakespeare: 2·C·h weights, C = 128, h = 512; 126976/288 = 440.9
        public void HiddenDimForParameterBudgetSolvesTheCount(int d, int output, int r, long budget, int expected)
        {
            var width = AutonomyOfExperts.HiddenDimForParameterBudget(d, output, r, budget);
            width.Should().Be(expected);
            // SwiGLU AoE expert: W_down d·r, W_up r·h', W_in d·h', W_out h'·out.
            Math.Abs(d * r + width * (r + d + output) - budget).Should().BeLessThanOrEqualTo((r + d + output) / 2);
        }

        [Fact]
        public void HiddenDimForParameterBudgetMatchesTheSwiGluHelper()
        {
            AutonomyOfExperts.HiddenDimForParameterBudget(512, 512, 128, 3L * 512 * 2048)
                .Should().Be(AutonomyOfExperts.ParameterMatchedHiddenDim(512, 2048, 128));
        }

        [Fact]
        public void HiddenDimForParameterBudgetRejectsABudgetTheDownProjectionAlreadyUses()
        {
            var act = () => AutonomyOfExperts.HiddenDimForParameterBudget(8, 8, 4, 32);
            act.Should().Throw<ArgumentException>().WithMessage("No hidden width in [1, *] gives 32 parameters with d = 8, out = 8, r = 4:*")
                .Which.ParamName.Should().Be("parametersPerExpert");
        }

        [Theory]
        [InlineData(512, 2048, 128, MidpointRounding.ToEven, 2674)] // 3 080 192 / 1152 = 2673.78
        [InlineData(512, 2048, 128, MidpointRounding.ToZero, 2673)]
        [InlineData(512, 2048, 64, MidpointRounding.ToEven, 2861)] // 3 112 960 / 1088 = 2861.18
        [InlineData(512, 2048, 256, MidpointRounding.ToPositiveInfinity, 2356)] // 3 014 656 / 1280 = 2355.2
        [InlineData(3, 10, 2, MidpointRounding.ToEven, 10)] // 84 / 8 = 10.5
        [InlineData(3, 10, 2, MidpointRounding.AwayFromZero, 11)]
        [InlineData(3, 2, 2, MidpointRounding.ToZero, 1)] // 12 / 8 = 1.5
        public void ParameterMatchedHiddenDimRoundsAsAsked(int d, int h, int r, MidpointRounding rounding, int expected)
        {
            AutonomyOfExperts.ParameterMatchedHiddenDim(d, h, r, rounding).Should().Be(expected);
        }

        [Theory]
        [InlineData(128, MidpointRounding.ToEven, 2688)] // 2673.78 / 64 = 41.78
        [InlineData(128, MidpointRounding.ToZero, 2624)]
        [InlineData(64, MidpointRounding.ToEven, 2880)] // 2861.18 / 64 = 44.71
        [InlineData(256, MidpointRounding.ToEven, 2368)] // 2355.2 / 64 = 36.8
        public void ParameterMatchedHiddenDimRoundsToAMultiple(int r, MidpointRounding rounding, int expected)
        {
            AutonomyOfExperts.ParameterMatchedHiddenDim(512, 2048, r, rounding, multipleOf: 64).Should().Be(expected);
        }

        [Theory]
        [InlineData(8, 4, 0, "lowRank must be in [1, 8]; got 0.*")]
        [InlineData(8, 4, 9, "lowRank must be in [1, 8]; got 9.*")]
        [InlineData(0, 4, 1, "inputDim must be at least 1; got 0.*")]
        [InlineData(8, 1, 3, "No hidden width in [1, *] matches d = 8, h = 1, r = 3: (3·d·h − r·d)/(r + 2·d) rounds to 0.*")]
        [InlineData(8, 4, 2, "No hidden width in [1, *] matches d = 8, h = 4, r = 2: (3·d·h − r·d)/(r + 2·d) rounds to 0 as a multiple of 16.*", 16)]
        [InlineData(8, 4, 2, "multipleOf must be at least 1; got 0.*", 0)]
        public void ParameterMatchedHiddenDimRejectsBadArguments(int d, int h, int r, string message, int multipleOf = 1)
        {
            var act = () => AutonomyOfExperts.ParameterMatchedHiddenDim(d, h, r, multipleOf: multipleOf);
            act.Should().Throw<ArgumentException>().WithMessage(message);
        }

        [Theory]
        [InlineData(0, 2, 0.0, "MoeLayerOptions.LowRank must be in [1, InputDim = 8] for the AutonomyOfExperts router; got 0.")]
        [InlineData(9, 2, 0.0, "MoeLayerOptions.LowRank must be in [1, InputDim = 8] for the AutonomyOfExperts router; got 9.")]
        [InlineData(3, 6, 0.0, "MoeLayerOptions.TopK must be in [1, NumExperts = 5]; got 6.")]
        [InlineData(3, 2, 0.001, "MoeLayerOptions.ZLossCoefficient must be 0 for the AutonomyOfExperts router (its scores are activation norms, not logits: the z-loss would shrink the experts' own activations); got 0.001.")]
        public void RejectsBadOptionsClearly(int rank, int k, double zLoss, string message)
        {
            var options = Options(k: k, rank: rank);
            options.ZLossCoefficient = zLoss;
            MoeLayerOptionsValidator.Failures(options).Should().ContainSingle().Which.Should().Be(message);
            var act = () => new MoeLayer(options);
            act.Should().Throw<ArgumentException>().WithMessage($"*{message}*").Which.ParamName.Should().Be("options");
        }

        [Fact]
        public void RejectsExpertSettingsAoeCannotHonour()
        {
            var options = Options();
            options.Activation = ExpertActivation.Gelu;
            options.ExpertBias = true;
            MoeLayerOptionsValidator.Failures(options).Should().Equal(
                "MoeLayerOptions.Activation must be SwiGlu for the AutonomyOfExperts router (its experts are SwiGLU blocks with a factorized gate); got Gelu.",
                "MoeLayerOptions.ExpertBias must be false for the AutonomyOfExperts router (its experts have no biases; one on W_down would shift the norms it routes on).");
        }

        [Fact]
        public void RefusesALowRankForALearnedRouter()
        {
            var learned = Options();
            learned.Router = RouterKind.TopK;
            var act = () => new MoeLayer(learned);
            act.Should().Throw<ArgumentException>().WithMessage("*LowRank is only used by the AutonomyOfExperts router*");
            MoeLayerOptionsValidator.Failures(learned).Should().ContainSingle().Which.Should()
                .Be("MoeLayerOptions.LowRank is only used by the AutonomyOfExperts router; set Router = AutonomyOfExperts or LowRank = 0; got 3.");
            var aoe = new MoeLayer(Options());
            aoe.Routing.Should().BeOfType<AutonomyOfExpertsRouting>("Autonomy-of-Experts is a routing part of the one layer");
            aoe.state_dict().Keys.Should().BeEquivalentTo("experts.w_down", "experts.w_up", "experts.w_in", "experts.w_out");
            aoe.Invoking(l => l.Router).Should().Throw<InvalidOperationException>().WithMessage("*routes with AutonomyOfExpertsRouting, not a learned router*");
        }

        [Fact]
        public void RejectsWrongInputWidth()
        {
            var layer = new MoeLayer(Options());
            layer.Invoking(l => l.call(ones(3, 7))).Should().Throw<ArgumentException>()
                .WithMessage("input must have shape [..., 8]; got [3, 7].*");
        }

        private static long CountParameters(nn.Module module) => module.parameters().Sum(p => p.numel());

        private static Dictionary<string, Tensor> Gradients(MoeLayer layer, Tensor x)
        {
            var gradients = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            gradients["x"] = x.grad!.clone();
            return gradients;
        }

        private static void ClearGradients(MoeLayer layer, Tensor x)
        {
            foreach (var p in layer.parameters()) p.grad = null;
            x.grad = null;
        }
    }
}
