using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using MoeLayers.Distributed;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Parallel;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>
    /// Trains a <see cref="CharTransformer"/> with AdamW on next-character cross-entropy plus the MoE auxiliary losses
    /// (<see cref="MoeAuxiliaryLoss.Collect"/>), estimates train and validation loss periodically, tallies routing and
    /// saves a resumable checkpoint at every estimate. In an expert-parallel run (<see cref="RankShare"/> with a
    /// communicator) every rank runs the same loop in lockstep: it draws the same global batch, trains on its own rows,
    /// averages the gradients with <see cref="GradientAllReduce.Average"/> between backward and the optimizer step, and
    /// reports the global batch's losses (the mean over ranks).
    /// </summary>
    public sealed class Trainer
    {
        private readonly CharTransformer _model;
        private readonly TextCorpus _corpus;
        private readonly TrainingSettings _settings;
        private readonly RankShare _share;
        private readonly AdamW _optimizer;
        private readonly List<EvaluationPoint> _history = new();
        private readonly RoutingTally _sinceEvaluation;
        private readonly RoutingTally _session;
        private int _iteration;
        private double _trainingSeconds;
        private double? _lastStepLoss;

        /// <summary>Prepares training of <paramref name="model"/> (fresh or loaded) on <paramref name="corpus"/>.</summary>
        /// <param name="model">The model; its vocabulary must match the corpus.</param>
        /// <param name="corpus">Training and validation tokens.</param>
        /// <param name="settings">Budget and schedule; validated here.</param>
        /// <param name="share">This process's rank and rows; null: one process. The model must have been built with the
        /// same communicator (<see cref="CreateModel"/>).</param>
        public Trainer(CharTransformer model, TextCorpus corpus, TrainingSettings settings, RankShare? share = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(corpus);
            ArgumentNullException.ThrowIfNull(settings);
            settings.Validate();
            share ??= RankShare.Whole;
            share.ThrowIfIndivisible(settings.BatchSize);
            if (model.MoeLayers.Any(l => ExpertParallel.CommunicatorOf(l) is not null) != share.IsExpertParallel)
                throw new ArgumentException(share.IsExpertParallel
                    ? "an expert-parallel run needs a model whose experts are sharded (CharTransformer built with the communicator)."
                    : "the model's experts are sharded over ranks: pass the RankShare of its communicator.", nameof(share));
            if (corpus.Tokenizer.VocabularySize != model.Config.VocabularySize)
                throw new ArgumentException($"corpus has {corpus.Tokenizer.VocabularySize} characters but the model expects {model.Config.VocabularySize}.", nameof(corpus));
            _model = model;
            _corpus = corpus;
            _settings = settings;
            _share = share;
            _optimizer = optim.AdamW(model.parameters(), settings.LearningRate, weight_decay: settings.WeightDecay);
            _sinceEvaluation = new RoutingTally(model.Config.Layers, model.Config.Experts);
            _session = new RoutingTally(model.Config.Layers, model.Config.Experts);
        }

        /// <summary>
        /// A freshly initialized model whose weights depend only on <paramref name="seed"/>. Expert-parallel (collective):
        /// every rank builds the one-process model from the seed and keeps its own experts of it, so the ranks together
        /// start from exactly the one-process weights.
        /// </summary>
        /// <param name="config">The model shape.</param>
        /// <param name="seed">The run seed.</param>
        /// <param name="share">Null or <see cref="RankShare.Whole"/>: one process; otherwise the ranks to shard over.</param>
        public static CharTransformer CreateModel(ModelConfig config, int seed, RankShare? share = null)
        {
            random.manual_seed(Seeds.Derive(seed, Seeds.Stream.Weights));
            var whole = new CharTransformer(config);
            if (share?.Communicator is not { } communicator) return whole;
            using (whole)
            {
                var sharded = new CharTransformer(config, communicator: communicator);
                ExpertShards.LoadFromWhole(sharded, whole.state_dict());
                return sharded;
            }
        }

        /// <summary>Optimizer steps done (including those of a resumed checkpoint).</summary>
        public int Iteration => _iteration;

        /// <summary>Loss estimates so far.</summary>
        public IReadOnlyList<EvaluationPoint> History => _history;

        /// <summary>The training settings.</summary>
        public TrainingSettings Settings => _settings;

        /// <summary>Restores weights, optimizer state, step count and history from a checkpoint of this model.</summary>
        public void Resume(string checkpointPath)
        {
            var metadata = Checkpoint.ReadMetadata(checkpointPath);
            // Each rank resumes its own file: they must hold the same step (a crash between two ranks' saves would not).
            _share.Communicator?.CheckSameOnAllRanks("step of the checkpoint each rank resumes", metadata.Iteration.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Checkpoint.LoadStates(checkpointPath, _model, _optimizer);
            _iteration = metadata.Iteration;
            _trainingSeconds = metadata.TrainingSeconds;
            _history.Clear();
            _history.AddRange(metadata.History);
        }

        /// <summary>The checkpoint metadata of the current state.</summary>
        public CheckpointMetadata Metadata(string? preset) => new()
        {
            Model = _model.Config,
            Training = _settings,
            Alphabet = _corpus.Tokenizer.Alphabet,
            Iteration = _iteration,
            History = _history.ToArray(),
            TrainingSeconds = _trainingSeconds,
            Preset = preset,
            DataSource = _corpus.Source,
        };

        /// <summary>
        /// Trains until <see cref="TrainingSettings.Iterations"/> steps are done or <paramref name="cancellation"/> fires.
        /// Estimates the losses every <see cref="TrainingSettings.EvalInterval"/> steps and at the end, each time
        /// saving a checkpoint to <paramref name="checkpointPath"/> (if given); a cancelled run saves before returning.
        /// </summary>
        public TrainingResult Run(ITrainingObserver? observer = null, string? checkpointPath = null, string? preset = null,
            CancellationToken cancellation = default)
        {
            var tokensPerStep = (long)_settings.BatchSize * _model.Config.BlockSize;
            var sessionStart = _iteration;
            var sessionSeconds = 0.0;
            var stopwatch = new Stopwatch();
            _model.train();
            // Expert-parallel: the ranks stop together (Ctrl+C reaches them at different steps, and every step is a collective).
            while (_iteration < _settings.Iterations && !_share.AnyRank(cancellation.IsCancellationRequested))
            {
                stopwatch.Restart();
                var (loss, auxiliary) = Step();
                stopwatch.Stop();
                _lastStepLoss = loss;
                _iteration++;
                sessionSeconds += stopwatch.Elapsed.TotalSeconds;
                _trainingSeconds += stopwatch.Elapsed.TotalSeconds;
                _sinceEvaluation.Add(_model.MoeLayers);
                _session.Add(_model.MoeLayers);
                observer?.OnStep(_iteration, loss, auxiliary, (_iteration - sessionStart) * tokensPerStep / sessionSeconds);

                if (_iteration % _settings.EvalInterval == 0 || _iteration == _settings.Iterations)
                {
                    var point = Evaluate(_settings.EvalBatches);
                    _history.Add(point);
                    observer?.OnEvaluation(point, _sinceEvaluation.Snapshot());
                    _sinceEvaluation.Reset();
                    if (checkpointPath is not null) Checkpoint.Save(checkpointPath, Metadata(preset), _model, _optimizer);
                }
            }

            var completed = _iteration >= _settings.Iterations;
            if (!completed && checkpointPath is not null) Checkpoint.Save(checkpointPath, Metadata(preset), _model, _optimizer);
            return new TrainingResult(_iteration, _history.ToArray(), _trainingSeconds, _iteration - sessionStart, sessionSeconds,
                _session.Snapshot(), completed, _lastStepLoss);
        }

        /// <summary>Estimates train and validation loss over <paramref name="batches"/> fixed batches each.</summary>
        public EvaluationPoint Evaluate(int batches)
        {
            var train = LossEstimator.Estimate(_model, _corpus.Train, _settings.BatchSize, batches,
                Seeds.Derive(_settings.Seed, Seeds.Stream.TrainEstimate), _share);
            var validation = LossEstimator.Estimate(_model, _corpus.Validation, _settings.BatchSize, batches,
                Seeds.Derive(_settings.Seed, Seeds.Stream.ValidationEstimate), _share);
            return new EvaluationPoint(_iteration, train, validation, _trainingSeconds);
        }

        private (double Loss, double Auxiliary) Step()
        {
            using var scope = NewDisposeScope();
            // Dropout: each rank its own stream (one process: the step's). Batches: the same global batch on every rank.
            random.manual_seed(Seeds.Derive(_settings.Seed, Seeds.Stream.TorchStep, _share.DropoutStream(_iteration)));
            var batchRandom = new Random(Seeds.Derive(_settings.Seed, Seeds.Stream.TrainBatch, _iteration));
            var (inputs, targets) = _share.Take(BatchSampler.Sample(_corpus.Train, _model.Config.BlockSize, _settings.BatchSize, batchRandom));

            // Expert-parallel: the mean over this rank's rows, and the MoE layers' W × share auxiliary losses, whose means
            // over ranks are the global batch's losses; Average then makes every gradient the one-process gradient.
            var loss = LossEstimator.CrossEntropy(_model.call(inputs), targets);
            var auxiliary = MoeAuxiliaryLoss.Collect(_model);
            _optimizer.zero_grad();
            (loss + auxiliary).backward();
            if (_share.Communicator is { } communicator) GradientAllReduce.Average(_model, communicator);
            _optimizer.step();
            // Moves the DeepSeek style's aux-loss-free bias by the loads of this step's forward and resets the per-step
            // loads; a no-op for layers without a bias.
            MoeLoadBalancing.AfterOptimizerStep(_model);
            return (_share.Mean(loss.item<float>()), _share.Mean(auxiliary.item<float>()));
        }
    }
}
