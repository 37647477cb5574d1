using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A whole expert MLP over expert-contiguous rows as one autograd function, memory-optimized as MegaBlocks'
    /// memory_optimized_mlp: Y = act(X·W_in + b_in [, G = X_g·W_gate]) · W_out + b_out, every projection one grouped
    /// product (<see cref="GroupedProducts"/>). Forward keeps only what backward needs — the rows, the pre-activation
    /// H = X·W_in + b_in and, for SwiGLU, the gate G — and frees the activation A = act(H, G) as soon as Y is formed;
    /// backward recomputes A once, in chunks of whole experts, for both dW_out and the activation's derivative (libtorch's
    /// own derivative kernels, through a small autograd graph per chunk), forming dH in place in dA, so no [M, h]
    /// temporary beyond dA lives at once. Against autograd over the composed ops this drops A from the saved
    /// tensors and three [M, h] gradients from the step's live set.
    /// <para>
    /// Arguments: rows X [M, d]; gate rows X_g [M, d_g] or null (SwiGLU's gate reads X; the Autonomy-of-Experts gate
    /// reads its cached low-rank activations); W_in [E, d, h]; W_gate [E, d_g, h] or null (SwiGLU only); W_out [E, h, o];
    /// b_in [E, h] or null; b_out [E, o] or null; counts (long[], rows per expert); <see cref="GroupedProducts"/>;
    /// <see cref="ExpertActivation"/>. Gradients are computed only for the tensors that require them.
    /// </para>
    /// </summary>
    internal sealed class ExpertMlpFunction : autograd.SingleTensorFunction<ExpertMlpFunction>
    {
        /// <summary>The backward recomputes the activation in chunks of whole experts of about this many elements, to bound its temporaries.</summary>
        internal const long ChunkElements = 1 << 21;

        public override string Name => "MoeExpertMlp";

        /// <summary>Runs the MLP; see the class summary for the arguments.</summary>
        public static Tensor Apply(Tensor rows, Tensor? gateRows, Tensor inputWeight, Tensor? gateWeight, Tensor outputWeight,
            Tensor? inputBias, Tensor? outputBias, long[] counts, GroupedProducts products, ExpertActivation activation)
        {
            if ((activation == ExpertActivation.SwiGlu) != (gateWeight is not null))
                throw new ArgumentException($"{activation} {(gateWeight is null ? "needs" : "takes no")} gate weights.", nameof(gateWeight));
            var tracked = is_grad_enabled() && (rows.requires_grad || (gateRows?.requires_grad ?? false) || inputWeight.requires_grad
                || (gateWeight?.requires_grad ?? false) || outputWeight.requires_grad || (inputBias?.requires_grad ?? false)
                || (outputBias?.requires_grad ?? false));
            // Inference (no_grad, or nothing to differentiate) needs no autograd node and nothing kept.
            if (!tracked) return Evaluate(rows, gateRows, inputWeight, gateWeight, outputWeight, inputBias, outputBias, counts, products, activation);
            return apply(rows, gateRows, inputWeight, gateWeight, outputWeight, inputBias, outputBias, counts, products, activation);
        }

        /// <summary>The forward computation alone: Y and, for backward, the pre-activation H and the gate G.</summary>
        private static (Tensor Output, Tensor Hidden, Tensor? Gate) Compute(Tensor rows, Tensor? gateRows, Tensor inputWeight, Tensor? gateWeight,
            Tensor outputWeight, Tensor? inputBias, Tensor? outputBias, long[] counts, GroupedProducts products, ExpertActivation activation)
        {
            var hidden = products.Multiply(rows, counts, inputWeight);
            if (inputBias is not null) GroupedProducts.AddGroupBias(hidden, inputBias, counts);
            var gate = gateWeight is null ? null : products.Multiply(gateRows ?? rows, counts, gateWeight);
            Tensor output;
            using (var activated = Activate(activation, hidden, gate))
                output = products.Multiply(activated, counts, outputWeight);
            if (outputBias is not null) GroupedProducts.AddGroupBias(output, outputBias, counts);
            return (output, hidden, gate);
        }

        private static Tensor Evaluate(Tensor rows, Tensor? gateRows, Tensor inputWeight, Tensor? gateWeight, Tensor outputWeight,
            Tensor? inputBias, Tensor? outputBias, long[] counts, GroupedProducts products, ExpertActivation activation)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (output, _, _) = Compute(rows.contiguous(), gateRows?.contiguous(), inputWeight, gateWeight, outputWeight, inputBias, outputBias,
                counts, products, activation);
            return output.MoveToOuterDisposeScope();
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            // Aliases and temporaries made here must not keep their storage alive until the caller's scope ends; what
            // backward needs and the output move out of this scope.
            using var scope = NewDisposeScope();
            var rows = ((Tensor)vars[0]).contiguous();
            var gateRows = (vars[1] as Tensor)?.contiguous();
            var (inputWeight, gateWeight, outputWeight) = ((Tensor)vars[2], vars[3] as Tensor, (Tensor)vars[4]);
            var (inputBias, outputBias) = (vars[5] as Tensor, vars[6] as Tensor);
            var (counts, products, activation) = ((long[])vars[7], (GroupedProducts)vars[8], (ExpertActivation)vars[9]);

            var (output, hidden, gate) = Compute(rows, gateRows, inputWeight, gateWeight, outputWeight, inputBias, outputBias, counts, products, activation);
            foreach (var made in new[] { rows, gateRows, hidden, gate }) made?.MoveToOuterDisposeScope();
            ctx.save_for_backward(new List<Tensor> { rows, gateRows!, inputWeight, gateWeight!, outputWeight, hidden, gate! });
            ctx.save_data("counts", counts);
            ctx.save_data("products", products);
            ctx.save_data("activation", activation);
            ctx.save_data("needs", new[]
            {
                ((Tensor)vars[0]).requires_grad, gateRows?.requires_grad ?? false, inputWeight.requires_grad, gateWeight?.requires_grad ?? false,
                outputWeight.requires_grad, inputBias?.requires_grad ?? false, outputBias?.requires_grad ?? false,
            });
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            var (rows, gateRows, inputWeight, gateWeight, outputWeight, hidden, gate) =
                (saved[0], Defined(saved[1]), saved[2], Defined(saved[3]), saved[4], saved[5], Defined(saved[6]));
            var counts = (long[])ctx.get_data("counts");
            var products = (GroupedProducts)ctx.get_data("products");
            var activation = (ExpertActivation)ctx.get_data("activation");
            var needs = (bool[])ctx.get_data("needs");
            var gradients = new Tensor?[10];
            using var scope = NewDisposeScope();

            using var gradOutput = grad_output.to(hidden.dtype).contiguous();
            if (needs[6]) gradients[6] = GroupedProducts.GroupSums(gradOutput, counts);
            var needsInner = needs[0] || needs[1] || needs[2] || needs[3] || needs[5];
            if (!needs[4] && !needsInner) return Listed(gradients);

            // dA = dY·W_outᵀ, then per chunk of whole experts: the activation recomputed once, serving dW_out of those
            // experts and the derivative that turns dA into dH in place (and, for SwiGLU, dG next to it).
            var gradHidden = needsInner ? products.MultiplyTransposed(gradOutput, counts, outputWeight) : null;
            if (needs[4] && counts.Length > 0 && ExpertChunks(counts, hidden.shape[1]).Skip(1).Any()) gradients[4] = empty_like(outputWeight);
            var gradGate = gate is null || !needsInner ? null : empty_like(gate);
            using (var gradMode = enable_grad())
            {
                foreach (var chunk in ExpertChunks(counts, hidden.shape[1]))
                {
                    using var chunkScope = NewDisposeScope();
                    var h = hidden.narrow(0, chunk.FirstRow, chunk.Rows).detach().requires_grad_(true);
                    var z = gate?.narrow(0, chunk.FirstRow, chunk.Rows).detach().requires_grad_(true);
                    // Out of place: autograd must see SwiGLU's product as an op of its own.
                    var activated = z is null ? Activate(activation, h, null) : z.silu() * h;
                    if (needs[4])
                    {
                        var chunkCounts = counts.AsSpan(chunk.FirstExpert, chunk.Experts).ToArray();
                        using var noGrad = no_grad();
                        var part = products.WeightGradient(activated.detach(), gradOutput.narrow(0, chunk.FirstRow, chunk.Rows), chunkCounts);
                        if (chunk.Experts == counts.Length) gradients[4] = part.MoveToOuterDisposeScope();
                        else gradients[4]!.narrow(0, chunk.FirstExpert, chunk.Experts).copy_(part);
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
                if (needs[5]) gradients[5] = GroupedProducts.GroupSums(gradHidden, counts);
                if (needs[2]) gradients[2] = products.WeightGradient(rows, gradHidden, counts);
                if (needs[0]) gradients[0] = products.MultiplyTransposed(gradHidden, counts, inputWeight);
                if (gradGate is not null)
                {
                    var gateInput = gateRows ?? rows;
                    if (needs[3]) gradients[3] = products.WeightGradient(gateInput, gradGate, counts);
                    if (gateRows is not null && needs[1]) gradients[1] = products.MultiplyTransposed(gradGate, counts, gateWeight!);
                    if (gateRows is null && needs[0])
                    {
                        using var viaGate = products.MultiplyTransposed(gradGate, counts, gateWeight!);
                        gradients[0]!.add_(viaGate);
                    }
                }
            }
            finally
            {
                gradHidden.Dispose();
                gradGate?.Dispose();
            }
            return Listed(gradients);
        }

        /// <summary>A = ReLU(H), GELU(H) or SiLU(G) ⊙ H, as a new tensor.</summary>
        private static Tensor Activate(ExpertActivation activation, Tensor hidden, Tensor? gate) => activation switch
        {
            ExpertActivation.Relu => hidden.relu(),
            ExpertActivation.Gelu => hidden.gelu(),
            ExpertActivation.SwiGlu => gate!.silu().mul_(hidden),
            _ => throw new InvalidOperationException($"Unknown activation {activation}."),
        };

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
