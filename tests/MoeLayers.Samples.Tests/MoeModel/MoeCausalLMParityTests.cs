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
        public void OneTokenAtATimeThroughTheCacheGivesTheWholePromptsLogits(string name)
        {
            using var scope = NewDisposeScope();
            var ids = MoeModelFixtures.ReferenceOf(name).InputIds;
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.Float32);
            var whole = model.Forward(ids);
            using var cache = model.NewCache();
            model.Forward(ids.narrow(1, 0, 40), cache);
            for (var position = 40; position < ids.shape[1]; position++)
            {
                // One new token: the grouped-query path that attends per KV head without repeating the cache.
                var step = model.Forward(ids.narrow(1, position, 1), cache);
                var difference = (step[0, 0] - whole[0, position]).abs().max().item<float>();
                difference.Should().BeLessThan(1e-4f, $"position {position} of {name}");
            }
            cache.Length.Should().Be(ids.shape[1]);
        }

        [Theory]
        [MemberData(nameof(Folders))]
        public void BFloat16ComputeStaysNearTheFloat32Reference(string name)
        {
            // bf16 keeps 8 bits of mantissa: through a few layers a position's logits (|logits| ≤ 5) move by a few
            // hundredths. The tiny models' routing margins (≥ 2e-4) are far below bf16's rounding, so a few positions
            // choose another expert in bf16 and move further; most must stay close.
            using var scope = NewDisposeScope();
            var reference = MoeModelFixtures.ReferenceOf(name);
            using var model = MoeCausalLM.Load(MoeModelFixtures.Folder(name), ScalarType.BFloat16);
            var logits = model.Forward(reference.InputIds);
            logits.dtype.Should().Be(ScalarType.Float32);
            var perPosition = (logits - reference.Logits).abs().amax(new long[] { -1 })[0];
            var median = perPosition.median().item<float>();
            var far = (perPosition > 0.1).sum().item<long>();
            output.WriteLine($"{name} in bf16: per position max |Δlogits|: median {median:E2}, largest {perPosition.max().item<float>():E2}, {far} of 64 above 0.1");
            median.Should().BeLessThan(0.1f);
            far.Should().BeLessThan(20, "only positions whose routing flips in bf16 move far");
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
