using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    [Collection(TorchRandomCollection.Name)]
    public sealed class CheckpointTests : IDisposable
    {
        private readonly TempFolder _temp = new();

        public void Dispose() => _temp.Dispose();

        [Theory]
        [InlineData("noisy-top-k")]
        [InlineData("switch")]
        [InlineData("autonomy-of-experts")]
        [InlineData("deepseek")]
        [InlineData("qwen")]
        public void Save_then_load_gives_identical_logits(string router)
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var model = TinyModels.Model(RouterNames.ParseChoice(router));
            var trainer = new Trainer(model, corpus, TinyModels.Settings(iterations: 3));
            trainer.Run(); // moves the weights away from their initialization, including the zero-initialized noisy router
            var path = _temp.File(Checkpoint.FileName);
            Checkpoint.Save(path, trainer.Metadata("test"), model, optimizer: null);

            var (loaded, metadata) = Checkpoint.LoadModel(path);

            metadata.Model.Should().Be(model.Config);
            metadata.Alphabet.Should().Be(corpus.Tokenizer.Alphabet);
            metadata.Iteration.Should().Be(3);
            metadata.Preset.Should().Be("test");
            model.eval();
            loaded.eval();
            using var noGrad = no_grad();
            var tokens = TinyModels.RandomTokens(model.Config.VocabularySize, 16, seed: 4);
            model.call(tokens).allclose(loaded.call(tokens), rtol: 0, atol: 0).Should().BeTrue("the loaded weights are bit-identical");
            _temp.FileNames().Should().Equal(Checkpoint.FileName); // no temporary file left behind
        }

        [Fact]
        public void Resuming_from_a_checkpoint_continues_exactly_like_an_uninterrupted_run()
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var settings = TinyModels.Settings(iterations: 6) with { EvalInterval = 3 };

            var straight = TinyModels.Model(RouterKind.NoisyTopK, dropout: 0.1);
            var straightResult = new Trainer(straight, corpus, settings).Run();

            var path = _temp.File(Checkpoint.FileName);
            var first = TinyModels.Model(RouterKind.NoisyTopK, dropout: 0.1);
            new Trainer(first, corpus, settings with { Iterations = 3 }).Run(checkpointPath: path);
            var resumed = new CharTransformer(Checkpoint.ReadMetadata(path).Model);
            var trainer = new Trainer(resumed, corpus, settings);
            trainer.Resume(path);
            trainer.Iteration.Should().Be(3);
            var resumedResult = trainer.Run();

            resumedResult.History.Should().HaveCount(2);
            resumedResult.History[^1].ValidationLoss.Should().Be(straightResult.History[^1].ValidationLoss);
            foreach (var ((name, a), (_, b)) in straight.named_parameters().Zip(resumed.named_parameters()))
                a.allclose(b, rtol: 0, atol: 0).Should().BeTrue($"{name} must match after resuming");
        }

        [Fact]
        public void A_file_that_is_not_a_checkpoint_is_rejected()
        {
            var path = _temp.File("bogus.bin");
            File.WriteAllBytes(path, new byte[] { 1, 2, 3 });

            FluentActions.Invoking(() => Checkpoint.ReadMetadata(path)).Should().Throw<InvalidDataException>().WithMessage("*not a tiny-shakespeare checkpoint*");
            FluentActions.Invoking(() => Checkpoint.ReadMetadata(_temp.File("absent.bin"))).Should().Throw<FileNotFoundException>();
        }

        [Fact]
        public void Loading_into_a_model_of_another_shape_is_rejected()
        {
            using var scope = NewDisposeScope();
            var corpus = TinyModels.Corpus();
            var model = TinyModels.Model();
            var trainer = new Trainer(model, corpus, TinyModels.Settings(1));
            var path = _temp.File(Checkpoint.FileName);
            Checkpoint.Save(path, trainer.Metadata(null), model, null);
            var other = new CharTransformer(model.Config with { Experts = 2 });

            FluentActions.Invoking(() => Checkpoint.LoadStates(path, other, null)).Should().Throw<InvalidDataException>().WithMessage("*shape*");
        }
    }
}
