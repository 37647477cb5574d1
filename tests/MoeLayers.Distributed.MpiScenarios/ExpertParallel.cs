using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Distributed.MpiScenarios
{
    /// <summary>
    /// MoeLayer against the one-process MoeLayer: every rank builds both from the same seed, takes its
    /// contiguous share of one global batch, and compares outputs, losses and every gradient with the one-process values
    /// it computes itself on the whole batch.
    /// </summary>
    internal static class ExpertParallel
    {
        private static int _passed;
        private static int _failed;

        private static MoeLayerOptions Base(int experts = 4, int topK = 2) => new()
        {
            InputDim = 8,
            HiddenDim = 16,
            NumExperts = experts,
            TopK = topK,
            MinCapacity = 1,
            LoadBalancingCoefficient = 0.01,
            ZLossCoefficient = 0.001,
            CollectStatistics = true,
        };

        /// <summary>The configurations, with E = 2W (and 4W for the grouped router) so that every world size owns 2 (4) experts per rank.</summary>
        private static IEnumerable<(string Name, MoeLayerOptions Options)> Cases(int world)
        {
            int small = 2 * world, large = 4 * world;
            yield return ("topk-softmax dropless", Base(small));
            var o = Base(small);
            o.CapacityFactor = 0.5;
            yield return ("topk-softmax cf=0.5 by-position", o);
            o = Base(small);
            o.CapacityFactor = 0.75;
            o.DropPolicy = DropPolicy.ByChoiceThenPosition;
            yield return ("topk-softmax cf=0.75 by-choice-then-position", o);
            o = Base(large);
            o.Activation = ExpertActivation.SwiGlu;
            o.ScoreFunction = ScoreFunction.Sigmoid;
            o.ExpertGroups = 4;
            o.TopKGroups = 2;
            o.BalanceBias = true;
            o.BalanceBiasRate = 0.01;
            o.SharedExperts = 1;
            yield return ("deepseek sigmoid groups bias shared dropless", o);
            o = o.Clone();
            o.CapacityFactor = 0.6;
            yield return ("deepseek sigmoid groups bias shared cf=0.6", o);
            o = Base(small, topK: 1);
            o.Router = RouterKind.Switch;
            o.CapacityFactor = 1.0;
            o.ExpertBias = true;
            yield return ("switch k=1 cf=1.0 with biases", o);
            // Llama 4: sigmoid top-1, the weight on the expert's input, a shared expert.
            o = Base(small, topK: 1);
            o.ScoreFunction = ScoreFunction.Sigmoid;
            o.Activation = ExpertActivation.SwiGlu;
            o.WeightExpertInputs = true;
            o.SharedExperts = 1;
            yield return ("llama4 sigmoid k=1 weighted inputs shared", o);
            // gpt-oss: router bias, top-k then softmax, clamped SwiGLU with gate, hidden and output biases.
            o = Base(small);
            o.TopKOrder = TopKOrder.TopKThenSoftmax;
            o.RouterBias = true;
            o.Activation = ExpertActivation.ClampedSwiGlu;
            o.SwiGluLimit = 0.5;
            o.ExpertBias = true;
            o.CapacityFactor = 0.75;
            yield return ("gpt-oss router bias clamped swiglu cf=0.75", o);
            // LoRA on every expert and the shared expert, base and router frozen: the adapters shard with their experts.
            o = Base(small);
            o.Activation = ExpertActivation.SwiGlu;
            o.SharedExperts = 1;
            o.Lora = new LoraOptions { Rank = 2, Alpha = 4 };
            yield return ("lora swiglu shared dropless", o);
            o = o.Clone();
            o.CapacityFactor = 0.5;
            o.Lora!.TrainRouter = true;
            yield return ("lora swiglu shared trained router cf=0.5", o);
        }

        public static int Equivalence(TimeSpan timeout, int tokensPerRank)
        {
            using var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            var world = comm.WorldSize;
            var even = Enumerable.Repeat((long)tokensPerRank, world).ToArray();
            foreach (var (name, options) in Cases(world))
            {
                using var scope = NewDisposeScope();
                RunCase(comm, name, options, even);
            }
            // Unequal shares, and a rank with no tokens at all: the global batch is still the concatenation in rank order.
            var uneven = Enumerable.Range(0, world).Select(r => (long)(r == 0 ? 2 * tokensPerRank : r == world - 1 ? tokensPerRank / 2 : tokensPerRank)).ToArray();
            var empty = Enumerable.Range(0, world).Select(r => r == world - 1 ? 0L : (long)tokensPerRank).ToArray();
            foreach (var (label, shares) in new[] { ("uneven shares", uneven), ("a rank without tokens", empty) })
            {
                using var scope = NewDisposeScope();
                var o = Base(2 * world);
                o.CapacityFactor = 0.5;
                o.DropPolicy = DropPolicy.ByChoiceThenPosition;
                RunCase(comm, $"{label} [{Program.Join(shares)}] cf=0.5 by-choice-then-position", o, shares);
            }
            Program.Say(comm.Rank, $"RESULT passed={_passed} failed={_failed}");
            return _failed == 0 ? 0 : 1;
        }

        private static void RunCase(ICommunicator comm, string name, MoeLayerOptions options, long[] shares)
        {
            var world = comm.WorldSize;
            var rank = comm.Rank;
            var globalTokens = shares.Sum();
            var local = shares[rank];
            var offset = shares.Take(rank).Sum();
            manual_seed(1234);
            var full = new MoeLayer(options);
            full.to(ScalarType.Float64);
            full.train();
            if (options.Lora is not null)
            {
                // B starts at zero; drawn at random, every adapter matters and A gets gradients.
                using var noGrad = no_grad();
                foreach (var (pname, p) in full.named_parameters().Where(p => p.name.Contains(".lora.b_", StringComparison.Ordinal)))
                    p.copy_(randn(p.shape, ScalarType.Float64) * 0.5);
            }
            var ep = MoeLayers.Distributed.ExpertParallel.Create(options, comm);
            ep.to(ScalarType.Float64);
            ep.train();
            ep.LoadShardFrom(full.state_dict());
            if (options.Lora is not null)
            {
                // The adapters of all E experts, loaded again over zeros: each rank keeps its own experts' rows.
                using (no_grad())
                {
                    foreach (var (_, p) in ep.named_parameters().Where(p => p.name.Contains(".lora.", StringComparison.Ordinal))) p.zero_();
                }
                MoeLora.LoadAdapters(ep, MoeLora.AdapterStateDict(full));
                var mineAdapters = ep.state_dict()["experts.lora.b_in"];
                Close(rank, $"{name}: LoadAdapters took this rank's experts' rows", mineAdapters, full.state_dict()["experts.lora.b_in"].narrow(0, ep.FirstExpert, ep.LocalExperts), 0);
            }

            for (var step = 0; step < 2; step++)
            {
                manual_seed(7 + step);
                var x = randn(globalTokens, options.InputDim, ScalarType.Float64);
                var g = randn(globalTokens, options.EffectiveOutputDim, ScalarType.Float64);
                full.zero_grad();
                ep.zero_grad();

                // One process, whole batch: L = Σ y·g / T + aux.
                var xr = x.clone().requires_grad_(true);
                // forward + Collect (not Run, which keeps nothing): the statistics and the step's loads stay with the layers.
                var reference = (Output: full.forward(xr), AuxiliaryLoss: MoeAuxiliaryLoss.Collect(full));
                var loss = (reference.Output * g).sum() / globalTokens + reference.AuxiliaryLoss;
                loss.backward();

                // This rank: its share, L_r = W · Σ_r y·g / T + aux_r, whose mean over ranks is L.
                var xl = x.narrow(0, offset, local).clone().requires_grad_(true);
                var mine = (Output: ep.forward(xl), AuxiliaryLoss: MoeAuxiliaryLoss.Collect(ep));
                var lossR = (mine.Output * g.narrow(0, offset, local)).sum() * ((double)world / globalTokens) + mine.AuxiliaryLoss;
                lossR.backward();
                GradientAllReduce.Average(ep, comm);

                var tag = $"{name} step {step}";
                Close(rank, tag + ": output", mine.Output, reference.Output.narrow(0, offset, local), 1e-10);
                // The input's gradient also flows through the router, whose math is float32 in both layers.
                Close(rank, tag + ": input gradient / W", xl.grad!.div(world), xr.grad!.narrow(0, offset, local), 1e-6);
                var meanAux = comm.AllReduce(mine.AuxiliaryLoss.detach().to(ScalarType.Float64).reshape(1), ReduceOp.Sum) / world;
                Close(rank, tag + ": mean over ranks of the auxiliary loss", meanAux, reference.AuxiliaryLoss.detach().to(ScalarType.Float64).reshape(1), 1e-6);
                var meanLoss = comm.AllReduce(lossR.detach().to(ScalarType.Float64).reshape(1), ReduceOp.Sum) / world;
                Close(rank, tag + ": mean over ranks of the total loss", meanLoss, loss.detach().to(ScalarType.Float64).reshape(1), 1e-6);

                var fullParams = full.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                foreach (var (pname, p) in ep.named_parameters())
                {
                    if (!p.requires_grad)
                    {
                        Check(rank, $"{tag}: {pname} is frozen and gets no gradient", p.grad is null && fullParams[pname].grad is null);
                        continue;
                    }
                    var expected = fullParams[pname].grad!;
                    if (pname.StartsWith("experts.", StringComparison.Ordinal)) expected = expected.narrow(0, ep.FirstExpert, ep.LocalExperts);
                    // The router computes in float32 whatever the experts' dtype, as the one-process layer does.
                    var tolerance = pname.StartsWith("router.", StringComparison.Ordinal) ? 2e-6 : 1e-10;
                    Close(rank, $"{tag}: gradient of {pname}", p.grad!, expected, tolerance);
                }
                var s1 = ep.Statistics!;
                var s0 = full.Statistics!;
                Check(rank, $"{tag}: global assigned per expert [{Program.Join(s1.AssignedPerExpert)}] = one process's",
                    s1.AssignedPerExpert.SequenceEqual(s0.AssignedPerExpert));
                Check(rank, $"{tag}: global kept per expert [{Program.Join(s1.KeptPerExpert)}] = one process's, capacity {s1.Capacity?.ToString(CultureInfo.InvariantCulture) ?? "none"}",
                    s1.KeptPerExpert.SequenceEqual(s0.KeptPerExpert) && s1.Capacity == s0.Capacity);
                if (options.CapacityFactor is not null)
                    Check(rank, $"{tag}: capacity drops pairs ({s0.DroppedAssignments} of {s0.Assignments})", s0.DroppedAssignments > 0);
                Check(rank, $"{tag}: statistics' load-balancing loss {s1.LoadBalancingLoss:G9} and entropy {s1.RouterEntropy:G9} = one process's",
                    Math.Abs(s1.LoadBalancingLoss - s0.LoadBalancingLoss) < 1e-6 && Math.Abs(s1.RouterEntropy - s0.RouterEntropy) < 1e-5);

                // The balance bias moves by the global loads, as one process's does by its own.
                MoeLoadBalancing.AfterOptimizerStep(full);
                MoeLoadBalancing.AfterOptimizerStep(ep);
                if (options.BalanceBias)
                {
                    var b0 = full.state_dict()["router.correction_bias"];
                    var b1 = ep.state_dict()["router.correction_bias"];
                    Close(rank, $"{tag}: balance bias after the step", b1, b0, 0);
                    Check(rank, $"{tag}: the balance bias moved", b1.abs().sum().item<float>() > 0);
                }
            }
            EvalCase(comm, name, full, ep, shares, options.InputDim);
        }

        private static void EvalCase(ICommunicator comm, string name, MoeLayer full, MoeLayer ep, long[] shares, int inputDim)
        {
            var globalTokens = shares.Sum();
            var local = shares[comm.Rank];
            var offset = shares.Take(comm.Rank).Sum();
            full.eval();
            ep.eval();
            using var noGrad = no_grad();
            manual_seed(99);
            var x = randn(globalTokens, inputDim, ScalarType.Float64);
            var reference = full.forward(x);
            var mine = ep.forward(x.narrow(0, offset, local));
            Close(comm.Rank, $"{name} eval mode without gradients: output", mine, reference.narrow(0, offset, local), 1e-10);
        }

        /// <summary>E = 3 over 2 ranks; options that differ between ranks; ranks whose experts differ in dtype.</summary>
        public static int BadConditions(TimeSpan timeout)
        {
            using var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            var rank = comm.Rank;
            Expect<ArgumentException>(rank, "indivisible", () => MoeLayers.Distributed.ExpertParallel.Create(Base(experts: 3), comm));
            var odd = Base();
            if (rank == comm.WorldSize - 1)
            {
                odd.TopK = 1;
                odd.CapacityFactor = 1.25;
            }
            Expect<CommunicatorMismatchException>(rank, "options", () => MoeLayers.Distributed.ExpertParallel.Create(odd, comm));
            var layer = MoeLayers.Distributed.ExpertParallel.Create(Base(), comm);
            var dtype = rank == comm.WorldSize - 1 ? ScalarType.Float32 : ScalarType.Float64;
            layer.to(dtype);
            Expect<CommunicatorMismatchException>(rank, "dtype", () => layer.Run(randn(6, 8, dtype)));
            // The mismatch is found before any rows move: the communicator is still usable.
            using (var same = MoeLayers.Distributed.ExpertParallel.Create(Base(), comm))
            {
                var y = same.Run(randn(6, 8));
                Program.Say(rank, $"OK usable: a forward after the mismatch gave [{string.Join(", ", y.Output.shape)}]");
            }
            Program.Say(rank, "finished");
            return 0;
        }

        /// <summary>
        /// The last rank dies before the forward (<paramref name="inForward"/>: the others' Run throws the timeout) or after
        /// the forward exchanges (the others time out in the backward's mirror exchange, which ends the job).
        /// </summary>
        public static int DeadRank(TimeSpan timeout, bool inForward)
        {
            var comm = new MpiCommunicator(new MpiCommunicatorOptions { Timeout = timeout, ConnectTimeout = Program.ConnectTimeout });
            manual_seed(1);
            var layer = MoeLayers.Distributed.ExpertParallel.Create(Base(), comm);
            var x = randn(16, 8).requires_grad_(true);
            if (inForward)
            {
                if (comm.Rank == comm.WorldSize - 1)
                {
                    Program.Say(comm.Rank, "dying abruptly (SIGKILL) before the forward");
                    Process.GetCurrentProcess().Kill();
                    Thread.Sleep(Timeout.Infinite);
                }
                Thread.Sleep(200);
                var clock = Stopwatch.StartNew();
                try
                {
                    layer.Run(x);
                    Program.Say(comm.Rank, "FAIL: the forward completed without the dead rank");
                    return 1;
                }
                catch (CommunicatorTimeoutException e)
                {
                    Program.Say(comm.Rank, string.Create(CultureInfo.InvariantCulture, $"TIMEOUT as expected after {clock.Elapsed.TotalSeconds:F1} s: {e.Message}"));
                }
                Program.Say(comm.Rank, "disposing the faulted communicator: MPI_Abort ends the job");
                comm.Dispose();
                Program.Say(comm.Rank, "FAIL: MPI_Abort returned");
                return 1;
            }
            var output = layer.Run(x);
            Program.Say(comm.Rank, "forward exchanges done");
            if (comm.Rank == comm.WorldSize - 1)
            {
                Program.Say(comm.Rank, "dying abruptly (SIGKILL) before the backward exchange");
                Process.GetCurrentProcess().Kill();
                Thread.Sleep(Timeout.Infinite);
            }
            Thread.Sleep(200);
            Program.Say(comm.Rank, "backward without the dead rank");
            // The timeout cannot be caught here: libtorch runs the backward exchange from native code, so the rank prints
            // the error and ends the job itself.
            output.Output.sum().backward();
            Program.Say(comm.Rank, "FAIL: backward completed without the dead rank");
            return 1;
        }

        private static void Expect<T>(int rank, string what, Action action) where T : Exception
        {
            try
            {
                action();
                Program.Say(rank, $"FAIL {what}: no exception");
                _failed++;
            }
            catch (T e)
            {
                Program.Say(rank, $"OK {what}: {e.GetType().Name}: {e.Message}");
            }
        }

        private static void Close(int rank, string what, Tensor actual, Tensor expected, double tolerance)
        {
            var a = actual.detach().to(ScalarType.Float64);
            var b = expected.detach().to(ScalarType.Float64);
            var ok = a.shape.SequenceEqual(b.shape);
            var diff = ok && a.numel() > 0 ? (a - b).abs().max().item<double>() : 0;
            var scale = ok && b.numel() > 0 ? Math.Max(1, b.abs().max().item<double>()) : 1;
            ok = ok && diff <= tolerance * scale && b.abs().sum().item<double>() > 0 == a.abs().sum().item<double>() > 0;
            Check(rank, string.Create(CultureInfo.InvariantCulture, $"{what}: max |diff| {diff:G3} (tolerance {tolerance:G2} × {scale:G3})"), ok);
        }

        private static void Check(int rank, string what, bool ok)
        {
            if (ok) _passed++;
            else _failed++;
            Program.Say(rank, (ok ? "ok   " : "FAIL ") + what);
        }
    }
}
