using System;
using System.Collections.Generic;
using Microsoft.Extensions.Options;

namespace MoeLayers
{
    /// <summary>
    /// Validates <see cref="MoeLayerOptions"/>; each failure names the field, the allowed range and the value found.
    /// Registered by <see cref="MoeServiceCollectionExtensions.AddMoeLayers(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration)"/>
    /// and used by the layer constructors, which throw <see cref="ArgumentException"/>.
    /// </summary>
    public sealed class MoeLayerOptionsValidator : IValidateOptions<MoeLayerOptions>
    {
        /// <inheritdoc />
        public ValidateOptionsResult Validate(string? name, MoeLayerOptions options)
        {
            var failures = Failures(options);
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }

        /// <summary>Throws an <see cref="ArgumentException"/> listing every invalid field.</summary>
        /// <param name="options">The options to check.</param>
        /// <param name="paramName">Parameter name reported in the exception.</param>
        public static void ThrowIfInvalid(MoeLayerOptions options, string paramName = "options")
        {
            if (options is null) throw new ArgumentNullException(paramName);
            var failures = Failures(options);
            if (failures.Count > 0) throw new ArgumentException(string.Join(" ", failures), paramName);
        }

        /// <summary>Every rule the options break, as readable sentences (empty when valid).</summary>
        /// <param name="o">The options to check.</param>
        public static IReadOnlyList<string> Failures(MoeLayerOptions o)
        {
            var f = new List<string>();
            const string p = nameof(MoeLayerOptions) + ".";
            if (o.InputDim < 1) f.Add($"{p}{nameof(o.InputDim)} must be at least 1; got {o.InputDim}.");
            if (o.HiddenDim < 1) f.Add($"{p}{nameof(o.HiddenDim)} must be at least 1; got {o.HiddenDim}.");
            if (o.OutputDim < 0) f.Add($"{p}{nameof(o.OutputDim)} must be 0 (same as InputDim) or at least 1; got {o.OutputDim}.");
            if (o.NumExperts < 1) f.Add($"{p}{nameof(o.NumExperts)} must be at least 1; got {o.NumExperts}.");
            if (o.TopK < 1 || (o.NumExperts >= 1 && o.TopK > o.NumExperts))
                f.Add($"{p}{nameof(o.TopK)} must be in [1, NumExperts = {o.NumExperts}]; got {o.TopK}.");
            if (o.Router == RouterKind.Switch && o.TopK != 1)
                f.Add($"{p}{nameof(o.TopK)} must be 1 for the Switch router; got {o.TopK}.");
            CheckDefined(f, p + nameof(o.Router), o.Router);
            CheckDefined(f, p + nameof(o.TopKOrder), o.TopKOrder);
            CheckDefined(f, p + nameof(o.Activation), o.Activation);
            CheckDefined(f, p + nameof(o.DropPolicy), o.DropPolicy);
            CheckDefined(f, p + nameof(o.LoadBalancingLoss), o.LoadBalancingLoss);
            CheckDefined(f, p + nameof(o.Dispatch), o.Dispatch);
            CheckDefined(f, p + nameof(o.UseCudaDispatch), o.UseCudaDispatch);
            CheckDefined(f, p + nameof(o.ScoreFunction), o.ScoreFunction);
            CheckDefined(f, p + nameof(o.GroupScore), o.GroupScore);
            SingleExpertWeightFailures(f, o);
            ModernRouterFailures(f, o);
            SharedExpertFailures(f, o);
            ExpertChoiceFailures(f, o);
            if (!(o.SwitchJitter >= 0 && o.SwitchJitter < 1)) f.Add($"{p}{nameof(o.SwitchJitter)} must be in [0, 1); got {o.SwitchJitter}.");
            CheckFactor(f, p + nameof(o.CapacityFactor), o.CapacityFactor);
            CheckFactor(f, p + nameof(o.EvalCapacityFactor), o.EvalCapacityFactor);
            if (o.MinCapacity < 1) f.Add($"{p}{nameof(o.MinCapacity)} must be at least 1; got {o.MinCapacity}.");
            if (!(o.LoadBalancingCoefficient >= 0) || double.IsInfinity(o.LoadBalancingCoefficient))
                f.Add($"{p}{nameof(o.LoadBalancingCoefficient)} must be a finite number ≥ 0; got {o.LoadBalancingCoefficient}.");
            if (!(o.ZLossCoefficient >= 0) || double.IsInfinity(o.ZLossCoefficient))
                f.Add($"{p}{nameof(o.ZLossCoefficient)} must be a finite number ≥ 0; got {o.ZLossCoefficient}.");
            if (o.UseCudaDispatch == CudaDispatchMode.Always && o.Dispatch == DispatchStrategy.Reference)
                f.Add($"{p}{nameof(o.UseCudaDispatch)} = Always runs the fused dispatch, so {nameof(o.Dispatch)} cannot be Reference (the plain loop kept as the tests' oracle).");
            AutonomyOfExpertsFailures(f, o);
            ActivationFailures(f, o);
            LoraFailures(f, o);
            if (o.WeightExpertInputs && o.UseCudaDispatch == CudaDispatchMode.Always)
                f.Add($"{p}{nameof(o.WeightExpertInputs)} = true is not implemented by the fused CUDA dispatch, so {nameof(o.UseCudaDispatch)} cannot be Always (Auto runs the portable dispatch for such a layer).");
            return f;
        }

