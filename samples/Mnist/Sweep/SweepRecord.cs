using System.Collections.Generic;
using MoeLayers.Samples.Mnist.Model;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>What a sweep keeps of one finished run.</summary>
    /// <param name="Model">ne, k, lc and the router.</param>
    /// <param name="Seed">The run's seed.</param>
    /// <param name="Test">Test figures after the last epoch (accuracy, confusion, routing counts).</param>
    /// <param name="TrainNetworkLoss">Mean cross-entropy over the last epoch's steps.</param>
    /// <param name="TrainGateLoss">Mean CV² gate loss (before lc) over the last epoch's steps.</param>
    /// <param name="Curve">Training losses through the run.</param>
    /// <param name="Seconds">Training time, evaluation excluded.</param>
    public sealed record SweepRecord(MnistMoeSettings Model, int Seed, Evaluation Test, double TrainNetworkLoss,
        double TrainGateLoss, IReadOnlyList<CurvePoint> Curve, double Seconds);
}
