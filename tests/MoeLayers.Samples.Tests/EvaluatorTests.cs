using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Model;
using MoeLayers.Samples.Mnist.Training;
using TorchSharp;

namespace MoeLayers.Samples.Tests
{
    [Collection(TorchTrainingCollection.Name)]
    public sealed class EvaluatorTests
    {
        private readonly MnistSubsets _data;

        public EvaluatorTests(MnistSubsets data) => _data = data;

        [Theory]
        [InlineData(5, 1, 1000)]
        [InlineData(6, 2, 1000)]
        [InlineData(6, 3, 128)]
        public void Routing_heatmap_counts_equal_a_direct_count(int experts, int topK, int batchSize)
        {
            var trainer = new Trainer(new MnistMoeSettings(experts, topK, 0.01), new TrainingSettings(Epochs: 1, BatchSize: 50, TrainLimit: 200));
            using var run = trainer.Run(_data.Train, _data.Test);

            var evaluation = Evaluator.Evaluate(run.Model, _data.Test, batchSize);

            // Direct count: logits x·Wᵀ in plain double arithmetic, the k largest per image, tallied by true label.
            var weights = run.Model.Layer.state_dict()["router.weight"].detach().data<float>().ToArray();
            var pixels = _data.Test.Images.data<float>().ToArray();
            var labels = _data.Test.Labels.data<long>().ToArray();
            const int width = MnistMoeSettings.InputDim;
            var expected = new long[experts, MnistMoeSettings.ClassCount];
            for (var i = 0; i < labels.Length; i++)
            {
                var logits = new double[experts];
                for (var e = 0; e < experts; e++)
                    for (var p = 0; p < width; p++) logits[e] += (double)pixels[i * width + p] * weights[e * width + p];
                foreach (var e in Enumerable.Range(0, experts).OrderByDescending(e => logits[e]).Take(topK)) expected[e, labels[i]]++;
            }

            evaluation.Routing.Should().BeEquivalentTo(expected);
            evaluation.Routing.Cast<long>().Sum().Should().Be(labels.Length * topK);
            run.FinalTest.Routing.Should().BeEquivalentTo(expected, "the per-epoch evaluation uses the same counts");
        }

        [Fact]
        public void Confusion_and_loss_match_a_direct_computation()
        {
            torch.manual_seed(3);
            using var model = new MnistMoeClassifier(new MnistMoeSettings(3, 2, 0));

            var evaluation = Evaluator.Evaluate(model, _data.Test, batchSize: 300);
            model.training.Should().BeTrue("Evaluate restores the training mode it found");

            model.eval();
            using var noGrad = torch.no_grad();
            using var logits = model.call(_data.Test.Images);
            var predicted = logits.argmax(1L).data<long>().ToArray();
            var labels = _data.Test.Labels.data<long>().ToArray();
            var expected = new long[10, 10];
            for (var i = 0; i < labels.Length; i++) expected[labels[i], predicted[i]]++;
            evaluation.Confusion.Should().BeEquivalentTo(expected);
            evaluation.Correct.Should().Be(Enumerable.Range(0, labels.Length).Count(i => predicted[i] == labels[i]));
            using var loss = torch.nn.functional.cross_entropy(logits, _data.Test.Labels);
            evaluation.NetworkLoss.Should().BeApproximately(loss.item<float>(), 1e-5);
        }

        [Fact]
        public void Evaluation_figures_follow_from_the_counts()
        {
            var confusion = new long[,] { { 3, 1 }, { 0, 4 } };
            var routing = new long[,] { { 2, 0 }, { 2, 4 }, { 0, 4 } };

            var evaluation = new Evaluation(0.5, confusion, routing);

            evaluation.Correct.Should().Be(7);
            evaluation.Total.Should().Be(8);
            evaluation.Accuracy.Should().Be(7 / 8.0);
            evaluation.ClassAccuracy().Should().Equal(0.75, 1.0);
            evaluation.RoutingSharesPerClass().Should().BeEquivalentTo(new[,] { { 0.5, 0.0 }, { 0.5, 0.5 }, { 0.0, 0.5 } });
        }
    }
}
