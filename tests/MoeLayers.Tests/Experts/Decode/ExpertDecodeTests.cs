using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Experts.Decode
{
    /// <summary>
    /// The decode path of the expert MLP (<see cref="ExpertDecode"/>): its rule, and its values against a float64
    /// composition of the same expert MLP within a bound carried through both projections and the activation; and the
    /// layer's evaluation forward with the path on and off.
    /// </summary>
    /// <remarks>
    /// The bound: each projection's sum is within 1e-6·(Σ|x||w| + |b|) (see <see cref="ExpertGemvTests"/>). An error δH in
    /// the hidden (and δG in the gate) moves A = act(H, G) by at most L·δH for GELU (L = 1.13, the largest slope of GELU)
    /// and |silu(G)|·δH + 1.1·|H|·δG for SwiGLU (1.1 bounds silu's slope); that error reaches the output through |W_out|.
    /// So |y − y₆₄| ≤ 1e-6·(|A|·|W_out| + |b_out|) + δA·|W_out|, plus one rounding of y to the rows' dtype.
    /// </remarks>
    public class ExpertDecodeTests
    {
        /// <summary>Rows per expert within every weight type's decode limit (bfloat16's is 2).</summary>
        private static readonly long[] Counts = { 2, 0, 1, 2, 0, 2 };

        [Theory]
        [InlineData(ExpertActivation.Gelu, true)]
        [InlineData(ExpertActivation.SwiGlu, false)]
        [InlineData(ExpertActivation.Relu, true)]
        public void Float32ExpertMlpIsWithinTheCarriedBoundOfTheFloat64Mlp(ExpertActivation activation, bool bias)
        {
            var bank = Bank(activation, bias, ScalarType.Float32);
            var rows = Rows(ScalarType.Float32);
            Tensor actual;
            using (no_grad())
            {
                ExpertDecode.Applies(rows, Counts, bank.parameters()).Should().BeTrue();
                actual = bank.ForwardSorted(rows, Counts, zeros(1), LibraryGroupedMatmul.Default);
            }
            actual.dtype.Should().Be(ScalarType.Float32);
            WithinCarriedBound(actual, rows, bank, activation, 0);
        }

        [Fact]
        public void BFloat16ExpertMlpIsWithinTheBoundOfTheFloat64MlpOfTheBFloat16ValuesPlusOneRounding()
        {
            var bank = Bank(ExpertActivation.SwiGlu, true, ScalarType.BFloat16);
            var rows = Rows(ScalarType.BFloat16);
            Tensor actual;
            using (no_grad())
            {
                ExpertDecode.Applies(rows, Counts, bank.parameters()).Should().BeTrue();
                actual = bank.ForwardSorted(rows, Counts, zeros(1), LibraryGroupedMatmul.Default);
            }
            actual.dtype.Should().Be(ScalarType.BFloat16);
            WithinCarriedBound(actual, rows, bank, ExpertActivation.SwiGlu, Math.Pow(2, -8));
        }

        [Fact]
        public void TheRuleTakesOnlyCallsThatNeedNoGraphWithFewRowsPerExpertOnTheCpuWithTheSwitchOn()
        {
            var bank = Bank(ExpertActivation.Gelu, false, ScalarType.Float32);
            var rows = Rows(ScalarType.Float32);
            ExpertDecode.Applies(rows, Counts, bank.parameters()).Should().BeFalse("the parameters require gradients and gradients are on");
            using (no_grad())
            {
                ExpertDecode.Applies(rows, Counts, bank.parameters()).Should().BeTrue();
                ExpertDecode.Applies(rows, new long[] { 5, 0, 0, 0, 0, 4 }, bank.parameters()).Should().BeFalse("float32 experts take at most 4 rows each on average");
                ExpertDecode.Applies(rows, new long[] { 7, 1, 1, 0, 0, 3 }, bank.parameters()).Should().BeTrue("3 rows on average over the experts with rows");
                ExpertDecode.Applies(rows, new long[] { 17, 1, 1, 1, 1, 1 }, bank.parameters()).Should().BeFalse($"no expert may hold more than {ExpertDecode.RowCap} rows");
                var bf16 = new[] { bank.InputWeight.to(ScalarType.BFloat16) };
                ExpertDecode.Applies(rows, new long[] { 3, 0, 0, 0, 0, 2 }, bf16).Should().BeFalse("bfloat16 experts take at most 2 rows each on average");
                ExpertDecode.Applies(rows, new long[] { 3, 1, 1, 1, 0, 0 }, bf16).Should().BeTrue();
                ExpertDecode.Applies(rows, new long[] { 8, 8, 0, 0, 0, 0 }, new[] { bank.InputWeight.to(ScalarType.Int8) }).Should().BeTrue("int8 experts take up to 8 rows each on average");
                ExpertDecode.Applies(rows.narrow(0, 0, 0), new long[6], bank.parameters()).Should().BeFalse("there are no rows");
                ExpertDecode.Applies(rows.to(ScalarType.Float64), Counts, bank.parameters()).Should().BeFalse("float64 rows run the grouped products");
                ExpertDecode.Applies(rows, Counts, new[] { bank.InputWeight.to(ScalarType.Float16) }).Should().BeFalse("there is no float16 kernel");
                ExpertDecode.Applies(rows, Counts, new[] { bank.InputWeight.transpose(1, 2) }).Should().BeFalse("weights must be contiguous");
                var before = Environment.GetEnvironmentVariable(ExpertDecode.SwitchVariable);
                try
                {
                    Environment.SetEnvironmentVariable(ExpertDecode.SwitchVariable, "0");
                    ExpertDecode.Applies(rows, Counts, bank.parameters()).Should().BeFalse("MOELAYERS_CPU_DECODE=0 turns the path off");
                }
                finally
                {
                    Environment.SetEnvironmentVariable(ExpertDecode.SwitchVariable, before);
                }
            }
            foreach (var p in bank.parameters()) p.requires_grad = false;
            ExpertDecode.Applies(rows, Counts, bank.parameters()).Should().BeTrue("no tensor requires gradients, so no graph is needed");
        }

        [Theory]
        [InlineData(1, ScalarType.Float32)]
        [InlineData(8, ScalarType.Float32)]
        [InlineData(1, ScalarType.BFloat16)]
        [InlineData(8, ScalarType.BFloat16)]
        public void TheLayersEvaluationForwardMatchesItsGroupedPath(int tokens, ScalarType dtype)
        {
            manual_seed(11);
            var layer = new MoeLayer(new MoeLayerOptions
            {
                InputDim = 64, HiddenDim = 32, NumExperts = 16, TopK = 4, Activation = ExpertActivation.SwiGlu, ExpertBias = true,
                SharedExperts = 1,
            });
            layer.to(dtype).eval();
            var x = randn(tokens, 64).to(dtype);
            using var noGrad = no_grad();
            var decoded = layer.call(x);
            var grouped = WithoutDecode(() => layer.call(x));
            // Both paths are within their first-order bounds of the exact value; outputs here are of order 0.1–1.
            var tolerance = dtype == ScalarType.Float32 ? 1e-5 : 0.02;
            TensorAssert.Close(decoded.to(ScalarType.Float32), grouped.to(ScalarType.Float32), tolerance, "the decode path computes the grouped path's function");
        }

        [Fact]
        public void TrainingForwardsWithGradientsKeepTheGroupedPathAndItsGradients()
        {
            var bank = Bank(ExpertActivation.Gelu, true, ScalarType.Float32);
            var rows = Rows(ScalarType.Float32).requires_grad_(true);
            var output = bank.ForwardSorted(rows, Counts, zeros(1), LibraryGroupedMatmul.Default);
            output.requires_grad.Should().BeTrue();
            output.sum().backward();
            rows.grad!.abs().sum().item<float>().Should().BeGreaterThan(0);
        }

        internal static Tensor WithoutDecode(Func<Tensor> forward)
        {
            var before = Environment.GetEnvironmentVariable(ExpertDecode.SwitchVariable);
            Environment.SetEnvironmentVariable(ExpertDecode.SwitchVariable, "0");
            try
            {
                return forward();
            }
            finally
            {
                Environment.SetEnvironmentVariable(ExpertDecode.SwitchVariable, before);
            }
        }

        private static ExpertBank Bank(ExpertActivation activation, bool bias, ScalarType dtype)
        {
            manual_seed(21);
            var bank = new ExpertBank(Counts.Length, 96, 80, 72, activation, bias);
            bank.to(dtype);
            return bank;
        }

        private static Tensor Rows(ScalarType dtype)
        {
            manual_seed(22);
            return randn(Counts.Sum(), 96).to(dtype);
        }

        /// <summary>Asserts the carried bound of the class remarks, plus <paramref name="outputRounding"/>·|y₆₄|.</summary>
        private static void WithinCarriedBound(Tensor actual, Tensor rows, ExpertBank bank, ExpertActivation activation, double outputRounding)
        {
            const double u = 1e-6;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor F64(Tensor? t) => t!.detach().to(ScalarType.Float64);
            var x = F64(rows);
            var (expected, bound) = (new System.Collections.Generic.List<Tensor>(), new System.Collections.Generic.List<Tensor>());
            long first = 0;
            var named = bank.named_parameters().ToDictionary(p => p.name, p => F64(p.parameter));
            Tensor? Get(string name, int e) => named.TryGetValue(name, out var t) ? t[e] : null;
            for (var e = 0; e < Counts.Length; e++)
            {
                var xe = x.narrow(0, first, Counts[e]);
                first += Counts[e];
                var (wIn, bIn, wGate, bGate, wOut, bOut) = (Get("w_in", e)!, Get("b_in", e), Get("w_gate", e), Get("b_gate", e), Get("w_out", e)!, Get("b_out", e));
                var h = bIn is null ? xe.matmul(wIn) : xe.matmul(wIn) + bIn;
                var dh = u * (xe.abs().matmul(wIn.abs()) + (bIn?.abs() ?? zeros_like(h)));
                Tensor a, da;
                if (activation == ExpertActivation.SwiGlu)
                {
                    var g = bGate is null ? xe.matmul(wGate!) : xe.matmul(wGate!) + bGate;
                    var dg = u * (xe.abs().matmul(wGate!.abs()) + (bGate?.abs() ?? zeros_like(g)));
                    a = nn.functional.silu(g) * h;
                    da = nn.functional.silu(g).abs() * dh + 1.1 * h.abs() * dg;
                }
                else
                {
                    a = activation == ExpertActivation.Gelu ? nn.functional.gelu(h) : nn.functional.relu(h);
                    da = 1.13 * dh;
                }
                var y = bOut is null ? a.matmul(wOut) : a.matmul(wOut) + bOut;
                expected.Add(y);
                bound.Add(u * (a.abs().matmul(wOut.abs()) + (bOut?.abs() ?? zeros_like(y))) + da.matmul(wOut.abs()) + outputRounding * y.abs());
            }
            ExpertGemvTests.WithinRelative(actual, cat(expected, 0), cat(bound, 0), 1);
        }
    }
}
