using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts
{
    /// <summary>
    /// A whole bfloat16 training step of the layer (forward, then backward of y.sum() + the auxiliary loss) through the
    /// grouped products the CPU now chooses (<see cref="GroupedProducts.PaddedBatch"/>) against the same step through the
    /// per-expert products (MOELAYERS_CPU_GROUPED_GEMM=0, the fallback before): output, input gradient and every
    /// parameter's gradient, each element within a first-order bound built from <see cref="HalfPrecisionRounding"/>.
    /// </summary>
    /// <remarks>
    /// The two steps share the routing exactly (the router runs in float32 on the same input) and the gradient at each
    /// expert output (dy·w, the same bfloat16 numbers), so they differ only where a product's float32 sum runs in another
    /// order, and in what that does downstream. Two roundings of values a and b differ by at most |a − b| + u(|a| + |b|),
    /// and two products by 2u|C| + 2(1 + u)γ_K|A||B| (<see cref="HalfPrecisionRounding"/>). Carried through each pair
    /// (token t, expert e) with the exact values of the bfloat16 operands (float64; GELU g, g′ = Φ + xφ, g″ = φ(2 − x²)):
    /// ΔH = 2u|H| + 2(1+u)γ_d|x||W_in|; ΔA = |g′(H)|ΔH + 2u|A|; ΔY = ΔA|W_out| + 2u|Y| + 2(1+u)γ_h|A||W_out|;
    /// Δy = Σⱼ|wⱼ|ΔYⱼ + (4u + 2γ_k)Σⱼ|wⱼYⱼ| (the weighting and the slot sum each round). Backward, with G = w:
    /// ΔdA = 2u|dA| + 2(1+u)γ_d|G||W_out|ᵀ; ΔdH = |g′|ΔdA + |dA||g″|ΔH + 2u|dH|;
    /// ΔdW_out = Σ ΔAᵀ|G| + 2u|dW_out| + 2(1+u)γ_n Σ|A|ᵀ|G|; ΔdW_in = Σ|x|ᵀΔdH + 2u|dW_in| + 2(1+u)γ_n Σ|x|ᵀ|dH|
    /// (n the largest group); ΔdX = ΔdH|W_in|ᵀ + 2u|dX| + 2(1+u)γ_h|dH||W_in|ᵀ, summed over a token's k pairs in bfloat16
    /// (+ 2u·k·Σ|dX|). The router's share: Δdwⱼ = ΣΔY + 2u|dwⱼ| + 2(1+u)γ_d Σ|Y|, through the softmax over the k chosen
    /// logits (TopKThenSoftmax: ∂wⱼ/∂lᵢ = wⱼ(δᵢⱼ − wᵢ), float32) to Δdlᵢ = wᵢ(Δdwᵢ + Σⱼ wⱼΔdwⱼ), then
    /// ΔdW_router = Δdlᵀ|x| and Δdx_router = Δdl|W_router| + 2u|dx_router|, and the two input gradients' bfloat16 sum
    /// (+ 2u|dx|). Terms of order u² are left out (relative 2⁻⁸ of the bound: the test allows 1/16 more), and the
    /// float32 router and losses add a few float32 roundings (16·u₃₂ of each tensor's largest value).
    /// </remarks>
    public class Bfloat16TrainingStepTests(ITestOutputHelper output)
    {
        private const int T = 64, D = 96, Hidden = 160, E = 4, K = 2;

        [Fact]
        public void AStepThroughThePaddedBatchMatchesTheStepThroughPerExpertProductsWithinTheRoundingBound()
        {
            using var events = new MoeLayersEventCapture();
            var (parameters, x, gradsGrouped, routing) = Step(perExpert: false);
            var gradsPerExpert = Step(perExpert: true).Grads;
            events.From(MklGroupedGemm.Instance.Name).Where(e => e["reason"] != "MOELAYERS_CPU_GROUPED_GEMM=0.").Should().BeEmpty("bfloat16 takes its products without a warning");

            var counts = Enumerable.Range(0, E).Select(e => routing.Indices.eq(e).sum().item<long>()).ToArray();
            LibraryGroupedMatmul.PaddingPays(counts).Should().BeTrue("the grouped step must run the padded batch");
            LibraryGroupedMatmul.Default.Products(zeros(new[] { counts.Sum(), (long)D }, ScalarType.BFloat16), counts, parameters.W_in).PadsGroups.Should().BeTrue();

            var bounds = Bounds(parameters, x, routing, gradsPerExpert.Dx, counts.Max());
            string[] names = { "output", "dx", "d router.weight", "d w_in", "d w_out" };
            for (var i = 0; i < names.Length; i++)
            {
                var (a, b) = (gradsGrouped.All[i].to(ScalarType.Float64), gradsPerExpert.All[i].to(ScalarType.Float64));
                var allowed = bounds[i].mul(1 + 1.0 / 16).add(16 * HalfPrecisionRounding.Float32Roundoff * b.abs().max().item<double>());
                var difference = a.sub(b).abs();
                var ratio = difference.div(allowed).max().item<double>();
                var largest = b.abs().max().item<double>();
                var loosest = allowed.max().item<double>() / largest;
                output.WriteLine($"{names[i]}: max |Δ| {difference.max().item<double>():0.000e+0}, largest |value| {largest:0.000e+0}, "
                    + $"largest bound / largest |value| {loosest:0.0000}, worst |Δ| / bound {ratio:0.000}");
                // The router's share (dx, dW_router) sums ΔY over the d outputs of each pair before the softmax, so its
                // first-order bound is of the order of the values themselves; the experts' own tensors must be held tighter.
                if (i is 0 or 3 or 4)
                    loosest.Should().BeLessThan(0.25, $"{names[i]}: the bound must be able to fail (a few u of the values, not the values themselves)");
                difference.le(allowed).all().item<bool>().Should().BeTrue($"{names[i]}: every element within the first-order bound (worst ratio {ratio:0.000})");
            }
        }

        private sealed record Parameters(Tensor W_in, Tensor W_out, Tensor Router);

        private sealed record Gradients(Tensor Output, Tensor Dx, Tensor DRouter, Tensor DW_in, Tensor DW_out)
        {
            public Tensor[] All => new[] { Output, Dx, DRouter, DW_in, DW_out };
        }

        private sealed record Routing(Tensor Indices, Tensor Weights);

        private static (Parameters Parameters, Tensor X, Gradients Grads, Routing Routing) Step(bool perExpert)
        {
            var switchVariable = MklGroupedGemm.Instance.SwitchVariable;
            var before = Environment.GetEnvironmentVariable(switchVariable);
            try
            {
                if (perExpert) Environment.SetEnvironmentVariable(switchVariable, "0");
                manual_seed(5);
                var layer = new MoeLayer(new MoeLayerOptions
                {
                    InputDim = D, HiddenDim = Hidden, NumExperts = E, TopK = K, Activation = ExpertActivation.Gelu,
                    TopKOrder = TopKOrder.TopKThenSoftmax, Dispatch = DispatchStrategy.Grouped,
                });
                layer.to(ScalarType.BFloat16);
                var x = randn(new long[] { T, D }, generator: new Generator(9)).to(ScalarType.BFloat16).requires_grad_(true);
                var step = layer.Run(x);
                (step.Output.sum() + step.AuxiliaryLoss).backward();
                var p = layer.named_parameters().ToDictionary(n => n.name, n => n.parameter);
                var parameters = new Parameters(p["experts.w_in"].detach(), p["experts.w_out"].detach(), p["router.weight"].detach());
                var grads = new Gradients(step.Output.detach(), x.grad!, p["router.weight"].grad!, p["experts.w_in"].grad!, p["experts.w_out"].grad!);
                return (parameters, x.detach(), grads, new Routing(step.Routing.ExpertIndices, step.Routing.CombineWeights));
            }
            finally
            {
                Environment.SetEnvironmentVariable(switchVariable, before);
            }
        }

        /// <summary>The first-order bounds of the class remarks for output, dx, dW_router, dW_in, dW_out.</summary>
        private static Tensor[] Bounds(Parameters parameters, Tensor input, Routing routing, Tensor dxComputed, long largestGroup)
        {
            var u = HalfPrecisionRounding.Roundoff(ScalarType.BFloat16);
            double Gamma2(long n) => 2 * (1 + u) * HalfPrecisionRounding.Gamma(n);
            var f64 = ScalarType.Float64;
            var (x, w1, w2, wr) = (input.to(f64), parameters.W_in.to(f64), parameters.W_out.to(f64), parameters.Router.to(f64));
            var experts = routing.Indices.flatten();
            var tokens = arange(T).repeat_interleave(K);
            var weights32 = routing.Weights.to(f64);                                // w in float32, for the router's Jacobian
            var g = routing.Weights.to(ScalarType.BFloat16).to(f64).flatten();      // G = dy·w, as the combine's backward has it
            var (xp, w1p, w2p) = (x.index_select(0, tokens), w1.index_select(0, experts), w2.index_select(0, experts));

            Tensor Mm(Tensor a, Tensor b) => a.unsqueeze(1).bmm(b).squeeze(1);    // per pair: [P, n] · [P, n, m]
            var hidden = Mm(xp, w1p);
            var dHidden = hidden.abs().mul(2 * u).add(Mm(xp.abs(), w1p.abs()).mul(Gamma2(D)));
            var cdf = hidden.div(Math.Sqrt(2)).erf().add(1).mul(0.5);
            var pdf = hidden.square().mul(-0.5).exp().div(Math.Sqrt(2 * Math.PI));
            var (slope, curvature) = (cdf.add(hidden.mul(pdf)), pdf.mul(hidden.square().neg().add(2)));
            var activated = hidden.mul(cdf);
            var dActivated = slope.abs().mul(dHidden).add(activated.abs().mul(2 * u));
            var y = Mm(activated, w2p);
            var dY = Mm(dActivated, w2p.abs()).add(y.abs().mul(2 * u)).add(Mm(activated.abs(), w2p.abs()).mul(Gamma2(Hidden)));
            var gp = g.unsqueeze(1);
            var outputBound = dY.mul(gp.abs()).add(y.mul(gp).abs().mul(4 * u + Gamma2(K))).view(T, K, D).sum(1);

            // Backward through the experts: dA = G·W_outᵀ (G constant over the d outputs), dH = dA·g′(H).
            var gradActivated = w2p.sum(2).mul(gp);
            var dGradActivated = gradActivated.abs().mul(2 * u).add(w2p.abs().sum(2).mul(gp.abs()).mul(Gamma2(D)));
            var gradHidden = gradActivated.mul(slope);
            var dGradHidden = slope.abs().mul(dGradActivated).add(gradActivated.abs().mul(curvature.abs()).mul(dHidden)).add(gradHidden.abs().mul(2 * u));
            Tensor PerExpert(Tensor perPair) => zeros(new long[] { E }.Concat(perPair.shape.Skip(1)).ToArray(), f64).index_add_(0, experts, perPair, 1);
            var gradW2 = PerExpert(activated.unsqueeze(2).mul(gp.unsqueeze(2)).expand(-1, -1, D));
            var boundW2 = PerExpert(dActivated.unsqueeze(2).mul(gp.abs().unsqueeze(2)).expand(-1, -1, D)).add(gradW2.abs().mul(2 * u))
                .add(PerExpert(activated.abs().unsqueeze(2).mul(gp.abs().unsqueeze(2)).expand(-1, -1, D)).mul(Gamma2(largestGroup)));
            var gradW1 = PerExpert(xp.unsqueeze(2).mul(gradHidden.unsqueeze(1)));
            var boundW1 = PerExpert(xp.abs().unsqueeze(2).mul(dGradHidden.unsqueeze(1))).add(gradW1.abs().mul(2 * u))
                .add(PerExpert(xp.abs().unsqueeze(2).mul(gradHidden.abs().unsqueeze(1))).mul(Gamma2(largestGroup)));
            var w1t = w1p.transpose(1, 2);
            var gradRows = Mm(gradHidden, w1t);
            var dGradRows = Mm(dGradHidden, w1t.abs()).add(gradRows.abs().mul(2 * u)).add(Mm(gradHidden.abs(), w1t.abs()).mul(Gamma2(Hidden)));
            var dxExperts = dGradRows.view(T, K, D).sum(1).add(gradRows.abs().view(T, K, D).sum(1).mul(2 * u * K));

            // The router's share: dwⱼ = Σ over the d outputs of Yⱼ, through the softmax over the k chosen logits.
            var dGradWeight = dY.sum(1).add(y.sum(1).abs().mul(2 * u)).add(y.abs().sum(1).mul(Gamma2(D))).view(T, K);
            var dGradChosen = weights32.mul(dGradWeight.add(weights32.mul(dGradWeight).sum(1, keepdim: true)));
            var dGradLogits = zeros(new long[] { T, E }, f64).scatter_add_(1, routing.Indices, dGradChosen);
            var boundRouter = dGradLogits.t().matmul(x.abs());
            var dxRouter = dGradLogits.matmul(wr.abs());
            var dxMagnitude = dxComputed.to(f64).abs();
            var routerGradMagnitude = dxMagnitude.add(gradRows.abs().view(T, K, D).sum(1));
            var boundDx = dxExperts.add(dxRouter).add(routerGradMagnitude.mul(2 * u)).add(dxMagnitude.mul(2 * u));
            return new[] { outputBound, boundDx, boundRouter, boundW1, boundW2 };
        }
    }
}
