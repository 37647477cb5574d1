using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Loading
{
    /// <summary>A wrong key or shape names the key with the expected and actual shape, and leaves the module as it was.</summary>
    public class MoeStateDictTests
    {
        private static MoeLayer Layer() => new(new MoeLayerOptions { InputDim = 6, HiddenDim = 4, NumExperts = 3, TopK = 2 });

        private static Dictionary<string, Tensor> Snapshot(nn.Module module) =>
            module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

        private static void ShouldEqual(nn.Module module, Dictionary<string, Tensor> snapshot)
        {
            foreach (var (key, value) in module.state_dict()) value.allclose(snapshot[key], 0, 0).Should().BeTrue(key);
        }

        [Fact]
        public void AWrongShapeNamesTheKeyAndBothShapesAndLoadsNothing()
        {
            manual_seed(61);
            var layer = Layer();
            var before = Snapshot(layer);
            var source = Snapshot(Layer());
            source["experts.w_out"] = randn(3, 5, 6);
            var act = () => layer.load_state_dict(source);
            act.Should().Throw<ArgumentException>().WithMessage("The state dict does not fit module 'moe'; nothing was loaded: key 'experts.w_out': expected shape [3, 4, 6], got [3, 5, 6].*");
            ShouldEqual(layer, before);
        }

        [Fact]
        public void MissingAndUnexpectedKeysAreNamedInStrictMode()
        {
            var layer = Layer();
            var before = Snapshot(layer);
            var source = Snapshot(Layer());
            source.Remove("router.weight");
            source["router.bias"] = zeros(3);
            var act = () => layer.load_state_dict(source);
            act.Should().Throw<ArgumentException>().WithMessage("*missing key 'router.weight' (expected shape [3, 6], Float32)*unexpected key 'router.bias' (shape [3])*");
            ShouldEqual(layer, before);

            var (missing, unexpected) = layer.load_state_dict(source, strict: false);
            missing.Should().Equal("router.weight");
            unexpected.Should().Equal("router.bias");
            layer.state_dict()["experts.w_in"].allclose(source["experts.w_in"], 0, 0).Should().BeTrue("lenient mode loads what fits");
        }

        [Fact]
        public void AWholeModelIsCheckedTheSameWay()
        {
            var model = nn.Sequential(("proj", nn.Linear(6, 6)), ("moe", Layer()));
            var before = Snapshot(model);
            var source = Snapshot(nn.Sequential(("proj", nn.Linear(6, 6)), ("moe", Layer())));
            source["moe.router.weight"] = zeros(4, 6);
            var act = () => MoeStateDict.Load(model, source);
            act.Should().Throw<ArgumentException>().WithMessage("*key 'moe.router.weight': expected shape [3, 6], got [4, 6]*");
            ShouldEqual(model, before);
        }

        [Fact]
        public void ABFloat16CheckpointLoadsIntoTheFloat32Router()
        {
            var layer = Layer();
            var source = Snapshot(Layer()).ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.BFloat16));
            layer.load_state_dict(source);
            layer.Router.Weight.dtype.Should().Be(ScalarType.Float32);
            layer.Router.Weight.allclose(source["router.weight"].to(ScalarType.Float32), 0, 0).Should().BeTrue();
        }

        [Fact]
        public void AFileOfAnotherShapeFailsNamingTheKeyAndLeavesTheLayerAsItWas()
        {
            var path = Path.Combine(Path.GetTempPath(), $"moe-{Guid.NewGuid():N}.bin");
            try
            {
                new MoeLayer(new MoeLayerOptions { InputDim = 6, HiddenDim = 5, NumExperts = 3, TopK = 2 }).save(path);
                var layer = Layer();
                var before = Snapshot(layer);
                var act = () => layer.load(path);
                act.Should().Throw<ArgumentException>().WithMessage("*key 'experts.w_in': expected shape [3, 6, 4], got [3, 6, 5]*");
                ShouldEqual(layer, before);

                var same = Layer();
                same.save(path);
                layer.load(path);
                ShouldEqual(layer, Snapshot(same));
            }
            finally
            {
                File.Delete(path);
            }
        }
    }
}
