using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>
    /// LoRA on a whole layer (<see cref="MoeLora"/>, <see cref="MoeLayerOptions.Lora"/>): frozen base, adapters that start
    /// as the identity update, every router, masks and capacity, bfloat16 bases, merge and unmerge, the adapters' state.
    /// </summary>
    public class MoeLoraTests
    {
        private static MoeLayerOptions Options(RouterKind router = RouterKind.TopK) => new()
        {
            InputDim = 6,
            HiddenDim = 8,
            NumExperts = 4,
            TopK = router == RouterKind.Switch ? 1 : 2,
            Router = router,
            Causal = router == RouterKind.ExpertChoice ? false : null,
            LoadBalancingLoss = router == RouterKind.ExpertChoice ? LoadBalancingLossKind.None : LoadBalancingLossKind.Switch,
            Activation = ExpertActivation.SwiGlu,
            SharedExperts = 1,
            MinCapacity = 1,
        };

        [Fact]
        public void TheAdaptedLayerComputesTheBaseLayerAtInitializationWithEveryBaseWeightFrozen()
        {
            manual_seed(1);
            var layer = new MoeLayer(Options());
            var adapted = MoeLora.Apply(layer, new LoraOptions { Rank = 2, Alpha = 4 });
            var x = randn(3, 5, 6);
            layer.train();
            adapted.train();
            // Training forwards run the same grouped products: B = 0 adds exactly zero.
            TensorAssert.Close(adapted.Run(x).Output, layer.Run(x).Output, 0, "training forward");
            layer.eval();
            adapted.eval();
            using (no_grad())
                TensorAssert.Close(adapted.Run(x).Output, layer.Run(x).Output, 1e-6, "evaluation (the base may take the decode kernels)");

            var trainable = adapted.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
            trainable.Should().BeEquivalentTo(
                "experts.lora.a_in", "experts.lora.b_in", "experts.lora.a_gate", "experts.lora.b_gate", "experts.lora.a_out", "experts.lora.b_out",
                "shared_experts.lora.a_in", "shared_experts.lora.b_in", "shared_experts.lora.a_gate", "shared_experts.lora.b_gate",
                "shared_experts.lora.a_out", "shared_experts.lora.b_out");
            adapted.named_parameters().Single(p => p.name == "experts.lora.a_in").parameter.shape.Should().Equal(4, 6, 2);
            adapted.named_parameters().Single(p => p.name == "shared_experts.lora.b_out").parameter.shape.Should().Equal(2, 6);
            layer.named_parameters().Should().OnlyContain(p => p.parameter.requires_grad, "the layer given to Apply is not changed");
        }

        [Fact]
        public void TheRouterAndSharedExpertsAreTrainedOrFrozenAsTheOptionsSay()
        {
            manual_seed(2);
            var options = Options();
            options.Lora = new LoraOptions { Rank = 2, AdaptSharedExperts = false, TrainRouter = true, Projections = LoraProjections.Output };
            var layer = new MoeLayer(options);
            layer.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name)
                .Should().BeEquivalentTo("router.weight", "experts.lora.a_out", "experts.lora.b_out");
            MoeLora.AdapterStateDict(layer).Keys.Should().BeEquivalentTo("router.weight", "experts.lora.a_out", "experts.lora.b_out");
            layer.train();
            var output = layer.Run(randn(10, 6));
            (output.Output.sum() + output.AuxiliaryLoss).backward();
            layer.named_parameters().Single(p => p.name == "router.weight").parameter.grad!.abs().sum().item<float>().Should().BeGreaterThan(0);
            foreach (var (name, parameter) in layer.named_parameters().Where(p => !p.parameter.requires_grad))
                parameter.grad.Should().BeNull($"{name} is frozen");
        }

        public static TheoryData<RouterKind> Routers() => new() { RouterKind.TopK, RouterKind.NoisyTopK, RouterKind.Switch, RouterKind.ExpertChoice };

        /// <summary>
        /// Grouped and padded dispatch against the reference loop, with capacity drops and (but for expert choice, whose
        /// experts pick among all tokens) padding tokens: outputs and adapter gradients; every adapter of an expert that
        /// kept tokens gets a gradient, an expert that kept none gets zeros, and no frozen weight gets one.
        /// </summary>
        [Theory]
        [MemberData(nameof(Routers))]
        public void EveryRouterWithMasksAndCapacityGivesTheReferenceGradientsToExactlyTheAdaptersThatSawTokens(RouterKind router)
        {
            var x = randn(new long[] { 2, 9, 6 }, ScalarType.Float64, generator: new Generator(3));
            var mask = router == RouterKind.ExpertChoice ? null : tensor(Enumerable.Range(0, 18).Select(i => i % 5 != 2).ToArray()).reshape(2, 9);
            var runs = new[] { DispatchStrategy.Reference, DispatchStrategy.Grouped, DispatchStrategy.Padded }.Select(d => Train(router, d, x, mask)).ToArray();
            var (reference, kept) = (runs[0].Gradients, runs[0].Kept);
            if (router == RouterKind.TopK) kept[5].Should().Be(0, "the router's bias starves expert 5, so the zero-gradient rule is exercised");
            foreach (var (strategy, run) in new[] { "grouped", "padded" }.Zip(runs.Skip(1)))
            {
                run.Kept.Should().Equal(kept, strategy);
                foreach (var (key, value) in reference) TensorAssert.Close(run.Gradients[key], value, 1e-10, $"{router} {strategy}: {key}");
            }
            if (router != RouterKind.ExpertChoice) runs[0].Dropped.Should().BeGreaterThan(0, "the capacity drops pairs");
            foreach (var (key, gradient) in reference.Where(g => g.Key.StartsWith("experts.lora.", StringComparison.Ordinal)))
            {
                for (var e = 0; e < kept.Length; e++)
                {
                    var size = gradient[e].abs().max().item<double>();
                    if (kept[e] == 0) size.Should().Be(0, $"expert {e} kept no token: {key}");
                    else size.Should().BeGreaterThan(0, $"expert {e} kept {kept[e]} tokens: {key}");
                }
            }
            if (mask is not null) reference["output at padding"].abs().max().item<double>().Should().Be(0, "padding gets zero output");
        }

        [Fact]
        public void ABfloat16BaseKeepsFloat32AdaptersThatLearn()
        {
            manual_seed(4);
            var options = Options();
            options.Lora = new LoraOptions { Rank = 4 };
            var layer = new MoeLayer(options);
            var reference = new MoeLayer(options);
            reference.load_state_dict(layer.state_dict());
            RandomizeUp(layer, 0.2);
            reference.load_state_dict(layer.state_dict());
            layer.to(ScalarType.BFloat16);
            foreach (var (name, parameter) in layer.named_parameters())
            {
                var adapter = name.Contains(".lora.", StringComparison.Ordinal);
                parameter.dtype.Should().Be(name.StartsWith("router.", StringComparison.Ordinal) || adapter ? ScalarType.Float32 : ScalarType.BFloat16, name);
                parameter.requires_grad.Should().Be(adapter, $"{name}: the conversion keeps what is frozen");
            }
            layer.train();
            reference.train();
            // Rounded to bfloat16 for both, so the float32 router sees the same tokens and picks the same experts.
            var x = randn(16, 6).to(ScalarType.BFloat16).to(ScalarType.Float32);
            var output = layer.Run(x.to(ScalarType.BFloat16)).Output;
            var expected = reference.Run(x).Output;
            output.dtype.Should().Be(ScalarType.BFloat16);
            TensorAssert.Close(output.to(ScalarType.Float32), expected, 0.05 * expected.abs().max().item<float>(), "bfloat16 against float32");
            output.to(ScalarType.Float32).pow(2).sum().backward();
            foreach (var (name, parameter) in layer.named_parameters().Where(p => p.parameter.requires_grad))
            {
                parameter.grad!.dtype.Should().Be(ScalarType.Float32, name);
                parameter.grad.abs().sum().item<float>().Should().BeGreaterThan(0, name);
            }

            using var optimizer = optim.SGD(layer.parameters().Where(p => p.requires_grad), 1e-2);
            var before = layer.named_parameters().Single(p => p.name == "experts.lora.b_in").parameter.detach().clone();
            optimizer.step();
            var after = layer.named_parameters().Single(p => p.name == "experts.lora.b_in").parameter;
            (after - before).abs().max().item<float>().Should().BeGreaterThan(0, "the float32 adapters take the step");
        }

        [Fact]
        public void MergedEqualsUnmergedAndUnmergeOrReloadingRestoresTheWeights()
        {
            manual_seed(5);
            var options = Options();
            options.Lora = new LoraOptions { Rank = 3, Alpha = 5 };
            var layer = new MoeLayer(options);
            RandomizeUp(layer, 0.3);
            var baseState = layer.state_dict().ToDictionary(e => e.Key, e => e.Value.detach().clone());
            layer.eval();
            var x = randn(4, 7, 6);
            Tensor unmerged;
            using (no_grad()) unmerged = layer.Run(x).Output;
            MoeLora.IsMerged(layer).Should().BeFalse();

            MoeLora.Merge(layer);
            MoeLora.IsMerged(layer).Should().BeTrue();
            using (no_grad()) TensorAssert.Close(layer.Run(x).Output, unmerged, 1e-6, "merged, without gradients (the CPU decode kernels)");
            TensorAssert.Close(layer.Run(x).Output, unmerged, 1e-6, "merged, the grouped products");
            var w = layer.state_dict()["experts.w_in"];
            var expected = baseState["experts.w_in"] + 5.0 / 3 * baseState["experts.lora.a_in"].matmul(baseState["experts.lora.b_in"]);
            TensorAssert.Close(w, expected, 1e-6, "W + (α/r)·A·B");
            ((Action)(() => MoeLora.Merge(layer))).Should().Throw<InvalidOperationException>().WithMessage("*merged already*");
            layer.train();
            ((Action)(() => layer.Run(x))).Should().Throw<InvalidOperationException>().WithMessage("*merged into the expert weights*MoeLora.Unmerge*");
            ((Action)(() => MoeLora.LoadAdapters(layer, MoeLora.AdapterStateDict(layer)))).Should().Throw<InvalidOperationException>().WithMessage("*Unmerge*");

            MoeLora.Unmerge(layer);
            MoeLora.IsMerged(layer).Should().BeFalse();
            foreach (var key in new[] { "experts.w_in", "experts.w_gate", "experts.w_out", "shared_experts.w_in", "shared_experts.w_out" })
                TensorAssert.Close(layer.state_dict()[key], baseState[key], 1e-6, $"unmerged {key}");
            layer.eval();
            using (no_grad()) TensorAssert.Close(layer.Run(x).Output, unmerged, 1e-6, "unmerged again");

            MoeLora.Merge(layer);
            layer.load_state_dict(baseState);
            MoeLora.IsMerged(layer).Should().BeFalse("reloading the base weights ends the merged state");
            using (no_grad()) TensorAssert.Close(layer.Run(x).Output, unmerged, 0, "reloaded");
        }

        [Fact]
        public void MergeAndUnloadGivesAPlainLayerOfTheSameFunctionThatQuantizes()
        {
            manual_seed(6);
            var options = Options();
            options.Lora = new LoraOptions { Rank = 2 };
            var layer = new MoeLayer(options);
            RandomizeUp(layer, 0.3);
            layer.eval();
            var plain = MoeLora.MergeAndUnload(layer);
            plain.Options.Lora.Should().BeNull();
            plain.named_parameters().Should().OnlyContain(p => p.parameter.requires_grad && !p.name.Contains("lora", StringComparison.Ordinal));
            var x = randn(9, 6);
            // The plain layer takes the decode kernels, the adapted one the grouped products: the sums' order differs.
            using (no_grad()) TensorAssert.Close(plain.Run(x).Output, layer.Run(x).Output, 1e-5);
            MoeLora.IsMerged(layer).Should().BeFalse("the adapted layer is not changed");

            ((Action)(() => MoeQuantization.ToInt8Experts(layer))).Should().Throw<ArgumentException>().WithMessage("*has LoRA adapters*MergeAndUnload*");
            using var quantized = MoeQuantization.ToInt8Experts(plain);
            using (no_grad()) TensorAssert.Close(quantized.Run(x).Output, layer.Run(x).Output, 0.05);
        }

        [Fact]
        public void WithoutGradientsTheDecodePathIsNotTakenWhileAdaptersAreUnmerged()
        {
            manual_seed(7);
            var options = Options();
            options.Lora = new LoraOptions { Rank = 2 };
            var layer = new MoeLayer(options);
            RandomizeUp(layer, 0.5);
            var reference = new MoeLayer(WithDispatch(options, DispatchStrategy.Reference));
            reference.load_state_dict(layer.state_dict());
            layer.eval();
            reference.eval();
            var x = randn(3, 6);
            using var noGrad = no_grad();
            var expected = reference.Run(x).Output;
            TensorAssert.Close(layer.Run(x).Output, expected, 1e-6, "three tokens qualify for the decode kernels, which would leave the adapters out");
            var plain = MoeLora.MergeAndUnload(layer);
            (plain.Run(x).Output - expected).abs().max().item<float>().Should().BeLessThan(1e-5f);
        }

        [Fact]
        public void AdaptersSaveAndLoadByKeyAndAMismatchedLayerIsRefusedNamingTheKey()
        {
            manual_seed(8);
            var options = Options();
            options.Lora = new LoraOptions { Rank = 2 };
            var layer = new MoeLayer(options);
            RandomizeUp(layer, 0.4);
            var adapters = MoeLora.AdapterStateDict(layer);
            adapters.Keys.Should().OnlyContain(k => k.StartsWith("experts.lora.", StringComparison.Ordinal) || k.StartsWith("shared_experts.lora.", StringComparison.Ordinal));
            adapters["experts.lora.b_in"].shape.Should().Equal(4, 2, 8);

            var other = new MoeLayer(options);
            other.load_state_dict(layer.state_dict().Where(e => !e.Key.Contains(".lora.", StringComparison.Ordinal)).ToDictionary(e => e.Key, e => e.Value), strict: false);
            MoeLora.LoadAdapters(other, adapters);
            var x = randn(5, 6);
            layer.eval();
            other.eval();
            using (no_grad()) TensorAssert.Close(other.Run(x).Output, layer.Run(x).Output, 0, "the same base and adapters");

            var moreExperts = options.Clone();
            moreExperts.NumExperts = 8;
            var wider = options.Clone();
            wider.HiddenDim = 10;
            var higherRank = options.Clone();
            higherRank.Lora!.Rank = 3;
            foreach (var (label, mismatched, key, expected, actual) in new[]
                     {
                         ("expert count", moreExperts, "experts.lora.a_in", "[8, 6, 2]", "[4, 6, 2]"),
                         ("hidden width", wider, "experts.lora.b_in", "[4, 2, 10]", "[4, 2, 8]"),
                         ("rank", higherRank, "experts.lora.a_in", "[4, 6, 3]", "[4, 6, 2]"),
                     })
            {
                var target = new MoeLayer(mismatched);
                var before = MoeLora.AdapterStateDict(target);
                var act = () => MoeLora.LoadAdapters(target, adapters);
                act.Should().Throw<ArgumentException>(label).WithMessage($"*key '{key}': expected shape {expected}, got {actual}*");
                foreach (var (k, v) in MoeLora.AdapterStateDict(target)) TensorAssert.Close(v, before[k], 0, $"{label}: nothing loaded ({k})");
            }
            var extra = new Dictionary<string, Tensor>(adapters) { ["experts.w_in"] = layer.state_dict()["experts.w_in"] };
            ((Action)(() => MoeLora.LoadAdapters(other, extra))).Should().Throw<ArgumentException>().WithMessage("*unexpected key(s) 'experts.w_in'*");
            var missing = adapters.Where(e => e.Key != "experts.lora.b_out").ToDictionary(e => e.Key, e => e.Value);
            ((Action)(() => MoeLora.LoadAdapters(other, missing))).Should().Throw<ArgumentException>().WithMessage("*missing key 'experts.lora.b_out'*");
        }

        [Fact]
        public void LayersThatCannotTakeAdaptersAreRefusedByName()
        {
            var int8 = Options();
            int8.Int8Experts = true;
            int8.Lora = new LoraOptions();
            MoeLayerOptionsValidator.Failures(int8).Should().Contain(f => f.Contains("MoeLayerOptions.Lora cannot be combined with Int8Experts", StringComparison.Ordinal));
            var aoe = new MoeLayerOptions { InputDim = 6, HiddenDim = 8, Router = RouterKind.AutonomyOfExperts, LowRank = 2, Activation = ExpertActivation.SwiGlu, Lora = new LoraOptions() };
            MoeLayerOptionsValidator.Failures(aoe).Should().Contain(f => f.Contains("MoeLayerOptions.Lora is not implemented for the AutonomyOfExperts router", StringComparison.Ordinal));
            var bad = Options();
            bad.Activation = ExpertActivation.Gelu;
            bad.Lora = new LoraOptions { Rank = 0, Alpha = double.NaN, Projections = LoraProjections.Gate };
            MoeLayerOptionsValidator.Failures(bad).Should().Contain(new[]
            {
                "MoeLayerOptions.Lora.Rank must be at least 1; got 0.",
                "MoeLayerOptions.Lora.Alpha must be a finite number > 0; got NaN.",
                "MoeLayerOptions.Lora.Projections = Gate adapts no projection: Activation = Gelu has no gate projection. Add Input or Output.",
            });

            manual_seed(9);
            using var quantized = MoeQuantization.ToInt8Experts(new MoeLayer(Options()));
            ((Action)(() => MoeLora.Apply(quantized, new LoraOptions()))).Should().Throw<ArgumentException>().WithMessage("*holds int8 experts*");
            var adapted = MoeLora.Apply(new MoeLayer(Options()), new LoraOptions());
            ((Action)(() => MoeLora.Apply(adapted, new LoraOptions()))).Should().Throw<ArgumentException>().WithMessage("*has LoRA adapters already*");
            ((Action)(() => MoeLora.Merge(new MoeLayer(Options())))).Should().Throw<ArgumentException>().WithMessage("*has no LoRA adapters*");
        }

        [Fact]
        public void OptionsCloneCopiesTheLoraOptions()
        {
            var options = Options();
            options.Lora = new LoraOptions { Rank = 4 };
            var copy = options.Clone();
            copy.Lora!.Rank = 5;
            options.Lora.Rank.Should().Be(4);
            new MoeLayer(options).Options.Lora!.Rank.Should().Be(4);
        }

        private static MoeLayerOptions WithDispatch(MoeLayerOptions options, DispatchStrategy strategy)
        {
            var copy = options.Clone();
            copy.Dispatch = strategy;
            return copy;
        }

        /// <summary>Up matrices drawn at random (they start at zero), so every adapter matters and A gets gradients.</summary>
        private static void RandomizeUp(MoeLayer layer, double scale)
        {
            using var noGrad = no_grad();
            foreach (var (name, parameter) in layer.named_parameters().Where(p => p.name.Contains(".lora.b_", StringComparison.Ordinal)))
                parameter.copy_(randn(parameter.shape, parameter.dtype) * scale);
        }

        /// <summary>One training forward and backward of an adapted float64 layer: adapter gradients by name, kept pairs per expert, drops.</summary>
        private static (Dictionary<string, Tensor> Gradients, long[] Kept, long Dropped) Train(RouterKind router, DispatchStrategy strategy, Tensor x, Tensor? mask)
        {
            var options = WithDispatch(Options(router), strategy);
            options.NumExperts = 6;
            options.CapacityFactor = router == RouterKind.ExpertChoice ? 0.4 : 0.6;
            options.NoisyZeroInit = false;
            options.Lora = new LoraOptions { Rank = 2, Alpha = 3 };
            options.RouterBias = router == RouterKind.TopK;
            manual_seed(10);
            var layer = new MoeLayer(options);
            layer.to(ScalarType.Float64);
            RandomizeUp(layer, 0.5);
            if (options.RouterBias)
            {
                using var noGrad = no_grad();
                layer.named_parameters().Single(p => p.name == "router.bias").parameter[5] = tensor(-1e4f);
            }
            layer.train();
            manual_seed(11);
            var input = x.clone().requires_grad_(true);
            var result = layer.Run(input, mask);
            (result.Output.pow(2).sum() + result.AuxiliaryLoss).backward();
            var gradients = new Dictionary<string, Tensor> { ["output"] = result.Output.detach() };
            foreach (var (name, parameter) in layer.named_parameters())
            {
                if (parameter.requires_grad) gradients[name] = parameter.grad!;
                else parameter.grad.Should().BeNull($"{name} is frozen");
            }
            if (mask is not null) gradients["output at padding"] = result.Output.reshape(-1, 6).index_select(0, nonzero(mask.reshape(-1).logical_not()).squeeze(1));
            var statistics = result.Statistics!;
            return (gradients, statistics.KeptPerExpert.ToArray(), statistics.DroppedAssignments);
        }
    }
}
