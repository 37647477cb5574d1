using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// LoRA on a whole model: the adapted model starts as the base one, only adapters (and routers when asked) train,
    /// merged equals unmerged, and the merged model saves as a folder that loads back to the same logits.
    /// </summary>
    public sealed class ModelAdaptersTests
    {
        private static readonly AdapterSettings Everything = new(Rank: 4, Alpha: 8, RankStabilized: false, AdapterTargets.AllProjections | AdapterTargets.Router);

        [Theory]
        [MemberData(nameof(MoeCausalLMParityTests.Folders), MemberType = typeof(MoeCausalLMParityTests))]
        public void AdaptedStartsAsTheBaseAndMergedEqualsUnmergedAndReloads(string name)
        {
            using var scope = NewDisposeScope();
            using var temp = new TempFolder();
            var source = MoeModelFixtures.Folder(name);
            var ids = MoeModelFixtures.ReferenceOf(name).InputIds;
            using var model = MoeCausalLM.Load(source, ScalarType.Float32);
            var baseLogits = model.Forward(ids);

            manual_seed(11);
            ModelAdapters.Apply(model, Everything);
            model.Adapters.Should().Be(Everything);
            model.Forward(ids).allclose(baseLogits, 1e-6, 1e-6).Should().BeTrue("every B starts at zero");

            RandomizeUpMatrices(model);
            var adapted = model.Forward(ids);
            (adapted - baseLogits).abs().max().item<float>().Should().BeGreaterThan(1e-3f, "trained adapters change the function");

            var save = () => model.Save(Path.Combine(temp.Path, "refused"), source);
            save.Should().Throw<InvalidOperationException>().WithMessage("*carries LoRA adapters*merge*");

            ModelAdapters.MergeAndUnload(model);
            model.Adapters.Should().BeNull();
            model.parameters().Should().OnlyContain(p => !p.requires_grad, "a merged model is frozen for inference");
            model.named_parameters().Select(p => p.name).Should().NotContain(n => n.Contains("lora"));
            var merged = model.Forward(ids);
            merged.allclose(adapted, 1e-5, 5e-5).Should().BeTrue($"merging folds s·B·A into W, up to float32 rounding of the two orders of summation (largest difference {(merged - adapted).abs().max().item<float>():E2})");

            var exported = Path.Combine(temp.Path, "merged");
            model.Save(exported, source);
            using var reloaded = MoeCausalLM.Load(exported, ScalarType.Float32);
            reloaded.Forward(ids).allclose(model.Forward(ids), 0, 0).Should().BeTrue("the merged folder holds the merged float32 weights");
        }

        [Fact]
        public void OnlyTheAdaptersAndRoutersTrainAndEveryOneGetsAGradient()
        {
            using var scope = NewDisposeScope();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            manual_seed(12);
            ModelAdapters.Apply(model, Everything);
            RandomizeUpMatrices(model);
            var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
            // Layer 0 is dense (mlp_only_layers = [0]); layers 1 and 2 are MoE with 8 experts, d = 32, h = 16.
            trainable.Should().Contain(new[]
            {
                "model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.o_proj.lora_B.weight",
                "model.layers.0.mlp.gate_proj.lora_A.weight", "model.layers.0.mlp.down_proj.lora_B.weight",
                "model.layers.1.mlp.experts.lora.a_in", "model.layers.1.mlp.experts.lora.b_gate", "model.layers.2.mlp.experts.lora.b_out",
                "model.layers.1.mlp.router.weight",
            });
            trainable.Should().OnlyContain(n => n.Contains(".lora") || n.EndsWith(".router.weight", StringComparison.Ordinal));
            trainable.Should().HaveCount(3 * 4 * 2 + 3 * 2 + 2 * (6 + 1), "4 attention projections × 3 layers, 3 dense projections, 6 expert adapters and a router per MoE layer");
            var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
            shapes["model.layers.1.mlp.experts.lora.a_in"].Should().Equal(8, 32, 4);
            shapes["model.layers.1.mlp.experts.lora.b_out"].Should().Equal(8, 4, 32);
            shapes["model.layers.0.self_attn.k_proj.lora_B.weight"].Should().Equal(new long[] { 32, 4 }, "k_proj is 2 KV heads × 16 wide");

            model.train();
            var ids = MoeModelFixtures.ReferenceOf("qwen3_moe").InputIds;
            var (logits, auxiliary) = model.TrainingForward(ids);
            auxiliary.item<float>().Should().BeGreaterThan(0, "qwen3_moe trains with the Switch loss × router_aux_loss_coef");
            (nn.functional.cross_entropy(logits[0, ..^1], ids[0, 1..]) + auxiliary).backward();
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (!parameter.requires_grad) parameter.grad.Should().BeNull($"{name} is frozen");
                else parameter.grad!.abs().sum().item<float>().Should().BeGreaterThan(0, $"{name} is trained and 64 tokens reach every part");
            }
            model.eval();
        }

        [Fact]
        public void TargetsChooseWhatIsAdapted()
        {
            using var scope = NewDisposeScope();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("mixtral"), ScalarType.Float32);
            ModelAdapters.Apply(model, new AdapterSettings(2, 4, true, AdapterTargets.Experts));
            var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
            trainable.Should().NotBeEmpty().And.OnlyContain(n => n.Contains(".block_sparse_moe.experts.lora."), "Mixtral's MoE block is block_sparse_moe; attention and routers stay frozen");
            var again = () => ModelAdapters.Apply(model, Everything);
            again.Should().Throw<InvalidOperationException>().WithMessage("*already*");

            using var routers = MoeCausalLM.Load(MoeModelFixtures.Folder("mixtral"), ScalarType.Float32);
            ModelAdapters.Apply(routers, new AdapterSettings(2, 4, false, AdapterTargets.Router));
            routers.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name)
                .Should().NotBeEmpty().And.OnlyContain(n => n.EndsWith(".block_sparse_moe.router.weight", StringComparison.Ordinal));
        }

        [Fact]
        public void TrainedStateRoundTripsAndAMismatchIsRefusedByKey()
        {
            using var scope = NewDisposeScope();
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            ModelAdapters.Apply(model, Everything);
            RandomizeUpMatrices(model);
            var state = ModelAdapters.TrainedState(model);

            using var other = MoeCausalLM.Load(MoeModelFixtures.Folder("qwen3_moe"), ScalarType.Float32);
            ModelAdapters.Apply(other, Everything);
            ModelAdapters.LoadTrainedState(other, state, "state");
            var ids = MoeModelFixtures.ReferenceOf("qwen3_moe").InputIds;
            other.Forward(ids).allclose(model.Forward(ids), 0, 0).Should().BeTrue();

            var wrong = new Dictionary<string, Tensor>(state) { ["model.layers.1.mlp.experts.lora.a_in"] = zeros(8, 32, 5) };
            wrong.Remove("model.layers.0.self_attn.q_proj.lora_A.weight");
            wrong["model.layers.9.self_attn.q_proj.lora_A.weight"] = zeros(4, 32);
            var before = ModelAdapters.TrainedState(other);
            var load = () => ModelAdapters.LoadTrainedState(other, wrong, "adapters.safetensors");
            load.Should().Throw<ArgumentException>().WithMessage(
                "adapters.safetensors does not fit*missing 'model.layers.0.self_attn.q_proj.lora_A.weight' (expected [4, 32])*"
                + "'model.layers.1.mlp.experts.lora.a_in' is [8, 32, 5], expected [8, 32, 4]*unexpected 'model.layers.9.self_attn.q_proj.lora_A.weight'*");
            foreach (var (key, value) in ModelAdapters.TrainedState(other)) value.allclose(before[key], 0, 0).Should().BeTrue($"{key} is unchanged after a refused load");
        }

        /// <summary>Gives every B (and the routers) random values, as training would, so the adapters change the function.</summary>
        internal static void RandomizeUpMatrices(MoeCausalLM model)
        {
            using var noGrad = no_grad();
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (name.EndsWith("lora_B.weight", StringComparison.Ordinal) || name.Contains(".lora.b_", StringComparison.Ordinal))
                    parameter.copy_(randn_like(parameter) * 0.2);
            }
        }
    }
}
