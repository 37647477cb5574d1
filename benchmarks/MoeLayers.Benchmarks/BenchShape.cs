using System.Collections.Generic;

namespace MoeLayers.Benchmarks
{
    /// <summary>One MoE layer shape: T tokens, width d, expert hidden h, E experts, k per token.</summary>
    public sealed record BenchShape(int Tokens, int Dim, int Hidden, int Experts, int TopK)
    {
        public static readonly BenchShape Large = new(4096, 512, 2048, 8, 2);
        public static readonly BenchShape Small = new(512, 128, 512, 8, 2);

        /// <summary>Fine-grained experts: many narrow experts, k = 8 (blocks of about 512 rows).</summary>
        public static readonly BenchShape Fine = new(4096, 512, 256, 64, 8);

        /// <summary>The shapes by the names the PyTorch peer script (benchmarks/pytorch/moe_cpu.py) uses.</summary>
        public static readonly IReadOnlyDictionary<string, BenchShape> ByName = new Dictionary<string, BenchShape>
        {
            ["small"] = Small,
            ["large"] = Large,
            ["fine"] = Fine,
        };

        /// <summary>T,d,h,E,k, as the quick suites print it.</summary>
        public override string ToString() => $"{Tokens},{Dim},{Hidden},{Experts},{TopK}";
    }
}
