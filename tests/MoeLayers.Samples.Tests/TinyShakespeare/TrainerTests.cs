using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    [Collection(TorchRandomCollection.Name)]
    public sealed class TrainerTests
    {
        [Theory]
        [InlineData("top-k")]
        [InlineData("noisy-top-k")]
        [InlineData("switch")]
        [InlineData("autonomy-of-experts")]
        [InlineData("deepseek")]
        [InlineData("qwen")]
        public void A_short_run_lowers_the_validation_loss(string router)
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var model = TinyModels.Model(RouterNames.ParseChoice(router));
            var trainer = new Trainer(model, corpus, TinyModels.Settings(iterations: 40) with { EvalInterval = 20 });
            var before = trainer.Evaluate(batches: 4);

            var result = trainer.Run();

            result.Completed.Should().BeTrue();
            result.Iteration.Should().Be(40);
            result.History.Select(p => p.Iteration).Should().Equal(20, 40);
            before.ValidationLoss.Should().BeGreaterThan(2.0, "an untrained model is near ln(vocabulary) = ln 17");
            result.History[^1].ValidationLoss.Should().BeLessThan(before.ValidationLoss - 1.0);
        }

        [Fact]
        public void Routing_is_tallied_per_layer_and_expert()
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var model = TinyModels.Model();
            var settings = TinyModels.Settings(iterations: 3);

            var result = new Trainer(model, corpus, settings).Run();

            result.Routing.Should().HaveCount(model.Config.Layers);
            var pairsPerLayer = 3L * settings.BatchSize * model.Config.BlockSize * model.Config.TopK;
            result.Routing.Should().OnlyContain(r => r.TokensPerExpert.Length == 4 && r.Assignments == pairsPerLayer && r.DroppedFraction == 0);
        }
    }
}