        /// <summary>The clamped SwiGLU's constants: in range, and left at their defaults by every other activation.</summary>
        private static void ActivationFailures(List<string> f, MoeLayerOptions o)
        {
            const string p = nameof(MoeLayerOptions) + ".";
            var clamped = o.Activation == ExpertActivation.ClampedSwiGlu;
            foreach (var (field, value, fallback) in new[]
                     {
                         (nameof(o.SwiGluAlpha), o.SwiGluAlpha, MoeLayerOptions.DefaultSwiGluAlpha),
                         (nameof(o.SwiGluLimit), o.SwiGluLimit, MoeLayerOptions.DefaultSwiGluLimit),
                     })
            {
                if (!(value > 0) || double.IsInfinity(value))
                    f.Add($"{p}{field} must be a finite number > 0; got {value}.");
                else if (!clamped && value != fallback)
                    f.Add($"{p}{field} = {value} is only used by Activation = ClampedSwiGlu; got Activation = {o.Activation}. Leave it at its default {fallback}.");
            }
        }

        private static void AutonomyOfExpertsFailures(List<string> f, MoeLayerOptions o)
        {
            const string p = nameof(MoeLayerOptions) + ".";
            if (o.Router == RouterKind.AutonomyOfExperts && o.Int8Experts)
                f.Add($"{p}{nameof(o.Int8Experts)} must be false for the AutonomyOfExperts router (its low-rank experts have no int8 form).");
            if (o.Router != RouterKind.AutonomyOfExperts)
            {
                if (o.LowRank != 0)
                    f.Add($"{p}{nameof(o.LowRank)} is only used by the AutonomyOfExperts router; set Router = AutonomyOfExperts or LowRank = 0; got {o.LowRank}.");
                return;
            }
            if (o.LowRank < 1 || (o.InputDim >= 1 && o.LowRank > o.InputDim))
                f.Add($"{p}{nameof(o.LowRank)} must be in [1, InputDim = {o.InputDim}] for the AutonomyOfExperts router; got {o.LowRank}.");
            if (o.Activation != ExpertActivation.SwiGlu)
                f.Add($"{p}{nameof(o.Activation)} must be SwiGlu for the AutonomyOfExperts router (its experts are SwiGLU blocks with a factorized gate); got {o.Activation}.");
            if (o.ExpertBias)
                f.Add($"{p}{nameof(o.ExpertBias)} must be false for the AutonomyOfExperts router (its experts have no biases; one on W_down would shift the norms it routes on).");
            if (o.WeightExpertInputs)
                f.Add($"{p}{nameof(o.WeightExpertInputs)} must be false for the AutonomyOfExperts router (its experts continue from x·W_down of the unweighted token, which it routed on).");
            if (o.ZLossCoefficient != 0)
                f.Add($"{p}{nameof(o.ZLossCoefficient)} must be 0 for the AutonomyOfExperts router (its scores are activation norms, not logits: the z-loss would shrink the experts' own activations); got {o.ZLossCoefficient}.");
        }

