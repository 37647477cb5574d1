using System;
using System.Linq;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.Tests
{
    /// <summary>An expert-parallel MoeLayer (ExpertParallel.Create) in a world of one (SingleProcessCommunicator): the same numbers as MoeLayer, and its checks.</summary>
    public sealed class MoeLayerTests
    {
        private static MoeLayerOptions Options(double? cf = null) => new()
        {
            InputDim = 6,
            HiddenDim = 10,
            NumExperts = 4,
            TopK = 2,
            CapacityFactor = cf,
            MinCapacity = 1,
        };

        [Theory]
        [InlineData(null)]
        [InlineData(0.5)]
        public void InAWorldOfOneItEqualsMoeLayerIncludingGradients(double? cf)
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            manual_seed(3);
            var full = new MoeLayer(Options(cf));
            full.to(ScalarType.Float64);
            var ep = ExpertParallel.Create(Options(cf), comm);
            ep.to(ScalarType.Float64);
            ep.LoadShardFrom(full.state_dict());
            ep.state_dict().Keys.Should().BeEquivalentTo(full.state_dict().Keys, "the state dict names are MoeLayer's");

            var x = randn(20, 6, ScalarType.Float64);
            var a = full.Run(x);
            var b = ep.Run(x);
            (a.Output - b.Output).abs().max().item<double>().Should().BeLessThan(1e-12);
            b.AuxiliaryLoss.item<float>().Should().BeApproximately(a.AuxiliaryLoss.item<float>(), 1e-6f);
            (a.Output.sum() + a.AuxiliaryLoss).backward();
            (b.Output.sum() + b.AuxiliaryLoss).backward();
            GradientAllReduce.Average(ep, comm);
            var grads = full.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
            foreach (var (name, p) in ep.named_parameters())
                (p.grad!.to(ScalarType.Float64) - grads[name].to(ScalarType.Float64)).abs().max().item<double>().Should().BeLessThan(name.StartsWith("router", StringComparison.Ordinal) ? 1e-6 : 1e-12, name);
            b.Statistics!.KeptPerExpert.Should().Equal(a.Statistics!.KeptPerExpert);
        }

        /// <summary>Llama 4's weights on the expert inputs go through the plan's gather, before the rows leave for their experts' rank.</summary>
        [Fact]
        public void WeightedExpertInputsEqualMoeLayerIncludingGradients()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var options = Options(0.75);
            options.TopK = 1;
            options.ScoreFunction = ScoreFunction.Sigmoid;
            options.Activation = ExpertActivation.SwiGlu;
            options.WeightExpertInputs = true;
            manual_seed(5);
            var full = new MoeLayer(options);
            full.to(ScalarType.Float64);
            var ep = ExpertParallel.Create(options, comm);
            ep.to(ScalarType.Float64);
            ep.LoadShardFrom(full.state_dict());

            var x = randn(20, 6, ScalarType.Float64);
            var a = full.Run(x);
            var b = ep.Run(x);
            (a.Output - b.Output).abs().max().item<double>().Should().BeLessThan(1e-12);
            (a.Output.sum() + a.AuxiliaryLoss).backward();
            (b.Output.sum() + b.AuxiliaryLoss).backward();
            var grads = full.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
            foreach (var (name, p) in ep.named_parameters())
                (p.grad!.to(ScalarType.Float64) - grads[name].to(ScalarType.Float64)).abs().max().item<double>().Should().BeLessThan(name.StartsWith("router", StringComparison.Ordinal) ? 1e-6 : 1e-12, name);
            grads["router.weight"].abs().sum().item<float>().Should().BeGreaterThan(0);
        }

        [Fact]
        public void AsAMoeLayerItFeedsCollectAndTheBalanceStepLikeMoeLayer()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var o = Options(0.5);
            o.LoadBalancingCoefficient = 0.01;
            o.ZLossCoefficient = 0.001;
            o.BalanceBias = true;
            o.BalanceBiasRate = 0.01;
            manual_seed(5);
            var full = new MoeLayer(o);
            MoeLayer ep = ExpertParallel.Create(o, comm);
            ep.LoadShardFrom(full.state_dict());
            full.train();
            ep.train();
            var x = randn(4, 5, 6);
            var y0 = full.forward(x);
            var y1 = ep.forward(x);
            (y0 - y1).abs().max().item<float>().Should().BeLessThan(1e-6f);
            var a0 = MoeAuxiliaryLoss.Collect(full).item<float>();
            var a1 = MoeAuxiliaryLoss.Collect(ep).item<float>();
            a0.Should().BeGreaterThan(0);
            a1.Should().BeApproximately(a0, 1e-6f, "forward keeps the auxiliary loss for Collect, as MoeLayer's does");
            MoeAuxiliaryLoss.Collect(ep).item<float>().Should().Be(0, "a collected loss is not returned twice");
            ep.Statistics!.AssignedPerExpert.Should().Equal(full.Statistics!.AssignedPerExpert);
            ep.Statistics.KeptPerExpert.Should().Equal(full.Statistics.KeptPerExpert);

            MoeLoadBalancing.AfterOptimizerStep(full);
            MoeLoadBalancing.AfterOptimizerStep(ep);
            var b0 = full.state_dict()["router.correction_bias"];
            var b1 = ep.state_dict()["router.correction_bias"];
            b1.abs().sum().item<float>().Should().BeGreaterThan(0, "the bias moved by the step's loads");
            (b1 - b0).abs().max().item<float>().Should().Be(0);
        }

        [Fact]
        public void ATokenMaskIsRefusedByName()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var ep = ExpertParallel.Create(Options(), comm);
            var act = () => ep.Run(randn(2, 3, 6), ones(2, 3, dtype: ScalarType.Bool));
            act.Should().Throw<NotSupportedException>().WithMessage("*takes no token mask (tokenMask)*");
        }

        [Fact]
        public void UnsupportedOptionsAreRefusedByName()
        {
            using var comm = new SingleProcessCommunicator();
            var o = Options(0.5);
            o.DropPolicy = DropPolicy.ByWeight;
            o.LoadBalancingLoss = LoadBalancingLossKind.GlobalBatch;
            o.Dispatch = DispatchStrategy.Padded;
            o.UseCudaDispatch = CudaDispatchMode.Always;
            var act = () => ExpertParallel.Create(o, comm);
            act.Should().Throw<NotSupportedException>()
                .WithMessage("*LoadBalancingLoss = GlobalBatch*Dispatch = Padded*UseCudaDispatch = Always*DropPolicy = ByWeight*");
        }

        /// <summary>An adapted layer (MoeLayerOptions.Lora) sharded in a world of one: the one-process numbers, only the adapters trained.</summary>
        [Fact]
        public void LoraAdaptersShardWithTheirExpertsAndGiveTheOneProcessGradients()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var options = Options(0.5);
            options.Activation = ExpertActivation.SwiGlu;
            options.SharedExperts = 1;
            options.Lora = new LoraOptions { Rank = 2, Alpha = 4 };
            manual_seed(6);
            var full = new MoeLayer(options);
            full.to(ScalarType.Float64);
            using (no_grad())
            {
                foreach (var (_, p) in full.named_parameters().Where(p => p.name.Contains(".lora.b_", StringComparison.Ordinal)))
                    p.copy_(randn(p.shape, ScalarType.Float64));
            }
            var ep = ExpertParallel.Create(options, comm);
            ep.to(ScalarType.Float64);
            ep.LoadShardFrom(full.state_dict());
            ep.state_dict().Keys.Should().Contain("experts.lora.a_in").And.Contain("shared_experts.lora.b_out");

            var x = randn(20, 6, ScalarType.Float64);
            var a = full.Run(x);
            var b = ep.Run(x);
            (a.Output - b.Output).abs().max().item<double>().Should().BeLessThan(1e-12);
            (a.Output.sum() + a.AuxiliaryLoss).backward();
            (b.Output.sum() + b.AuxiliaryLoss).backward();
            GradientAllReduce.Average(ep, comm);
            var grads = full.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
            foreach (var (name, p) in ep.named_parameters())
            {
                if (!p.requires_grad)
                {
                    p.grad.Should().BeNull(name);
                    grads[name].Should().BeNull(name);
                    continue;
                }
                name.Should().Contain(".lora.");
                (p.grad! - grads[name]!).abs().max().item<double>().Should().BeLessThan(1e-12, name);
                p.grad!.abs().sum().item<double>().Should().BeGreaterThan(0, name);
            }
        }

        [Fact]
        public void LoadShardFromRefusesAStateDictWithAnotherNumberOfExperts()
        {
            using var scope = NewDisposeScope();
            using var comm = new SingleProcessCommunicator();
            var ep = ExpertParallel.Create(Options(), comm);
            var o = Options();
            o.NumExperts = 6;
            var other = new MoeLayer(o);
            var act = () => ep.LoadShardFrom(other.state_dict());
            act.Should().Throw<ArgumentException>().WithMessage("*must have 4 experts in its first dimension*");
        }
    }
}
