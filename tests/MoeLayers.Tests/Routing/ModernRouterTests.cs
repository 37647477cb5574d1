using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Routing
{
    /// <summary>Sigmoid, bias, group-limited routing and scaling against hand-computed selections and weights.</summary>
    public class ModernRouterTests
    {
        /// <summary>A router whose logits are exactly the given rows (d = E, W = I).</summary>
        private static TopKRouter Router(int experts, TopKRule rule)
        {
            var router = new TopKRouter(experts, experts, rule);
            using (no_grad()) router.Weight.copy_(eye(experts));
            return router;
        }

        private static float Logit(double p) => (float)Math.Log(p / (1 - p));

        [Fact]
        public void SigmoidWithBiasSelectsByBiasedScoresAndWeightsByRawScores()
        {
            // s = sigmoid(z) = [0.9, 0.8, 0.7, 0.6]; bias = [0, 0, 0.25, 0] makes expert 2 (0.95) the first choice.
            var router = Router(4, new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: true, ScoreFunction.Sigmoid, BalanceBias: true, ScalingFactor: 2.5));
            using (no_grad()) router.BalanceBias!.copy_(tensor(new[] { 0f, 0f, 0.25f, 0f }));
            var x = tensor(new[] { Logit(0.9), Logit(0.8), Logit(0.7), Logit(0.6) }).reshape(1, 4);
            var routing = router.call(x, 2);
            routing.ExpertIndices.data<long>().ToArray().Should().Equal(2L, 0L);
            // weights: raw s of experts 2 and 0, renormalized, times 2.5: 0.7/1.6·2.5, 0.9/1.6·2.5.
            TensorAssert.Close(routing.CombineWeights, tensor(new[] { 0.7f / 1.6f * 2.5f, 0.9f / 1.6f * 2.5f }).reshape(1, 2), 1e-6);
            // Probabilities: the affinities normalized per token.
            TensorAssert.Close(routing.Probabilities, tensor(new[] { 0.9f, 0.8f, 0.7f, 0.6f }).reshape(1, 4) / 3.0f, 1e-6);
        }

        [Fact]
        public void GroupLimitedRoutingKeepsTheBestGroupsBySumOfTopTwo()
        {
            // E = 6 in 3 groups of 2; token scores (sigmoid):
            //   group 0: 0.9, 0.1 → 1.0;  group 1: 0.6, 0.55 → 1.15;  group 2: 0.5, 0.45 → 0.95.
            // topk_group = 1 keeps group 1 only, so expert 0 (the single best) is not chosen; k = 2 gives experts 2, 3.
            var rule = new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: false, ScoreFunction.Sigmoid, Groups: 3, KeptGroups: 1);
            var router = Router(6, rule);
            var x = tensor(new[] { 0.9, 0.1, 0.6, 0.55, 0.5, 0.45 }.Select(p => Logit(p)).ToArray()).reshape(1, 6);
            var routing = router.call(x, 2);
            routing.ExpertIndices.data<long>().ToArray().Should().Equal(2L, 3L);
            TensorAssert.Close(routing.CombineWeights, tensor(new[] { 0.6f, 0.55f }).reshape(1, 2), 1e-6);

            // V2 rule: a group's score is its maximum, so group 0 (0.9) wins and k = 2 takes both of its experts.
            var v2 = Router(6, rule with { GroupScore = GroupScore.Max });
            v2.call(x, 2).ExpertIndices.data<long>().ToArray().Should().Equal(0L, 1L);
        }

        [Fact]
        public void ExpertsOutsideTheKeptGroupsScoreZeroAsInThePublishedCode()
        {
            // Group 0 kept (scores 0.9, 0.8 with a bias of −0.85 on expert 1: 0.9, −0.05); group 1 dropped (0.3, 0.2).
            // The published code scores dropped experts 0.0, so with k = 2 a dropped expert (0.0) beats expert 1 (−0.05).
            var rule = new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: false, ScoreFunction.Sigmoid, Groups: 2, KeptGroups: 1, BalanceBias: true);
            var router = Router(4, rule);
            using (no_grad()) router.BalanceBias!.copy_(tensor(new[] { 0f, -0.85f, 0f, 0f }));
            var x = tensor(new[] { 0.9, 0.8, 0.3, 0.2 }.Select(p => Logit(p)).ToArray()).reshape(1, 4);
            var indices = router.call(x, 2).ExpertIndices.data<long>().ToArray();
            indices[0].Should().Be(0);
            indices[1].Should().BeOneOf(new long[] { 2, 3 }, "the 0.0 fill of the dropped group outranks a negative biased score");
        }

        [Fact]
        public void TheTaskLossReachesOnlyTheRouterRowsOfChosenExpertsUnderSigmoidScores()
        {
            // Weights are the chosen experts' own sigmoid affinities, so without a balance loss the router rows of experts
            // no token chose get no gradient; softmax couples every row through the normalization.
            manual_seed(72);
            var options = new MoeLayerOptions
            {
                InputDim = 6, HiddenDim = 4, NumExperts = 6, TopK = 1, ScoreFunction = ScoreFunction.Sigmoid,
                LoadBalancingLoss = LoadBalancingLossKind.None, ZLossCoefficient = 0,
            };
            var layer = (MoeLayer)Moe.Create(options);
            var output = layer.Run(randn(3, 6));
            output.Output.square().sum().backward();
            var chosen = output.Routing.ExpertIndices.data<long>().ToHashSet();
            chosen.Count.Should().BeLessThan(6, "three tokens with k = 1 leave some experts unchosen");
            var gradient = layer.Router.Weight.grad!;
            for (var e = 0; e < 6; e++)
            {
                var norm = gradient[e].abs().sum().item<float>();
                if (chosen.Contains(e)) norm.Should().BeGreaterThan(0, $"expert {e} was chosen");
                else norm.Should().Be(0, $"expert {e} was chosen by no token");
            }
        }

        [Fact]
        public void TiesKeepTheLowerExpertIndex()
        {
            var router = Router(4, new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: true, ScoreFunction.Sigmoid));
            var routing = router.call(zeros(1, 4), 2); // every score 0.5
            routing.ExpertIndices.data<long>().ToArray().Should().Equal(0L, 1L);
            TensorAssert.Close(routing.CombineWeights, full(1, 2, 0.5f), 1e-7);
        }

        [Fact]
        public void TheBiasBufferIsStateNotAParameterAndGetsNoGradient()
        {
            var layer = (MoeLayer)Moe.Create(DeepSeekOptions());
            layer.named_parameters().Select(p => p.name).Should().NotContain("router.correction_bias");
            layer.state_dict().Keys.Should().Contain("router.correction_bias");
            var output = layer.Run(randn(10, 8));
            (output.Output.square().sum() + output.AuxiliaryLoss).backward();
            ((TopKRouter)layer.Router).BalanceBias!.requires_grad.Should().BeFalse();
            layer.Router.Weight.grad.Should().NotBeNull("the weights s·scaling carry the task gradient to the router");
        }

        [Fact]
        public void BiasMovesByGammaTimesTheSignOfMeanMinusTheStepsLoadsAfterTheOptimizerStep()
        {
            manual_seed(71);
            var options = DeepSeekOptions();
            options.BalanceBiasRate = 0.125;
            var layer = (MoeLayer)Moe.Create(options);
            // Two micro-batches of one step: their loads add up before the update.
            layer.forward(randn(12, 8));
            var first = layer.Statistics!.AssignedPerExpert;
            layer.forward(randn(12, 8));
            var second = layer.Statistics!.AssignedPerExpert;
            layer.Run(randn(12, 8)); // Run keeps nothing: its loads do not count
            layer.eval();
            layer.forward(randn(12, 8)); // evaluation forwards do not count
            layer.train();
            var loads = first.Zip(second, (a, b) => a + b).ToArray();
            var mean = loads.Average();
            var expected = loads.Select(load => (float)(0.125 * Math.Sign(mean - load))).ToArray();

            MoeLoadBalancing.AfterOptimizerStep(nn.Sequential(("moe", layer)));
            ((TopKRouter)layer.Router).BalanceBias!.data<float>().ToArray().Should().Equal(expected);
            layer.forward(randn(4, 8));
            layer.Statistics!.BalanceBias.Should().Equal(expected, "statistics report the bias in use");

            MoeLoadBalancing.AfterOptimizerStep(layer);
            MoeLoadBalancing.AfterOptimizerStep(layer);
            ((TopKRouter)layer.Router).BalanceBias!.data<float>().ToArray().Should().NotEqual(expected, "the forward after the first update counted");
        }

        [Fact]
        public void BiasUpdateFollowsTheFormulaOnKnownLoads()
        {
            var router = Router(4, new TopKRule(TopKOrder.SoftmaxThenTopK, Renormalize: false, ScoreFunction.Sigmoid, BalanceBias: true));
            router.MoveBalanceBias(new long[] { 10, 2, 4, 4 }, 0.01); // mean 5
            router.BalanceBias!.data<float>().ToArray().Should().Equal(-0.01f, 0.01f, 0.01f, 0.01f);
            router.MoveBalanceBias(new long[] { 5, 5, 5, 5 }, 0.01); // balanced: no move
            router.BalanceBias!.data<float>().ToArray().Should().Equal(-0.01f, 0.01f, 0.01f, 0.01f);
        }

        [Fact]
        public void TheBiasSurvivesSaveAndLoad()
        {
            var layer = (MoeLayer)Moe.Create(DeepSeekOptions());
            using (no_grad()) ((TopKRouter)layer.Router).BalanceBias!.copy_(arange(8, ScalarType.Float32) / 10);
            var copy = (MoeLayer)Moe.Create(DeepSeekOptions());
            copy.load_state_dict(layer.state_dict());
            ((TopKRouter)copy.Router).BalanceBias!.data<float>().ToArray().Should().Equal(((TopKRouter)layer.Router).BalanceBias!.data<float>().ToArray());
            copy.to(ScalarType.BFloat16);
            ((TopKRouter)copy.Router).BalanceBias!.dtype.Should().Be(ScalarType.Float32, "router buffers keep float32 like its parameters");
        }

        [Fact]
        public void EvaluationUsesItsOwnTopK()
        {
            var options = new MoeLayerOptions { InputDim = 8, HiddenDim = 6, NumExperts = 6, TopK = 3, EvalTopK = 1 };
            var layer = Moe.Create(options);
            layer.Run(randn(5, 8)).Routing.TopK.Should().Be(3);
            layer.eval();
            var evaluation = layer.Run(randn(5, 8));
            evaluation.Routing.TopK.Should().Be(1);
            evaluation.Statistics!.Assignments.Should().Be(5);
        }

        internal static MoeLayerOptions DeepSeekOptions() => new()
        {
            InputDim = 8, HiddenDim = 4, NumExperts = 8, TopK = 2, ScoreFunction = ScoreFunction.Sigmoid, ExpertGroups = 4, TopKGroups = 2,
            BalanceBias = true, RoutedScalingFactor = 2.5, RenormalizeWeights = true, LoadBalancingLoss = LoadBalancingLossKind.SequenceWise,
            LoadBalancingCoefficient = 1e-4, ZLossCoefficient = 0, SharedExperts = 1, Activation = ExpertActivation.SwiGlu,
        };
    }
}
