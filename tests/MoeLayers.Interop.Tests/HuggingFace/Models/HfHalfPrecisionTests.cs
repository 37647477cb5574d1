using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoeLayers.Interop.Tests.HuggingFace.Models
{
    /// <summary>
    /// bfloat16 and float16 checkpoints kept and computed in their own dtype (the router float32): every MoE layer of
    /// every BF16 / F16 folder of tests/fixtures/hf-models loaded with <see cref="HfLoadOptions.DType"/> null, run on the
    /// reference input cast to that dtype, and held to bounds derived from the dtype's unit roundoff u (bfloat16 2⁻⁸,
    /// float16 2⁻¹¹: half the spacing at 1, with 8 and 11 significant bits), not to numbers fitted to pass.
    /// </summary>
    /// <remarks>
    /// <para>Router: it runs in float32 on the rounded input from weights stored exactly, so each logit can move by at
    /// most u·Σᵢ|Wₑᵢ||xᵢ| (plus the float32 parity tolerance 1e-5). The fixtures keep every token's kept and dropped
    /// selection scores (softmax probabilities, or DeepSeek's sigmoid choice and group scores) at least 2e-3 apart
    /// (scripts/interop/README.md); a softmax probability moves by at most half the largest logit change (the rows of its
    /// Jacobian diag(p) − ppᵀ sum in absolute value to 2pᵢ(1 − pᵢ) ≤ ½), a sigmoid by a quarter, a group score of two by
    /// a half, so a token whose logit bound is below 2e-3 must keep its experts.</para>
    /// <para>Output, on the tokens that keep their experts: a first-order rounding analysis of the SwiGLU experts written
    /// out per element from the float32 weights (|·| elementwise): the input rounded (u|x|), the weights rounded when the
    /// stored ones are not exact in the dtype (FP8 dequantized), the gate and up projections (accumulated in float32 and
    /// rounded once: u|g|, u|a|), silu (u|s|), the product (u|h|), the down projection (u|o|), the combine weight cast and
    /// its product (u|w||o| twice), the routing weights' own change (measured and bounded above), the shared experts
    /// likewise, and every addition into the output rounding the partial sum (u·Σ|terms| each).</para>
    /// </remarks>
    public class HfHalfPrecisionTests
    {
        private const double Float32Tolerance = 1e-5; // the float32 parity tolerance of HfModelFolderParityTests
        private const double SelectionMargin = 2e-3; // make_hf_models.py's MIN_MARGIN

        private readonly ITestOutputHelper _output;

        public HfHalfPrecisionTests(ITestOutputHelper output) => _output = output;

        /// <summary>
        /// Half-precision folders whose experts the first-order bound below does not model yet (clamped SwiGLU with
        /// biases, the routing weight on the expert input, ReLU²): their float32 parity is tested, their half-precision
        /// error is not bounded here.
        /// </summary>
        private static readonly string[] UnboundedHalfFolders = { "gpt_oss", "gpt_oss_mxfp4", "llama4", "llama4_text_top2", "nemotron_h" };

        public static IEnumerable<object[]> HalfFolders() =>
            HfModelFixture.Names().Where(n => HfModelFixture.Load(n).Metadata["dtype"] is "BF16" or "F16")
                .Where(n => !UnboundedHalfFolders.Contains(n)).Select(n => new object[] { n });

        [Fact]
        public void OnlyFoldersWithExpertsTheBoundDoesNotModelAreLeftOut()
        {
            foreach (var name in UnboundedHalfFolders.Where(n => HfModelFixture.Names().Contains(n)))
            {
                using var checkpoint = HfCheckpoint.Open(HfModelFixture.Load(name).Folder);
                var options = checkpoint.Config.ToOptions();
                (options.Activation != ExpertActivation.SwiGlu || options.ExpertBias || options.WeightExpertInputs)
                    .Should().BeTrue($"{name} has SwiGLU experts without biases, which the bound models: test it");
            }
        }

        /// <summary>The folders whose reference.safetensors also holds a forward in their own dtype (layers.L.output_bf16 / _f16).</summary>
        public static IEnumerable<object[]> FoldersWithANativeForward() =>
            HalfFolders().Select(o => (string)o[0]).Where(n => HfModelFixture.Load(n) is var f && f.MoeLayers.Any(i => f.HasReference(i, NativeKey(f))))
                .Select(n => new object[] { n });

        [Fact]
        public void DeepseekV3CarriesItsBFloat16Forward() =>
            FoldersWithANativeForward().Select(o => (string)o[0]).Should().Contain("deepseek_v3");

        [Fact]
        public void BothHalfDTypesAreCovered()
        {
            var dtypes = HfModelFixture.Names().Select(n => HfModelFixture.Load(n).Metadata["dtype"]).ToHashSet();
            dtypes.Should().Contain(new[] { "BF16", "F16" });
        }

        [Theory]
        [MemberData(nameof(HalfFolders))]
        public void EveryMoeLayerInItsStoredDTypeStaysWithinTheRoundingBound(string name)
        {
            var fixture = HfModelFixture.Load(name);
            using var checkpoint = HfCheckpoint.Open(fixture.Folder);
            var dtype = fixture.Metadata["dtype"] == "BF16" ? ScalarType.BFloat16 : ScalarType.Float16;
            var u = UnitRoundoff(dtype);
            var options = checkpoint.Config.ToOptions();
            options.Activation.Should().Be(ExpertActivation.SwiGlu, $"{name}: the rounding bound here is written for SwiGLU experts; extend it for another activation");
            options.ExpertBias.Should().BeFalse($"{name}: the rounding bound here is written for experts without biases");
            foreach (var index in fixture.MoeLayers)
            {
                using var scope = NewDisposeScope();
                using var half = checkpoint.LoadLayer(index, new HfLoadOptions { DType = null });
                using var exact = checkpoint.LoadLayer(index, new HfLoadOptions { DType = ScalarType.Float32 });
                half.eval();
                half.parameters().Where(p => p.dtype != ScalarType.Float32).Select(p => p.dtype).Distinct().Should().Equal(new[] { dtype }, $"{name}: kept in {dtype}");
                var (input, output, logits, indices, weights) = fixture.Reference(index);
                using var noGrad = no_grad();
                var result = half.Run(input.to(dtype));
                result.Output.dtype.Should().Be(dtype);

                var model = new Float32Model(exact, half, options);
                var logitBound = model.LogitBound(input, u);
                var logitError = result.Routing.Logits.to(ScalarType.Float64).sub(logits.to(ScalarType.Float64)).abs();
                logitError.le(logitBound).all().item<bool>().Should().BeTrue($"{name} layer {index}: router logits within u·Σ|W||x|");

                var order = result.Routing.ExpertIndices.sort(-1);
                var chosen = order.Values.data<long>().ToArray();
                var expected = indices.data<long>().ToArray();
                var k = (int)indices.shape[1];
                var tokens = (int)indices.shape[0];
                var same = Enumerable.Range(0, tokens).Select(t => chosen.Skip(t * k).Take(k).SequenceEqual(expected.Skip(t * k).Take(k))).ToArray();
                var maxLogitBound = logitBound.max(1).values.data<double>().ToArray();
                for (var t = 0; t < tokens; t++)
                {
                    if (maxLogitBound[t] < SelectionMargin)
                        same[t].Should().BeTrue($"{name} layer {index} token {t}: logits move by at most {maxLogitBound[t]:g} < {SelectionMargin}, so the experts cannot change");
                }

                var ourWeights = result.Routing.CombineWeights.gather(1, order.Indices).to(ScalarType.Float64);
                var weightChange = ourWeights.sub(weights.to(ScalarType.Float64)).abs();
                var bound = model.OutputBound(input, indices, weights, weightChange, u, operandsRounded: false);
                var scale = Math.Max(1.0, output.abs().max().item<float>());
                var error = result.Output.to(ScalarType.Float64).sub(output.to(ScalarType.Float64)).abs();
                var rows = tensor(same.Select((s, t) => (long)t).Where(t => same[t]).ToArray());
                var kept = error.index_select(0, rows);
                var allowed = bound.index_select(0, rows).add(Float32Tolerance * scale);
                var measured = kept.max().item<double>() / scale;
                var tightness = kept.div(allowed).max().item<double>();
                _output.WriteLine($"{name} layer {index} ({dtype}, u = 2^{Math.Log2(u):0}): max |Δy| / max(1, |y|) = {measured:0.000e+0} = {measured / u:0.00} u; "
                    + $"experts kept on {same.Count(s => s)}/{tokens} tokens; largest |Δlogit| {logitError.max().item<double>():0.000e+0} (bound {logitBound.max().item<double>():0.000e+0}); "
                    + $"error / bound at most {tightness:0.00}");
                kept.le(allowed).all().item<bool>().Should().BeTrue($"{name} layer {index}: every output within the first-order rounding bound (worst ratio {tightness:0.00})");
            }
        }

        [Theory]
        [MemberData(nameof(FoldersWithANativeForward))]
        public void MatchesThePublishedForwardRunInTheSameDType(string name)
        {
            var fixture = HfModelFixture.Load(name);
            var suffix = fixture.Metadata["dtype"].ToLowerInvariant();
            var dtype = suffix == "bf16" ? ScalarType.BFloat16 : ScalarType.Float16;
            using var checkpoint = HfCheckpoint.Open(fixture.Folder);
            var layers = fixture.MoeLayers.Where(i => fixture.HasReference(i, NativeKey(fixture))).ToArray();
            layers.Should().NotBeEmpty();
            var u = UnitRoundoff(dtype);
            var options = checkpoint.Config.ToOptions();
            foreach (var index in layers)
            {
                using var scope = NewDisposeScope();
                using var half = checkpoint.LoadLayer(index, new HfLoadOptions { DType = null });
                using var exact = checkpoint.LoadLayer(index, new HfLoadOptions { DType = ScalarType.Float32 });
                half.eval();
                var (input, _, _, _, _) = fixture.Reference(index);
                var published = fixture.ReferenceTensor(index, $"output_{suffix}");
                var publishedExperts = fixture.ReferenceTensor(index, $"topk_indices_{suffix}").to(ScalarType.Int64);
                published.dtype.Should().Be(dtype);
                using var noGrad = no_grad();
                var result = half.Run(input.to(dtype));
                var order = result.Routing.ExpertIndices.sort(-1);
                order.Values.data<long>().ToArray().Should().Equal(publishedExperts.data<long>().ToArray(), $"{name} layer {index}: one float32 router on one rounded input");

                // Both start from the same rounded input and weights: only the roundings inside the block differ, each
                // side's at most the first-order bound without the input and weight terms (ours rounds more often).
                var weights = result.Routing.CombineWeights.gather(1, order.Indices).to(ScalarType.Float32);
                var model = new Float32Model(exact, half, options);
                var bound = model.OutputBound(input.to(dtype).to(ScalarType.Float32), publishedExperts, weights, zeros_like(weights, ScalarType.Float64), u, operandsRounded: true).mul(2);
                var error = result.Output.to(ScalarType.Float64).sub(published.to(ScalarType.Float64)).abs();
                var scale = Math.Max(1.0, published.to(ScalarType.Float32).abs().max().item<float>());
                var measured = error.max().item<double>() / scale;
                var tightness = error.div(bound.add(Float32Tolerance * scale)).max().item<double>();
                _output.WriteLine($"{name} layer {index}: against the published forward in {dtype}: max |Δy| / max(1, |y|) = {measured:0.000e+0} = {measured / u:0.00} u; error / bound at most {tightness:0.00}");
                error.le(bound.add(Float32Tolerance * scale)).all().item<bool>().Should().BeTrue($"{name} layer {index}: within twice the internal rounding bound");
            }
        }

        private static string NativeKey(HfModelFixture fixture) => $"output_{fixture.Metadata["dtype"].ToLowerInvariant()}";

        /// <summary>Unit roundoff: half the spacing of the dtype's numbers at 1 (bfloat16: 8 significant bits, spacing 2⁻⁷, u = 2⁻⁸; float16: 11, 2⁻¹⁰, 2⁻¹¹).</summary>
        private static double UnitRoundoff(ScalarType dtype) => dtype == ScalarType.BFloat16 ? Math.Pow(2, -8) : Math.Pow(2, -11);

        /// <summary>
        /// The layer's weights in float64 (the float32 load: exact for weights stored in the dtype, the float32
        /// dequantization for FP8) and the first-order rounding bounds of a forward in the half dtype.
        /// </summary>
        private sealed class Float32Model
        {
            private readonly Dictionary<string, Tensor> _w;
            private readonly double _weightRounding; // 1 when the half layer's weights are rounded copies of the float32 ones
            private readonly MoeLayerOptions _options;

            public Float32Model(MoeLayer exact, MoeLayer half, MoeLayerOptions options)
            {
                _options = options;
                _w = exact.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float64));
                var halfState = half.state_dict();
                var roundedCopies = _w.Any(kv => !kv.Key.StartsWith("router.", StringComparison.Ordinal)
                    && !halfState[kv.Key].to(ScalarType.Float64).eq(kv.Value).all().item<bool>());
                _weightRounding = roundedCopies ? 1 : 0;
            }

            /// <summary>[T, E]: u·Σᵢ|Wₑᵢ||xᵢ| + the float32 tolerance.</summary>
            public Tensor LogitBound(Tensor input, double u) =>
                input.to(ScalarType.Float64).abs().matmul(_w["router.weight"].abs().t()).mul(u).add(Float32Tolerance);

            /// <summary>
            /// [T, d]: the first-order bound of |Δy| described in the class remarks; with <paramref name="operandsRounded"/>
            /// the input and weights are taken as already rounded (no terms for rounding them).
            /// </summary>
            public Tensor OutputBound(Tensor input, Tensor indices, Tensor weights, Tensor weightChange, double u, bool operandsRounded)
            {
                var x = input.to(ScalarType.Float64);
                var idx = indices.data<long>().ToArray();
                var w = weights.to(ScalarType.Float64);
                var tokens = (int)x.shape[0];
                var k = (int)indices.shape[1];
                var rows = new List<Tensor>();
                for (var t = 0; t < tokens; t++)
                {
                    var xt = x[t].unsqueeze(0);
                    Tensor total = zeros(1, x.shape[1], ScalarType.Float64), magnitude = zeros(1, x.shape[1], ScalarType.Float64);
                    var terms = 0;
                    for (var slot = 0; slot < k; slot++)
                    {
                        var e = idx[t * k + slot];
                        var (o, delta) = Mlp(xt, _w["experts.w_gate"][e], _w["experts.w_in"][e], _w["experts.w_out"][e], u, operandsRounded);
                        var we = w[t, slot].abs();
                        total = total + we * delta + (we * u * 2 + weightChange[t, slot]) * o.abs();
                        magnitude = magnitude + we * o.abs();
                        terms++;
                    }
                    if (_options.SharedExperts > 0)
                    {
                        var (o, delta) = Mlp(xt, _w["shared_experts.w_gate"], _w["shared_experts.w_in"], _w["shared_experts.w_out"], u, operandsRounded);
                        if (_options.SharedExpertGate)
                        {
                            var gw = _w["shared_experts.gate"];
                            var z = xt.matmul(gw.t());
                            var s = z.sigmoid();
                            var dz = (operandsRounded ? 0 : u + _weightRounding * u) * xt.abs().matmul(gw.abs().t());
                            var ds = s * (1 - s) * dz + u * s;
                            total = total + s * delta + ds * o.abs() + u * (s * o).abs();
                            magnitude = magnitude + (s * o).abs();
                        }
                        else
                        {
                            total = total + delta;
                            magnitude = magnitude + o.abs();
                        }
                        terms++;
                    }
                    rows.Add(total + (terms - 1) * u * magnitude);
                }
                return cat(rows, 0);
            }

            /// <summary>SwiGLU x → (o, the bound of |Δo|) with gate [d, h], up [d, h], down [h, d].</summary>
            private (Tensor Output, Tensor Delta) Mlp(Tensor x, Tensor gate, Tensor up, Tensor down, double u, bool operandsRounded)
            {
                var ax = x.abs();
                var operands = operandsRounded ? 0 : u + _weightRounding * u; // the input's rounding and the weights'
                var weightPart = operandsRounded ? 0 : _weightRounding * u;
                var g = x.matmul(gate);
                var a = x.matmul(up);
                var sg = g.sigmoid();
                var s = g * sg;
                var h = s * a;
                var o = h.matmul(down);
                var dg = operands * ax.matmul(gate.abs()) + u * g.abs();
                var da = operands * ax.matmul(up.abs()) + u * a.abs();
                var ds = (sg * (1 + g * (1 - sg))).abs() * dg + u * s.abs();
                var dh = s.abs() * da + a.abs() * ds + u * h.abs();
                var d = dh.matmul(down.abs()) + weightPart * h.abs().matmul(down.abs()) + u * o.abs();
                return (o, d);
            }
        }
    }
}
