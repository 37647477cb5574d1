using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    public class MoeLayerTests
    {
        private static MoeLayerOptions Options(RouterKind router = RouterKind.TopK, int experts = 4, int k = 2) => new()
        {
            InputDim = 8, HiddenDim = 16, NumExperts = experts, TopK = router == RouterKind.Switch ? 1 : k, Router = router,
        };

        [Fact]
        public void KeepsLeadingShapeAndWorksInSequential()
        {
            manual_seed(0);
            var model = nn.Sequential(("in", nn.Linear(5, 8)), ("moe", new MoeLayer(Options())), ("out", nn.Linear(8, 3)));
            var y = model.call(randn(2, 7, 5));
            y.shape.Should().Equal(2, 7, 3);
        }

        [Fact]
        public void AnEmptyBatchGivesAnEmptyOutputAndZeroAuxiliaryLoss()
        {
            foreach (var strategy in Enum.GetValues<DispatchStrategy>())
            {
                var options = Options();
                options.Dispatch = strategy;
                var layer = new MoeLayer(options);
                var output = layer.Run(zeros(2, 0, 8));
                output.Output.shape.Should().Equal(2, 0, 8);
                output.AuxiliaryLoss.item<float>().Should().Be(0);
                output.Statistics!.Assignments.Should().Be(0);
            }
        }

        [Fact]
        public void OutputWidthMayDifferFromInputWidth()
        {
            var layer = new MoeLayer(new MoeLayerOptions { InputDim = 784, HiddenDim = 10, OutputDim = 10, NumExperts = 3, TopK = 2, ExpertBias = true, Activation = ExpertActivation.Relu });
            layer.call(rand(4, 784)).shape.Should().Equal(4, 10);
        }

        [Theory]
        [InlineData(RouterKind.TopK)]
        [InlineData(RouterKind.NoisyTopK)]
        [InlineData(RouterKind.Switch)]
        public void ExposesAuxiliaryLossAndStatistics(RouterKind router)
        {
            manual_seed(1);
            var layer = new MoeLayer(Options(router));
            var output = layer.Run(randn(32, 8));
            output.AuxiliaryLoss.requires_grad.Should().BeTrue();
            double.IsFinite(output.AuxiliaryLoss.item<float>()).Should().BeTrue();
            var stats = output.Statistics!;
            layer.Statistics.Should().BeNull("Run keeps nothing, its statistics included");
            stats.AssignedPerExpert.Sum().Should().Be(32L * layer.TopK);
            stats.DroppedFraction.Should().Be(0);
            stats.RouterEntropy.Should().BeInRange(0, Math.Log(4) + 1e-6);
            stats.UnusedExperts.Should().Be(stats.AssignedPerExpert.Count(c => c == 0));
        }

        [Fact]
        public void AuxiliaryLossIsCoefficientTimesLosses()
        {
            manual_seed(2);
            var options = Options();
            options.LoadBalancingCoefficient = 0.5;
            options.ZLossCoefficient = 0.25;
            var layer = new MoeLayer(options);
            var output = layer.Run(randn(16, 8));
            var expected = 0.5 * output.Statistics!.LoadBalancingLoss + 0.25 * output.Statistics.ZLoss;
            output.AuxiliaryLoss.item<float>().Should().BeApproximately((float)expected, 1e-5f);
        }

        [Fact]
        public void CollectSumsAuxiliaryLossesOfEveryLayer()
        {
            manual_seed(3);
            var a = new MoeLayer(Options(), "a");
            var b = new MoeLayer(Options(), "b");
            var model = nn.Sequential(("a", a), ("b", b));
            var x = randn(10, 8);
            model.call(x);
            var total = MoeAuxiliaryLoss.Collect(model);
            var expected = 0.01 * a.Statistics!.LoadBalancingLoss + 0.001 * a.Statistics.ZLoss + 0.01 * b.Statistics!.LoadBalancingLoss + 0.001 * b.Statistics.ZLoss;
            total.item<float>().Should().BeApproximately((float)expected, 1e-6f);
        }

        [Fact]
        public void CapacityReportsDroppedFractionAndEvalFactorApplies()
        {
            manual_seed(4);
            var options = Options(experts: 2, k: 1);
            options.CapacityFactor = 0.5;
            options.MinCapacity = 1;
            var layer = new MoeLayer(options);
            layer.train();
            layer.call(randn(40, 8));
            layer.Statistics!.Capacity.Should().Be(10);
            layer.Statistics.DroppedFraction.Should().BeApproximately(0.5, 1e-9);
            layer.eval();
            layer.call(randn(40, 8));
            layer.Statistics!.Capacity.Should().BeNull();
            layer.Statistics.DroppedFraction.Should().Be(0);
        }

        [Fact]
        public void DispatchStrategiesGiveTheSameLayerOutput()
        {
            manual_seed(5);
            var x = randn(3, 20, 8);
            Tensor? first = null;
            var state = new MoeLayer(Options()).state_dict();
            foreach (var strategy in Enum.GetValues<DispatchStrategy>())
            {
                var options = Options();
                options.Dispatch = strategy;
                var layer = new MoeLayer(options);
                layer.load_state_dict(state);
                var y = layer.call(x);
                if (first is null) first = y;
                else TensorAssert.Close(y, first, 1e-5, strategy.ToString());
            }
        }

        [Fact]
        public void StateDictRoundTripsThroughAFile()
        {
            manual_seed(6);
            var options = Options(RouterKind.NoisyTopK);
            options.Activation = ExpertActivation.SwiGlu;
            options.ExpertBias = true;
            var layer = new MoeLayer(options);
            layer.state_dict().Keys.Should().BeEquivalentTo("router.weight", "router.noise_weight", "experts.w_in", "experts.w_gate",
                "experts.w_out", "experts.b_in", "experts.b_gate", "experts.b_out");
            var path = Path.Combine(Path.GetTempPath(), $"moe-{Guid.NewGuid():N}.bin");
            try
            {
                layer.save(path);
                var copy = new MoeLayer(options);
                copy.load(path);
                layer.eval();
                copy.eval();
                var x = randn(12, 8);
                TensorAssert.Close(copy.call(x), layer.call(x), 0);
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void TrainsAndDoesNotLeakTensorsOver100Steps()
        {
            manual_seed(7);
            var options = Options(RouterKind.NoisyTopK);
            options.LoadBalancingLoss = LoadBalancingLossKind.ImportanceLoad;
            var model = nn.Sequential(("moe", new MoeLayer(options)), ("head", nn.Linear(8, 1)));
            var run = TrainingRun.Fit(model, randn(64, 8));
            run.LastLoss.Should().BeLessThan(run.FirstLoss * 0.5f);
            run.LiveAtEnd.Should().BeLessThanOrEqualTo(run.LiveAfterWarmup);
        }

        [Fact]
        public void RejectsWrongWidthDtypeAndDevice()
        {
            var layer = new MoeLayer(Options());
            layer.Invoking(l => l.call(ones(3, 7))).Should().Throw<ArgumentException>()
                .WithMessage("input must have shape [..., 8]; got [3, 7].*").Which.ParamName.Should().Be("input");
            layer.Invoking(l => l.call(ones(3, 8, ScalarType.Float64))).Should().Throw<ArgumentException>()
                .WithMessage("input has dtype Float64 but the module's parameters are Float32*");
            layer.Invoking(l => l.call(ones(3, 8, ScalarType.Int32))).Should().Throw<ArgumentException>()
                .WithMessage("input must be a floating-point tensor*");
            layer.Invoking(l => l.call(ones(3, 8, device: new Device(DeviceType.META)))).Should().Throw<ArgumentException>()
                .WithMessage("input is on meta but the module's parameters are on cpu*");
            layer.Invoking(l => l.forward(ones(3, 8), ones(4))).Should().Throw<ArgumentException>()
                .WithMessage("tokenMask must have shape [3] (the input's shape without its last dimension); got [4].*");
        }

        [Theory]
        [InlineData(0, 1, null, "NumExperts must be at least 1")]
        [InlineData(4, 5, null, "TopK must be in [1, NumExperts = 4]; got 5.")]
        [InlineData(4, 2, 0.0, "CapacityFactor must be a finite number > 0, or null for dropless routing; got 0.")]
        [InlineData(4, 2, -1.0, "CapacityFactor must be a finite number > 0, or null for dropless routing; got -1.")]
        public void RejectsBadOptions(int experts, int k, double? factor, string message)
        {
            var options = Options(experts: experts, k: k);
            options.CapacityFactor = factor;
            var act = () => new MoeLayer(options);
            act.Should().Throw<ArgumentException>().WithMessage($"*MoeLayerOptions.{message}*").Which.ParamName.Should().Be("options");
        }

        [Fact]
        public void TokenMaskExcludesPaddingFromLosses()
        {
            manual_seed(8);
            var options = Options();
            options.ZLossCoefficient = 1;
            options.LoadBalancingCoefficient = 0;
            var layer = new MoeLayer(options);
            var x = randn(2, 5, 8);
            var mask = ones(2, 5);
            mask[1, 3] = tensor(0f);
            mask[1, 4] = tensor(0f);
            var output = layer.Run(x, mask);
            var masked = output.AuxiliaryLoss.item<float>();
            var expected = MoeLayers.RouterZLoss.Compute(output.Routing.Logits.narrow(0, 0, 8)).item<float>();
            masked.Should().BeApproximately(expected, 1e-5f);
        }
    }
}
