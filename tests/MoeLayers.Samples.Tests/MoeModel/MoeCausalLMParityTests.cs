using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>
    /// Every tiny model folder against the float32 transcription of transformers' causal LM
    /// (scripts/moemodel/reference_model.py): logits over the 64-token prompt within 1e-4 (bf16 folders loaded in
    /// float32, as the reference upcasts the same stored weights), and 32 greedy tokens equal to the reference's,
    /// with and without the KV cache.
    /// </summary>
    public sealed class MoeCausalLMParityTests(ITestOutputHelper output)
    {
        public static TheoryData<string> Folders()
        {
            var data = new TheoryData<string>();
            foreach (var row in MoeModelFixtures.Names()) data.Add((string)row[0]);
            return data;
        }

        [Fact]
        public void EveryFamilyHasAFolder()
        {
            var families = MoeModelFixtures.Names().Select(r => MoeModelConfig.Read(MoeModelFixtures.Folder((string)r[0])).Family).Distinct();
            families.Should().BeEquivalentTo(new[] { MoeModelFamily.Qwen3Moe, MoeModelFamily.Olmoe, MoeModelFamily.Mixtral, MoeModelFamily.GptOss, MoeModelFamily.Glm4Moe });
        }

        [Theory]
        [MemberData(nameof(Folders))]
        public void LogitsMatchTheReference(string name)
        {
            using var scope = NewDisposeScope();
            var reference = MoeModelFixtures.ReferenceOf(name);
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.Float32);
            var logits = model.Forward(reference.InputIds);
            logits.shape.Should().Equal(1, 64, model.Config.VocabSize);
            var difference = (logits - reference.Logits).abs().max().item<float>();
            output.WriteLine($"{name} ({reference.Metadata["dtype"]} weights): max |Δlogits| = {difference:E2} over {logits.numel()} values, |logits| ≤ {reference.Logits.abs().max().item<float>():F2}");
            difference.Should().BeLessThan(1e-4f);
        }

        [Theory]
        [MemberData(nameof(Folders))]
        public void GreedyTokensMatchTheReferenceWithAndWithoutTheCache(string name)
        {
            using var scope = NewDisposeScope();
            var reference = MoeModelFixtures.ReferenceOf(name);
            reference.GeneratedWithoutCache.Should().Equal(reference.Generated, "the reference itself agrees with and without its cache");
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.Float32);
            MoeModelFixtures.Greedy(model, reference.InputIds, reference.Generated.Length, useCache: true).Should().Equal(reference.Generated);
            MoeModelFixtures.Greedy(model, reference.InputIds, reference.Generated.Length, useCache: false).Should().Equal(reference.Generated);
        }

        [Theory]
        [MemberData(nameof(Folders))]
        public void CachedStepsGiveTheLogitsOfTheWholeSequence(string name)
        {
            using var scope = NewDisposeScope();
            var reference = MoeModelFixtures.ReferenceOf(name);
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.Float32);
            using var cache = model.NewCache();
            // The prompt in three uneven pieces (a prefill after cached tokens takes the masked path).
            var pieces = new[] { (0L, 40L), (40L, 1L), (41L, 23L) };
            var logits = cat(pieces.Select(p => model.Forward(reference.InputIds.narrow(1, p.Item1, p.Item2), cache)).ToArray(), dim: 1);
            cache.Length.Should().Be(64);
            (logits - reference.Logits).abs().max().item<float>().Should().BeLessThan(1e-4f);
        }
    }
}
