using System;

namespace MoeLayers
{
    /// <summary>
    /// Widths for Autonomy-of-Experts layers (<see cref="RouterKind.AutonomyOfExperts"/>, Lv et al. 2025): the hidden width
    /// that matches a standard expert's parameter count, for fair comparisons.
    /// </summary>
    public static class AutonomyOfExperts
    {
        /// <summary>
        /// The hidden width that gives an AoE expert of rank r as many parameters as a standard SwiGLU expert of width h
        /// (3·d·h, output width d, no biases): r·d + r·h_aoe + 2·d·h_aoe = 3·d·h, so h_aoe = (3·d·h − r·d)/(r + 2·d),
        /// rounded to a multiple of <paramref name="multipleOf"/>. Each unit of width off the exact value costs r + 2·d
        /// parameters per expert. The layer has no router, so a matched AoE layer also has E·d parameters fewer than the
        /// MoE layer.
        /// </summary>
        /// <param name="inputDim">Model width d (at least 1).</param>
        /// <param name="hiddenDim">Hidden width h of the SwiGLU expert to match (at least 1).</param>
        /// <param name="lowRank">Rank r, in [1, d].</param>
        /// <param name="rounding">How h_aoe / <paramref name="multipleOf"/> becomes an integer:
        /// <see cref="MidpointRounding.ToEven"/> (the default) or <see cref="MidpointRounding.AwayFromZero"/> for the
        /// nearest, <see cref="MidpointRounding.ToZero"/> to never exceed the standard expert's parameter count,
        /// <see cref="MidpointRounding.ToPositiveInfinity"/> to never fall below it.</param>
        /// <param name="multipleOf">Round to a multiple of this (at least 1). Matrix products are often markedly faster
        /// for widths that are multiples of 32 or 64 than for the odd widths exact matching gives.</param>
        /// <exception cref="ArgumentException">An argument is out of range, or the rounded width is not positive.</exception>
        public static int ParameterMatchedHiddenDim(int inputDim, int hiddenDim, int lowRank,
            MidpointRounding rounding = MidpointRounding.ToEven, int multipleOf = 1)
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(hiddenDim, nameof(hiddenDim));
            Guard.InRange(lowRank, 1, inputDim, nameof(lowRank));
            Guard.Positive(multipleOf, nameof(multipleOf));
            Guard.Defined(rounding, nameof(rounding));
            var matched = RoundWidth(3L * inputDim * hiddenDim - (long)lowRank * inputDim, (long)lowRank + 2L * inputDim, rounding, multipleOf);
            if (matched < 1 || matched > int.MaxValue)
                throw new ArgumentException(
                    $"No hidden width in [1, {int.MaxValue}] matches d = {inputDim}, h = {hiddenDim}, r = {lowRank}: (3·d·h − r·d)/(r + 2·d) rounds to {matched}" +
                    (multipleOf > 1 ? $" as a multiple of {multipleOf}." : "."),
                    nameof(lowRank));
            return (int)matched;
        }

        /// <summary>
        /// The hidden width that gives an AoE expert of rank r a given parameter count P, for matching experts other than
        /// SwiGLU (a ReLU expert with biases, say): d·r + h'·(r + d + out) = P, so h' = (P − d·r)/(r + d + out).
        /// </summary>
        /// <param name="inputDim">Model width d (at least 1).</param>
        /// <param name="outputDim">Output width out (at least 1).</param>
        /// <param name="lowRank">Rank r, in [1, d].</param>
        /// <param name="parametersPerExpert">The parameter count P to match (at least 1).</param>
        /// <param name="rounding">How the exact quotient becomes an integer, as in <see cref="ParameterMatchedHiddenDim"/>.</param>
        /// <exception cref="ArgumentException">An argument is out of range, or no positive width fits P (P ≤ d·r).</exception>
        public static int HiddenDimForParameterBudget(int inputDim, int outputDim, int lowRank, long parametersPerExpert,
            MidpointRounding rounding = MidpointRounding.ToEven)
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(outputDim, nameof(outputDim));
            Guard.InRange(lowRank, 1, inputDim, nameof(lowRank));
            Guard.Positive(parametersPerExpert, nameof(parametersPerExpert));
            Guard.Defined(rounding, nameof(rounding));
            var width = RoundWidth(parametersPerExpert - (long)inputDim * lowRank, (long)lowRank + inputDim + outputDim, rounding, 1);
            if (width < 1 || width > int.MaxValue)
                throw new ArgumentException(
                    $"No hidden width in [1, {int.MaxValue}] gives {parametersPerExpert} parameters with d = {inputDim}, out = {outputDim}, r = {lowRank}: (P − d·r)/(r + d + out) rounds to {width}.",
                    nameof(parametersPerExpert));
            return (int)width;
        }

        private static decimal RoundWidth(long numerator, long denominator, MidpointRounding rounding, int multipleOf) =>
            Math.Round((decimal)numerator / (denominator * multipleOf), rounding) * multipleOf;
    }
}
