using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A whole expert MLP over expert-contiguous rows as one autograd function, memory-optimized as MegaBlocks'
    /// memory_optimized_mlp: Y = act(X·W_in + b_in [, G = X_g·W_gate + b_gate]) · W_out + b_out, every projection one
    /// grouped product (<see cref="GroupedProducts"/>). Forward keeps only what backward needs — the rows, the
    /// pre-activation H = X·W_in + b_in and, for the gated activations, the gate G — and frees the activation
    /// A = act(H, G) as soon as Y is formed; backward recomputes A once, in chunks of whole experts, with the same
    /// <see cref="ActivationFunction.Apply"/> the forward used, for both dW_out and the activation's derivative (libtorch's
    /// own derivative kernels, through a small autograd graph per chunk), forming dH in place in dA, so no [M, h]
    /// temporary beyond dA (and dG) lives at once. Against autograd over the composed ops this drops A from the saved
    /// tensors and three [M, h] gradients from the step's live set.
    /// <para>
    /// Arguments: rows X [M, d]; gate rows X_g [M, d_g] or null (a gated activation's gate reads X; the
    /// Autonomy-of-Experts gate reads its cached low-rank activations); W_in [E, d, h]; W_gate [E, d_g, h] or null (gated
    /// activations only); W_out [E, h, o]; b_in [E, h] or null; b_gate [E, h] or null (with W_gate only); b_out [E, o] or
    /// null; counts (long[], rows per expert); <see cref="GroupedProducts"/>; <see cref="ActivationFunction"/>. Gradients
    /// are computed only for the tensors that require them; a bias's gradient is the per-expert column sums of the
    /// gradient at its projection's output (dH for b_in, dG for b_gate, dY for b_out).
    /// </para>
    /// <para>
    /// LoRA updates (<see cref="AdapterUpdates"/>: A [E, in, r] and s·B [E, r, out] per adapted projection, with their own
    /// <see cref="GroupedProducts"/>) add Z = (X·A)·B to the projection's output. Forward keeps the rank-r products X·A
    /// ([M, r] each); backward forms dB = (X·A)ᵀ·dZ, d(X·A) = dZ·Bᵀ, dA = Xᵀ·d(X·A) and adds d(X·A)·Aᵀ to dX, where for
    /// the output projection X is the activation: its dA_out is formed in the same chunks as dW_out from the recomputed
    /// activation, and d(A·A_out)·A_outᵀ joins dA before the activation's derivative.
    /// </para>
    /// </summary>
    internal sealed class ExpertMlpFunction : autograd.SingleTensorFunction<ExpertMlpFunction>
    {
        /// <summary>The backward recomputes the activation in chunks of whole experts of about this many elements, to bound its temporaries.</summary>
        internal const long ChunkElements = 1 << 21;

        // Positions of the tensor arguments, in the order apply receives them and backward returns their gradients.
        private const int Rows = 0, GateRows = 1, InputWeight = 2, GateWeight = 3, OutputWeight = 4, InputBias = 5, GateBias = 6, OutputBias = 7;
        private const int InputDown = 8, InputUp = 9, GateDown = 10, GateUp = 11, OutputDown = 12, OutputUp = 13;
        private const int TensorArguments = 14;

        public override string Name => "MoeExpertMlp";

        /// <summary>Runs <paramref name="mlp"/> on expert-contiguous rows; see the class summary for the arguments.</summary>
        /// <param name="rows">Expert-contiguous rows X [M, d].</param>
        /// <param name="gateRows">The gate's rows, or null when it reads X.</param>
        /// <param name="mlp">Weights, biases, activation and LoRA updates.</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="products">The base projections' products.</param>
        /// <param name="adapterProducts">Six products (down and up of the input, gate and output updates; null where there is none), or null without adapters.</param>
        public static Tensor Apply(Tensor rows, Tensor? gateRows, ExpertMlp mlp, long[] counts, GroupedProducts products, GroupedProducts?[]? adapterProducts = null)
        {
            adapterProducts ??= new GroupedProducts?[6];
            if (mlp.Activation.IsGated != (mlp.GateWeight is not null))
                throw new ArgumentException($"{mlp.Activation.Kind} {(mlp.GateWeight is null ? "needs" : "takes no")} gate weights.", "gateWeight");
            if (mlp.GateBias is not null && mlp.GateWeight is null)
                throw new ArgumentException("a gate bias needs gate weights.", "gateBias");
            var a = mlp.Adapters;
            var tensors = new[]
            {
                rows, gateRows, mlp.InputWeight, mlp.GateWeight, mlp.OutputWeight, mlp.InputBias, mlp.GateBias, mlp.OutputBias,
                a?.Input?.Down, a?.Input?.Up, a?.Gate?.Down, a?.Gate?.Up, a?.Output?.Down, a?.Output?.Up,
            };
            var tracked = is_grad_enabled() && tensors.Any(t => t?.requires_grad ?? false);
            // Inference (no_grad, or nothing to differentiate) needs no autograd node and nothing kept.
            if (!tracked) return Evaluate(tensors, counts, products, adapterProducts, mlp.Activation);
            return apply([.. tensors.Cast<object?>(), counts, products, adapterProducts, mlp.Activation]);
        }

        /// <summary>
        /// The forward computation alone over the tensor arguments: Y and, for backward, the pre-activation H, the gate G
        /// and the adapters' rank-r products X·A_in, X_g·A_gate and act·A_out (null where absent).
        /// </summary>
        private static (Tensor Output, Tensor Hidden, Tensor? Gate, Tensor?[] Low) Compute(Tensor?[] t, long[] counts, GroupedProducts products,
            GroupedProducts?[] adapterProducts, ActivationFunction activation)
        {
            var rows = t[Rows]!;
            var low = new Tensor?[3];
            var hidden = products.Multiply(rows, counts, t[InputWeight]!);
            if (t[InputBias] is { } inputBias) GroupedProducts.AddGroupBias(hidden, inputBias, counts);
            low[0] = AddLowRank(hidden, rows, t, InputDown, counts, adapterProducts);
            Tensor? gate = null;
            if (t[GateWeight] is { } gateWeight)
            {
                gate = products.Multiply(t[GateRows] ?? rows, counts, gateWeight);
                if (t[GateBias] is { } gateBias) GroupedProducts.AddGroupBias(gate, gateBias, counts);
                low[1] = AddLowRank(gate, t[GateRows] ?? rows, t, GateDown, counts, adapterProducts);
            }
            Tensor output;
            using (var activated = activation.Apply(hidden, gate))
            {
                output = products.Multiply(activated, counts, t[OutputWeight]!);
                low[2] = AddLowRank(output, activated, t, OutputDown, counts, adapterProducts);
            }
            if (t[OutputBias] is { } outputBias) GroupedProducts.AddGroupBias(output, outputBias, counts);
            return (output, hidden, gate, low);
        }

        /// <summary>Adds (X·A)·B of the update at <paramref name="down"/> (if any) to <paramref name="projected"/> in place; returns X·A.</summary>
        private static Tensor? AddLowRank(Tensor projected, Tensor input, Tensor?[] t, int down, long[] counts, GroupedProducts?[] adapterProducts)
        {
            if (t[down] is not { } a) return null;
            var low = adapterProducts[down - InputDown]!.Multiply(input, counts, a);
            using var update = adapterProducts[down - InputDown + 1]!.Multiply(low, counts, t[down + 1]!);
            projected.add_(update);
            return low;
        }

        private static Tensor Evaluate(Tensor?[] tensors, long[] counts, GroupedProducts products, GroupedProducts?[] adapterProducts, ActivationFunction activation)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var t = (Tensor?[])tensors.Clone();
            t[Rows] = t[Rows]!.contiguous();
            t[GateRows] = t[GateRows]?.contiguous();
            var (output, _, _, _) = Compute(t, counts, products, adapterProducts, activation);
            return output.MoveToOuterDisposeScope();
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            // Aliases and temporaries made here must not keep their storage alive until the caller's scope ends; what
            // backward needs and the output move out of this scope.
            using var scope = NewDisposeScope();
            var t = new Tensor?[TensorArguments];
            for (var i = 0; i < TensorArguments; i++) t[i] = vars[i] as Tensor;
            var needs = t.Select(x => x?.requires_grad ?? false).ToArray();
            t[Rows] = t[Rows]!.contiguous();
            t[GateRows] = t[GateRows]?.contiguous();
            var (counts, products, adapterProducts, activation) = ((long[])vars[TensorArguments], (GroupedProducts)vars[TensorArguments + 1],
                (GroupedProducts?[])vars[TensorArguments + 2], (ActivationFunction)vars[TensorArguments + 3]);

            var (output, hidden, gate, low) = Compute(t, counts, products, adapterProducts, activation);
            foreach (var made in new[] { t[Rows], t[GateRows], hidden, gate, low[0], low[1], low[2] }) made?.MoveToOuterDisposeScope();
            ctx.save_for_backward(new List<Tensor>
            {
                t[Rows]!, t[GateRows]!, t[InputWeight]!, t[GateWeight]!, t[OutputWeight]!, hidden, gate!,
                low[0]!, low[1]!, low[2]!, t[InputDown]!, t[InputUp]!, t[GateDown]!, t[GateUp]!, t[OutputDown]!, t[OutputUp]!,
            });
            ctx.save_data("counts", counts);
            ctx.save_data("products", products);
            ctx.save_data("adapterProducts", adapterProducts);
            ctx.save_data("activation", activation);
            ctx.save_data("needs", needs);
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            var (rows, gateRows, inputWeight, gateWeight, outputWeight, hidden, gate) =
                (saved[0], Defined(saved[1]), saved[2], Defined(saved[3]), saved[4], saved[5], Defined(saved[6]));
            var low = new[] { Defined(saved[7]), Defined(saved[8]), Defined(saved[9]) };
            // The adapters' tensors at their argument positions, so the positions name them in backward as in forward.
            var t = new Tensor?[TensorArguments];
            for (var i = InputDown; i < TensorArguments; i++) t[i] = Defined(saved[10 + i - InputDown]);
            var counts = (long[])ctx.get_data("counts");
            var products = (GroupedProducts)ctx.get_data("products");
            var adapterProducts = (GroupedProducts?[])ctx.get_data("adapterProducts");
            var activation = (ActivationFunction)ctx.get_data("activation");
            var needs = (bool[])ctx.get_data("needs");
            var gradients = new Tensor?[TensorArguments + 4];
            using var scope = NewDisposeScope();

            using var gradOutput = grad_output.to(hidden.dtype).contiguous();
            if (needs[OutputBias]) gradients[OutputBias] = GroupedProducts.GroupSums(gradOutput, counts);
            var (outputDown, outputUp) = (t[OutputDown], t[OutputUp]);
            var (downProducts, upProducts) = (adapterProducts[OutputDown - InputDown], adapterProducts[OutputUp - InputDown]);
            if (needs[OutputUp]) gradients[OutputUp] = upProducts!.WeightGradient(low[2]!, gradOutput, counts);
            var needsInner = needs[Rows] || needs[GateRows] || needs[InputWeight] || needs[GateWeight] || needs[InputBias] || needs[GateBias]
                || needs[InputDown] || needs[InputUp] || needs[GateDown] || needs[GateUp];
            var needsActivation = needs[OutputWeight] || needs[OutputDown];
            if (!needsActivation && !needsInner) return Listed(gradients);

            // The output update's d(A·A_out) = dY·(s·B_out)ᵀ [M, r], for dA_out and for dA.
            using var gradOutputLow = outputUp is not null && (needs[OutputDown] || needsInner) ? upProducts!.MultiplyTransposed(gradOutput, counts, outputUp) : null;
            // dA = dY·W_outᵀ (+ d(A·A_out)·A_outᵀ), then per chunk of whole experts: the activation recomputed once, serving
            // dW_out and dA_out of those experts and the derivative that turns dA into dH in place (and, for a gated
            // activation, dG next to it).
            var gradHidden = needsInner ? products.MultiplyTransposed(gradOutput, counts, outputWeight) : null;
            if (gradHidden is not null && gradOutputLow is not null)
            {
                using var viaAdapter = downProducts!.MultiplyTransposed(gradOutputLow, counts, outputDown!);
                gradHidden.add_(viaAdapter);
            }
            var chunked = counts.Length > 0 && ExpertChunks(counts, hidden.shape[1]).Skip(1).Any();
            if (needs[OutputWeight] && chunked) gradients[OutputWeight] = empty_like(outputWeight);
            if (needs[OutputDown] && chunked) gradients[OutputDown] = empty_like(outputDown!);
            var gradGate = gate is null || !needsInner ? null : empty_like(gate);
            using (var gradMode = enable_grad())
            {
                foreach (var chunk in ExpertChunks(counts, hidden.shape[1]))
                {
                    using var chunkScope = NewDisposeScope();
                    var h = hidden.narrow(0, chunk.FirstRow, chunk.Rows).detach().requires_grad_(true);
                    var z = gate?.narrow(0, chunk.FirstRow, chunk.Rows).detach().requires_grad_(true);
                    var activated = activation.Apply(h, z);
                    if (needsActivation)
                    {
                        var chunkCounts = counts.AsSpan(chunk.FirstExpert, chunk.Experts).ToArray();
                        using var noGrad = no_grad();
                        if (needs[OutputWeight])
                            Place(gradients, OutputWeight, products.WeightGradient(activated.detach(), gradOutput.narrow(0, chunk.FirstRow, chunk.Rows), chunkCounts), chunk, counts.Length);
                        if (needs[OutputDown])
                            Place(gradients, OutputDown, downProducts!.WeightGradient(activated.detach(), gradOutputLow!.narrow(0, chunk.FirstRow, chunk.Rows), chunkCounts), chunk, counts.Length);
                    }
                    if (!needsInner || chunk.Rows == 0) continue;
                    var g = gradHidden!.narrow(0, chunk.FirstRow, chunk.Rows);
                    var derivatives = autograd.grad(new[] { activated }, z is null ? new[] { h } : new[] { h, z }, new[] { g });
                    if (z is not null) gradGate!.narrow(0, chunk.FirstRow, chunk.Rows).copy_(derivatives[1]);
                    g.copy_(derivatives[0]);
                }
            }
            if (gradHidden is null) return Listed(gradients);
            try
            {
                if (needs[InputBias]) gradients[InputBias] = GroupedProducts.GroupSums(gradHidden, counts);
                if (needs[InputWeight]) gradients[InputWeight] = products.WeightGradient(rows, gradHidden, counts);
                if (needs[Rows]) gradients[Rows] = products.MultiplyTransposed(gradHidden, counts, inputWeight);
                LowRankBackward(rows, low[0], gradHidden, counts, t, InputDown, Rows, adapterProducts, needs, gradients);
                if (gradGate is not null)
                {
                    var gateInput = gateRows ?? rows;
                    if (needs[GateBias]) gradients[GateBias] = GroupedProducts.GroupSums(gradGate, counts);
                    if (needs[GateWeight]) gradients[GateWeight] = products.WeightGradient(gateInput, gradGate, counts);
                    if (gateRows is not null && needs[GateRows]) gradients[GateRows] = products.MultiplyTransposed(gradGate, counts, gateWeight!);
                    if (gateRows is null && needs[Rows])
                    {
                        using var viaGate = products.MultiplyTransposed(gradGate, counts, gateWeight!);
                        gradients[Rows]!.add_(viaGate);
                    }
                    LowRankBackward(gateInput, low[1], gradGate, counts, t, GateDown, gateRows is null ? Rows : GateRows, adapterProducts, needs, gradients);
                }
            }
            finally
            {
                gradHidden.Dispose();
                gradGate?.Dispose();
            }
            return Listed(gradients);
        }

        /// <summary>
        /// The gradients of an update Z = (X·A)·B at <paramref name="down"/> (if any) from dZ: dB = (X·A)ᵀ·dZ,
        /// d(X·A) = dZ·Bᵀ, dA = Xᵀ·d(X·A), and d(X·A)·Aᵀ added to the gradient at <paramref name="inputPosition"/>.
        /// </summary>
        private static void LowRankBackward(Tensor input, Tensor? low, Tensor gradProjected, long[] counts, Tensor?[] t, int down, int inputPosition,
            GroupedProducts?[] adapterProducts, bool[] needs, Tensor?[] gradients)
        {
            if (t[down] is not { } a || t[down + 1] is not { } b) return;
            var (downProducts, upProducts) = (adapterProducts[down - InputDown]!, adapterProducts[down - InputDown + 1]!);
            if (needs[down + 1]) gradients[down + 1] = upProducts.WeightGradient(low!, gradProjected, counts);
            if (!needs[down] && !needs[inputPosition]) return;
            using var gradLow = upProducts.MultiplyTransposed(gradProjected, counts, b);
            if (needs[down]) gradients[down] = downProducts.WeightGradient(input, gradLow, counts);
            if (!needs[inputPosition]) return;
            var viaAdapter = downProducts.MultiplyTransposed(gradLow, counts, a);
            if (gradients[inputPosition] is { } existing)
            {
                existing.add_(viaAdapter);
                viaAdapter.Dispose();
            }
            else
            {
                gradients[inputPosition] = viaAdapter;
            }
        }

        /// <summary>Puts a chunk's weight gradient in place: the whole gradient when the chunk holds every expert, else its slice.</summary>
        private static void Place(Tensor?[] gradients, int position, Tensor part, (int FirstExpert, int Experts, long FirstRow, long Rows) chunk, int experts)
        {
            if (chunk.Experts == experts) gradients[position] = part.MoveToOuterDisposeScope();
            else gradients[position]!.narrow(0, chunk.FirstExpert, chunk.Experts).copy_(part);
        }
        /// <summary>
        /// Consecutive experts grouped so that each group's rows hold at most <see cref="ChunkElements"/> elements of a
        /// [rows, <paramref name="width"/>] tensor (one expert per group when it alone holds more), in expert order.
        /// </summary>
        internal static IEnumerable<(int FirstExpert, int Experts, long FirstRow, long Rows)> ExpertChunks(long[] counts, long width)
        {
            var limit = Math.Max(1, ChunkElements / Math.Max(1, width));
            var (firstExpert, firstRow, rows) = (0, 0L, 0L);
            for (var e = 0; e < counts.Length; e++)
            {
                if (e > firstExpert && rows + counts[e] > limit)
                {
                    yield return (firstExpert, e - firstExpert, firstRow, rows);
                    (firstExpert, firstRow, rows) = (e, firstRow + rows, 0L);
                }
                rows += counts[e];
            }
            if (counts.Length > 0) yield return (firstExpert, counts.Length - firstExpert, firstRow, rows);
        }

        private static Tensor? Defined(Tensor tensor) => tensor is null || tensor.IsInvalid ? null : tensor;

        /// <summary>The gradients, moved out of the backward's dispose scope so they outlive it.</summary>
        private static List<Tensor> Listed(Tensor?[] gradients)
        {
            foreach (var gradient in gradients) gradient?.MoveToOuterDisposeScope();
            return new List<Tensor>(gradients!);
        }
    }
}
