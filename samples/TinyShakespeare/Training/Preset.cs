using System;
using System.Collections.Generic;
using System.Linq;
using MoeLayers.Samples.TinyShakespeare.Model;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>A named model shape and training budget (the vocabulary size is filled in from the data).</summary>
    /// <param name="Name">Command-line name.</param>
    /// <param name="Description">One line for --help.</param>
    /// <param name="Model">The model shape; <see cref="ModelConfig.VocabularySize"/> is 0 until the data is read.</param>
    /// <param name="Training">Budget, batch, optimizer and evaluation schedule.</param>
    public sealed record Preset(string Name, string Description, ModelConfig Model, TrainingSettings Training)
    {
        /// <summary>
        /// The reference setting (the makeMoE model this sample reproduces): n_embed 128, 8 heads, 8 layers, block 32,
        /// batch 16, 8 ReLU experts of width 512, noisy top-2, dropout 0.1, AdamW lr 1e-3, 5000 iterations; about 9M parameters.
        /// </summary>
        public static Preset Seed { get; } = new(
            "seed",
            "the reference model: n_embed 128, 8 heads, 8 layers, block 32, batch 16, 8 experts, top-2, ~9M parameters, 5000 iterations",
            new ModelConfig
            {
                EmbedDim = 128,
                Heads = 8,
                Layers = 8,
                BlockSize = 32,
                Experts = 8,
                TopK = 2,
                Router = RouterKind.NoisyTopK,
                ExpertHiddenDim = 512,
                Dropout = 0.1,
            },
            new TrainingSettings
            {
                Iterations = 5000,
                BatchSize = 16,
                LearningRate = 1e-3,
                EvalInterval = 250,
                EvalBatches = 40,
                FinalEvalBatches = 200,
            });

        /// <summary>A smaller model that reaches a validation loss below 2.0 in a few minutes on two CPU cores.</summary>
        public static Preset Quick { get; } = new(
            "quick",
            "a small model for a first run: n_embed 64, 4 heads, 4 layers, block 32, batch 32, 4 experts, top-2; minutes on 2 cores",
            new ModelConfig
            {
                EmbedDim = 64,
                Heads = 4,
                Layers = 4,
                BlockSize = 32,
                Experts = 4,
                TopK = 2,
                Router = RouterKind.NoisyTopK,
                ExpertHiddenDim = 256,
                Dropout = 0.0,
            },
            new TrainingSettings
            {
                Iterations = 1500,
                BatchSize = 32,
                LearningRate = 3e-3,
                EvalInterval = 150,
                EvalBatches = 20,
                FinalEvalBatches = 200,
            });

        /// <summary>The presets by name.</summary>
        public static IReadOnlyList<Preset> All { get; } = new[] { Quick, Seed };

        /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
        /// <exception cref="ArgumentException">No preset has that name.</exception>
        public static Preset Parse(string name) =>
            All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"preset '{name}' is unknown; expected one of {string.Join(", ", All.Select(p => p.Name))}.", nameof(name));
    }
}
