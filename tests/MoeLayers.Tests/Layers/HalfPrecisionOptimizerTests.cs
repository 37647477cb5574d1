using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Layers
{
    /// <summary>
    /// Why one AdamW step after <c>.half()</c> turns parameters non-finite although every gradient is finite: it is the
    /// optimizer in float16, not the MoE layer. A plain <c>Sequential(Linear, ReLU, Linear)</c> does the same.
    /// </summary>
    /// <remarks>
    /// <para>TorchSharp 0.107's <c>optim.AdamW</c> (lr 1e-3, β1 0.9, β2 0.999, eps 1e-8, weight decay 0) keeps its moments
    /// in the parameter's dtype and computes, per step t,
    /// <c>v = β2·v + (1−β2)·g²</c>, <c>denom = sqrt(v)/sqrt(1−β2^t) + eps</c>, <c>p −= lr/(1−β1^t) · m/denom</c>, all
    /// in float16 after <c>.half()</c>. Float16's smallest step above 0 is 2⁻²⁴ ≈ 6e-8, so eps = 1e-8 rounds to 0, and
    /// (1−β2)·g² = 0.001·g² rounds to 0 for every |g| below about 5.5e-3 — most gradients of a freshly initialized
    /// model. There denom is exactly 0 and the update is m/0 = ±inf (NaN where m rounded to 0 too). The non-finite
    /// entries are exactly the ones whose (1−β2)·g² rounds to 0, as <see cref="PlainLinearModelInFloat16GoesNonFiniteAfterOneDefaultAdamWStep"/>
    /// checks.</para>
    /// <para>What stays finite and trains (measured here): bfloat16 (float32's exponent range, so neither eps nor
    /// small g² underflows), and float16 compute with float32 master weights and optimizer state. Float16 with eps =
    /// 1e-4 stays finite too, but it is a crutch: where g² still underflows the update is lr·m/eps instead of about lr,
    /// a step up to tens of times larger; with a smaller eps that float16 can still hold (1e-6) the parameters stay
    /// finite but the loss diverges. The MoE layer behaves like the plain model for every router kind: its router is float32 and stays
    /// finite, its expert weights (float16) go non-finite with the default eps and stay finite with master weights.</para>
    /// </remarks>
    public class HalfPrecisionOptimizerTests
    {
        private const double Beta2 = 0.999;

        public enum Remedy
        {
            BFloat16,
            Float32MasterWeights,
            Float16WithEps1e4,
        }

        [Fact]
        public void PlainLinearModelInFloat16GoesNonFiniteAfterOneDefaultAdamWStep()
        {
            var (model, x, y) = PlainModel(ScalarType.Float16);
            var optimizer = optim.AdamW(model.parameters());
            Loss(model, x, y).backward();
            var parameters = model.named_parameters().ToList();
            foreach (var (name, parameter) in parameters) parameter.grad!.isfinite().all().item<bool>().Should().BeTrue(name);
            // Where TorchSharp's AdamW gets (1 - β2)·g² = 0 in float16, and so a zero denominator.
            var underflow = parameters.Select(p => (p.parameter.grad!.to(ScalarType.Float32).square() * (1 - Beta2)).to(ScalarType.Float16).eq(0)).ToList();

            optimizer.step();

            var nonFinite = parameters.Where(p => !p.parameter.isfinite().all().item<bool>()).Select(p => p.name).ToList();
            nonFinite.Should().HaveCountGreaterThanOrEqualTo(2, "float16 AdamW with eps 1e-8 divides by 0 wherever g² underflows");
            for (var i = 0; i < parameters.Count; i++)
            {
                parameters[i].parameter.isfinite().logical_not().eq(underflow[i]).all().item<bool>().Should().BeTrue(
                    "{0}: the non-finite entries are exactly those whose (1 - β2)·g² rounds to 0 in float16", parameters[i].name);
            }

            var (reference, x32, y32) = PlainModel(ScalarType.Float32);
            var reference32 = optim.AdamW(reference.parameters());
            Loss(reference, x32, y32).backward();
            reference32.step();
            reference.parameters().Should().OnlyContain(p => p.isfinite().all().item<bool>(), "the same model and step in float32 stay finite");
        }

        [Fact]
        public void DefaultEpsAndSmallSecondMomentsRoundToZeroInFloat16ButNotInBFloat16()
        {
            tensor(1e-8).to(ScalarType.Float16).to(ScalarType.Float32).item<float>().Should().Be(0f, "1e-8 is below half of float16's smallest subnormal (2^-24)");
            tensor(1e-8).to(ScalarType.BFloat16).to(ScalarType.Float32).item<float>().Should().BeApproximately(1e-8f, 1e-10f);

            // AdamW's first step on gradients 1e-3, 5e-3, 1e-2 (v starts at 0).
            foreach (var (dtype, expectZero) in new[] { (ScalarType.Float16, new[] { true, true, false }), (ScalarType.BFloat16, new[] { false, false, false }) })
            {
                var g = tensor(new[] { 1e-3f, 5e-3f, 1e-2f }).to(dtype);
                var v = zeros(3, dtype: dtype).mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
                var denom = (v.sqrt() / System.Math.Sqrt(1 - Beta2)).add_(1e-8);
                var update = (g * 0.1) / denom;
                v.eq(0).data<bool>().ToArray().Should().Equal(expectZero, "{0}: (1 - β2)·g² underflows for small g", dtype);
                update.isfinite().data<bool>().ToArray().Should().Equal(expectZero.Select(z => !z), "{0}: m / (0 + eps) is m / 0", dtype);
            }
        }

        [Theory]
        [InlineData(Remedy.BFloat16)]
        [InlineData(Remedy.Float32MasterWeights)]
        [InlineData(Remedy.Float16WithEps1e4)]
        public void PlainLinearModelStaysFiniteAndLearnsWith(Remedy remedy)
        {
            var dtype = remedy == Remedy.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float16;
            var (model, x, y) = PlainModel(dtype);
            var master = remedy == Remedy.Float32MasterWeights ? PlainModel(ScalarType.Float32).Model : null;
            var optimizer = optim.AdamW((master ?? model).parameters(), eps: remedy == Remedy.Float16WithEps1e4 ? 1e-4 : 1e-8);

            var losses = Train(model, master, optimizer, x, y, steps: 20);

            (master ?? model).parameters().Should().OnlyContain(p => p.isfinite().all().item<bool>());
            losses.Should().OnlyContain(l => float.IsFinite(l));
            losses[^1].Should().BeLessThan(losses[0], "the model learns");
        }

        [Fact]
        public void AFloat16EpsLargeEnoughToBeHeldButSmallStaysFiniteYetDiverges()
        {
            var (model, x, y) = PlainModel(ScalarType.Float16);
            var optimizer = optim.AdamW(model.parameters(), eps: 1e-6);

            var losses = Train(model, null, optimizer, x, y, steps: 30);

            model.parameters().Should().OnlyContain(p => p.isfinite().all().item<bool>());
            losses[^1].Should().BeGreaterThan(2 * losses[0], "where g² underflows the step is lr·g/eps, hundreds to thousands of times lr for eps = 1e-6");
        }

        [Theory]
        [InlineData(RouterKind.TopK)]
        [InlineData(RouterKind.NoisyTopK)]
        [InlineData(RouterKind.Switch)]
        [InlineData(RouterKind.AutonomyOfExperts)]
        [InlineData(RouterKind.ExpertChoice)]
        public void TheMoeLayerBehavesLikeThePlainModel(RouterKind router)
        {
            var (model, x, y) = MoeModel(router, ScalarType.Float16);
            var optimizer = optim.AdamW(model.parameters());
            Loss(model, x, y).backward();
            foreach (var (name, parameter) in model.named_parameters())
                (parameter.grad?.isfinite().all().item<bool>() ?? true).Should().BeTrue("{0}'s gradient is finite", name);

            optimizer.step();

            var nonFinite = model.named_parameters().Where(p => !p.parameter.isfinite().all().item<bool>()).Select(p => p.name).ToList();
            nonFinite.Should().Contain(name => name.StartsWith("moe.experts."), "the float16 expert weights take the float16 AdamW step");
            nonFinite.Should().NotContain(name => name.StartsWith("moe.router."), "the router's parameters stay float32");

            var (work, x16, y16) = MoeModel(router, ScalarType.Float16);
            var master = MoeModel(router, ScalarType.Float32).Model;
            var losses = Train(work, master, optim.AdamW(master.parameters()), x16, y16, steps: 3);
            master.parameters().Should().OnlyContain(p => p.isfinite().all().item<bool>(), "float32 master weights keep AdamW finite");
            losses.Should().OnlyContain(l => float.IsFinite(l));
        }

        private static (nn.Module<Tensor, Tensor> Model, Tensor X, Tensor Y) PlainModel(ScalarType dtype)
        {
            manual_seed(3);
            var model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4));
            model.to(dtype);
            return (model, Inputs(dtype), Targets());
        }

        private static (nn.Module<Tensor, Tensor> Model, Tensor X, Tensor Y) MoeModel(RouterKind router, ScalarType dtype)
        {
            manual_seed(3);
            var options = new MoeLayerOptions { InputDim = 16, HiddenDim = 32, NumExperts = 4, TopK = router == RouterKind.Switch ? 1 : 2, Router = router };
            if (router == RouterKind.AutonomyOfExperts)
            {
                options.LowRank = 4;
                options.Activation = ExpertActivation.SwiGlu;
                options.ZLossCoefficient = 0;
            }
            if (router == RouterKind.ExpertChoice)
            {
                options.Causal = false;
                options.LoadBalancingLoss = LoadBalancingLossKind.None;
            }
            var model = nn.Sequential(("in", nn.Linear(16, 16)), ("moe", Moe.Create(options)), ("out", nn.Linear(16, 4)));
            model.to(dtype);
            return (model, Inputs(dtype), Targets());
        }

        private static Tensor Inputs(ScalarType dtype)
        {
            manual_seed(5);
            return randn(64, 16).to(dtype);
        }

        private static Tensor Targets()
        {
            manual_seed(5);
            var x = randn(64, 16);
            return x.narrow(1, 0, 4) * 2 - x.narrow(1, 4, 4);
        }

        /// <summary>Float32 loss of the model (plus any MoE auxiliary losses).</summary>
        private static Tensor Loss(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y) =>
            nn.functional.mse_loss(model.call(x).to(ScalarType.Float32), y) + MoeAuxiliaryLoss.Collect(model);

        /// <summary>
        /// Training steps. With a master model: its float32 weights are copied into the float16 model, which computes
        /// the loss and gradients; the gradients are copied back as float32 and the optimizer (over the master's
        /// parameters) steps in float32.
        /// </summary>
        private static List<float> Train(nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor>? master, optim.Optimizer optimizer, Tensor x, Tensor y, int steps)
        {
            var losses = new List<float>();
            for (var step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                model.zero_grad();
                if (master != null)
                {
                    using var noGrad = no_grad();
                    foreach (var (work, weight) in model.parameters().Zip(master.parameters())) work.copy_(weight);
                }
                var loss = Loss(model, x, y);
                losses.Add(loss.item<float>());
                loss.backward();
                if (master != null)
                {
                    foreach (var (work, weight) in model.parameters().Zip(master.parameters()))
                        weight.grad = work.grad?.to(weight.dtype).clone().DetachFromDisposeScope();
                }
                optimizer.step();
            }
            return losses;
        }
    }
}