        /// <summary>Score function, groups, scaling, bias and evaluation k: the DeepSeek/Qwen family of the top-k router.</summary>
        private static void ModernRouterFailures(List<string> f, MoeLayerOptions o)
        {
            const string p = nameof(MoeLayerOptions) + ".";
            var topK = o.Router == RouterKind.TopK;
            if (!topK)
            {
                const string only = "is only used by the TopK router";
                if (o.ScoreFunction != ScoreFunction.Softmax) f.Add($"{p}{nameof(o.ScoreFunction)} = {o.ScoreFunction} {only}; got Router = {o.Router}.");
                if (o.ExpertGroups != 1) f.Add($"{p}{nameof(o.ExpertGroups)} = {o.ExpertGroups} {only}; got Router = {o.Router}.");
                if (o.BalanceBias) f.Add($"{p}{nameof(o.BalanceBias)} {only}; got Router = {o.Router}.");
                if (o.RoutedScalingFactor != 1.0) f.Add($"{p}{nameof(o.RoutedScalingFactor)} = {o.RoutedScalingFactor} {only}; got Router = {o.Router}.");
                if (o.RouterBias) f.Add($"{p}{nameof(o.RouterBias)} {only}; got Router = {o.Router}.");
            }
            if (!(o.RoutedScalingFactor > 0) || double.IsInfinity(o.RoutedScalingFactor))
                f.Add($"{p}{nameof(o.RoutedScalingFactor)} must be a finite number > 0; got {o.RoutedScalingFactor}.");
            if (!(o.BalanceBiasRate >= 0) || double.IsInfinity(o.BalanceBiasRate))
                f.Add($"{p}{nameof(o.BalanceBiasRate)} (γ) must be a finite number ≥ 0; got {o.BalanceBiasRate}.");
            if (o.ExpertGroups < 1 || (o.NumExperts >= 1 && o.NumExperts % o.ExpertGroups != 0))
                f.Add($"{p}{nameof(o.ExpertGroups)} must divide NumExperts = {o.NumExperts} into equal groups; got {o.ExpertGroups}.");
            else if (o.TopKGroups < 1 || o.TopKGroups > o.ExpertGroups)
                f.Add($"{p}{nameof(o.TopKGroups)} must be in [1, ExpertGroups = {o.ExpertGroups}]; got {o.TopKGroups}.");
            else if (o.NumExperts >= 1)
            {
                var reachable = o.TopKGroups * (o.NumExperts / o.ExpertGroups);
                foreach (var (field, k) in new[] { (nameof(o.TopK), o.TopK), (nameof(o.EvalTopK), o.EffectiveEvalTopK) })
                {
                    if (o.ExpertGroups > 1 && k > reachable)
                        f.Add($"{p}{field} = {k} is more than the {reachable} experts that TopKGroups = {o.TopKGroups} groups of {o.NumExperts / o.ExpertGroups} leave.");
                }
                if (o.ExpertGroups > 1 && o.GroupScore == GroupScore.SumOfTopTwo && o.NumExperts / o.ExpertGroups < 2)
                    f.Add($"{p}{nameof(o.GroupScore)} = SumOfTopTwo needs at least 2 experts per group; got {o.NumExperts / o.ExpertGroups}.");
            }
            if (o.TopKOrder == TopKOrder.TopKThenSoftmax && (o.ScoreFunction != ScoreFunction.Softmax || o.ExpertGroups != 1 || o.BalanceBias))
                f.Add($"{p}{nameof(o.TopKOrder)} = TopKThenSoftmax selects on raw logits; it cannot be combined with sigmoid scores, expert groups or a balance bias. Use SoftmaxThenTopK.");
            if (o.EvalTopK != 0)
            {
                if (o.Router is RouterKind.Switch or RouterKind.ExpertChoice)
                    f.Add($"{p}{nameof(o.EvalTopK)} must be 0 for the {o.Router} router, whose selection rule fixes it; got {o.EvalTopK}.");
                else if (o.EvalTopK < 1 || (o.NumExperts >= 1 && o.EvalTopK > o.NumExperts))
                    f.Add($"{p}{nameof(o.EvalTopK)} must be 0 (same as TopK) or in [1, NumExperts = {o.NumExperts}]; got {o.EvalTopK}.");
            }
        }

        private static void SharedExpertFailures(List<string> f, MoeLayerOptions o)
        {
            const string p = nameof(MoeLayerOptions) + ".";
            if (o.SharedExperts < 0) f.Add($"{p}{nameof(o.SharedExperts)} must be at least 0; got {o.SharedExperts}.");
            if (o.SharedHiddenDim < 0) f.Add($"{p}{nameof(o.SharedHiddenDim)} must be 0 (same as HiddenDim) or at least 1; got {o.SharedHiddenDim}.");
            if (o.SharedExpertGate && o.SharedExperts < 1)
                f.Add($"{p}{nameof(o.SharedExpertGate)} gates the shared experts' output, so it needs SharedExperts ≥ 1; got {o.SharedExperts}.");
            if (o.SharedExperts > 0 && o.Router == RouterKind.AutonomyOfExperts)
                f.Add($"{p}{nameof(o.SharedExperts)} is not supported by the AutonomyOfExperts layer; got {o.SharedExperts}.");
        }

