using FluentAssertions;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>bos / eos / pad of each tiny folder, against the ids the issue-23 spec fixes.</summary>
    public sealed class ModelSpecialTokensTests
    {
        [Theory]
        [InlineData("qwen3_moe", new[] { 498, 496 }, 496, 496, null, "<|im_end|>")]
        [InlineData("olmoe", new[] { 496 }, null, 497, null, "<|endoftext|>")]
        [InlineData("gpt_oss", new[] { 501, 496, 503 }, null, 496, null, "<|return|>")]
        [InlineData("glm4_moe", new[] { 496, 503, 505 }, null, 496, null, "<|endoftext|>")]
        [InlineData("mixtral", new[] { 2 }, 1, null, "<s>", "</s>")]
        public void Eos_set_bos_and_pad_come_from_config_generation_config_and_tokenizer_config(
            string family, int[] eos, int? bos, int? pad, string? bosToken, string eosToken)
        {
            using var tokenizer = TokenizerFixtures.Open(family);

            tokenizer.EosTokenIds.Should().Equal(eos);
            tokenizer.SpecialTokens.BosTokenId.Should().Be(bos);
            tokenizer.SpecialTokens.PadTokenId.Should().Be(pad);
            tokenizer.SpecialTokens.BosToken.Should().Be(bosToken);
            tokenizer.SpecialTokens.EosToken.Should().Be(eosToken);
            tokenizer.ModelType.Should().Be(family);
        }
    }
}
