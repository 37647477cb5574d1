using System;

namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>A model's figures on one split: accuracy, loss, confusion matrix and which experts served which digits.</summary>
    public sealed class Evaluation
    {
        /// <summary>Creates the figures from the raw counts.</summary>
        /// <param name="networkLoss">Mean cross-entropy over the split.</param>
        /// <param name="confusion">[true class, predicted class] counts.</param>
        /// <param name="routing">[expert, true class] counts of (image, slot) assignments, k per image.</param>
        public Evaluation(double networkLoss, long[,] confusion, long[,] routing)
        {
            ArgumentNullException.ThrowIfNull(confusion);
            ArgumentNullException.ThrowIfNull(routing);
            if (confusion.GetLength(0) != confusion.GetLength(1) || routing.GetLength(1) != confusion.GetLength(0))
                throw new ArgumentException("confusion must be [C, C] and routing [E, C].", nameof(routing));
            NetworkLoss = networkLoss;
            Confusion = confusion;
            Routing = routing;
            for (var c = 0; c < ClassCount; c++)
            {
                Correct += confusion[c, c];
                for (var p = 0; p < ClassCount; p++) Total += confusion[c, p];
            }
        }

        /// <summary>Number of classes C.</summary>
        public int ClassCount => Confusion.GetLength(0);

        /// <summary>Number of experts E.</summary>
        public int ExpertCount => Routing.GetLength(0);

        /// <summary>Mean cross-entropy ("network loss") over the split.</summary>
        public double NetworkLoss { get; }

        /// <summary>Confusion[t, p]: images of class t predicted as p.</summary>
        public long[,] Confusion { get; }

        /// <summary>Routing[e, c]: how often expert e was among the k chosen for an image of class c.</summary>
        public long[,] Routing { get; }

        /// <summary>Correctly classified images.</summary>
        public long Correct { get; }

        /// <summary>Images evaluated.</summary>
        public long Total { get; }

        /// <summary>Correct over total, in [0, 1].</summary>
        public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;

        /// <summary>Accuracy on the images of each class, [C].</summary>
        public double[] ClassAccuracy()
        {
            var result = new double[ClassCount];
            for (var c = 0; c < ClassCount; c++)
            {
                long total = 0;
                for (var p = 0; p < ClassCount; p++) total += Confusion[c, p];
                result[c] = total == 0 ? 0 : (double)Confusion[c, c] / total;
            }
            return result;
        }

        /// <summary>Each class's routing column as shares summing to 1: which experts an image of class c goes to.</summary>
        public double[,] RoutingSharesPerClass()
        {
            var shares = new double[ExpertCount, ClassCount];
            for (var c = 0; c < ClassCount; c++)
            {
                long total = 0;
                for (var e = 0; e < ExpertCount; e++) total += Routing[e, c];
                for (var e = 0; e < ExpertCount; e++) shares[e, c] = total == 0 ? 0 : (double)Routing[e, c] / total;
            }
            return shares;
        }
    }
}