        private static void ExpertChoiceFailures(List<string> f, MoeLayerOptions o)
        {
            const string p = nameof(MoeLayerOptions) + ".";
            if (o.Router != RouterKind.ExpertChoice) return;
            if (o.Causal != false)
                f.Add($"{p}{nameof(o.Router)} = ExpertChoice lets each expert pick its tokens among the whole batch, so a token's routing depends on later tokens: " +
                      $"in a causal (decoder) model that leaks the future. Set {nameof(o.Causal)} = false to state the layer is not in a causal model; got {(o.Causal is null ? "null" : "true")}.");
            if (o.LoadBalancingLoss != LoadBalancingLossKind.None)
                f.Add($"{p}{nameof(o.LoadBalancingLoss)} must be None for ExpertChoice, which is balanced by construction (every expert takes exactly C tokens); got {o.LoadBalancingLoss}.");
        }

        /// <summary>With k = 1 some weight rules make every combine weight exactly 1, so the task loss never reaches the router.</summary>
        private static void SingleExpertWeightFailures(List<string> f, MoeLayerOptions o)
        {
            const string p = nameof(MoeLayerOptions) + ".";
            if (o.TopK != 1) return;
            const string why = "with TopK = 1 every combine weight would be exactly 1, so the router would learn nothing from the task loss";
            if (o.Router == RouterKind.NoisyTopK)
                f.Add($"{p}{nameof(o.Router)} = NoisyTopK needs TopK ≥ 2: it softmaxes over the k kept logits, and {why}. Use the Switch router (weight = full-softmax probability) for k = 1.");
            if (o.Router is RouterKind.TopK or RouterKind.AutonomyOfExperts)
            {
                if (o.RenormalizeWeights == true)
                    f.Add($"{p}{nameof(o.RenormalizeWeights)} = true needs TopK ≥ 2: {why}. Leave it null or false for k = 1.");
                if (o.TopKOrder == TopKOrder.TopKThenSoftmax)
                    f.Add($"{p}{nameof(o.TopKOrder)} = TopKThenSoftmax needs TopK ≥ 2: {why}. Use SoftmaxThenTopK for k = 1.");
            }
        }

        private static void LoraFailures(List<string> f, MoeLayerOptions o)
        {
            if (o.Lora is not { } lora) return;
            const string p = nameof(MoeLayerOptions) + "." + nameof(MoeLayerOptions.Lora) + ".";
            if (lora.Rank < 1) f.Add($"{p}{nameof(lora.Rank)} must be at least 1; got {lora.Rank}.");
            if (!(lora.Alpha > 0) || double.IsInfinity(lora.Alpha)) f.Add($"{p}{nameof(lora.Alpha)} must be a finite number > 0; got {lora.Alpha}.");
            if ((lora.Projections & ~LoraProjections.All) != 0)
                f.Add($"{p}{nameof(lora.Projections)} must combine Input, Gate and Output; got {lora.Projections}.");
            else if ((lora.Projections & ~LoraProjections.Gate) == 0 && o.Activation is not (ExpertActivation.SwiGlu or ExpertActivation.ClampedSwiGlu))
                f.Add($"{p}{nameof(lora.Projections)} = {lora.Projections} adapts no projection: Activation = {o.Activation} has no gate projection. Add Input or Output.");
            if (o.Int8Experts)
                f.Add($"{p[..^1]} cannot be combined with {nameof(o.Int8Experts)} (the int8 experts are inference-only): merge the adapters (MoeLora.Merge) before MoeQuantization.ToInt8Experts.");
            if (o.Router == RouterKind.AutonomyOfExperts)
                f.Add($"{p[..^1]} is not implemented for the AutonomyOfExperts router (its low-rank experts have no adapters).");
        }

        private static void CheckDefined<TEnum>(List<string> failures, string field, TEnum value) where TEnum : struct, Enum
        {
            if (!Enum.IsDefined(value))
                failures.Add($"{field} must be one of {string.Join(", ", Enum.GetNames<TEnum>())}; got {value}.");
        }

        private static void CheckFactor(List<string> failures, string field, double? factor)
        {
            if (factor is { } cf && (!(cf > 0) || double.IsInfinity(cf)))
                failures.Add($"{field} must be a finite number > 0, or null for dropless routing; got {cf}.");
        }
    }
}
