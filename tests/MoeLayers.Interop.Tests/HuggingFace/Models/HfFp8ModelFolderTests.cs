using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Models
{
    /// <summary>
    /// The FP8 block-quantized model folders of tests/fixtures/hf-models (F8_E4M3 projections with weight_scale_inv, as
    /// the DeepSeek-V3 and Qwen3-FP8 releases store them; their float32 parity is in <see cref="HfModelFolderParityTests"/>):
    /// loaded without a dtype they come straight into bfloat16, each weight the float32 dequantization rounded to
    /// bfloat16, the router float32.
    /// </summary>
    public class HfFp8ModelFolderTests
    {
        public static IEnumerable<object[]> Fp8Folders() =>
            HfModelFixture.Names().Where(IsFp8).Select(n => new object[] { n });

        [Fact]
        public void TheFp8FixturesArePresent() =>
            HfModelFixture.Names().Where(IsFp8).Should().Contain(new[] { "deepseek_v3_fp8", "qwen3_moe_fp8" });

        [Theory]
        [MemberData(nameof(Fp8Folders))]
        public void LoadingWithoutADTypeGivesTheFloat32DequantizationRoundedToBFloat16(string name)
        {
            var fixture = HfModelFixture.Load(name);
            using var checkpoint = HfCheckpoint.Open(fixture.Folder);
            foreach (var index in fixture.MoeLayers)
            {
                using var scope = NewDisposeScope();
                using var exact = checkpoint.LoadLayer(index, new HfLoadOptions { DType = ScalarType.Float32 });
                using var half = checkpoint.LoadLayer(index, new HfLoadOptions { DType = null });
                var (expected, actual) = (exact.state_dict(), half.state_dict());
                actual.Keys.Should().BeEquivalentTo(expected.Keys);
                foreach (var (key, value) in expected)
                {
                    var router = key.StartsWith("router.", System.StringComparison.Ordinal);
                    actual[key].dtype.Should().Be(router ? ScalarType.Float32 : ScalarType.BFloat16, $"{name} layer {index}: '{key}'");
                    var rounded = router ? value : value.to(ScalarType.BFloat16);
                    Bytes.Of(actual[key]).SequenceEqual(Bytes.Of(rounded)).Should().BeTrue(
                        $"{name} layer {index}: '{key}' is the float32 dequantization rounded once to bfloat16");
                }
                expected["experts.w_gate"].to(ScalarType.BFloat16).to(ScalarType.Float32).eq(expected["experts.w_gate"]).all().item<bool>()
                    .Should().BeFalse($"{name}: e4m3 × float32 scale needs more than bfloat16's 8 bits, so the rounding is exercised");
            }
        }

        private static bool IsFp8(string name)
        {
            using var checkpoint = HfCheckpoint.Open(HfModelFixture.Load(name).Folder);
            return checkpoint.Config.QuantizationMethod == "fp8";
        }
    }
}
