using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>What a new user's app found in 0.2, each fixed and pinned here.</summary>
    public sealed class NewUserFindingsTests
    {
        private static MoeLayerOptions Options(RouterKind router = RouterKind.TopK) => new()
        {
            InputDim = 8, HiddenDim = 6, NumExperts = 4, TopK = 2, Router = router,
        };

        [Fact]
        public void EvalTopKReachesTheNoisyRouter()
        {
            manual_seed(5);
            var options = Options(RouterKind.NoisyTopK);
            options.EvalTopK = 3;
            var layer = new MoeLayer(options);
            layer.Run(randn(5, 8)).Routing.TopK.Should().Be(2, "training routes with k");
            layer.eval();
            var routing = layer.Run(randn(5, 8)).Routing;
            routing.TopK.Should().Be(3, "evaluation routes with EvalTopK");
            TensorAssert.Close(routing.CombineWeights.sum(1), ones(5), 1e-6);
        }

        [Fact]
        public void RunKeepsNothingForTheBalanceStepNorTheStatistics()
        {
            manual_seed(6);
            var options = Options();
            options.ScoreFunction = ScoreFunction.Sigmoid;
            options.BalanceBias = true;
            options.LoadBalancingLoss = LoadBalancingLossKind.None;
            options.ZLossCoefficient = 0;
            var layer = new MoeLayer(options);
            var run = layer.Run(randn(16, 8));
            run.Statistics!.Assignments.Should().Be(32);
            layer.Statistics.Should().BeNull("Run keeps no statistics");
            MoeLoadBalancing.AfterOptimizerStep(layer);
            layer.Routing.BalanceBias!.data<float>().ToArray().Should().OnlyContain(b => b == 0, "Run's loads never reach AfterOptimizerStep");
            MoeAuxiliaryLoss.Collect(layer).item<float>().Should().Be(0);

            layer.forward(randn(16, 8));
            MoeLoadBalancing.AfterOptimizerStep(layer);
            layer.Routing.BalanceBias!.data<float>().ToArray().Should().Contain(b => b != 0, "forward's loads do");
        }

        [Fact]
        public void TwoLayersWithTheSameModuleNameAreTwoMetricSeriesAndPathsNameThem()
        {
            var first = Moe.Create(Options());
            var second = Moe.Create(Options());
            first.GetName().Should().Be(second.GetName());
            first.MetricsName.Should().NotBe(second.MetricsName);
            first.MetricsName.Should().StartWith("moe#");

            var model = nn.Sequential(("a", first), ("b", nn.Sequential(("inner", second))));
            MoeLayer.NameMetricsByPath(model);
            first.MetricsName.Should().Be("a");
            second.MetricsName.Should().Be("b.inner");

            var series = new HashSet<string>();
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MoeMetrics.MeterName && instrument.Name == "moelayers.expert.assigned") l.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                var layer = (string)tags.ToArray().First(t => t.Key == "layer").Value!;
                lock (series) series.Add(layer);
            });
            listener.Start();
            model.call(randn(3, 8));
            lock (series) series.Should().Contain(new[] { "a", "b.inner" });
        }

        [Fact]
        public void ASeedGivesTheSameRouterWeightsAsARouterBuiltAloneSoThePartsKeep02sInitializationOrder()
        {
            manual_seed(41);
            var layer = Moe.Create(Options());
            manual_seed(41);
            var router = new TopKRouter(8, 4);
            TensorAssert.Close(layer.Router.Weight, router.Weight, 0);
        }

        [Fact]
        public void AMetaDeviceLayerIsRefusedBeforeNativeCode()
        {
            var layer = Moe.Create(Options());
            layer.to(new Device(DeviceType.META));
            var act = () => layer.call(randn(2, 8));
            act.Should().Throw<InvalidOperationException>().WithMessage("MoE layer 'moe' is on the meta device*layer.to(CPU)*");
        }

        [Fact]
        public void ExpertChoiceReportsItsCapacity()
        {
            var options = Options(RouterKind.ExpertChoice);
            options.Causal = false;
            options.LoadBalancingLoss = LoadBalancingLossKind.None;
            options.CapacityFactor = 1.5;
            options.MinCapacity = 1;
            var statistics = new MoeLayer(options).Run(randn(10, 8)).Statistics!;
            statistics.Capacity.Should().Be(8, "C = ceil(1.5 · 2 · 10 / 4) = 8");
            statistics.KeptPerExpert.Should().OnlyContain(kept => kept == 8);
            statistics.DroppedAssignments.Should().Be(0, "every pair an expert chose is run");
        }
    }
}
