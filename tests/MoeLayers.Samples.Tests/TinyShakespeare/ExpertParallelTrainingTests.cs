using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Distributed;
using MoeLayers.Samples.TinyShakespeare.Parallel;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    /// <summary>
    /// The sample's expert-parallel path in a world of one (SingleProcessCommunicator): the same training as one process,
    /// and the checks that run before any collective. The two-rank run under mpirun is tested in
    /// tests/MoeLayers.Distributed.Tests/TinyShakespeareExpertParallelTests.cs.
    /// </summary>
    public sealed class ExpertParallelTrainingTests
    {
        [Fact]
        public void AWorldOfOneTrainsTheOneProcessModelWithExpertParallelLayers()
        {
            using var scope = NewDisposeScope();
            using var communicator = new SingleProcessCommunicator();
            var share = RankShare.Of(communicator);
            var corpus = TinyModels.Corpus();
            var config = TinyModels.Config(RouterKind.TopK, corpus.Tokenizer.VocabularySize);
            var settings = TinyModels.Settings(iterations: 5);

            var whole = Trainer.CreateModel(config, seed: 3);
            var sharded = Trainer.CreateModel(config, seed: 3, share);
            sharded.MoeLayers.Should().AllBeOfType<MoeLayer>();
            whole.MoeLayers.Should().AllBeOfType<MoeLayer>();
            sharded.ParameterCount.Should().Be(whole.ParameterCount);
            var expected = whole.state_dict();
            foreach (var (name, value) in sharded.state_dict())
                value.eq(expected[name]).all().item<bool>().Should().BeTrue($"{name} starts from the one-process weights");

            var one = new Trainer(whole, corpus, settings).Run();
            var ep = new Trainer(sharded, corpus, settings, share).Run();
            ep.LastStepLoss.Should().NotBeNull();
            ep.LastStepLoss!.Value.Should().BeApproximately(one.LastStepLoss!.Value, 1e-6 * one.LastStepLoss.Value);
            ep.History.Single().ValidationLoss.Should().BeApproximately(one.History.Single().ValidationLoss, 1e-5);
            ep.Routing.Select(r => r.TokensPerExpert).Should().BeEquivalentTo(one.Routing.Select(r => r.TokensPerExpert), o => o.WithStrictOrdering(),
                "the tally reads the expert-parallel layers' statistics");
            Checkpoint.FileNameOf(share).Should().Be("checkpoint.rank0-of-1.bin");
            Checkpoint.FileNameOf(RankShare.Whole).Should().Be(Checkpoint.FileName);
        }

        [Fact]
        public void TheTrainerRefusesAModelThatDoesNotMatchItsShare()
        {
            using var scope = NewDisposeScope();
            using var communicator = new SingleProcessCommunicator();
            var corpus = TinyModels.Corpus();
            var config = TinyModels.Config(RouterKind.TopK, corpus.Tokenizer.VocabularySize);
            var sharded = Trainer.CreateModel(config, 3, RankShare.Of(communicator));
            FluentActions.Invoking(() => new Trainer(sharded, corpus, TinyModels.Settings(1)))
                .Should().Throw<ArgumentException>().WithMessage("*sharded over ranks: pass the RankShare*");
            FluentActions.Invoking(() => new Trainer(TinyModels.Model(), corpus, TinyModels.Settings(1), RankShare.Of(communicator)))
                .Should().Throw<ArgumentException>().WithMessage("*needs a model whose experts are sharded*");
        }

        [Theory]
        [InlineData(RouterKind.NoisyTopK, "*--expert-parallel cannot shard --router noisy-top-k (the presets' default)*--router top-k*")]
        [InlineData(RouterKind.AutonomyOfExperts, "*--expert-parallel does not support --router autonomy-of-experts*")]
        public void RoutersTheLayerCannotShardAreRefusedNamingTheOption(RouterKind router, string message)
        {
            using var communicator = new SingleProcessCommunicator();
            var config = TinyModels.Config(router);
            FluentActions.Invoking(() => ExpertParallelLaunch.ThrowIfUnsupported(config, 8, RankShare.Of(communicator)))
                .Should().Throw<ArgumentException>().WithMessage(message);
        }

        [Fact]
        public void SeveralRanksWithoutTheFlagAreRefusedAndTheWorldSizeIsReadFromOpenMpi()
        {
            FluentActions.Invoking(() => ExpertParallelLaunch.ThrowIfReplicatedByMistake(2, expertParallel: false))
                .Should().Throw<ArgumentException>().WithMessage("mpirun started 2 ranks but --expert-parallel was not given*");
            FluentActions.Invoking(() => ExpertParallelLaunch.ThrowIfReplicatedByMistake(2, expertParallel: true)).Should().NotThrow();
            FluentActions.Invoking(() => ExpertParallelLaunch.ThrowIfReplicatedByMistake(1, expertParallel: false)).Should().NotThrow();
            ExpertParallelLaunch.LaunchedRanks("4").Should().Be(4);
            ExpertParallelLaunch.LaunchedRanks(null).Should().Be(1);
            ExpertParallelLaunch.LaunchedRanks("x").Should().Be(1);
        }

        [Fact]
        public void OneRankTakesTheWholeBatchAndDropoutStreamsAreTheSteps()
        {
            using var scope = NewDisposeScope();
            var inputs = arange(12, int64).view(4, 3);
            var (x, y) = RankShare.Whole.Take(inputs, inputs + 1);
            x.eq(inputs).all().item<bool>().Should().BeTrue();
            y.eq(inputs + 1).all().item<bool>().Should().BeTrue();
            RankShare.Whole.DropoutStream(7).Should().Be(7, "one process draws the dropout it always drew");
            RankShare.Whole.Mean(2.5).Should().Be(2.5);
            RankShare.Whole.AnyRank(true).Should().BeTrue();
        }
    }
}
