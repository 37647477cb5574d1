using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests
{
    public class SmokeTests
    {
        [Fact]
        public void TorchLoads()
        {
            using var a = ones(2, 3);
            a.sum().item<float>().Should().Be(6f);
        }
    }
}
