using System;
using System.Linq;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Training;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    /// <summary>Models and texts small enough for unit tests (milliseconds per step).</summary>
    internal static class TinyModels
    {
        /// <summary>A short, repetitive text whose next character is easy to learn.</summary>
        public static string Text { get; } = string.Concat(Enumerable.Repeat("to be, or not to be: that is the question.\n", 60));

        public static ModelConfig Config(RouterKind router = RouterKind.TopK, int vocabulary = 16, double dropout = 0.0) => new()
        {
            VocabularySize = vocabulary,
            EmbedDim = 16,
            Heads = 2,
            Layers = 2,
            BlockSize = 16,
            Experts = 4,
            TopK = RouterNames.DefaultTopK(router, 2),
            Router = router,
            ExpertHiddenDim = 32,
            Dropout = dropout,
        };

        /// <summary>The tiny configuration reshaped by a router choice: E = 4, h = 32, k = 2 become 12 experts of width 8, k = 4, one shared expert of width 32.</summary>
        public static ModelConfig Config(RouterChoice choice, int vocabulary = 16) =>
            LayerStyles.Apply(Config(choice.Router, vocabulary), choice.Style);

        public static CharTransformer Model(RouterChoice choice, int seed = 3) =>
            Trainer.CreateModel(Config(choice, Corpus().Tokenizer.VocabularySize), seed);

        public static TrainingSettings Settings(int iterations) => new()
        {
            Iterations = iterations,
            BatchSize = 8,
            LearningRate = 1e-2,
            EvalInterval = iterations,
            EvalBatches = 4,
            FinalEvalBatches = 4,
            Seed = 7,
        };

        public static TextCorpus Corpus() => TextCorpus.FromText(Text, blockSize: 16);

        public static CharTransformer Model(RouterKind router = RouterKind.TopK, int seed = 3, double dropout = 0.0) =>
            Trainer.CreateModel(Config(router, Corpus().Tokenizer.VocabularySize, dropout), seed);

        public static Tensor RandomTokens(int vocabulary, int length, int seed)
        {
            var random = new Random(seed);
            return tensor(Enumerable.Range(0, length).Select(_ => (long)random.Next(vocabulary)).ToArray(), int64).unsqueeze(0);
        }
    }
}
