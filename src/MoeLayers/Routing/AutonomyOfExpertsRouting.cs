using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Autonomy-of-Experts self-routing (Lv et al. 2025, arXiv 2501.13074): no router. Every expert computes its low-rank
    /// activation a_i = x·W_down_i (one fused product for all experts) and scores itself by s_i = ‖a_i‖₂ (float32); the k
    /// experts with the largest scores take the token, weighted by softmax(s) over all experts (renormalized over the k
    /// unless <see cref="MoeLayerOptions.RenormalizeWeights"/> is false), or by softmax over the k scores with
    /// <see cref="TopKOrder.TopKThenSoftmax"/>. The chosen experts continue from their cached a_i, so the experts this
    /// part hands to dispatch are <see cref="LowRankExpertBank.Continuation"/>s of the layer's bank. The routing's logits
    /// are the scores s, its probabilities softmax(s). Holds no parameters: W_down is the bank's.
    /// </summary>
    /// <param name="bank">The layer's experts (their W_down gives the scores).</param>
    /// <param name="rule">Its order (softmax over all scores then top-k, or top-k then softmax over the k) and renormalization.</param>
    internal sealed class AutonomyOfExpertsRouting(LowRankExpertBank bank, TopKRule rule) : IRouting
    {

        /// <inheritdoc />
        public RoutedTokens Route(Tensor flat, RoutingRequest request)
        {
            var (tokens, experts, k) = (flat.shape[0], bank.NumExperts, request.TopK);
            var all = bank.Down(flat);
            Tensor scores;
            using (var perExpert = all.view(tokens, experts, bank.LowRank))
            using (var perExpert32 = perExpert.to(ScalarType.Float32))
            {
                scores = linalg.vector_norm(perExpert32, 2, new[] { -1L });
            }
            request.Finite?.Check(flat, scores, "expert scores ‖x·W_down‖");
            var probabilities = scores.softmax(-1);
            var (topScores, indices) = scores.topk(k, dim: -1);
            Tensor weights;
            if (rule.Order == TopKOrder.TopKThenSoftmax)
            {
                weights = topScores.softmax(-1);
            }
            else
            {
                weights = probabilities.gather(1, indices);
                if (rule.Renormalizes(k)) weights = weights / weights.sum(-1, keepdim: true);
            }

            // Only the k selected rows per token go on. The [T, E·r] tensor stays alive only where autograd needs it for
            // the norms' backward (training: softmax over all E norms sends gradient to every expert's W_down); in
            // inference it is freed here, before the experts run.
            var continuation = bank.Continue(SelectedActivations.Select(all, indices, experts));
            all.Dispose();
            return new RoutedTokens(new RoutingResult(indices, weights, scores, probabilities), continuation, PerForwardState: continuation);
        }
    }
}
