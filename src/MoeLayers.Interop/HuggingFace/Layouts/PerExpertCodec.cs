using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// One nn.Linear per projection and expert, [out, in] each: experts.{i}.{gate}.weight [h, d], experts.{i}.{up}.weight
    /// [h, d], experts.{i}.{down}.weight [d, h] (and .bias when the experts have biases) — how most Hub checkpoints store
    /// their experts.
    /// </summary>
    /// <param name="blockName">The block's name under the layer prefix.</param>
    /// <param name="gate">The gate projection's name (w1, gate_proj), or null for ungated experts.</param>
    /// <param name="up">The up projection's name (w3, up_proj).</param>
    /// <param name="down">The down projection's name (w2, down_proj).</param>
    /// <param name="experts">The experts' container name ("experts").</param>
    internal sealed class PerExpertCodec(string blockName, string? gate, string up, string down, string experts = "experts")
        : HfExpertsCodec(HfExpertLayout.PerExpert, blockName)
    {
        /// <inheritdoc />
        public override string ProbeKey => $"{experts}.0.{up}.weight";

        /// <inheritdoc />
        public override IEnumerable<(string Key, long[] Shape)> Shapes(HfMoeConfig c)
        {
            long d = c.HiddenSize, h = c.ExpertWidth;
            for (var i = 0; i < c.NumExperts; i++)
            {
                foreach (var (name, rows, cols) in Projections(c).Select(p => (p.Name, p.Rows(d, h), p.Cols(d, h))))
                {
                    yield return ($"{experts}.{i}.{name}.weight", new[] { rows, cols });
                    if (c.ExpertBias) yield return ($"{experts}.{i}.{name}.bias", new[] { rows });
                }
            }
        }

        /// <inheritdoc />
        public override void Decode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> state)
        {
            foreach (var p in Projections(c))
            {
                state[$"experts.{p.Weight}"] = stack(Enumerable.Range(0, c.NumExperts).Select(i => get($"{experts}.{i}.{p.Name}.weight").t()).ToArray());
                if (c.ExpertBias) state[$"experts.{p.Bias}"] = stack(Enumerable.Range(0, c.NumExperts).Select(i => get($"{experts}.{i}.{p.Name}.bias")).ToArray());
            }
        }

        /// <inheritdoc />
        public override void Encode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> block)
        {
            foreach (var p in Projections(c))
            {
                var weight = get($"experts.{p.Weight}");
                var bias = c.ExpertBias ? get($"experts.{p.Bias}") : null;
                for (var i = 0; i < c.NumExperts; i++)
                {
                    block[$"{experts}.{i}.{p.Name}.weight"] = weight[i].t().contiguous();
                    if (bias is not null) block[$"{experts}.{i}.{p.Name}.bias"] = bias[i].contiguous();
                }
            }
        }

        private IEnumerable<Projection> Projections(HfMoeConfig c)
        {
            if (gate is not null && Gated(c)) yield return new Projection(gate, "w_gate", "b_gate", Down: false);
            yield return new Projection(up, "w_in", "b_in", Down: false);
            yield return new Projection(down, "w_out", "b_out", Down: true);
        }

        private readonly record struct Projection(string Name, string Weight, string Bias, bool Down)
        {
            public long Rows(long d, long h) => Down ? d : h;

            public long Cols(long d, long h) => Down ? h : d;
        }
    }
}
