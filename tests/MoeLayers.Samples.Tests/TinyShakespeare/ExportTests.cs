using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Interop;
using MoeLayers.Samples.TinyShakespeare.Export;
using MoeLayers.Samples.TinyShakespeare.Model;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public class ExportTests
    {
        [Theory]
        [InlineData("top-k")]
        [InlineData("deepseek")]
        public void TheMoeLayersRoundTripThroughSafetensorsBitExactly(string router)
        {
            var choice = RouterNames.ParseChoice(router);
            var model = TinyModels.Model(choice, seed: 5);
            var path = Path.Combine(Path.GetTempPath(), $"ts-export-{Guid.NewGuid():N}.safetensors");
            try
            {
                var count = MoeLayerExport.Write(model, path);
                count.Should().Be(model.MoeLayers.Sum(l => l.state_dict().Count));
                using (var file = SafetensorsFile.Open(path))
                {
                    file.Keys.Should().Contain(MoeLayerExport.Prefix(0) + "router.weight").And.Contain(MoeLayerExport.Prefix(0) + "experts.w_in");
                    file.Metadata["moelayers.layers"].Should().Be(model.MoeLayers.Count.ToString());
                    file.Metadata["moelayers.layer.0"].Should().Contain("\"NumExperts\":" + model.MoeLayers[0].NumExperts);
                }
                var copy = TinyModels.Model(choice, seed: 9);
                MoeLayerExport.Read(copy, path);
                for (var i = 0; i < model.MoeLayers.Count; i++)
                {
                    foreach (var (name, value) in model.MoeLayers[i].state_dict())
                        copy.MoeLayers[i].state_dict()[name].allclose(value, 0, 0).Should().BeTrue($"layer {i} {name}");
                }
            }
            finally
            {
                File.Delete(path);
            }
        }
    }
}
